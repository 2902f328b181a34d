"""The restorer adapter on its held-out validation rows (`valid.jsonl` of `python -m
mtfix.restorer.data`, never trained on): the training loss (mean over target tokens) and,
for the first --generate rows, how often greedy decoding gives the target exactly, by row
source (spun, machine translation, identity). Compares adapters trained for different
numbers of steps on the same footing, which `bench/restorer_alone.py` (whole documents,
recall against the spinner's key) does more slowly.

    .venv/bin/python bench/restorer_valid.py [--adapter DIR ...] [--generate 200]

Prints one JSON object per adapter.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from mtfix.restorer.data import DEFAULT_OUT
from mtfix.restorer.model import DEFAULT_ADAPTER_DIR, load_restorer
from mtfix.restorer.prompt import normalise
from mtfix.restorer.train import collate, encode_rows, read_rows

BATCH = 8


def target_loss(restorer, rows, max_length: int = 256) -> tuple[float, int]:
    """Mean cross-entropy per target token (the training loss, without dropout) and the count."""
    import torch

    examples, _ = encode_rows(rows, restorer.tokenizer, restorer.start_id, restorer.eos_id, max_length)
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for k in range(0, len(examples), BATCH):
            input_ids, mask, labels = collate(examples[k : k + BATCH], restorer.eos_id, restorer.device)
            # The model's loss is the batch's mean over its target tokens: weight it by their count.
            n = int((labels[:, 1:] != -100).sum())
            total += restorer.model(input_ids=input_ids, attention_mask=mask, labels=labels).loss.item() * n
            tokens += n
    return total / max(tokens, 1), tokens


def exact_matches(restorer, rows) -> dict:
    """Per source: rows, rows restored exactly, rows whose output equals the input."""
    seen, exact, copied = Counter(), Counter(), Counter()
    outputs = restorer.restore([(r.get("context") or "", r["input"]) for r in rows])
    for r, out in zip(rows, outputs):
        source = str(r.get("source", "?")).split("/")[0]
        seen[source] += 1
        exact[source] += out is not None and normalise(out) == normalise(r["target"])
        copied[source] += out is not None and normalise(out) == normalise(r["input"])
    return {s: {"rows": seen[s], "exact": exact[s], "copied_input": copied[s]} for s in sorted(seen)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapter", action="append", default=None, help="adapter folder (repeatable; default models/restorer)")
    ap.add_argument("--valid", default=str(DEFAULT_OUT / "valid.jsonl"))
    ap.add_argument("--generate", type=int, default=200, help="rows to decode greedily (0: loss only)")
    args = ap.parse_args(argv)
    rows = read_rows(args.valid)
    for adapter in args.adapter or [str(DEFAULT_ADAPTER_DIR)]:
        started = time.perf_counter()
        restorer = load_restorer(adapter, device="cpu")
        loss, tokens = target_loss(restorer, rows)
        summary = {"adapter": adapter, "valid_rows": len(rows), "target_tokens": tokens, "loss": round(loss, 4)}
        if args.generate:
            summary["greedy"] = exact_matches(restorer, rows[: args.generate])
        summary["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
