"""Speed benchmark: throughput and peak memory on 1 and 2 processes, cold start and warm latency.

    .venv/bin/python bench/speed.py [--modes rules,full] [--size-mb 10] [--update-benchmarks]

The corpus (bench/out/speed_corpus.txt) is built by repeating the detokenised MLQE-PE dev
post-edits, the synthetic dev set's damaged documents and examples/*.txt until --size-mb;
documents (~300 words) are separated by a line holding a form feed. Every measurement runs
in a fresh worker process, so peak RSS is that run's alone. Full mode runs on a smaller slice
(--full-size-kb) and is skipped with a message when it cannot start (no model).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, OUT, REPO, SHARED, git_revision, machine, md_table, read_jsonl  # noqa: E402

DOC_SEPARATOR = "\n\f\n"
PYTHON = sys.executable
MTFIX = [PYTHON, "-m", "mtfix"]


def build_corpus(path: Path, size_mb: float) -> Path:
    from common import LANG_PAIRS, mlqe_detok

    docs: list[str] = []
    if SHARED.is_dir():
        lines = [x for pair in LANG_PAIRS for x in mlqe_detok("dev", pair, "pe")]
        docs += [" ".join(lines[i : i + 12]) for i in range(0, len(lines), 12)]
    docs += [r["damaged"] for r in read_jsonl(DATA / "dev.jsonl")]
    docs += [p.read_text(encoding="utf-8") for p in sorted((REPO / "examples").glob("*.txt"))]
    block = DOC_SEPARATOR.join(d.strip() for d in docs if d.strip())
    target = int(size_mb * 1024 * 1024)
    reps = max(1, -(-target // len(block.encode())))
    text = DOC_SEPARATOR.join([block] * reps)
    data = text.encode()[:target].decode("utf-8", errors="ignore")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data, encoding="utf-8")
    return path


def build_long_document(path: Path, words: int) -> Path:
    """One spun document of about `words` words (synthetic dev documents, paragraphs kept):
    the issue's measure for full mode, where a document's length sets the model's work."""
    parts, n = [], 0
    for r in read_jsonl(DATA / "dev.jsonl"):
        if n >= words:
            break
        parts.append(r["damaged"].strip())
        n += len(r["damaged"].split())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- worker (a fresh process per measurement)
_OPTIONS = None


def _init(mode: str) -> None:
    global _OPTIONS
    from mtfix.options import Options
    from mtfix.pipeline import run

    mode, *extra = mode.split("+")  # "full+restorer": full mode with the restorer enabled
    _OPTIONS = Options(mode=mode, enable=tuple(extra))
    run("Officials mentioned a safety menace.", _OPTIONS)  # load tables (and model) before timing


def _repair(doc: str) -> int:
    from mtfix.pipeline import run

    return len(run(doc, _OPTIONS).applied)


def worker(args) -> dict:
    from mtfix.text import count_words

    t0 = time.perf_counter()
    text = Path(args.input).read_text(encoding="utf-8")
    docs = [d for d in text.split(DOC_SEPARATOR) if d.strip()]
    if args.whole:
        from mtfix.cli import main as cli_main

        t = time.perf_counter()
        code = cli_main(["fix", args.input, "-o", os.devnull, "-q", "--no-config", "--mode", args.mode])
        seconds = time.perf_counter() - t
        startup = None  # included in seconds: the CLI loads everything itself
        edits = None
        if code not in (0, 1):
            raise SystemExit(f"mtfix fix exited {code}")
    elif args.jobs == 1:
        _init(args.mode)
        startup = time.perf_counter() - t0
        t = time.perf_counter()
        edits = sum(_repair(d) for d in docs)
        seconds = time.perf_counter() - t
    else:
        from mtfix.batch.local import share_cores

        share_cores(args.jobs)  # as `mtfix batch` does: torch threads split between the workers
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init, initargs=(args.mode,)) as pool:
            pool.map(_repair, ["warm-up"] * args.jobs, chunksize=1)
            startup = time.perf_counter() - t0
            t = time.perf_counter()
            edits = sum(pool.imap(_repair, docs, chunksize=16))
            seconds = time.perf_counter() - t
    words = sum(count_words(d) for d in docs)
    size = len(text.encode())
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return {
        "mode": args.mode,
        "jobs": args.jobs,
        "whole": args.whole,
        "documents": len(docs),
        "bytes": size,
        "words": words,
        "seconds": round(seconds, 2),
        "words_per_s": round(words / seconds),
        "mb_per_s": round(size / seconds / 1e6, 3),
        "peak_rss_mb": round(peak / 1024, 1),
        "startup_s": None if startup is None else round(startup, 2),
        "edits_applied": edits,
    }


def measure(input_path: Path, mode: str, jobs: int, whole: bool = False, timeout: int = 3600) -> dict:
    cmd = [PYTHON, __file__, "--worker", "--input", str(input_path), "--mode", mode, "--jobs", str(jobs)]
    if whole:
        cmd.append("--whole")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        return {"mode": mode, "jobs": jobs, "whole": whole, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def warm_model_load(runs: int) -> float | None:
    """Issue 4's "warm start": a new process importing torch and loading the language model
    from the dequantised weights cached by an earlier run (median of `runs`)."""
    code = (
        "import time; t = time.perf_counter(); from mtfix.lm.backend import load_language_model\n"
        "load_language_model(); print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            return None
        times.append(float(proc.stdout.split()[-1]))
    return round(statistics.median(times), 3)


def latency(mode: str, small: Path, runs: int) -> dict:
    """Cold: a new `mtfix check` process each time (median of `runs`). Warm: the same repair
    again in one process (median of 20 after the first)."""
    code = (
        "import statistics, sys, time; from mtfix.options import Options; from mtfix.pipeline import run\n"
        f"text = open({str(small)!r}, encoding='utf-8').read(); o = Options(mode={mode!r})\n"
        "t = time.perf_counter(); run(text, o); first = time.perf_counter() - t\n"
        "ts = []\n"
        "for _ in range(20):\n    t = time.perf_counter(); run(text, o); ts.append(time.perf_counter() - t)\n"
        "print(first, statistics.median(ts))"
    )
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        return {"mode": mode, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    first, warm = map(float, proc.stdout.split())
    return {
        "mode": mode,
        "input_words": len(small.read_text(encoding="utf-8").split()),
        "cold_check_s": _wall(MTFIX + ["check", "--no-config", "--mode", mode, str(small)], runs),
        "first_run_in_process_s": round(first, 3),
        "warm_run_ms": round(warm * 1000, 2),
        "warm_model_load_s": warm_model_load(runs) if mode == "full" else None,
    }


def to_markdown(r: dict) -> str:
    m = r["machine"]
    out = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, {m['os']}. "
        f"Revision {r['revision']}; {r['date']}. Command: `{r['command']}`.",
        "",
    ]
    rows = []
    for t in r["throughput"]:
        what = t.get("label") or (
            "whole file as one document (`mtfix fix`, start-up included)"
            if t.get("whole")
            else f"{t['jobs']} process{'es' if t['jobs'] > 1 else ''}"
        )
        if "error" in t:
            rows.append([t["mode"], what, "-", "-", "-", "-", "-", f"skipped: {t['error']}"])
        else:
            size = f"{t['bytes'] / 1e6:.1f} MB" if t["bytes"] >= 1e6 else f"{t['bytes'] / 1e3:.0f} kB"
            rows.append(
                [
                    t["mode"],
                    what,
                    f"{size}, {t['words']:,} words, {t['documents']:,} docs",
                    f"{t['words_per_s']:,}",
                    t["mb_per_s"],
                    t["peak_rss_mb"],
                    t["startup_s"],
                    t["seconds"],
                ]
            )
    out += ["### Throughput", ""]
    out.append(
        md_table(
            ["mode", "run", "input", "words/s", "MB/s", "peak RSS MB (per process)", "start-up s", "seconds"], rows
        )
    )
    out += ["", "### Latency on a small file", ""]
    rows = []
    for lat in r["latency"]:
        if "error" in lat:
            rows.append([lat["mode"], "-", "-", "-", "-", f"skipped: {lat['error']}"])
        else:
            rows.append(
                [
                    lat["mode"],
                    lat["input_words"],
                    lat["cold_check_s"],
                    lat["first_run_in_process_s"],
                    lat["warm_run_ms"],
                    "-" if lat.get("warm_model_load_s") is None else lat["warm_model_load_s"],
                ]
            )
    out.append(
        md_table(
            [
                "mode",
                "words",
                "cold `mtfix check` s (median of 5)",
                "first run in process s",
                "warm run ms (median of 20)",
                "model load, new process, warm cache s (median of 5)",
            ],
            rows,
        )
    )
    out += ["", f"`mtfix --help` cold: {r['help_cold_s']} s (median of 5)."]
    out += [
        "",
        f"Load average (1 min) {r['load_before']} at the start and {r['load_after']} at the end: figures taken "
        f"while other work ran on the {m['cores']} cores (load above about 1) are low and noisy; "
        "rerun on a quiet machine.",
    ]
    return "\n".join(out)


def long_document_row(mode: str, words: int) -> dict:
    """Throughput on one spun document of `words` words (one process, start-up excluded)."""
    long_doc = build_long_document(OUT / "speed_document_full.txt", words)
    print(f"{mode}: one {words:,}-word document ...", file=sys.stderr)
    row = measure(long_doc, mode, 1)
    row["label"] = "one spun document, start-up excluded"
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default="rules,full",
                    help="comma-separated; MODE+CHECK adds an opt-in check, e.g. full+restorer")
    ap.add_argument("--size-mb", type=float, default=10.0)
    ap.add_argument("--full-size-kb", type=float, default=20.0, help="input size for full mode")
    ap.add_argument("--full-doc-words", type=int, default=10_000, help="length of the one-document full-mode run")
    ap.add_argument("--jobs", default="1,2", help="process counts to measure")
    ap.add_argument("--runs", type=int, default=5, help="cold-start repetitions")
    ap.add_argument("--update-benchmarks", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="rules", help=argparse.SUPPRESS)
    ap.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.jobs = int(args.jobs)
        print(json.dumps(worker(args)))
        return 0
    modes = args.modes.split(",")
    jobs = [int(j) for j in args.jobs.split(",")]
    corpus = build_corpus(OUT / "speed_corpus.txt", args.size_mb)
    small = REPO / "examples" / "spun_news_storm.txt"
    if not small.is_file():
        small = Path(tempfile.mkstemp(suffix=".txt")[1])
        small.write_text(read_jsonl(DATA / "dev.jsonl")[0]["damaged"], encoding="utf-8")
    report = {
        "machine": machine(),
        "revision": git_revision(),
        "date": time.strftime("%Y-%m-%d"),
        "command": " ".join([".venv/bin/python", "bench/speed.py", *sys.argv[1:]]),
        "throughput": [],
        "latency": [],
        "load_before": round(os.getloadavg()[0], 2),
    }
    for mode in modes:
        if "+" in mode:  # an opt-in check on top of a mode: the long spun document only
            report["throughput"].append(long_document_row(mode, args.full_doc_words))
            continue
        path = corpus
        if mode == "full":
            path = OUT / "speed_corpus_full.txt"
            text = corpus.read_text(encoding="utf-8")[: int(args.full_size_kb * 1024)]
            path.write_text(text[: text.rfind(DOC_SEPARATOR)] if DOC_SEPARATOR in text else text, encoding="utf-8")
        for j in jobs:
            print(f"{mode}: {j} process(es) on {path.stat().st_size / 1e6:.2f} MB ...", file=sys.stderr)
            row = measure(path, mode, j)
            report["throughput"].append(row)
            if "error" in row:
                print(f"{mode}: skipped ({row['error']})", file=sys.stderr)
                break
        else:
            if mode == "rules":
                report["throughput"].append(measure(path, mode, 1, whole=True))
            else:
                report["throughput"].append(long_document_row(mode, args.full_doc_words))
        report["latency"].append(latency(mode, small, args.runs))
    report["help_cold_s"] = _wall(MTFIX + ["--help"], args.runs)
    report["load_after"] = round(os.getloadavg()[0], 2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speed.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    md = to_markdown(report)
    (OUT / "speed.md").write_text(md + "\n", encoding="utf-8")
    print(md)
    if args.update_benchmarks:
        from quality import update_benchmarks

        update_benchmarks("speed", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
