"""The job's reports: edits.jsonl, errors.jsonl (joined from the shards' parts in input order,
so a rerun never duplicates a line) and summary.json."""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import __version__
from .plan import FilePlan, Job
from .jsonline import compact_bytes
from .writers import SPIN_BUCKETS, SPIN_THRESHOLD, AtomicFile, write_json_atomic

REPORT_FILES = ("edits.jsonl", "errors.jsonl", "summary.json")


def remove_reports(job: Job) -> None:
    """Reports describe a finished run; while one is under way there are none to mislead."""
    for name in REPORT_FILES:
        try:
            (Path(job.out) / name).unlink()
        except FileNotFoundError:
            pass


def write_reports(
    plans: list[FilePlan], done: set[str], totals: dict, failures: dict[str, str], job: Job, run: dict
) -> dict:
    """Join the parts of every finished shard in input order and write the summary, from the
    finished shards' merged statistics (`totals`); returns the summary."""
    edits = AtomicFile(Path(job.out) / "edits.jsonl")
    errors = AtomicFile(Path(job.out) / "errors.jsonl")
    shards_total = shards_done = files_skipped = 0
    try:
        for plan in plans:
            if plan.skipped is not None:
                files_skipped += 1
                errors.write(
                    compact_bytes(
                        {
                            "id": plan.file.rel,
                            "path": plan.file.rel,
                            "reason": plan.skipped.reason,
                            "message": plan.skipped.message,
                        }
                    )
                    + b"\n"
                )
                continue
            for shard in plan.shards:
                shards_total += 1
                if shard.key not in done:
                    reason = failures.get(shard.key, "not processed")
                    errors.write(
                        compact_bytes(
                            {"id": shard.describe(), "path": shard.rel, "reason": "shard-failed", "message": reason}
                        )
                        + b"\n"
                    )
                    continue
                shards_done += 1
                _append(edits, shard.state_path(job, ".edits.jsonl"))
                if shard.state_path(job, ".errors.jsonl").exists():
                    _append(errors, shard.state_path(job, ".errors.jsonl"))
        edits.commit()
        errors.commit()
    except BaseException:
        edits.discard()
        errors.discard()
        raise
    summary = build_summary(totals, job, run, shards_total, shards_done, files_skipped)
    write_json_atomic(Path(job.out) / "summary.json", summary, indent=2)
    return summary


def _append(dest: AtomicFile, part: Path) -> None:
    with open(part, "rb") as src:
        shutil.copyfileobj(src, dest.fh)


def build_summary(st: dict, job: Job, run: dict, shards_total: int, shards_done: int, files_skipped: int) -> dict:
    read = st["documents"]
    repaired = read - st["skipped"]
    width = 1.0 / SPIN_BUCKETS
    histogram = {f"{i * width:.1f}-{(i + 1) * width:.1f}": n for i, n in enumerate(st["spin_hist"])}
    return {
        "mtfix": __version__,
        "signature": job.signature,
        "options": {
            "mode": job.options.mode,
            "suggest_only": job.suggest_only,
            "text_field": job.text_field,
            "id_field": job.id_field,
            "max_chars": job.max_chars,
            "encoding": job.encoding,
            "shard_rows": job.shard_rows,
        },
        "complete": shards_done == shards_total and files_skipped == 0,
        "shards": {
            "total": shards_total,
            "done": shards_done,
            "failed": shards_total - shards_done,
            "files_skipped": files_skipped,
        },
        "documents": {
            "read": read,
            "repaired": repaired,
            "changed": st["changed"],
            "with_edits": st["with_edits"],
            "skipped": st["skipped"],
            "skipped_by_reason": dict(sorted(st["skipped_by_reason"].items())),
        },
        "words": st["words"],
        "edits": {
            "reported": st["edits"],
            "applied": st["applied"],
            "applied_means": "would be applied (--suggest-only)" if job.suggest_only else "applied",
            "by_kind": {k: {"reported": r, "applied": a} for k, (r, a) in sorted(st["by_kind"].items())},
            "by_rule": {k: {"reported": r, "applied": a} for k, (r, a) in sorted(st["by_rule"].items())},
        },
        "spin_score": {
            "mean": round(st["spin_sum_e4"] / 10_000 / repaired, 4) if repaired else 0.0,
            "threshold": SPIN_THRESHOLD,
            "over_threshold": st["spin_over"],
            "histogram": histogram,
        },
        # Everything above depends only on inputs and options; `run` is this invocation's.
        "run": run,
    }
