"""Writing a shard's outputs. Every file goes through a temporary name and a rename, and the
done marker is written last, so a crash at any point leaves either a finished shard or one
that the next run redoes, never a half-written file under a final name.

Both engines feed the same `ShardWriter` the same records in the same order, which is what
makes their outputs byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..io import new_file_mode
from . import jsonline
from .plan import JSONL, MARKER_FORMAT, PARQUET, TEXT, TMP_SUFFIX, Job, Shard, read_json
from .records import open_parquet, parquet_batches


SPIN_THRESHOLD = 0.7  # as mtfix.evidence.SPUN_THRESHOLD; kept here so the writer imports no rules
SPIN_BUCKETS = 10


class AtomicFile:
    """A file written under a temporary name in the target folder and renamed on commit."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=TMP_SUFFIX, dir=self.path.parent)
        os.fchmod(fd, new_file_mode())  # mkstemp makes 0600; outputs should look like any new file
        self.fh = os.fdopen(fd, "wb")
        self.committed = False

    def write(self, data: bytes) -> None:
        self.fh.write(data)

    def commit(self) -> int:
        self.fh.close()
        size = os.path.getsize(self.tmp)
        os.replace(self.tmp, self.path)
        self.committed = True
        return size

    def discard(self) -> None:
        """Remove the temporary file; safe to call at any point, and again."""
        if not self.fh.closed:
            self.fh.close()
        if not self.committed:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass


def write_json_atomic(path: Path, obj, indent: int | None = None) -> int:
    f = AtomicFile(path)
    try:
        f.write(json.dumps(obj, ensure_ascii=False, indent=indent).encode("utf-8"))
        if indent is not None:
            f.write(b"\n")
        return f.commit()
    except BaseException:
        f.discard()
        raise


# ---- per-shard statistics (merged into summary.json) --------------------------------------


def new_stats() -> dict:
    return {
        "documents": 0,
        "changed": 0,
        "with_edits": 0,
        "skipped": 0,
        "words": 0,
        "edits": 0,
        "applied": 0,
        "skipped_by_reason": {},
        "by_kind": {},
        "by_rule": {},
        "spin_sum_e4": 0,  # in units of 1e-4 (scores are rounded so): exact in any order
        "spin_over": 0,
        "spin_hist": [0] * SPIN_BUCKETS,
    }


def merge_stats(total: dict, part: dict) -> dict:
    for k in ("documents", "changed", "with_edits", "skipped", "words", "edits", "applied", "spin_over", "spin_sum_e4"):
        total[k] += part.get(k, 0)
    total["spin_hist"] = [a + b for a, b in zip(total["spin_hist"], part.get("spin_hist", [0] * SPIN_BUCKETS))]
    for reason, n in part.get("skipped_by_reason", {}).items():
        total["skipped_by_reason"][reason] = total["skipped_by_reason"].get(reason, 0) + n
    for table in ("by_kind", "by_rule"):
        for name, (reported, applied) in part.get(table, {}).items():
            r, a = total[table].get(name, (0, 0))
            total[table][name] = [r + reported, a + applied]
    return total


# ---- the shard writer ---------------------------------------------------------------------

MTFIX_FIELD = "mtfix"


def _parquet_mtfix_type():
    import pyarrow as pa

    edit = pa.struct(
        [
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("found", pa.string()),
            ("replacement", pa.string()),
            ("kind", pa.string()),
            ("source", pa.string()),
            ("confidence", pa.float64()),
            ("auto", pa.bool_()),
            ("reason", pa.string()),
            ("alternatives", pa.list_(pa.string())),
            ("line", pa.int64()),
            ("column", pa.int64()),
            ("applied", pa.bool_()),
        ]
    )
    return pa.struct(
        [
            ("changed", pa.bool_()),
            ("spin_score", pa.float64()),
            ("edits", pa.list_(edit)),
            ("skipped", pa.string()),
            ("message", pa.string()),
        ]
    )


class ShardWriter:
    """Takes a shard's records in order (`add`) and writes its outputs and marker (`finish`)."""

    def __init__(self, shard: Shard, job: Job):
        self.shard, self.job = shard, job
        self.stats = new_stats()
        self.records = 0
        self.output_path = shard.output_path(job)
        self.edits = AtomicFile(shard.state_path(job, ".edits.jsonl"))
        self.errors: AtomicFile | None = None
        self.out: AtomicFile | None = AtomicFile(self.output_path) if shard.fmt == JSONL else None
        self.text_bytes: bytes | None = None  # text format: the repaired file
        self.parquet_texts: list = []
        self.parquet_mtfix: list = []

    def _where(self, rec: dict) -> dict:
        if self.shard.fmt == JSONL:
            return {"line": rec["where"]}
        if self.shard.fmt == PARQUET:
            return {"row": rec["where"]}
        return {}

    def add(self, rec: dict) -> None:
        self.records += 1
        if rec.get("blank"):
            self.out.write(rec["raw"])
            return
        if self.shard.fmt == TEXT and not rec.get("error"):
            encoding = rec.get("encoding", self.job.encoding)
            try:
                self.text_bytes = rec["repaired"].encode(encoding)
            except UnicodeEncodeError as exc:
                rec = dict(rec, error=["encode-failed", f"the repair cannot be written in {encoding}: {exc}"])
        st = self.stats
        st["documents"] += 1
        head = {"id": rec["id"], "path": self.shard.rel, **self._where(rec)}
        if rec.get("error"):
            reason, message = rec["error"]
            st["skipped"] += 1
            st["skipped_by_reason"][reason] = st["skipped_by_reason"].get(reason, 0) + 1
            if self.errors is None:
                self.errors = AtomicFile(self.shard.state_path(self.job, ".errors.jsonl"))
            self.errors.write(jsonline.compact_bytes(dict(head, reason=reason, message=message)) + b"\n")
            self._write_skipped(rec, reason, message)
            return
        edits = rec["edits"]
        st["words"] += rec["words"]
        st["changed"] += rec["changed"]
        st["with_edits"] += bool(edits)
        for e in edits:
            st["edits"] += 1
            st["applied"] += e["applied"]
            for table, name in (("by_kind", e["kind"]), ("by_rule", e["source"])):
                counts = st[table].setdefault(name, [0, 0])
                counts[0] += 1
                counts[1] += e["applied"]
        score = rec["spin_score"]
        st["spin_sum_e4"] += round(score * 10_000)
        st["spin_over"] += score >= SPIN_THRESHOLD
        st["spin_hist"][min(int(score * SPIN_BUCKETS), SPIN_BUCKETS - 1)] += 1
        info = {"changed": rec["changed"], "spin_score": score, "edits": edits}
        self.edits.write(
            jsonline.compact_bytes(dict(head, changed=rec["changed"], spin_score=score, words=rec["words"], edits=edits)) + b"\n"
        )
        if self.shard.fmt == JSONL:
            changes = {self.job.text_field: rec["repaired"]} if rec["changed"] else {}
            self._write_json_line(rec, dict(changes, **{MTFIX_FIELD: info}))
        elif self.shard.fmt == PARQUET:
            self.parquet_texts.append(rec["repaired"])
            self.parquet_mtfix.append(info)

    def _write_json_line(self, rec: dict, changes: dict) -> None:
        """The record's input line with `changes` made, and its own line end."""
        self.out.write(jsonline.rewrite_bytes(rec["json_line"], changes) + rec["eol"].encode("ascii"))

    def _write_skipped(self, rec: dict, reason: str, message: str) -> None:
        """Skipped documents are copied through unchanged, so the output loses nothing."""
        info = {"skipped": reason, "message": message}
        if self.shard.fmt == JSONL:
            if rec.get("json_line") is not None:
                self._write_json_line(rec, {MTFIX_FIELD: info})
            else:  # not a JSON object: the line is kept byte for byte
                self.out.write(rec["raw"])
        elif self.shard.fmt == PARQUET:
            self.parquet_texts.append(None)
            self.parquet_mtfix.append(info)

    def finish(self) -> dict:
        try:
            outputs = {}
            size = self._finish_output()
            if size is not None:
                outputs[self._rel(self.output_path)] = size
            outputs[self._rel(self.edits.path)] = self.edits.commit()
            if self.errors is not None:
                outputs[self._rel(self.errors.path)] = self.errors.commit()
        except BaseException:
            self.abort()
            raise
        s = self.shard
        marker = {
            "format": MARKER_FORMAT,
            "input": s.rel,
            "start": s.start,
            "stop": s.stop,
            "count": s.count,
            "digest": s.digest,
            "size": s.size,
            "mtime_ns": s.mtime_ns,
            "signature": self.job.signature,
            "outputs": outputs,
            "stats": self.stats,
        }
        write_json_atomic(s.state_path(self.job, ".done.json"), marker)
        return marker

    def abort(self) -> None:
        for f in (self.out, self.edits, self.errors):
            if f is not None:
                f.discard()

    def _rel(self, path: Path) -> str:
        return Path(path).relative_to(self.job.out).as_posix()

    def _finish_output(self) -> int | None:
        if self.shard.fmt == JSONL:
            return self.out.commit()
        f = AtomicFile(self.output_path)
        try:
            if self.shard.fmt == PARQUET:
                self._write_parquet(f)
            elif self.text_bytes is not None:
                f.write(self.text_bytes)
            else:  # a skipped text file is copied as it is
                try:
                    with open(self.shard.path, "rb") as src:
                        shutil.copyfileobj(src, f.fh)
                except OSError:
                    f.discard()
                    return None
            return f.commit()
        except BaseException:
            f.discard()
            raise

    def _write_parquet(self, f: AtomicFile) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = open_parquet(self.shard.path)
        table = pa.Table.from_batches(list(parquet_batches(pf, self.shard)), pf.schema_arrow)
        if table.num_rows != len(self.parquet_mtfix):
            raise RuntimeError(f"{self.shard.rel}: {table.num_rows} rows but {len(self.parquet_mtfix)} records")
        name = self.job.text_field
        if name in table.column_names:
            i = table.schema.get_field_index(name)
            column = table.column(i)
            if pa.types.is_dictionary(column.type):  # e.g. a pandas category: repaired texts are new values
                column = column.cast(column.type.value_type)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                merged = [new if new is not None else old for new, old in zip(self.parquet_texts, column.to_pylist())]
                field = table.schema.field(i).with_type(column.type)
                table = table.set_column(i, field, pa.array(merged, type=column.type))
        mtfix_type = _parquet_mtfix_type()
        column = pa.array(self.parquet_mtfix, type=mtfix_type)
        if MTFIX_FIELD in table.column_names:
            table = table.set_column(
                table.schema.get_field_index(MTFIX_FIELD), pa.field(MTFIX_FIELD, mtfix_type), column
            )
        else:
            table = table.append_column(pa.field(MTFIX_FIELD, mtfix_type), column)
        pq.write_table(table, f.fh)


def assemble(shards: list[Shard], job: Job) -> None:
    """Join the parts of a many-shard file into its output, in row order. A joined output is
    kept only when it was made from these very parts: an input cut at a shard boundary leaves
    every remaining part done, but the old output still holds the rows cut off."""
    dest = Path(job.out) / shards[0].rel
    record = job.assembled_record(shards[0].rel)
    if shards[0].count == 1:
        record.unlink(missing_ok=True)  # the one shard writes dest itself
        return
    made_from = {"parts": [[s.key, s.digest] for s in shards]}
    if dest.exists() and read_json(record) == dict(made_from, size=dest.stat().st_size):
        return
    record.unlink(missing_ok=True)
    f = AtomicFile(dest)
    try:
        if shards[0].fmt == PARQUET:
            import pyarrow.parquet as pq

            writer = None
            for s in shards:
                part = pq.ParquetFile(s.output_path(job))
                writer = writer or pq.ParquetWriter(f.fh, part.schema_arrow)
                for g in range(part.num_row_groups):
                    writer.write_table(part.read_row_group(g))
            writer.close()
        else:
            for s in shards:
                with open(s.output_path(job), "rb") as src:
                    shutil.copyfileobj(src, f.fh)
        size = f.commit()
    except BaseException:
        f.discard()
        raise
    write_json_atomic(record, dict(made_from, size=size))  # the size tells a truncated or edited output
