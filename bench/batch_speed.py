"""Throughput of `mtfix batch`: documents/s and words/s on a synthetic corpus, per mode, engine
and worker count; the 1 -> 2 worker scaling; and the peak RSS of the driver and each worker.

    python bench/batch_speed.py                      # 50,000 documents, rules, local+ray, 1 and 2 workers
    python bench/batch_speed.py --modes rules,full --engines local --workers 1,2,4

The corpus is MLQE-PE dev post-edits (clean English, detokenised) grouped into short documents
of 2-4 sentences, a third of them "spun" by running mtfix's own rule tables backwards. It is
written once as one JSONL file under bench/out/batch/ and processed with --shard-rows 5000 (ten
shards, so two workers get the same share). Each configuration runs `python -m mtfix batch` as
a fresh process, so times include start-up (imports, rule tables, Ray); the table reports the
job's own figures from summary.json and the wall time of the whole command.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import OUT, REPO, git_revision, machine, md_table, mlqe_detok, need_shared

PAIRS = ("et-en", "ne-en", "ro-en", "ru-en", "si-en")


# Inflected forms the base-form tables below miss; what spinners print for common news words.
SPINNER_FORMS = {
    "said": "mentioned",
    "says": "mentions",
    "experts": "consultants",
    "expert": "consultant",
    "may be": "could also be",
    "until recently": "till not too long ago",
    "security threat": "safety menace",
    "foreign minister": "international minister",
    "supported": "assisted",
    "developments": "improvements",
}


def spinner_swaps() -> list[tuple[re.Pattern, str]]:
    """mtfix's rule tables read backwards ('security threat' -> 'safety menace'), plus SPINNER_FORMS."""
    swaps = [(re.compile(rf"\b{re.escape(clean)}\b"), spun) for clean, spun in SPINNER_FORMS.items()]
    for table in ("news.tsv", "tortured.tsv"):
        path = REPO / "mtfix" / "rules" / table
        with open(path, encoding="utf-8") as fh:
            rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
            for row in rows:
                found, repl = (row.get("found") or "").strip(), (row.get("replacement") or "").strip()
                if found and repl and " " not in repl[:1] and len(repl) > 3:
                    swaps.append((re.compile(rf"\b{re.escape(repl)}\b"), found))
    return swaps


def build_corpus(path: Path, documents: int, seed: int = 13) -> dict:
    need_shared("the batch benchmark corpus")
    sentences = [s for pair in PAIRS for s in mlqe_detok("dev", pair, "pe") if len(s.split()) >= 4]
    swaps = spinner_swaps()
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    words = spun = 0
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(documents):
            text = " ".join(rng.sample(sentences, rng.randint(2, 4)))
            if i % 6 == 0:  # news-like sentences give the spinner something to chew on
                text += " Officials said the security threat had grown until recently, experts say."
            if i % 3 == 0:
                for pattern, found in swaps[: len(SPINNER_FORMS)] + rng.sample(swaps, min(len(swaps), 60)):
                    text = pattern.sub(found, text)
                spun += 1
            words += len(text.split())
            fh.write(json.dumps({"id": f"doc{i:06d}", "text": text, "source": "mlqe-pe-dev"}) + "\n")
    meta = {"documents": documents, "words": words, "spun": spun, "sentences": len(sentences)}
    path.with_suffix(".meta.json").write_text(json.dumps(meta))
    return meta


class RssSampler(threading.Thread):
    """Peak RSS of a process and of each of its descendants (workers, Ray actors), sampled."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self.cpu: dict[int, float] = {}  # user+system seconds, last seen per process
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = " ".join(p.cmdline()[:3])[:80] or p.name()
                    times = p.cpu_times()
                    self.cpu[p.pid] = times.user + times.system
                except psutil.Error:
                    continue
                if rss > self.peaks.get(p.pid, ("", 0))[1]:
                    self.peaks[p.pid] = (name, rss)
            self.stop.wait(self.interval)

    def summary(self) -> dict:
        mib = 1024 * 1024
        driver = self.peaks.get(self.root.pid, ("", 0))[1] / mib
        others = [(name, rss / mib) for pid, (name, rss) in self.peaks.items() if pid != self.root.pid]
        workers = [
            rss
            for name, rss in others
            if "RepairActor" in name
            or "MapWorker" in name
            or ("mtfix" in name and "ray" not in name)
            or "multiprocessing" in name
        ]
        return {
            "cpu_s": round(sum(self.cpu.values()), 2),
            "driver_mib": round(driver, 1),
            "worker_peak_mib": round(max(workers), 1) if workers else None,
            "workers_seen": len(workers),
            "all_processes_mib": round(driver + sum(r for _, r in others), 1),
        }


def run_one(corpus: Path, out: Path, mode: str, engine: str, workers: int, shard_rows: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "mtfix",
        "batch",
        str(corpus),
        "--out",
        str(out),
        "--mode",
        mode,
        "--engine",
        engine,
        "--workers",
        str(workers),
        "--shard-rows",
        str(shard_rows),
        "--no-config",
        "-q",
    ]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sampler = RssSampler(proc.pid)
    sampler.start()
    output = proc.communicate()[0].decode(errors="replace")
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 4):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    run = summary["run"]
    return {
        "mode": mode,
        "engine": engine,
        "workers": workers,
        "command": " ".join(cmd[1:]).replace(str(REPO) + "/", ""),
        "documents": run["documents_processed"],
        "words": run["words_processed"],
        "job_s": run["seconds"],
        "wall_s": round(wall, 2),
        "docs_per_s": run["documents_per_second"],
        "words_per_s": run["words_per_second"],
        "load_before": round(load_before, 2),
        "signature": summary["signature"],
        "changed": summary["documents"]["changed"],
        "spin_over": summary["spin_score"]["over_threshold"],
        **sampler.summary(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--documents", type=int, default=50_000)
    ap.add_argument("--modes", default="rules")
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--shard-rows", type=int, default=5_000)
    ap.add_argument("--out", type=Path, default=OUT / "batch")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the fastest is reported")
    ap.add_argument("--update-benchmarks", action="store_true", help="rewrite the batch section of BENCHMARKS.md")
    ap.add_argument("--render-only", action="store_true", help="only re-render OUT/results.json")
    args = ap.parse_args()
    if args.render_only:  # re-render the last results.json (e.g. into BENCHMARKS.md) without running
        md = render(json.loads((args.out / "results.json").read_text()))
        print(md)
        if args.update_benchmarks:
            update_benchmarks("batch", md)
        return
    corpus = args.out / f"corpus-{args.documents}.jsonl"
    meta_path = corpus.with_suffix(".meta.json")
    meta = (
        json.loads(meta_path.read_text())
        if corpus.exists() and meta_path.exists()
        else build_corpus(corpus, args.documents)
    )
    print(
        f"corpus: {corpus} ({meta['documents']:,} documents, {meta['words']:,} words, {meta['spun']:,} spun)",
        file=sys.stderr,
    )
    results = []
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                tries = []
                for _ in range(args.repeat):
                    out = args.out / f"run-{mode}-{engine}-{workers}"
                    tries.append(run_one(corpus, out, mode, engine, workers, args.shard_rows))
                    print(json.dumps(tries[-1]), file=sys.stderr)
                best = min(tries, key=lambda r: r["job_s"])  # the least disturbed run
                results.append(dict(best, tries=len(tries), job_s_all=[r["job_s"] for r in tries]))
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "revision": git_revision(),
        "signature": results[0]["signature"],
        "corpus": meta,
        "shard_rows": args.shard_rows,
        "results": results,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    md = render(report)
    print(md)
    if args.update_benchmarks:
        update_benchmarks("batch", md)


def render(report: dict) -> str:
    results = report["results"]
    base = {(r["mode"], r["engine"]): r["docs_per_s"] for r in results if r["workers"] == 1}
    m, c = report["machine"], report["corpus"]
    head = (
        f"{c['documents']:,} documents ({c['words']:,} words, {c['spun']:,} spun), one JSONL file, "
        f"--shard-rows {report['shard_rows']}; {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        f"revision {report['revision']}; {report['date']}; best of {results[0]['tries']} runs each.\n"
        f"Options: `{report['signature']}`.\n"
    )
    if len({r.get("signature") for r in results}) > 1:
        head += "Warning: the rule tables changed between these runs (signatures differ), so rows are not comparable.\n"
    headers = [
        "mode",
        "engine",
        "workers",
        "docs/s",
        "words/s",
        "vs 1 worker",
        "job s",
        "wall s",
        "CPU s",
        "CPU ms/doc",
        "load before",
        "driver RSS MiB",
        "worker peak RSS MiB",
    ]
    rows = []
    for r in results:
        one = base.get((r["mode"], r["engine"]))
        rows.append(
            [
                r["mode"],
                r["engine"],
                r["workers"],
                f"{r['docs_per_s']:,.0f}",
                f"{r['words_per_s']:,.0f}",
                f"{r['docs_per_s'] / one:.2f}x" if one else "",
                r["job_s"],
                r["wall_s"],
                r["cpu_s"],
                f"{1e3 * r['cpu_s'] / max(r['documents'], 1):.2f}",
                r["load_before"],
                r["driver_mib"],
                r["worker_peak_mib"],
            ]
        )
    commands = "\n".join(f"    python {r['command']}" for r in results)
    return f"{head}\n{md_table(headers, rows)}\n\nCommands (each run as a fresh process):\n\n{commands}\n"


def update_benchmarks(section: str, body: str) -> None:
    """Replace this script's section of BENCHMARKS.md (between its begin/end markers)."""
    path = REPO / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"BENCHMARKS.md has no {begin} ... {end} markers")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
