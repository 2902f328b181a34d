"""The local engine: a process pool whose workers each take whole shards (read, repair, write),
the way datatrove runs its pipeline steps. The driver only hands out shards and collects
their markers, so its memory stays flat whatever the corpus size."""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import sys
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Callable, Iterable, Iterator

from .plan import Job, Shard
from .records import read_shard, repair_records, warm_up
from .writers import ShardWriter


class WorkerStartError(RuntimeError):
    """A worker could not load the pipeline (missing model, bad rule file): the job cannot run."""


class Events:
    """What an engine reports to the driver. The runner subclasses it."""

    def progress(self, documents: int, words: int) -> None: ...

    def done(self, shard: Shard, marker: dict) -> None: ...

    def failed(self, shard: Shard, message: str) -> None: ...


def batched(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def process_shard(shard: Shard, job: Job, progress: Callable[[int, int], None] | None = None) -> dict:
    """Read, repair and write one shard; returns its done marker."""
    writer = ShardWriter(shard, job)
    try:
        for batch in batched(read_shard(shard, job), job.batch_size):
            repaired = repair_records(batch, job.options, suggest_only=job.suggest_only)
            for rec in repaired:
                writer.add(rec)
            if progress is not None:
                progress(len(repaired), sum(r.get("words", 0) for r in repaired))  # rows, as planned
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


# ---- worker process -----------------------------------------------------------------------

_WORKER: dict = {}


def _die_with_parent(parent_pid: int) -> None:
    """A worker must not outlive a killed driver and go on writing into --out."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


class _Stop(SystemExit):
    """SIGTERM from the driver (after Ctrl-C): drop the shard's temporary files and exit."""


def _on_sigterm(signum, frame):
    if _WORKER.get("busy"):
        raise _Stop(128 + signum)  # unwinds through the shard's writer, which removes its temporaries
    os._exit(128 + signum)  # idle: nothing to clean, and no exit handlers to wait on


def share_cores(workers: int) -> None:
    """Give each of `workers` processes its share of the cores for torch (full mode), unless
    the user set MTFIX_THREADS: every worker running as many threads as there are cores makes
    them spin-wait on each other (see mtfix.lm.backend)."""
    if "MTFIX_THREADS" not in os.environ:
        os.environ["MTFIX_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, workers)))


def _init_worker(job: Job, progress_queue, parent_pid: int, workers: int = 1) -> None:
    share_cores(workers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    signal.signal(signal.SIGTERM, _on_sigterm)
    _die_with_parent(parent_pid)
    # Progress is best effort. A worker that dies while its queue thread holds the queue's
    # shared write lock leaves the lock held for good; the other workers must still be able
    # to exit rather than wait forever to flush their progress (seen as a hung job in CI).
    progress_queue.cancel_join_thread()
    _WORKER.update(job=job, queue=progress_queue, parent=parent_pid, ready=False)


def _worker_task(shard: Shard) -> dict:
    w = _WORKER
    if not w["ready"]:
        try:
            warm_up(w["job"].options)  # the model (full mode) loads once per worker, here
        except Exception as exc:
            raise WorkerStartError(f"{type(exc).__name__}: {exc}") from None
        w["ready"] = True

    def progress(documents: int, words: int) -> None:
        if os.getppid() != w["parent"]:
            os._exit(1)
        w["queue"].put((documents, words))

    w["busy"] = True
    try:
        return process_shard(shard, w["job"], progress)
    except _Stop as stop:
        os._exit(stop.code)
    finally:
        w["busy"] = False


# ---- driver -------------------------------------------------------------------------------


def _mp_context():
    # fork shares the rule tables the driver already loaded, but is only safe while the driver
    # has a single thread (a lock held by another thread at fork time stays locked in the child).
    # (Not forkserver: its workers are children of the server, and each worker checks that it
    # is the driver's child so that it can die with it.)
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, each cleaning up its shard in progress (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, AttributeError):
            pass
    for proc in processes:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def run_local(shards: list[Shard], job: Job, workers: int, events: Events) -> None:
    """Process `shards`; KeyboardInterrupt stops the workers at once (unfinished shards stay undone)."""
    if workers <= 0:  # in-process: for debugging and small jobs
        try:
            warm_up(job.options)
        except Exception as exc:
            raise WorkerStartError(f"{type(exc).__name__}: {exc}") from None
        for shard in shards:
            try:
                marker = process_shard(shard, job, events.progress)
            except Exception as exc:
                events.failed(shard, f"{type(exc).__name__}: {exc}")
            else:
                events.done(shard, marker)
        return
    if not shards:
        return
    workers = min(workers, len(shards))
    ctx = _mp_context()
    progress_queue = None
    todo, suspects = deque(shards), deque()
    pool: ProcessPoolExecutor | None = None
    inflight: dict = {}
    isolating = False
    try:
        while todo or suspects or inflight:
            if pool is None:
                # A fresh queue with each pool: a worker that died may hold the old one's lock.
                progress_queue = _fresh_queue(ctx, progress_queue, events)
                pool = ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_init_worker, initargs=(job, progress_queue, os.getpid(), workers)
                )
            # After a worker died, the shards that were with it run one at a time to find the culprit.
            if not inflight:
                isolating = bool(suspects)
            source = suspects if isolating else todo
            broken = False
            while source and len(inflight) < (1 if isolating else 2 * workers):
                shard = source.popleft()
                try:
                    inflight[pool.submit(_worker_task, shard)] = shard
                except BrokenProcessPool:  # a worker died since the last wait: this shard never left
                    source.appendleft(shard)
                    broken = True
                    break
            finished, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(progress_queue, events)
            for fut in finished:
                shard = inflight.pop(fut)
                try:
                    marker = fut.result()
                except BrokenProcessPool:
                    broken = True
                    if isolating:
                        events.failed(
                            shard, "the worker process died while on this shard (killed, crashed or out of memory)"
                        )
                    else:
                        suspects.append(shard)
                except WorkerStartError:
                    raise
                except Exception as exc:
                    events.failed(shard, f"{type(exc).__name__}: {exc}")
                else:
                    events.done(shard, marker)
            if broken:
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
                for fut, shard in inflight.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        events.done(shard, fut.result())
                    else:
                        suspects.append(shard)
                inflight.clear()
        _drain(progress_queue, events)  # the loop ran, so a queue exists
    except BaseException:
        if pool is not None:
            _terminate(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if progress_queue is not None:
            progress_queue.close()


def _fresh_queue(ctx, old, events: Events):
    if old is not None:
        _drain(old, events)
        old.close()
    return ctx.Queue()


def _drain(progress_queue, events: Events) -> None:
    while True:
        try:
            documents, words = progress_queue.get_nowait()
        except queue_module.Empty:
            return
        events.progress(documents, words)
