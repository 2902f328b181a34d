"""`mtfix fix --interactive`: the user decides each fix, as typos' and codespell's interactive
modes let them (the most requested feature of those tools).

Questions go to stderr and answers come from stdin, so the repaired text can still go to
stdout. For each edit that has a fix, in text order:

    y  apply it                  n  leave the text as it is
    e  type your own replacement i  never change this phrase (rest of the file, and the
                                    --ignore-file if one was given)
    a  apply every remaining automatic fix, ask no more
    q  stop asking: the rest stay as they are

The default (Enter) is what `mtfix fix` would do: y for automatic fixes, n for suggestions.
The end of the input counts as q, so a script can pipe in a few answers; Ctrl-C aborts and
writes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .edit import Edit, Result
from .pipeline import apply
from .text import Document, wrapped_phrase

CHOICES = "yneiaq"
CONTEXT_CHARS = 60


def _context(text: str, e: Edit) -> str:
    left = text[max(0, e.start - CONTEXT_CHARS) : e.start].split("\n")[-1]
    right = text[e.end : e.end + CONTEXT_CHARS].split("\n")[0]
    return f"{left}[{e.found} -> {e.replacement}]{right}"


def _phrase(e: Edit) -> str:
    """What "ignore" remembers: one line of the ignore file, wrapped in the text or not."""
    return wrapped_phrase(e.found)


class _EndOfAnswers(Exception):
    pass


def _ask(question: str, default: str, allowed: str | None = None) -> str:
    while True:
        click.echo(f"{question} [{default}]: ", err=True, nl=False)
        line = sys.stdin.readline()
        if not line:
            click.echo("", err=True)
            raise _EndOfAnswers
        answer = line.rstrip("\r\n").strip() or default
        if allowed is None or (len(answer) == 1 and answer.lower() in allowed):
            return answer if allowed is None else answer.lower()
        click.echo(f"  please answer one of {', '.join(allowed)}", err=True)


def choose_edits(name: str, result: Result, ignore_file: str | None = None) -> list[Edit]:
    """The edits the user accepts (possibly with their own replacement), in text order."""
    doc = Document(result.original)
    automatic = set(result.applied)
    chosen: list[Edit] = []
    ignored: set[str] = set()
    candidates = [e for e in result.edits if e.fixable]
    for i, e in enumerate(candidates):
        if _phrase(e).lower() in ignored:
            continue
        line, col = doc.line_col(e.phrase_start)
        status = "fix" if e in automatic else "suggestion"
        click.echo(f"\n{name}:{line}:{col}: {status}, confidence {e.confidence:.2f} ({e.source})", err=True)
        click.echo(f"  {_context(result.original, e)}", err=True)
        click.echo(f"  {e.reason}", err=True)
        default = "y" if e in automatic else "n"
        try:
            answer = _ask("  apply? [y]es [n]o [e]dit [i]gnore phrase [a]ll automatic [q]uit", default, CHOICES)
            own = _ask("  replacement", e.replacement) if answer == "e" else None
        except _EndOfAnswers:
            break
        if answer == "y":
            chosen.append(e)
        elif answer == "e":
            if own != e.found:
                chosen.append(e.with_(replacement=own, source=f"{e.source}+user", reason=f"{e.reason}; edited by the user"))
        elif answer == "i":
            ignored.add(_phrase(e).lower())
            if ignore_file:
                _append_line(Path(ignore_file), _phrase(e))
        elif answer == "a":
            chosen.extend(x for x in candidates[i:] if x in automatic and _phrase(x).lower() not in ignored)
            break
        elif answer == "q":
            break
    return chosen


def with_choices(result: Result, chosen: list[Edit]) -> Result:
    """The result as if only `chosen` had been applied."""
    return Result(
        original=result.original,
        edits=result.edits,
        repaired=apply(result.original, chosen),
        applied=chosen,
        spin_score=result.spin_score,
        signature=result.signature,
    )


def _append_line(path: Path, line: str) -> None:
    """Add a line to a text file, first ending its last line if the file does not: appended
    to "Acme Corp" without one, "safety menace" would make one entry of both."""
    unterminated = path.is_file() and path.read_bytes()[-1:] not in (b"", b"\n")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if unterminated else "") + line + "\n")
