"""Helpers shared by the benchmark scripts: paths, data readers, machine facts, tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from mtfix.restorer.data import detokenize  # noqa: F401  (one definition for bench and training data)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MLQE = SHARED / "data" / "mlqe-pe"
SEEDS = SHARED / "seeds"
DATA = REPO / "bench" / "data"
OUT = REPO / "bench" / "out"
LANG_PAIRS = ("et-en", "ne-en", "ro-en", "ru-en", "si-en")

if str(REPO) not in sys.path:  # run as `python bench/x.py` from a checkout
    sys.path.insert(0, str(REPO))


def need_shared(what: str) -> None:
    if not SHARED.is_dir():
        sys.exit(f"{what} needs ../shared (not found at {SHARED})")


@lru_cache(maxsize=64)
def mlqe_lines(split: str, pair: str, side: str) -> tuple[str, ...]:
    """One side (src, mt, pe) of an MLQE-PE split, Moses-tokenised as shipped."""
    path = MLQE / split / f"{pair}-{split}.tar.gz"
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.name.endswith(f".{side}"))
        data = tar.extractfile(member).read().decode("utf-8")
    return tuple(data.splitlines())


def mlqe_detok(split: str, pair: str, side: str) -> list[str]:
    return [detokenize(x) for x in mlqe_lines(split, pair, side)]


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "memory": mem,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def md_table(headers: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        if v is None:
            return "n/a"
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) <= 1 else f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
