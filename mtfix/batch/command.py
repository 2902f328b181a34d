"""The `mtfix batch` command line."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from ..cli import build_options, fail, pop_io, repair_options
from ..io import ExitCode
from .plan import Job, StartError, batch_signature
from .runner import RunConfig, run_batch


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _absolute(options):
    """Workers (and Ray actors) may not share the driver's working folder."""
    rules = tuple(str(Path(r).resolve()) for r in options.rules)
    model = options.model
    if model and Path(model).exists():
        model = str(Path(model).resolve())
    return replace(options, rules=rules, model=model)


@click.command("batch")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder (must not be inside an input folder). Mirrors the input layout.",
)
@click.option(
    "--glob",
    "globs",
    multiple=True,
    metavar="PATTERN",
    help="Only files matching this pattern inside input folders (e.g. '*.txt'). Repeatable.",
)
@click.option("--text-field", default="text", show_default=True, help="JSONL key / Parquet column holding the text.")
@click.option("--id-field", default=None, help="JSONL key / Parquet column holding a document id.")
@click.option(
    "--max-chars",
    type=click.IntRange(1),
    default=1_000_000,
    show_default=True,
    help="Skip (and report) documents longer than this.",
)
@click.option("--suggest-only", is_flag=True, help="Write the edits but leave every text unchanged.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: a process pool on this machine. ray: Ray Data (pip install 'mtfix[ray]').",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Worker processes / Ray actors (default: CPU cores; 0 runs in this process).",
)
@click.option("--ray-address", default=None, help="Address of an existing Ray cluster (default: a local instance).")
@click.option(
    "--gpus-per-worker",
    type=click.FloatRange(0),
    default=None,
    help="GPUs per Ray actor (default: spread the cluster's GPUs in full mode, else 0).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Documents per repair call (the Ray map_batches batch size).",
)
@click.option(
    "--shard-rows",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Rows per shard of a JSONL/Parquet file: the unit of resume and of parallel work (a bigger "
    "Parquet row group is cut too, but reads fastest when row_group_size is near this).",
)
@click.option("--dry-run", is_flag=True, help="List what would be processed and what is already done.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary line.")
@click.option(
    "--progress-interval",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal.",
)
@repair_options
def batch_command(
    inputs,
    out,
    globs,
    text_field,
    id_field,
    max_chars,
    suggest_only,
    engine,
    workers,
    ray_address,
    gpus_per_worker,
    batch_size,
    shard_rows,
    dry_run,
    quiet,
    progress_interval,
    **kw,
):
    """Repair every document in INPUTS (files and folders: text, JSONL, Parquet) into --out.

    \b
    OUT/<same layout>   repaired documents, in the input's format (JSONL/Parquet rows keep
                        their other fields and gain an `mtfix` field with the edits)
    OUT/edits.jsonl     one line per document: id, path, spin score, edits
    OUT/errors.jsonl    one line per skipped document, with the reason
    OUT/summary.json    counts, edits per kind and rule, spin scores, speed, signature

    A rerun of the same command skips finished shards and redoes any whose input or options
    changed; Ctrl-C stops cleanly. Exit codes: 0 all done, 4 finished but skipped documents,
    3 could not start, 2 usage error, 130 interrupted.
    """
    from ..pipeline import UnknownComponent, ruleset_for, signature
    from ..ruletable import RuleFileError

    encoding, max_bytes = pop_io(kw)
    options = _absolute(build_options(kw))
    try:
        base_signature = signature(options, ruleset_for(options))
    except (RuleFileError, UnknownComponent) as exc:
        raise fail(str(exc.args[0] if isinstance(exc, UnknownComponent) else exc), ExitCode.USAGE) from None
    fields = {
        "text": text_field,
        "id": id_field or "-",
        "maxchars": max_chars,
        "maxbytes": max_bytes,
        "encoding": encoding,
        "suggest": "yes" if suggest_only else "no",
    }
    job = Job(
        out=str(Path(out).absolute()),
        options=options,
        signature=batch_signature(base_signature, fields),
        text_field=text_field,
        id_field=id_field,
        max_chars=max_chars,
        max_bytes=max_bytes,
        encoding=encoding,
        suggest_only=suggest_only,
        batch_size=batch_size,
        shard_rows=shard_rows,
    )
    cfg = RunConfig(
        inputs=tuple(inputs),
        globs=tuple(globs),
        engine=engine,
        workers=_cores() if workers is None else workers,
        ray_address=ray_address,
        gpus_per_worker=gpus_per_worker,
        dry_run=dry_run,
        quiet=quiet,
        progress_interval=progress_interval,
    )
    from .local import WorkerStartError
    from .ray_engine import RayUnavailable

    try:
        code = run_batch(cfg, job)
    except StartError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    except WorkerStartError as exc:
        raise fail(f"the workers could not load the repair pipeline: {exc}", ExitCode.INPUT) from None
    except RayUnavailable as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    raise click.exceptions.Exit(code)
