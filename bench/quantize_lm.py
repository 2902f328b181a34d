"""Do int8 dynamic quantisation or ONNX Runtime buy the language model speed without losing quality?

    .venv/bin/python bench/quantize_lm.py [--rows 24] [--tokens 128] [--threads 1,2]
    pip install -e '.[onnx]'   # adds the ONNX Runtime rows (skipped with a note without it)

Encodes the same batch of synthetic-dev reference text (rows x tokens) with the float32 model,
with torch's dynamic int8 quantisation of some linear layers, and with the same encoding pass
exported to ONNX and run by ONNX Runtime (float32, and its own dynamic int8 quantisation), at
each thread count; reports the encode time (best of 3) and how far each variant's token
log-probabilities move from torch float32's (mean absolute difference in nats, and the mean
log-probability itself: a damaged model finds real text less probable). Writes
bench/out/quantize_lm.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
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
    ap.add_argument("--threads", default="2", help="comma-separated torch/ONNX Runtime thread counts")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    lm = load_language_model()
    texts = [r["reference"] for r in read_jsonl(DATA / "dev.jsonl")][: args.rows * 2]
    encoded = [ids for ids, _ in lm.encode_texts(texts) if len(ids) >= args.tokens][: args.rows]
    ids = torch.tensor([[lm.start_id] + e[: args.tokens - 1] for e in encoded])

    def best_of_3(encode) -> tuple[float, torch.Tensor]:
        encode(ids[:2])
        times = []
        for _ in range(3):
            t = time.perf_counter()
            hidden = encode(ids)
            times.append(time.perf_counter() - t)
        with torch.inference_mode():
            logp = torch.log_softmax(lm.net.logits(hidden[:, :-1]).float(), -1)
            return min(times), logp.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)

    def torch_encoder(net):
        def encode(x):
            with torch.inference_mode():
                return net.encode(x)[0]

        return encode

    variants = []
    for name, layers in VARIANTS.items():
        net = lm.net
        if layers is not None:
            qconfig = default_dynamic_qconfig if "per-tensor" in name else per_channel_dynamic_qconfig
            spec = {n: qconfig for n, _ in lm.net.named_modules() if n.split(".")[-1] in layers}
            net = torch.ao.quantization.quantize_dynamic(copy.deepcopy(lm.net), spec)
        variants.append((f"torch {name}", lambda threads, net=net: torch_encoder(net)))
    with tempfile.TemporaryDirectory() as workdir:
        runtime, note = "", ""
        try:
            exported, version = onnx_variants(lm.net, ids, Path(workdir))
            variants += exported
            runtime = f", onnxruntime {version}"
        except ImportError as exc:
            note = f"\n\nONNX Runtime rows skipped: {exc} (`pip install -e '.[onnx]'`)."
        rows, reference = [], {}
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            for name, make in variants:
                seconds, logp = best_of_3(make(threads))
                base = reference.setdefault(threads, logp)
                rows.append(
                    [name, str(threads), f"{seconds:.2f}", f"{ids.numel() / seconds:,.0f}", f"{logp.mean():.3f}",
                     f"{(logp - base).abs().mean():.3f}"]
                )
                print(rows[-1], file=sys.stderr)
    md = (
        f"Encode of {ids.shape[0]} x {ids.shape[1]} tokens of synthetic-dev reference text, torch "
        f"{torch.__version__}{runtime}.\n\n"
        + md_table(["variant", "threads", "encode s (best of 3)", "tokens/s", "mean token log-prob",
                    "mean abs change (nats)"], rows)
        + note
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quantize_lm.md").write_text(md + "\n", encoding="utf-8")
    print(md)
    return 0


def onnx_variants(net, ids, workdir: Path):
    """The encoding pass exported to ONNX (float32) and ONNX Runtime's own dynamic int8
    quantisation of it (per output channel), each as (name, threads -> encode function), and
    ONNX Runtime's version."""
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Encoder(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, ids):
            return self.net.encode(ids)[0]

    plain, quantised = workdir / "encode.onnx", workdir / "encode.int8.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(net), (ids[:2],), str(plain), input_names=["ids"], output_names=["hidden"],
            dynamic_axes={"ids": {0: "rows", 1: "tokens"}, "hidden": {0: "rows", 1: "tokens"}},
            opset_version=18, dynamo=False,
        )
        quantize_dynamic(str(plain), str(quantised), per_channel=True, weight_type=QuantType.QInt8)

    def session_encoder(path: Path):
        def make(threads: int):
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            return lambda x: torch.from_numpy(session.run(None, {"ids": x.numpy()})[0])

        return make

    return [
        ("onnxruntime float32", session_encoder(plain)),
        ("onnxruntime int8 dynamic (per-channel)", session_encoder(quantised)),
    ], onnxruntime.__version__


if __name__ == "__main__":
    sys.exit(main())
