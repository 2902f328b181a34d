"""The driver: plan, skip what is done, run an engine over the rest, join the outputs, report."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..io import ExitCode, is_ascii_compatible
from .plan import (
    JSONL,
    PARQUET,
    STATE_DIR,
    TMP_SUFFIX,
    FilePlan,
    Job,
    Shard,
    StartError,
    check_done,
    discover,
    plan_file,
    read_json,
)
from .progress import Progress
from .report import remove_reports, write_reports
from .writers import assemble, merge_stats, new_stats


@dataclass(frozen=True)
class RunConfig:
    inputs: tuple[str, ...]
    globs: tuple[str, ...] = ()
    engine: str = "local"
    workers: int = 1
    ray_address: str | None = None
    gpus_per_worker: float | None = None
    dry_run: bool = False
    quiet: bool = False
    progress_interval: float = 10.0


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class _RunEvents:
    """Collects finished shards: their keys and merged statistics, not their markers, so the
    driver's memory grows with the number of shards by a key each, not by their contents."""

    def __init__(self):
        self.finished: set[str] = set()
        self.totals = new_stats()
        self.failures: dict[str, str] = {}
        self.now = {"shards": 0, "documents": 0, "words": 0}
        self.bar: Progress | None = None

    def already_done(self, shard: Shard, marker: dict) -> None:
        self.finished.add(shard.key)
        merge_stats(self.totals, marker["stats"])

    def progress(self, documents: int, words: int) -> None:
        self.bar.advance(documents, words)

    def done(self, shard: Shard, marker: dict) -> None:
        self.already_done(shard, marker)
        self.now["shards"] += 1
        self.now["documents"] += marker["stats"]["documents"]
        self.now["words"] += marker["stats"]["words"]

    def failed(self, shard: Shard, message: str) -> None:
        self.failures[shard.key] = message
        line = f"mtfix batch: {shard.describe()}: failed: {message}"
        if self.bar is not None and self.bar.bar is not None:
            self.bar.bar.write(line, file=sys.stderr)
        else:
            _say(line)


def plan_job(cfg: RunConfig, job: Job) -> list[FilePlan]:
    files = discover(list(cfg.inputs), job.out, cfg.globs)
    if any(f.fmt == PARQUET for f in files):
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise StartError("Parquet inputs need pyarrow: pip install pyarrow (or 'mtfix[ray]')") from None
    jsonl = next((f for f in files if f.fmt == JSONL), None)
    if jsonl is not None and not is_ascii_compatible(job.encoding):
        # JSONL is read line by line at newline bytes, which UTF-16/32 do not have.
        raise StartError(
            f"{jsonl.path}: JSONL must be in UTF-8 or another encoding ASCII text reads the same in, "
            f"not {job.encoding}; convert it (iconv -f {job.encoding} -t utf-8) or leave out --encoding"
        )
    return [plan_file(f, job, write_cache=not cfg.dry_run) for f in files]


def _clean_temporaries(out: Path) -> None:
    """Temporary files left by a killed run; they were never renamed, so nothing refers to them."""
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                try:
                    os.unlink(os.path.join(dirpath, name))
                except OSError:
                    pass


def _remove_stale_outputs(job: Job, plans: list[FilePlan]) -> int:
    """Remove what finished shards of an earlier run wrote for inputs or rows this job no longer
    has (an input renamed, removed or left out by --glob, or mirrored under a new base folder
    because an input was added), so --out holds each document once; returns how many input
    files' outputs went. Only files the job's markers list are removed."""
    shards_dir = job.shards_dir
    if not shards_dir.is_dir():
        return 0
    out = Path(job.out)
    # Compared as strings: a Path per shard and rglob cost 33 us a marker on every rerun.
    root = str(shards_dir)
    current = {os.path.normpath(os.path.join(root, f"{s.key}.done.json")) for plan in plans for s in plan.shards}
    stale = sorted(
        path
        for dirpath, _, names in os.walk(root)
        for path in (os.path.join(dirpath, n) for n in names if n.endswith(".done.json"))
        if path not in current
    )
    rels = {plan.file.rel for plan in plans}
    gone: set[str] = set()
    removed = 0
    for marker_path in map(Path, stale):
        marker = read_json(marker_path) or {}
        for path in [*(marker.get("outputs") or {}), marker.get("input")]:
            if path and path not in rels:  # a current input's own output path is its own
                (out / path).unlink(missing_ok=True)
        rel = marker.get("input")
        if rel and rel not in rels:
            gone.add(rel)
            job.assembled_record(rel).unlink(missing_ok=True)
            job.plan_cache(rel).unlink(missing_ok=True)
        marker_path.unlink()
        removed += 1
    if removed:
        _remove_empty_folders(out)
    return len(gone)


def _remove_empty_folders(out: Path) -> None:
    for dirpath, _, _ in sorted(os.walk(out), key=lambda w: -len(w[0])):
        if Path(dirpath) != out:
            try:
                os.rmdir(dirpath)  # only succeeds on an empty folder
            except OSError:
                pass


def _dry_run(plans: list[FilePlan], pending: list[Shard], reasons: dict, done: int) -> int:
    for plan in plans:
        if plan.skipped is not None:
            print(f"skip  {plan.file.rel}: {plan.skipped.message}")
            continue
        for s in plan.shards:
            why = reasons.get(s.key)
            print(f"todo  {s.describe()} ({why})" if why else f"done  {s.describe()}")
    # Counted from the plan, without reading the data: a JSONL line may be blank or bad.
    documents = sum(s.rows for s in pending)
    _say(
        f"mtfix batch: dry run: {len(pending)} shards (up to {documents:,} documents) to process, "
        f"{done} already done; nothing written"
    )
    return int(ExitCode.OK)


def _lock(out: Path):
    """One job per --out at a time; the kernel drops the lock however the job ends."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    fh = open(out / STATE_DIR / "lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise StartError(f"another mtfix batch is writing to {out}; wait for it to end or use another --out") from None
    return fh


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def run_batch(cfg: RunConfig, job: Job) -> int:
    started = time.monotonic()
    plans = plan_job(cfg, job)
    events = _RunEvents()
    pending: list[Shard] = []
    reasons: dict[str, str] = {}
    for plan in plans:
        for shard in plan.shards:
            marker, why = check_done(shard, job)
            if marker is not None:
                events.already_done(shard, marker)
            else:
                pending.append(shard)
                reasons[shard.key] = why
    if cfg.dry_run:
        return _dry_run(plans, pending, reasons, len(events.finished))

    out = Path(job.out)
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    try:
        return _run_locked(cfg, job, plans, events, pending, started)
    finally:
        if lock is not None:
            lock.close()


def _run_locked(
    cfg: RunConfig, job: Job, plans: list[FilePlan], events: _RunEvents, pending: list[Shard], started: float
) -> int:
    out = Path(job.out)
    _clean_temporaries(out)
    stale = _remove_stale_outputs(job, plans)
    if stale and not cfg.quiet:
        _say(f"mtfix batch: removed the outputs of {stale} input file{'s' if stale != 1 else ''} no longer in this job")
    if pending:
        remove_reports(job)
        for shard in pending:  # a joined output is stale as soon as one of its parts is redone
            if shard.count > 1:
                (out / shard.rel).unlink(missing_ok=True)
    done_before = len(events.finished)
    if not cfg.quiet:
        documents = sum(s.rows for s in pending)
        _say(
            f"mtfix batch: {len(pending)} shards ({documents:,} documents) to process, {done_before} already "
            f"done; engine {cfg.engine}, {cfg.workers} worker{'s' if cfg.workers != 1 else ''}"
        )
    events.bar = Progress(sum(s.rows for s in pending), quiet=cfg.quiet, interval=cfg.progress_interval)
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if pending:
            _run_engine(cfg, job, pending, events)
    except KeyboardInterrupt:
        events.bar.close()
        # The workers are stopped by now; one stopped between creating a temporary file and
        # guarding it leaves the file behind (seen under load), and we hold the lock.
        _clean_temporaries(out)
        _say(
            f"mtfix batch: interrupted; {len(events.finished)} of {done_before + len(pending)} shards done; "
            f"run the same command again to resume"
        )
        return int(ExitCode.INTERRUPTED)
    finally:
        events.bar.close()
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)

    for plan in plans:
        if plan.shards and all(s.key in events.finished for s in plan.shards):
            assemble(plan.shards, job)
    seconds = time.monotonic() - started
    now = events.now
    run = {
        "engine": cfg.engine,
        "workers": cfg.workers,
        "shards_processed": now["shards"],
        "shards_already_done": done_before,
        "shards_failed": len(events.failures),
        "documents_processed": now["documents"],
        "words_processed": now["words"],
        "seconds": round(seconds, 3),
        "documents_per_second": round(now["documents"] / seconds, 1) if seconds else 0.0,
        "words_per_second": round(now["words"] / seconds, 1) if seconds else 0.0,
    }
    summary = write_reports(plans, events.finished, events.totals, events.failures, job, run)
    if not cfg.quiet:
        _say(_closing_line(summary, job))
    incomplete = not summary["complete"] or summary["documents"]["skipped"]
    return int(ExitCode.SKIPPED if incomplete else ExitCode.OK)


def _run_engine(cfg: RunConfig, job: Job, pending: list[Shard], events) -> None:
    if cfg.engine == "ray":
        from .ray_engine import run_ray

        run_ray(
            pending,
            job,
            max(1, cfg.workers),
            events,
            address=cfg.ray_address,
            gpus_per_worker=cfg.gpus_per_worker,
            quiet=cfg.quiet,
        )
        return
    from .local import run_local
    from .records import warm_up

    if cfg.workers > 0:
        # Load the rule tables once here; forked workers inherit them (the model loads per worker).
        warm_up(replace(job.options, mode="rules", proposers=None, scorer=None, model=None))
    run_local(pending, job, cfg.workers, events)


def _closing_line(summary: dict, job: Job) -> str:
    d, e, r = summary["documents"], summary["edits"], summary["run"]
    verb = "would change" if job.suggest_only else "changed"
    changed = d["with_edits"] if job.suggest_only else d["changed"]
    parts = [f"mtfix batch: {d['read']:,} documents read, {changed:,} {verb}, {d['skipped']:,} skipped"]
    if d["skipped"] or summary["shards"]["failed"] or summary["shards"]["files_skipped"]:
        parts.append(" (see errors.jsonl)")
    parts.append(f"; {e['reported']:,} edits ({e['applied']:,} {'fixes' if job.suggest_only else 'applied'})")
    parts.append(
        f"; {summary['spin_score']['over_threshold']:,} documents with spin score >= "
        f"{summary['spin_score']['threshold']}"
    )
    parts.append(
        f"; this run {r['documents_processed']:,} documents in {r['seconds']:.1f} s "
        f"({r['words_per_second']:,.0f} words/s); outputs in {job.out}"
    )
    if summary["shards"]["failed"]:
        parts.append(f"\nmtfix batch: {summary['shards']['failed']} shards failed; rerun to retry them")
    return "".join(parts)
