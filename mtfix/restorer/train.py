"""`mtfix train`: fine-tune the restorer adapter (LoRA, `peft`) on the default SmolLM2 model.

    .venv/bin/python -m mtfix.restorer.data                 # bench/out/restorer/train.jsonl
    mtfix train --data bench/out/restorer/train.jsonl --out models/restorer

- Prompt: `mtfix.restorer.prompt` (loss on the restored sentence and its end token only).
- LoRA on every linear layer of the attention and MLP blocks; AdamW; linear warm-up over
  `--warmup` steps, then linear decay to zero at `--steps`; gradient norm clipped at 1.
- Seeded: the examples of step k are a function of (seed, k) (a fresh permutation of the data
  each epoch), the LoRA initialisation and dropout come from torch's seeded generator.
- Resumable: every `--checkpoint-every` steps, `--out/checkpoints/step-NNNNNNN/` holds the
  adapter, the optimizer, the step, the RNG states and the accumulated wall time (written to
  a temporary folder, then renamed; the last two are kept). A later run with the same settings
  continues from the latest one; different settings are refused (use --no-resume).
- On finish `--out` gets `adapter_model.safetensors` (float16) + `adapter_config.json`
  (peft), `restorer.json` (prompt version, special tokens) and `training.json` (the exact
  command, steps, wall time, data counts, losses).
- Uses CUDA when there is a GPU (`--device auto`); on CPU set `--threads` (or MTFIX_THREADS).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from .model import ADAPTER_FILE
from .prompt import CONTEXT_CHARS, PROMPT_VERSION

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str = "models/restorer"
    base: str | None = None
    init_adapter: str | None = None
    steps: int = 3000
    batch_size: int = 8
    lr: float = 3e-4
    warmup: int = 100
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    max_length: int = 256
    seed: int = 0
    checkpoint_every: int = 100
    resume: bool = True
    device: str = "auto"
    threads: int | None = None
    log_every: int = 10

    def fingerprint(self, data_sha: str) -> dict:
        """What must match for a checkpoint to be continued."""
        keep = ("base", "steps", "batch_size", "lr", "warmup", "lora_rank", "lora_alpha", "lora_dropout",
                "max_length", "seed")
        return {k: getattr(self, k) for k in keep} | {
            "data_sha256": data_sha,
            "prompt_version": PROMPT_VERSION,
            "init_adapter_sha256": file_sha256(Path(self.init_adapter) / ADAPTER_FILE) if self.init_adapter else None,
        }


class TrainError(click.ClickException):
    pass


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_rows(path: str | Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise TrainError(f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(row, dict) or not isinstance(row.get("input"), str) or not isinstance(
                row.get("target"), str
            ):
                raise TrainError(f"{path}:{n}: a row needs string fields 'input' and 'target'")
            rows.append(row)
    if not rows:
        raise TrainError(f"{path}: no training rows")
    return rows


def encode_rows(rows, tokenizer, start_id, eos_id, max_length: int):
    """[(input ids, number of prompt tokens)] and how many rows were too long."""
    from .model import prompt_ids, target_ids

    out, skipped = [], 0
    for r in rows:
        p = prompt_ids(tokenizer, start_id, r["input"], r.get("context") or "")
        t = target_ids(tokenizer, eos_id, r["target"])
        if len(p) + len(t) > max_length:
            skipped += 1
            continue
        out.append((p + t, len(p)))
    return out, skipped


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """The examples of `step` (0-based): a seeded permutation of the data per epoch."""
    import torch

    out = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(pos, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        take = min(batch_size - len(out), n - offset)
        out.extend(perm[offset : offset + take].tolist())
        pos += take
    return out


def collate(examples, pad_id: int, device: str):
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for k, (ids, n_prompt) in enumerate(examples):
        input_ids[k, : len(ids)] = torch.tensor(ids)
        labels[k, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
        mask[k, : len(ids)] = 1
    return input_ids.to(device), mask.to(device), labels.to(device)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    rest = max(1, cfg.steps - cfg.warmup)
    return cfg.lr * max(0.0, 1.0 - (step - cfg.warmup) / rest)


# ---- checkpoints --------------------------------------------------------------------------


def _checkpoints(out: Path) -> list[Path]:
    folder = out / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith("step-") and (p / "state.json").is_file())


def save_checkpoint(out: Path, model, optimizer, state: dict) -> Path:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    final = out / "checkpoints" / f"step-{state['step']:07d}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(weights, str(tmp / "adapter.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in _checkpoints(out)[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: Path, model, optimizer) -> dict:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(folder / "adapter.safetensors")))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False))
    rng = torch.load(folder / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


# ---- training -----------------------------------------------------------------------------


def train(cfg: TrainConfig, command: str = "", echo=print) -> dict:
    from .model import RestorerUnavailable, base_dir, load_base, load_tokenizer, require, special_tokens

    try:
        require("torch", "transformers", "peft", "safetensors", "tokenizers")
    except RestorerUnavailable as exc:
        raise TrainError(str(exc)) from None
    import torch
    from peft import LoraConfig, get_peft_model

    from ..lm.backend import ModelUnavailable, resolve_device

    threads = cfg.threads or (int(os.environ["MTFIX_THREADS"]) if os.environ.get("MTFIX_THREADS") else None)
    if threads:
        torch.set_num_threads(threads)
    try:
        device = resolve_device(cfg.device)
        bfolder, base_name = base_dir(cfg.base)
    except ModelUnavailable as exc:
        raise TrainError(str(exc)) from None
    out = Path(cfg.out)
    rows = read_rows(cfg.data)
    data_sha = file_sha256(cfg.data)
    fingerprint = cfg.fingerprint(data_sha)
    tokenizer = load_tokenizer(bfolder)
    start_id, eos_id, eos_token = special_tokens(tokenizer, bfolder)
    examples, too_long = encode_rows(rows, tokenizer, start_id, eos_id, cfg.max_length)
    if not examples:
        raise TrainError(f"{cfg.data}: every row is longer than --max-length {cfg.max_length} tokens")

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = load_base(bfolder, device)
    model.config.use_cache = False
    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(LORA_TARGETS),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    previous = None
    if cfg.init_adapter:
        previous = init_from_adapter(model, Path(cfg.init_adapter), cfg)
        echo(f"starting from the adapter in {cfg.init_adapter} ({previous.get('steps')} steps)")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)

    step, wall, losses = 0, 0.0, []
    checkpoints = _checkpoints(out)
    if cfg.resume and checkpoints:
        saved = json.loads((checkpoints[-1] / "state.json").read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fingerprint:
            diff = sorted(k for k in fingerprint if saved.get("fingerprint", {}).get(k) != fingerprint[k])
            raise TrainError(
                f"{checkpoints[-1]} was written with different settings ({', '.join(diff)}): "
                "use the same ones to continue, or --no-resume to start again"
            )
        state = load_checkpoint(checkpoints[-1], model, optimizer)
        step, wall, losses = state["step"], state["wall_s"], state["losses"]
        echo(f"resuming from {checkpoints[-1]} (step {step})")
    elif not cfg.resume and (out / "checkpoints").is_dir():
        shutil.rmtree(out / "checkpoints")

    model.train()
    pad_id = eos_id
    use_amp = device.startswith("cuda")
    window: list[float] = []
    started = time.perf_counter()
    run_start_step = step
    while step < cfg.steps:
        idx = batch_indices(len(examples), cfg.batch_size, step, cfg.seed)
        input_ids, mask, labels = collate([examples[i] for i in idx], pad_id, device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        step += 1
        window.append(loss.item())
        if step % cfg.log_every == 0 or step == cfg.steps:
            mean = sum(window) / len(window)
            losses.append([step, round(mean, 4)])
            window = []
            echo(f"step {step}/{cfg.steps} loss {mean:.4f} lr {learning_rate(step - 1, cfg):.2e} "
                 f"{(time.perf_counter() - started) / (step - run_start_step):.2f} s/step")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            elapsed = wall + time.perf_counter() - started
            save_checkpoint(out, model, optimizer, {"step": step, "wall_s": round(elapsed, 2), "losses": losses,
                                                    "fingerprint": fingerprint})
    wall += time.perf_counter() - started
    run_steps = step - run_start_step

    summary = {
        "command": command,
        "config": asdict(cfg),
        "steps": step,
        "wall_time_s": round(wall, 1),
        "this_run": {"steps": run_steps, "wall_time_s": round(time.perf_counter() - started, 1)},
        "device": device,
        "threads": torch.get_num_threads() if device == "cpu" else None,
        "data": {
            "file": str(cfg.data),
            "sha256": data_sha,
            "rows": len(rows),
            "used": len(examples),
            "skipped_too_long": too_long,
            "by_source": dict(sorted(Counter(str(r.get("source", "?")).split("/")[0] for r in rows).items())),
        },
        "base": {"name": base_name, "dir": str(cfg.base) if cfg.base else None},
        "lora": {"rank": cfg.lora_rank, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout,
                 "targets": list(LORA_TARGETS), "parameters": sum(p.numel() for p in params)},
        "losses": losses,
        "versions": _versions(),
    }
    if previous is not None:
        # The adapter's whole history: continuing one is part of reproducing it.
        summary["initialised_from"] = previous
    write_adapter(out, model, {"prompt_version": PROMPT_VERSION, "eos_token": eos_token, "start_id": start_id,
                               "context_chars": CONTEXT_CHARS, "base": base_name,
                               "base_dir": str(Path(cfg.base).resolve()) if cfg.base else None})
    (out / "training.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def init_from_adapter(model, folder: Path, cfg: TrainConfig) -> dict:
    """Load a finished adapter's weights to train on from them (a fresh learning-rate
    schedule, a fresh optimizer); returns the adapter's training record."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = folder / ADAPTER_FILE
    if not weights.is_file():
        raise TrainError(f"--init-adapter {folder}: no {ADAPTER_FILE} there")
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    if (config.get("r"), config.get("lora_alpha")) != (cfg.lora_rank, cfg.lora_alpha):
        raise TrainError(
            f"--init-adapter {folder}: rank {config.get('r')}, alpha {config.get('lora_alpha')}; "
            f"this run has --lora-rank {cfg.lora_rank} --lora-alpha {cfg.lora_alpha}"
        )
    state = {k: v.float() for k, v in load_file(str(weights)).items()}
    result = set_peft_model_state_dict(model, state)
    missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k]
    if missing:
        raise TrainError(f"--init-adapter {folder}: {len(missing)} LoRA weights missing, e.g. {missing[0]}")
    record = folder / "training.json"
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}


def write_adapter(out: Path, model, meta: dict) -> None:
    """adapter_model.safetensors (float16: half the size, no measurable loss for LoRA deltas),
    adapter_config.json (peft, base named without a machine path) and restorer.json."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(weights, str(out / ADAPTER_FILE), metadata={"format": "pt"})
    config = model.peft_config["default"]
    config.base_model_name_or_path = meta["base"]
    config.save_pretrained(str(out))
    (out / "restorer.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "peft", "mtfix"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def _command_line(params: dict) -> str:
    parts = ["mtfix", "train"]
    for name, value in params.items():
        flag = "--" + name.replace("_", "-")
        if name == "resume":
            parts.append("--resume" if value else "--no-resume")
        elif value is not None:
            parts += [flag, str(value)]
    return " ".join(parts)


@click.command("train")
@click.option("--data", default="bench/out/restorer/train.jsonl", show_default=True,
              type=click.Path(dir_okay=False), help="JSONL rows with input, context, target (python -m mtfix.restorer.data).")
@click.option("--out", default="models/restorer", show_default=True, type=click.Path(file_okay=False),
              help="Where the adapter, training.json and checkpoints/ go.")
@click.option("--base", default=None, type=click.Path(file_okay=False),
              help="A local Hugging Face Llama folder (default: the cached SmolLM2-135M-Instruct).")
@click.option("--init-adapter", default=None, type=click.Path(file_okay=False, exists=True),
              help="Continue training this finished adapter (a fresh schedule of --steps steps).")
@click.option("--steps", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=3e-4, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--warmup", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--lora-rank", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--lora-alpha", default=None, type=click.IntRange(min=1), help="Default: twice the rank.")
@click.option("--max-length", default=256, show_default=True, type=click.IntRange(min=8),
              help="Longer examples (prompt + target tokens) are skipped.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--checkpoint-every", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue from the latest checkpoint in --out (same settings required).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", default=None, type=click.IntRange(min=1), help="torch CPU threads (default: MTFIX_THREADS).")
@click.option("--log-every", default=10, show_default=True, type=click.IntRange(min=1))
def train_command(**params):
    """Train the seq2seq restorer adapter (LoRA on SmolLM2-135M-Instruct)."""
    if not Path(params["data"]).is_file():
        raise TrainError(f"--data {params['data']}: not found (build it with: python -m mtfix.restorer.data)")
    if params["lora_alpha"] is None:
        params["lora_alpha"] = 2 * params["lora_rank"]
    cfg = TrainConfig(**params)
    summary = train(cfg, command=_command_line(params), echo=lambda m: click.echo(m, err=True))
    click.echo(f"wrote {Path(cfg.out) / ADAPTER_FILE}: {summary['steps']} steps, "
               f"{summary['wall_time_s']} s, {summary['data']['used']} examples")


def main(argv=None):  # python -m mtfix.restorer.train
    return train_command.main(args=argv, prog_name="mtfix train")


if __name__ == "__main__":
    main()
