"""Reading input safely and writing output atomically. Every failure is one clear line."""
from __future__ import annotations

import enum
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Past this a single document is refused rather than risking memory or hours of work.
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


class ExitCode(enum.IntEnum):
    OK = 0  # nothing found / done
    FOUND = 1  # edits found (check, diff --check)
    USAGE = 2  # bad command line or configuration
    INPUT = 3  # unreadable input: missing, directory, binary, undecodable, empty, too large
    SKIPPED = 4  # batch finished but skipped some documents
    INTERRUPTED = 130


class InputError(Exception):
    """An input mtfix refuses; str() is the one-line message."""


@dataclass
class Source:
    name: str  # path as given, or "<stdin>"
    text: str
    newline_bytes: bytes = b""
    bom: bool = False


def decode(data: bytes, name: str, encoding: str = "utf-8", allow_empty: bool = False) -> Source:
    if not data and not allow_empty:
        raise InputError(f"{name}: empty input")
    if b"\x00" in data[:8192] and not encoding.lower().startswith("utf-16"):
        raise InputError(f"{name}: binary data (NUL bytes); mtfix reads text")
    bom = False
    enc = encoding
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        bom = data.startswith(b"\xef\xbb\xbf")
        enc = "utf-8"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"use --encoding to name the right one"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    if not text.strip() and not allow_empty:
        raise InputError(f"{name}: empty input (only whitespace)")
    # The BOM stays in the text: offsets then match the file, and a repaired file keeps it.
    return Source(name=name, text=text, bom=bom)


def output_encoding(encoding: str) -> str:
    """The codec that writes text back as read: the BOM stays in the decoded text, so
    'utf-8-sig' must not add a second one."""
    return "utf-8" if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") else encoding


def read_input(path: str, encoding: str = "utf-8", max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    if path == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        name = "<stdin>"
    else:
        p = Path(path)
        name = path
        if not p.exists():
            raise InputError(f"{path}: no such file")
        if p.is_dir():
            raise InputError(f"{path}: is a directory (use `mtfix batch` for folders)")
        try:
            size = p.stat().st_size
            if size > max_bytes:
                raise InputError(f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit (--max-bytes)")
            with p.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        except PermissionError:
            raise InputError(f"{path}: permission denied") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(f"{name}: input is over the {max_bytes:,}-byte limit (--max-bytes)")
    return decode(data, name, encoding)


def atomic_write(path: str | Path, text: str, encoding: str = "utf-8", backup_suffix: str | None = None) -> None:
    """Write `text` to `path` via a temporary file in the same folder and a rename, so a
    crash leaves either the old file or the new one, never half of one. With
    `backup_suffix`, the previous file is kept as path+suffix first."""
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    mode = None
    if p.exists():
        mode = p.stat().st_mode
        if backup_suffix:
            backup = p.with_name(p.name + backup_suffix)
            _copy_atomic(p, backup)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".mtfix-tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode & 0o7777)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _copy_atomic(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".mtfix-tmp", dir=dst.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dst)
