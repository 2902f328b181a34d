"""Reading shards into records, and the one repair step both engines run.

A record is a plain dict (picklable, engine-neutral):
  id, where (1-based line for JSONL, 0-based row for Parquet, None for a text file),
  text (str or None), error ([reason, message] or None),
  json_line (a JSONL object's line, decoded, without its line ending), eol (that line ending),
  raw (bytes of a JSONL line kept verbatim),
  blank (a blank JSONL line: not a document, copied through).
`repair_records` adds repaired, edits, spin_score, changed and words to each readable record.
"""

from __future__ import annotations

import json
import os
import time
from typing import Iterable, Iterator

from ..io import InputError, decode
from .plan import JSONL, PARQUET, TEXT, Job, Shard, parquet_rows_before

_PARQUET_READ_ROWS = 1024


def read_shard(shard: Shard, job: Job) -> Iterator[dict]:
    if shard.fmt == TEXT:
        yield _read_text(shard, job)
    elif shard.fmt == JSONL:
        yield from _read_jsonl(shard, job)
    elif shard.fmt == PARQUET:
        yield from _read_parquet(shard, job)
    else:  # pragma: no cover - plan.format_of only makes the three
        raise ValueError(f"unknown format {shard.fmt!r}")


def _error(reason: str, message: str) -> list[str]:
    return [reason, message]


def _check_text(text, job: Job, field_name: str | None = None):
    """The text, or an error for a document that cannot be repaired."""
    what = f"field {field_name!r}" if field_name else "document"
    if text is None:
        return None, _error("missing-text", f"{what} is missing or null")
    if not isinstance(text, str):
        return None, _error("text-not-string", f"{what} is a {type(text).__name__}, not a string")
    if not text.strip():
        return None, _error("empty", f"{what} is empty")
    if len(text) > job.max_chars:
        return None, _error("too-long", f"{len(text):,} characters is over the {job.max_chars:,} limit (--max-chars)")
    return text, None


def _read_text(shard: Shard, job: Job) -> dict:
    rec = {"id": shard.rel, "where": None, "text": None, "error": None}
    try:
        size = os.path.getsize(shard.path)
        if size > job.max_bytes:
            rec["error"] = _error("too-large", f"{size:,} bytes is over the {job.max_bytes:,}-byte limit (--max-bytes)")
            return rec
        with open(shard.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        rec["error"] = _error("unreadable", f"cannot read: {exc.strerror or exc}")
        return rec
    try:
        source = decode(data, shard.rel, job.encoding)
    except InputError as exc:
        message = str(exc).split(": ", 1)[-1]
        reason = "binary" if "binary" in message else "empty" if "empty" in message else "undecodable"
        rec["error"] = _error(reason, message)
        return rec
    # The codec that writes it back as it was read: "utf-8-sig" or "utf-16" decode the byte
    # order mark, and writing with them again puts one back.
    rec["encoding"] = source.encoding
    rec["text"], rec["error"] = _check_text(source.text, job)
    return rec


def _read_jsonl(shard: Shard, job: Job) -> Iterator[dict]:
    a, b = shard.span
    line_no = shard.start
    with open(shard.path, "rb") as fh:
        fh.seek(a)
        pos = a
        while pos < b:
            line = fh.readline()
            if not line:
                break
            pos += len(line)
            line_no += 1
            yield _jsonl_record(line, line_no, shard, job)


def _jsonl_record(line: bytes, line_no: int, shard: Shard, job: Job) -> dict:
    content = line.rstrip(b"\r\n")
    rec = {"id": f"{shard.rel}:{line_no}", "where": line_no, "text": None, "error": None}
    if not content.strip():
        return dict(rec, id=None, blank=True, raw=line)
    try:
        decoded = content.decode(job.encoding)
    except UnicodeDecodeError as exc:
        return dict(
            rec,
            raw=line,
            error=_error(
                "undecodable", f"not valid {job.encoding} (byte 0x{content[exc.start]:02x} at column {exc.start + 1})"
            ),
        )
    if line_no == 1:
        decoded = decoded.lstrip("\ufeff")
    eol = line[len(content) :].decode("ascii")
    try:
        row = json.loads(decoded)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested 100,000 deep
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply to read"
        error = _error("malformed-json", f"not valid JSON: {message}")
    else:
        error = None if isinstance(row, dict) else _error("not-an-object", f"a JSON {type(row).__name__}, not an object")
    if error is not None:
        return dict(rec, raw=_as_utf8(line, decoded + eol, job), error=error)
    if job.id_field and row.get(job.id_field) is not None:
        rec["id"] = row[job.id_field]  # as the input has it (7 stays a number), so edits join back
    rec["json_line"] = decoded  # the writer swaps the text in place: other fields stay byte for byte
    rec["eol"] = eol
    rec["text"], rec["error"] = _check_text(row.get(job.text_field), job, job.text_field)
    return rec


def _as_utf8(line: bytes, decoded: str, job: Job) -> bytes:
    """A line copied through as it is: the output is UTF-8, so a line read in another
    encoding is written in UTF-8 too (a UTF-8 line is kept byte for byte)."""
    import codecs

    return line if codecs.lookup(job.encoding).name in ("utf-8", "utf-8-sig") else decoded.encode("utf-8")


def open_parquet(path: str):
    """A Parquet file read through a memory map: read plainly, pyarrow loads a row group's
    whole compressed column chunks, however few of its rows a cut shard needs (measured: 108
    MB for the first tenth of a 101 MB group; 7 MB mapped)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, memory_map=True)


def _read_parquet(shard: Shard, job: Job) -> Iterator[dict]:
    pf = open_parquet(shard.path)
    names = pf.schema_arrow.names
    has_text = job.text_field in names
    row = shard.start
    for texts, ids in _parquet_columns(pf, shard, job, names):
        for text, id_value in zip(texts, ids):
            rec = {"id": f"{shard.rel}#{row}" if id_value is None else _json_id(id_value), "where": row}
            if has_text:
                rec["text"], rec["error"] = _check_text(text, job, job.text_field)
            else:
                rec["text"], rec["error"] = None, _error("missing-text", f"no column {job.text_field!r}")
            row += 1
            yield rec


def _json_id(value):
    """A Parquet id as JSON can hold it: numbers and strings as they are, others (dates, bytes) as text."""
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _parquet_columns(pf, shard: Shard, job: Job, names: list[str]):
    """(texts, ids) lists per batch of rows; None where the file has no such column."""
    columns = [c for c in (job.text_field, job.id_field) if c and c in names]
    if not columns:
        if shard.rows:
            yield [None] * shard.rows, [None] * shard.rows
        return
    for batch in parquet_batches(pf, shard, columns):
        n = batch.num_rows
        texts = batch.column(job.text_field).to_pylist() if job.text_field in columns else [None] * n
        ids = batch.column(job.id_field).to_pylist() if job.id_field in columns else [None] * n
        yield texts, ids


def parquet_batches(pf, shard: Shard, columns: list[str] | None = None):
    """The shard's rows of `columns` (all when None), as record batches in row order. A shard
    cut from a bigger row group reads the group from its start and skips the rows before it
    (Parquet pages cannot be reached by row number here)."""
    if not shard.rows:
        return
    first_group, end_group = shard.span
    row = parquet_rows_before(pf.metadata, first_group)
    groups = range(first_group, end_group)
    for batch in pf.iter_batches(batch_size=_PARQUET_READ_ROWS, row_groups=groups, columns=columns):
        first, row = row, row + batch.num_rows
        if row <= shard.start:
            continue  # wholly before the shard
        lo, hi = max(shard.start - first, 0), min(shard.stop - first, batch.num_rows)
        yield batch.slice(lo, hi - lo)  # a view, whole or not
        if row >= shard.stop:
            break


# ---- the repair step ----------------------------------------------------------------------


def warm_up(options) -> None:
    """Load rule tables (and the model in full mode) now rather than on the first document."""
    from ..pipeline import run

    # Something for every component to chew on (a pronoun loads the parser in full mode).
    run("Officials mentioned a safety menace. He said it also wants training, which they called delicate.", options)


def repair_records(records: Iterable[dict], options, suggest_only: bool = False) -> list[dict]:
    """Repair every readable record; others pass through unchanged. Pure: returns new dicts.

    This is the only repair logic of `mtfix batch`; the local pool and Ray both call it."""
    from ..pipeline import run
    from ..render import edit_records
    from ..text import count_words

    slowdown = float(os.environ.get("MTFIX_BATCH_SLOWDOWN") or 0)  # tests only: a job that takes time
    out = []
    for rec in records:
        text = rec.get("text")
        if text is None or rec.get("error"):
            out.append(rec)
            continue
        try:
            result = run(text, options)
        except Exception as exc:  # one pathological document must not stop a million-document job
            out.append(dict(rec, error=_error("repair-failed", f"{type(exc).__name__}: {exc}")))
            continue
        repaired = text if suggest_only else result.repaired
        out.append(
            dict(
                rec,
                repaired=repaired,
                changed=repaired != text,
                spin_score=round(result.spin_score, 4),
                words=count_words(text),
                # As `check --format json` writes them; the path and a JSONL line are the document's.
                edits=edit_records(None, result),
            )
        )
        if slowdown:
            time.sleep(slowdown)
    return out
