"""Fallback for `--model DIR` architectures the fast path does not implement: any local
Hugging Face causal LM, through transformers, with the same interface as `LlamaLM`.

It has no per-row prefix cache: `extend` re-runs each row's prefix with its suffix, which
costs more but gives the same numbers (windows are short)."""

from __future__ import annotations

import os
from pathlib import Path

from .backend import INSTALL_HINT, LanguageModel, ModelUnavailable, _start_token


class TransformersLM:
    def __init__(self, model):
        self.model = model

    def _hidden(self, ids):
        out = self.model(input_ids=ids, output_hidden_states=True, use_cache=False)
        return out.hidden_states[-1]  # after the final norm in HF causal LMs

    def encode(self, ids):
        return self._hidden(ids), ids

    def extend_many(self, cache, items, max_rows: int = 32):
        """One full row (prefix + continuation) per item; see LlamaLM.extend_many."""
        import torch

        out = []
        for a in range(0, len(items), max_rows):
            chunk = items[a : a + max_rows]
            width = max(plen + len(tok) for _, plen, tok in chunk)
            full = torch.zeros(
                (len(chunk), width), dtype=torch.long, device=cache.device
            )
            for n, (row, plen, tok) in enumerate(chunk):
                full[n, :plen] = cache[row, :plen]
                full[n, plen : plen + len(tok)] = torch.tensor(tok, device=cache.device)
            hidden = self._hidden(full)
            out.extend(
                hidden[n, plen : plen + len(tok)]
                for n, (_, plen, tok) in enumerate(chunk)
            )
        return out

    @property
    def output_weight(self):
        return self.model.get_output_embeddings().weight

    def logits(self, hidden):
        return self.model.get_output_embeddings()(hidden).float()

    def token_logits(self, hidden, token_ids):
        import torch

        return torch.einsum(
            "rd,rkd->rk", hidden.float(), self.output_weight[token_ids].float()
        )


def load_transformers_model(folder: Path, device: str) -> LanguageModel:
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        raise ModelUnavailable(f"--model {folder} needs transformers: {INSTALL_HINT}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        fast = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, use_fast=True
        )
    except (OSError, ValueError) as exc:
        first = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        raise ModelUnavailable(
            f"--model {folder}: cannot load it as a causal LM: {first}"
        ) from None
    tokenizer = getattr(fast, "backend_tokenizer", None)
    if not isinstance(tokenizer, Tokenizer):
        raise ModelUnavailable(
            f"--model {folder}: needs a fast tokenizer (tokenizer.json)"
        )
    model.to(device).eval()
    return LanguageModel(
        folder.name,
        tokenizer,
        TransformersLM(model),
        _start_token(tokenizer, folder),
        device,
    )
