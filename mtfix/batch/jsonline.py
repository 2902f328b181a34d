"""Rewriting one field of a JSONL line without re-serialising the rest.

`json.dumps(json.loads(line))` is not the identity: 1e400 becomes Infinity (not JSON), 1.50
becomes 1.5, a duplicate key loses all but its last value, escapes and spacing change. A corpus
pipeline diffing or hashing its rows must see only the field mtfix changed, so the output line
is the input line with the text value swapped in place and the `mtfix` field appended.
"""

from __future__ import annotations

import json
from json.decoder import WHITESPACE, scanstring

_DECODER = json.JSONDecoder()


def member_spans(line: str) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of each top-level member of a JSON object, in order.

    The line must already have parsed as an object (the caller ran json.loads on it)."""

    def skip(i: int) -> int:
        return WHITESPACE.match(line, i).end()

    i = skip(0)
    if line[i] != "{":
        raise ValueError("not a JSON object")
    i = skip(i + 1)
    spans: list[tuple[str, int, int]] = []
    if line[i] == "}":
        return spans
    while True:
        key, i = scanstring(line, i + 1)  # i is at the key's opening quote
        i = skip(skip(i) + 1)  # past the colon
        _, end = _DECODER.raw_decode(line, i)
        spans.append((key, i, end))
        i = skip(end)
        if line[i] == "}":
            return spans
        i = skip(i + 1)  # past the comma


def compact(value, ascii_only: bool = False) -> str:
    """JSON with no spaces, as every line the batch job writes."""
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))


def rewrite(line: str, changes: dict, ascii_only: bool = False) -> str:
    """`line` (a JSON object) with each key of `changes` set to its value.

    A key already there has its value replaced where it stands (its last occurrence, the one
    json.loads reads); a new key is appended. Everything else is kept character for character."""
    spans = member_spans(line)
    last = {key: (start, end) for key, start, end in spans}
    replaced = sorted(
        ((last[k][0], last[k][1], compact(v, ascii_only)) for k, v in changes.items() if k in last), reverse=True
    )
    for start, end, value in replaced:
        line = line[:start] + value + line[end:]
    added = [f"{compact(k, ascii_only)}:{compact(v, ascii_only)}" for k, v in changes.items() if k not in last]
    if added:
        close = line.rindex("}")
        line = line[:close] + ("," if spans else "") + ",".join(added) + line[close:]
    return line


def rewrite_bytes(line: str, changes: dict) -> bytes:
    """rewrite() as UTF-8; a lone surrogate (from a JSON escape) is written escaped."""
    return utf8_or_escaped(lambda ascii_only: rewrite(line, changes, ascii_only=ascii_only))


def compact_bytes(value) -> bytes:
    """compact() as UTF-8, as rewrite_bytes."""
    return utf8_or_escaped(lambda ascii_only: compact(value, ascii_only))


def utf8_or_escaped(write) -> bytes:
    """write(ascii_only=False) as UTF-8, or all escaped where a lone surrogate (from a JSON
    escape) cannot be encoded."""
    try:
        return write(False).encode("utf-8")
    except UnicodeEncodeError:
        return write(True).encode("utf-8")
