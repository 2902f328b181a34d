"""The driver: plan, skip what is done, run an engine over the rest, join the outputs, report."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..io import ExitCode
from .plan import PARQUET, STATE_DIR, TMP_SUFFIX, FilePlan, Job, Shard, StartError, check_done, discover, plan_file
from .progress import Progress
from .report import remove_reports, write_reports
from .writers import assemble


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
    def __init__(self, markers: dict, progress: Progress):
        self.markers = markers
        self.failures: dict[str, str] = {}
        self.done_now: list[dict] = []
        self.progress_bar = progress

    def progress(self, documents: int, words: int) -> None:
        self.progress_bar.advance(documents, words)

    def done(self, shard: Shard, marker: dict) -> None:
        self.markers[shard.key] = marker
        self.done_now.append(marker)

    def failed(self, shard: Shard, message: str) -> None:
        self.failures[shard.key] = message
        if self.progress_bar.bar is None:
            _say(f"mtfix batch: {shard.describe()}: failed: {message}")
        else:
            self.progress_bar.bar.write(f"mtfix batch: {shard.describe()}: failed: {message}", file=sys.stderr)


def plan_job(cfg: RunConfig, job: Job) -> list[FilePlan]:
    files = discover(list(cfg.inputs), job.out, cfg.globs)
    if any(f.fmt == PARQUET for f in files):
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise StartError("Parquet inputs need pyarrow: pip install pyarrow (or 'mtfix[ray]')") from None
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


def _dry_run(plans: list[FilePlan], pending: list[Shard], reasons: dict, done: int) -> int:
    for plan in plans:
        if plan.skipped is not None:
            print(f"skip  {plan.file.rel}: {plan.skipped.message}")
            continue
        for s in plan.shards:
            why = reasons.get(s.key)
            print(f"todo  {s.describe()} ({why})" if why else f"done  {s.describe()}")
    documents = sum(s.rows for s in pending)
    _say(f"mtfix batch: dry run: {len(pending)} shards ({documents:,} documents) to process, "
         f"{done} already done; nothing written")
    return int(ExitCode.OK)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def run_batch(cfg: RunConfig, job: Job) -> int:
    started = time.monotonic()
    plans = plan_job(cfg, job)
    markers: dict[str, dict] = {}
    pending: list[Shard] = []
    reasons: dict[str, str] = {}
    for plan in plans:
        for shard in plan.shards:
            marker, why = check_done(shard, job)
            if marker is not None:
                markers[shard.key] = marker
            else:
                pending.append(shard)
                reasons[shard.key] = why
    if cfg.dry_run:
        return _dry_run(plans, pending, reasons, len(markers))

    out = Path(job.out)
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
    _clean_temporaries(out)
    if pending:
        remove_reports(job)
        for shard in pending:  # a joined output is stale as soon as one of its parts is redone
            if shard.count > 1:
                (out / shard.rel).unlink(missing_ok=True)
    if not cfg.quiet:
        documents = sum(s.rows for s in pending)
        _say(f"mtfix batch: {len(pending)} shards ({documents:,} documents) to process, {len(markers)} already "
             f"done; engine {cfg.engine}, {cfg.workers} worker{'s' if cfg.workers != 1 else ''}")
    progress = Progress(sum(s.rows for s in pending), quiet=cfg.quiet, interval=cfg.progress_interval)
    events = _RunEvents(markers, progress)
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if pending:
            _run_engine(cfg, job, pending, events)
    except KeyboardInterrupt:
        progress.close()
        _say(f"mtfix batch: interrupted; {len(markers)} of {len(markers) + len(pending) - len(events.done_now)} "
             f"shards done; run the same command again to resume")
        return int(ExitCode.INTERRUPTED)
    finally:
        progress.close()
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)

    for plan in plans:
        if plan.shards and all(s.key in markers for s in plan.shards):
            assemble(plan.shards, job)
    seconds = time.monotonic() - started
    documents_now = sum(m["stats"]["documents"] for m in events.done_now)
    words_now = sum(m["stats"]["words"] for m in events.done_now)
    run = {
        "engine": cfg.engine, "workers": cfg.workers, "shards_processed": len(events.done_now),
        "shards_already_done": len(markers) - len(events.done_now), "shards_failed": len(events.failures),
        "documents_processed": documents_now, "words_processed": words_now, "seconds": round(seconds, 3),
        "documents_per_second": round(documents_now / seconds, 1) if seconds else 0.0,
        "words_per_second": round(words_now / seconds, 1) if seconds else 0.0,
    }
    summary = write_reports(plans, markers, events.failures, job, run)
    if not cfg.quiet:
        _say(_closing_line(summary, job))
    incomplete = not summary["complete"] or summary["documents"]["skipped"]
    return int(ExitCode.SKIPPED if incomplete else ExitCode.OK)


def _run_engine(cfg: RunConfig, job: Job, pending: list[Shard], events) -> None:
    if cfg.engine == "ray":
        from .ray_engine import run_ray

        run_ray(pending, job, max(1, cfg.workers), events, address=cfg.ray_address,
                gpus_per_worker=cfg.gpus_per_worker, quiet=cfg.quiet)
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
    parts.append(f"; {summary['spin_score']['over_threshold']:,} documents with spin score >= "
                 f"{summary['spin_score']['threshold']}")
    parts.append(f"; this run {r['documents_processed']:,} documents in {r['seconds']:.1f} s "
                 f"({r['words_per_second']:,.0f} words/s); outputs in {job.out}")
    if summary["shards"]["failed"]:
        parts.append(f"\nmtfix batch: {summary['shards']['failed']} shards failed; rerun to retry them")
    return "".join(parts)
