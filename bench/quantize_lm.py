"""Does int8 dynamic quantisation of the language model buy speed without losing quality?

    .venv/bin/python bench/quantize_lm.py [--rows 24] [--tokens 128]

Encodes the same batch of synthetic-dev reference text (rows x tokens) with the float32 model
and with torch's dynamic int8 quantisation of some linear layers, and reports the encode time
(best of 3) and how far each variant's token log-probabilities move from float32's (mean
absolute difference in nats, and the mean log-probability itself: a damaged model finds real
text less probable). Writes bench/out/quantize_lm.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, OUT, md_table, read_jsonl  # noqa: E402

VARIANTS = {
    "float32": None,
    "int8 all linear layers (per-tensor)": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "int8 MLP gate+up (per-channel)": ("gate_proj", "up_proj"),
    "int8 attention q/k/v/o (per-channel)": ("q_proj", "k_proj", "v_proj", "o_proj"),
}


def main(argv=None) -> int:
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    from mtfix.lm.backend import load_language_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    lm = load_language_model()
    texts = [r["reference"] for r in read_jsonl(DATA / "dev.jsonl")][: args.rows * 2]
    encoded = [ids for ids, _ in lm.encode_texts(texts) if len(ids) >= args.tokens][: args.rows]
    ids = torch.tensor([[lm.start_id] + e[: args.tokens - 1] for e in encoded])

    def measure(net):
        with torch.inference_mode():
            net.encode(ids[:2])
            times = []
            for _ in range(3):
                t = time.perf_counter()
                hidden, _ = net.encode(ids)
                times.append(time.perf_counter() - t)
            logp = torch.log_softmax(lm.net.logits(hidden[:, :-1]).float(), -1)
            return min(times), logp.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)

    rows, reference = [], None
    for name, layers in VARIANTS.items():
        net = lm.net
        if layers is not None:
            qconfig = default_dynamic_qconfig if "per-tensor" in name else per_channel_dynamic_qconfig
            spec = {n: qconfig for n, _ in lm.net.named_modules() if n.split(".")[-1] in layers}
            net = torch.ao.quantization.quantize_dynamic(copy.deepcopy(lm.net), spec)
        seconds, logp = measure(net)
        reference = logp if reference is None else reference
        rows.append(
            [name, f"{seconds:.2f}", f"{ids.numel() / seconds:,.0f}", f"{logp.mean():.3f}",
             f"{(logp - reference).abs().mean():.3f}"]
        )
        print(rows[-1], file=sys.stderr)
    md = (
        f"Encode of {ids.shape[0]} x {ids.shape[1]} tokens of synthetic-dev reference text, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads.\n\n"
        + md_table(["variant", "encode s (best of 3)", "tokens/s", "mean token log-prob", "mean abs change (nats)"], rows)
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quantize_lm.md").write_text(md + "\n", encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
