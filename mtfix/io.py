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


class EmptyInput(InputError):
    """An input with nothing in it but whitespace: an error alone, skipped among several."""


@dataclass
class Source:
    name: str  # path as given, or "<stdin>"
    text: str
    encoding: str = "utf-8"  # the codec that writes the text back as it was read


# Encoding family (as `decode` normalises a name) -> codec, little- and big-endian BOMs.
# UTF-32 first: its little-endian mark starts with UTF-16's.
_BYTE_ORDER_MARKS = {
    "utf32": ("utf-32", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"),
    "utf16": ("utf-16", b"\xff\xfe", b"\xfe\xff"),
}


def is_text_encoding(name: str) -> bool:
    """Can `name` decode files to text? (Not 'rot13' or 'zlib': codecs of bytes or str only.)"""
    import codecs

    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


def is_ascii_compatible(encoding: str) -> bool:
    """Does ASCII text read the same in `encoding` (a leading byte-order mark aside)? Then its
    lines end at b"\n", as JSONL readers and `patch` expect; UTF-16/32 are not."""
    sample = '{"a": 1}\r\n'
    try:
        return sample.encode(encoding).endswith(sample.encode("ascii"))  # utf-8-sig puts a mark ahead
    except (LookupError, UnicodeError):
        return False


_COMPRESSION_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
}


def decode(data: bytes, name: str, encoding: str = "utf-8", allow_empty: bool = False) -> Source:
    if not data and not allow_empty:
        raise EmptyInput(f"{name}: empty input")
    for magic, kind in _COMPRESSION_MAGIC.items():
        if data.startswith(magic) and (kind != "bzip2" or data[3:4].isdigit()):
            raise InputError(f"{name}: binary data ({kind}-compressed); decompress it first, mtfix reads text")
    enc = encoding
    family = encoding.lower().replace("-", "").replace("_", "")
    if b"\x00" in data[:8192] and not family.startswith(("utf16", "utf32")):
        marked = [codec for codec, *marks in _BYTE_ORDER_MARKS.values() if data.startswith(tuple(marks))]
        hint = f" (it starts with a {marked[0].upper()} byte order mark: use --encoding {marked[0]})" if marked else ""
        raise InputError(f"{name}: binary data (NUL bytes); mtfix reads text{hint}")
    if family in ("utf8", "utf8sig"):
        enc = "utf-8"  # the BOM stays in the decoded text: 'utf-8-sig' would write a second one
    elif family in _BYTE_ORDER_MARKS:
        # Read in the byte order the BOM names, or without one in the machine's (as the plain
        # codec reads it); the BOM stays in the text (as for UTF-8), and the named order writes
        # the file back as it was: plain 'utf-16' would write the machine's order and a BOM.
        codec, little, big = _BYTE_ORDER_MARKS[family]
        native = "le" if sys.byteorder == "little" else "be"
        order = "le" if data.startswith(little) else "be" if data.startswith(big) else native
        enc = f"{codec}-{order}"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: not valid {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"use --encoding to name the right one"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    except (UnicodeError, ValueError, IndexError) as exc:  # codecs such as punycode fail their own way
        raise InputError(f"{name}: cannot be read as {encoding} ({exc})") from None
    if not text.strip() and not allow_empty:
        raise EmptyInput(f"{name}: empty input (only whitespace)")
    # The BOM stays in the text: offsets then match the file, and a repaired file keeps it.
    return Source(name=name, text=text, encoding=enc)


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
    `backup_suffix`, the previous file is kept as path+suffix first.

    A symbolic link is written through (its target is replaced, the link kept), a path that
    is not a regular file (a pipe, a terminal) is written directly (a rename would replace the
    device with a file nobody reads), and /dev/stdout or /dev/fd/N goes to that descriptor
    itself (`_open_descriptor`). The backup is `backup_path`. A new file gets the
    permissions the user's umask gives any new file; a replaced one keeps its own."""
    data = text.encode(encoding)
    fd = _open_descriptor(str(path))
    if fd is not None:
        # /dev/stdout of a shell redirect resolves to the log file itself: a rename would
        # replace the file (and what was written before), a new open would truncate it.
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # what the program printed before comes first
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as fh:
            fh.write(data)
        return
    p = Path(os.path.realpath(path))
    mode = p.stat().st_mode & 0o7777 if p.exists() else new_file_mode()
    if backup_suffix and p.exists():
        _replace_with(backup_path(path, backup_suffix), p.read_bytes(), mode)
    _replace_with(p, data, mode)


def write_problem(path: str | Path) -> str | None:
    """Why `atomic_write` could not write `path`, asked before a long run rather than after
    it, or None: the folder it would write in (a link's target's) must exist and take new
    files; a descriptor path or a device is written directly."""
    if _open_descriptor(str(path)) is not None or os.path.exists(path) and not os.path.isfile(path):
        return None
    folder = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(folder):
        return f"no such directory: {folder}"
    if not os.access(folder, os.W_OK):
        return f"permission denied: {folder}"
    return None


def backup_path(path: str | Path, suffix: str) -> Path:
    """Where `atomic_write` keeps the original: beside the file itself, a link's target."""
    p = Path(os.path.realpath(path))
    return p.with_name(p.name + suffix)


_DESCRIPTOR_PATHS = {"/dev/stdout": 1, "/dev/stderr": 2}


def _open_descriptor(path: str) -> int | None:
    """The file descriptor a /dev/stdout, /dev/fd/N or /proc/self/fd/N path names, else None."""
    if path in _DESCRIPTOR_PATHS:
        return _DESCRIPTOR_PATHS[path]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if path.startswith(prefix) and path[len(prefix):].isdigit():
            return int(path[len(prefix):])
    return None


def new_file_mode() -> int:
    """0o666 less the umask, as open() would create the file (mkstemp makes it 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _replace_with(target: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mtfix-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def file_stamp(path: str | Path) -> tuple[int, int] | None:
    """(modification time, size) of a file, or None if it cannot be read: what a cache built
    from the file is checked against, as make and rsync do."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# The other characters str.splitlines breaks at, shown escaped: a terminal would move to a
# new line or page for them, and rich drops "\x0b" and "\x0c" silently. So are the other
# control characters: an escape sequence in a scraped file or a file name would recolour or
# drive the user's terminal.
_VISIBLE = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in (*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}
_ONE_LINE = {**_VISIBLE, 0x0A: "\\n", 0x0D: "\\r"}


def visible(s: str) -> str:
    """`s` with control characters escaped, its line breaks kept (a view of a text)."""
    return s.translate(_VISIBLE)


def one_visible_line(s: str) -> str:
    """`s` with line breaks and control characters escaped: a phrase, a file name or an error
    message on one line of a terminal."""
    return s.translate(_ONE_LINE)


def cannot_write(exc: OSError) -> str:
    return f"cannot write ({exc.strerror or exc})"
