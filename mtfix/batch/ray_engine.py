"""The Ray engine: the same read and repair steps run through Ray Data, the same writer on the
driver. Ray Data reads the shards (flat_map), repairs them in batches with a stateful actor
that holds the pipeline (and the model in full mode), and streams the repaired records back in
order; the driver writes each shard with `ShardWriter`, exactly as a local worker would.

On a cluster, every node needs mtfix installed and the inputs at the same path (a shared
filesystem or the same copy); only the driver writes, so --out need only be reachable there.
"""

from __future__ import annotations

import logging
import os
import pickle

from .local import Events, WorkerStartError
from .plan import Job, Shard
from .records import read_shard, repair_records, warm_up
from .writers import ShardWriter


class RayUnavailable(RuntimeError):
    pass


def _read_rows(item: dict, job: Job) -> list[dict]:
    """One shard's records as Ray rows, then an end row carrying the count (or the failure)."""
    shard: Shard = pickle.loads(item["shard"])
    rows, end = [], {"end": True}
    try:
        for rec in read_shard(shard, job):
            rows.append({"key": shard.key, "payload": pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL)})
    except Exception as exc:  # the shard fails, the job goes on
        end["failed"] = f"{type(exc).__name__}: {exc}"
    end["count"] = len(rows)
    rows.append({"key": shard.key, "payload": pickle.dumps(end)})
    return rows


class RepairActor:
    """Ray Data callable class: built once per actor, so the pipeline and model load once."""

    def __init__(self, options, suggest_only: bool):
        self.options = options
        self.suggest_only = suggest_only
        try:
            warm_up(options)
        except Exception as exc:
            raise WorkerStartError(f"{type(exc).__name__}: {exc}") from None

    def __call__(self, batch: dict) -> dict:
        records = [pickle.loads(p) for p in batch["payload"]]
        repaired = repair_records(records, self.options, suggest_only=self.suggest_only)
        return {
            "key": list(batch["key"]),
            "payload": [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in repaired],
        }


def _init_ray(address: str | None, workers: int, quiet: bool):
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--engine ray needs Ray: pip install 'mtfix[ray]'") from None
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": not quiet}
        if address or os.environ.get("RAY_ADDRESS"):
            kwargs["address"] = address or os.environ["RAY_ADDRESS"]
        else:
            # A local instance: one CPU per repair actor plus one for the readers.
            kwargs["num_cpus"] = workers + 1
        ray.init(**kwargs)
    return ray


def run_ray(
    shards: list[Shard],
    job: Job,
    workers: int,
    events: Events,
    address: str | None = None,
    gpus_per_worker: float | None = None,
    quiet: bool = False,
) -> None:
    ray = _init_ray(address, workers, quiet)
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # the writer needs each shard's records in order
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # mtfix reports progress itself
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    if gpus_per_worker is None:
        gpus = ray.cluster_resources().get("GPU", 0)
        gpus_per_worker = min(1.0, gpus / workers) if gpus and job.options.mode == "full" else 0
    by_key = {s.key: s for s in shards}
    items = [{"shard": pickle.dumps(s)} for s in shards]
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * workers)))
    ds = ds.flat_map(_read_rows, fn_kwargs={"job": job})
    pool = (
        {"compute": ray.data.ActorPoolStrategy(size=workers)}
        if hasattr(ray.data, "ActorPoolStrategy")
        else {"concurrency": workers}
    )
    ds = ds.map_batches(
        RepairActor,
        fn_constructor_kwargs={"options": job.options, "suggest_only": job.suggest_only},
        batch_size=job.batch_size,
        num_cpus=1,
        num_gpus=gpus_per_worker,
        batch_format="numpy",
        **pool,
    )
    writers: dict[str, ShardWriter] = {}
    try:
        for row in ds.iter_rows():
            key = row["key"]
            rec = pickle.loads(row["payload"])
            shard = by_key[key]
            writer = writers.get(key)
            if writer is None:
                writer = writers[key] = ShardWriter(shard, job)
            if rec.get("end"):
                del writers[key]
                if rec.get("failed") or writer.records != rec["count"]:
                    writer.abort()
                    events.failed(shard, rec.get("failed") or f"{writer.records} of {rec['count']} records arrived")
                else:
                    events.done(shard, writer.finish())
                continue
            writer.add(rec)
            events.progress(1, rec.get("words", 0))
    except BaseException as exc:
        for writer in writers.values():
            writer.abort()
        start_error = _start_error(exc)
        if start_error is not None:
            raise start_error from None
        raise


def _start_error(exc: BaseException) -> WorkerStartError | None:
    """Ray wraps an actor's constructor failure; find ours in the chain."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, WorkerStartError):
            return exc
        cause = getattr(exc, "cause", None)
        if isinstance(cause, WorkerStartError):
            return cause
        if "WorkerStartError" in str(exc):
            return WorkerStartError(str(exc).split("WorkerStartError:", 1)[-1].strip().splitlines()[0])
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
