"""Finding the documents and cutting them into shards: the unit of work, of resume and of output.

A shard is one text file, or a range of lines of a JSONL file, or a run of row groups of a
Parquet file. Each finished shard leaves a done marker (JSON) under `OUT/_mtfix/shards/`
recording the checksum of the input bytes it covers and the options signature; a rerun skips
exactly the shards whose marker still matches and whose outputs are still there, byte-sized
as recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ..options import Options

TEXT, JSONL, PARQUET = "text", "jsonl", "parquet"
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Names the job writes at the top of --out; an input whose mirrored path starts with one is refused.
RESERVED_NAMES = ("edits.jsonl", "errors.jsonl", "summary.json", "_mtfix")
STATE_DIR = "_mtfix"
TMP_SUFFIX = ".mtfix-tmp"
MARKER_FORMAT = 2  # 2: markers record the file's shard count
_HASH_CHUNK = 1 << 20


class StartError(Exception):
    """The job cannot start (bad inputs or --out); str() is the one-line message."""


class FileSkipped(Exception):
    """A whole input file cannot be planned (unreadable, corrupt Parquet)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


# Bumped when the same file and options are cut into other shards (2: Parquet row groups
# bigger than a shard are cut; 1, unnamed: only between groups).
PLAN_LAYOUT = 2


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to read, repair and write a shard. Picklable."""

    out: str
    options: Options
    signature: str
    text_field: str = "text"
    id_field: str | None = None
    max_chars: int = 1_000_000
    max_bytes: int = 50 * 1024 * 1024
    encoding: str = "utf-8"
    suggest_only: bool = False
    batch_size: int = 256
    shard_rows: int = 10_000

    @property
    def state_dir(self) -> Path:
        return Path(self.out) / STATE_DIR

    @property
    def shards_dir(self) -> Path:
        """The shards' markers (KEY.done.json) and report parts (`Shard.state_path`)."""
        return self.state_dir / "shards"

    def plan_cache(self, rel: str) -> Path:
        """The shard plan of the input at `rel` (JSONL and Parquet files). Named by its layout:
        a version that cuts files otherwise never reads another's plan (an older one, which
        checks no layout, took a cut group's pieces for whole groups and wrote rows twice)."""
        return self.state_dir / "plans" / f"{rel}.plan{PLAN_LAYOUT}.json"

    def assembled_record(self, rel: str) -> Path:
        """What the joined output of the many-shard input at `rel` was made from."""
        return self.state_dir / "assembled" / f"{rel}.json"


def batch_signature(base: str, job_fields: dict) -> str:
    """The repair signature plus the batch options that change what is written."""
    extra = ",".join(f"{k}={job_fields[k]}" for k in sorted(job_fields))
    return f"{base}|batch:{extra}"


@dataclass(frozen=True)
class InputFile:
    rel: str  # path under --out, posix style
    path: str  # absolute input path
    fmt: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Shard:
    rel: str
    path: str
    fmt: str
    start: int  # first row (0-based line for JSONL, row for Parquet, 0 for text)
    stop: int  # row after the last
    span: tuple[int, int]  # bytes [a, b) for JSONL, row groups [a, b) for Parquet
    digest: str  # sha256 of the input bytes this shard depends on
    index: int  # position among the file's shards
    count: int  # number of shards of the file
    size: int = 0
    mtime_ns: int = 0

    @property
    def key(self) -> str:
        return f"{self.rel}.{self.start:010d}"

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def state_path(self, job: Job, suffix: str) -> Path:
        return job.shards_dir / f"{self.key}{suffix}"

    def output_path(self, job: Job) -> Path:
        """A one-shard file is written in place; parts of bigger files are joined at the end."""
        if self.count == 1:
            return Path(job.out) / self.rel
        ext = ".parquet" if self.fmt == PARQUET else ".jsonl"
        return self.state_path(job, ".part" + ext)

    def describe(self) -> str:
        if self.fmt == TEXT:
            return self.rel
        unit = "lines" if self.fmt == JSONL else "rows"
        first = self.start + 1 if self.fmt == JSONL else self.start
        last = self.stop if self.fmt == JSONL else self.stop - 1
        return f"{self.rel} {unit} {first}-{last}" if self.stop > self.start else f"{self.rel} (empty)"


@dataclass
class FilePlan:
    file: InputFile
    shards: list[Shard] = field(default_factory=list)
    skipped: FileSkipped | None = None


def format_of(path: str) -> str:
    name = path.lower()
    if name.endswith(JSONL_SUFFIXES):
        return JSONL
    if name.endswith(PARQUET_SUFFIXES):
        return PARQUET
    return TEXT


# ---- discovery ----------------------------------------------------------------------------


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def discover(inputs: list[str], out: str, globs: tuple[str, ...] = ()) -> list[InputFile]:
    """Input files sorted by their path under --out; raises StartError when the job cannot start."""
    if not inputs:
        raise StartError("no inputs given")
    out_path = Path(out).resolve()
    if out_path.exists() and not out_path.is_dir():
        raise StartError(f"--out {out}: exists and is not a folder")
    if out_path.is_dir() and not (out_path / STATE_DIR).is_dir() and any(out_path.iterdir()):
        # Its files could share a name with an output or a report and would be replaced.
        raise StartError(
            f"--out {out}: a folder with other files in it; give a new or empty folder, or one "
            f"an earlier mtfix batch wrote"
        )
    given = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise StartError(f"{item}: no such file or folder")
        rp = p.resolve()
        if rp.is_dir() and _inside(out_path, rp):
            raise StartError(f"--out {out} is inside the input folder {item}; mtfix never writes into its input")
        if _inside(rp, out_path):
            raise StartError(f"input {item} is inside --out {out}; choose another output folder")
        given.append(rp)
    if len(given) == 1 and given[0].is_dir():
        base = given[0]
    else:
        base = Path(os.path.commonpath([str(p.parent) for p in given]))
    found: dict[Path, InputFile] = {}
    for rp in given:
        paths = _walk(rp, globs) if rp.is_dir() else [rp]
        for path in paths:
            if path in found:
                continue
            try:
                st = path.stat()
            except OSError as exc:
                raise StartError(f"{path}: cannot read ({exc.strerror})") from None
            rel = path.relative_to(base).as_posix()
            if rel.split("/", 1)[0] in RESERVED_NAMES:
                raise StartError(
                    f"{path}: its output path {rel!r} would collide with the job's own "
                    f"{rel.split('/', 1)[0]!r} in --out; exclude it with --glob or move it"
                )
            found[path] = InputFile(rel, str(path), format_of(path.name), st.st_size, st.st_mtime_ns)
    if not found:
        raise StartError("no input files found" + (f" matching {', '.join(globs)}" if globs else ""))
    return sorted(found.values(), key=lambda f: f.rel)


def _walk(root: Path, globs: tuple[str, ...]) -> list[Path]:
    """Regular files under root; hidden files and folders (.git, .cache) are left out."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if globs and not any(_glob_matches(name, rel, g) for g in globs):
                continue
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    continue
            except OSError:
                continue
            files.append(path)
    return files


def _glob_matches(name: str, rel: str, pattern: str) -> bool:
    """fnmatch on the name or the path under the input folder; '**/' also matches no folder
    at all, as in git and pathlib ('**/*.txt' takes a.txt too)."""
    bare = pattern[3:] if pattern.startswith("**/") else None
    return any(fnmatch(s, p) for p in (pattern, bare) if p for s in (name, rel))


# ---- planning -----------------------------------------------------------------------------


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def read_json(path: Path) -> dict | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def plan_file(f: InputFile, job: Job, write_cache: bool = True) -> FilePlan:
    try:
        if f.fmt == TEXT:
            return FilePlan(f, [_plan_text(f, job)])
        cache = job.plan_cache(f.rel)
        cached = read_json(cache)
        key = {"size": f.size, "mtime_ns": f.mtime_ns, "shard_rows": job.shard_rows, "fmt": f.fmt}
        if cached and all(cached.get(k) == v for k, v in key.items()):
            rows = cached["shards"]
        else:
            rows = _scan_jsonl(f.path, job.shard_rows) if f.fmt == JSONL else _scan_parquet(f.path, job.shard_rows)
            if write_cache:
                from .writers import write_json_atomic

                write_json_atomic(cache, dict(key, shards=rows))
    except OSError as exc:
        return FilePlan(f, skipped=FileSkipped("unreadable", f"cannot read: {exc.strerror or exc}"))
    except FileSkipped as exc:
        return FilePlan(f, skipped=exc)
    shards = [
        Shard(f.rel, f.path, f.fmt, start, stop, (a, b), digest, i, len(rows), f.size, f.mtime_ns)
        for i, (start, stop, a, b, digest) in enumerate(rows)
    ]
    return FilePlan(f, shards)


def _plan_text(f: InputFile, job: Job) -> Shard:
    shard = Shard(f.rel, f.path, TEXT, 0, 1, (0, f.size), "", 0, 1, f.size, f.mtime_ns)
    # A file whose size and mtime match its marker is not hashed again (the make/rsync rule).
    marker = read_json(shard.state_path(job, ".done.json"))
    if marker and marker.get("size") == f.size and marker.get("mtime_ns") == f.mtime_ns:
        digest = marker.get("digest", "")
    elif f.size > job.max_bytes:
        digest = f"size:{f.size}:mtime:{f.mtime_ns}"  # refused unread anyway; not worth hashing
    else:
        digest = _sha256_file(f.path)
    return Shard(f.rel, f.path, TEXT, 0, 1, (0, f.size), digest, 0, 1, f.size, f.mtime_ns)


def _scan_jsonl(path: str, shard_rows: int) -> list[list]:
    """[start_line, stop_line, byte_a, byte_b, sha256] per run of `shard_rows` lines."""
    shards: list[list] = []
    h = hashlib.sha256()
    lines = first_line = 0
    pos = first_byte = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            i = 0
            while True:
                need = shard_rows - (lines - first_line)
                if chunk.count(b"\n", i) < need:
                    lines += chunk.count(b"\n", i)
                    h.update(chunk[i:] if i else chunk)
                    break
                j = i
                for _ in range(need):
                    j = chunk.index(b"\n", j) + 1
                h.update(chunk[i:j])
                lines += need
                shards.append([first_line, lines, first_byte, pos + j, h.hexdigest()])
                h, first_line, first_byte, i = hashlib.sha256(), lines, pos + j, j
            pos += len(chunk)
            last = chunk[-1:]
    if pos > first_byte:
        stop = lines + (0 if last == b"\n" else 1)
        shards.append([first_line, stop, first_byte, pos, h.hexdigest()])
    if not shards:  # an empty file still gets a shard, so its (empty) output exists
        shards.append([0, 0, 0, 0, h.hexdigest()])
    return shards


def _scan_parquet(path: str, shard_rows: int) -> list[list]:
    """[start_row, stop_row, first_group, end_group, sha256] per shard: consecutive row groups
    adding up to at least `shard_rows` rows, and a group of more than `shard_rows` rows cut
    into near-equal runs of rows (pyarrow writes up to a million rows in one group by
    default; uncut, such a file would be one shard and one worker's work)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FileSkipped("unreadable", f"not a readable Parquet file: {exc}") from None
    digest = _sha256_file(path)
    shards: list[list] = []
    row = first_row = first_group = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if n > shard_rows:
            if row > first_row:  # the smaller groups gathered before this one
                shards.append([first_row, row, first_group, g, digest])
            pieces = -(-n // shard_rows)
            cuts = [row + n * k // pieces for k in range(pieces + 1)]
            shards += [[a, b, g, g + 1, digest] for a, b in zip(cuts, cuts[1:])]
            row += n
            first_row, first_group = row, g + 1
            continue
        row += n
        if row - first_row >= shard_rows:
            shards.append([first_row, row, first_group, g + 1, digest])
            first_row, first_group = row, g + 1
    if first_group < meta.num_row_groups or not shards:
        shards.append([first_row, row, first_group, meta.num_row_groups, digest])
    return shards


def parquet_rows_before(meta, group: int) -> int:
    """The first row of row group `group`: a shard cut from a group skips the rows before it."""
    return sum(meta.row_group(g).num_rows for g in range(group))


# ---- resume -------------------------------------------------------------------------------


def check_done(shard: Shard, job: Job) -> tuple[dict | None, str]:
    """(marker, "") when the shard is finished with these inputs and options, else (None, why)."""
    marker = read_json(shard.state_path(job, ".done.json"))
    if marker is None:
        return None, "new"
    if marker.get("format") != MARKER_FORMAT or (marker.get("start"), marker.get("stop")) != (shard.start, shard.stop):
        return None, "new"
    if (marker.get("count") == 1) != (shard.count == 1):  # its output moved between the file's path and a part
        return None, "file resharded"
    if marker.get("digest") != shard.digest:
        return None, "input changed"
    if marker.get("signature") != job.signature:
        return None, "options changed"
    for rel, size in (marker.get("outputs") or {}).items():
        try:
            if (Path(job.out) / rel).stat().st_size != size:
                return None, "output changed"
        except OSError:
            return None, "output missing"
    return marker, ""
