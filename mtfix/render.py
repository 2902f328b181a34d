"""Renderers: report lines, JSON, inline word diff, unified diff, side by side, HTML."""
from __future__ import annotations

import difflib
import html
import json
import os
import re
from typing import Iterable

from .edit import Edit, Result
from .io import one_visible_line, visible
from .text import LINE_END_RE, Document, split_lines

ARROW = "\u2192"


def _show(s: str | None) -> str:
    if s is None:
        return "(no fix)"
    return one_visible_line(s)


def report_lines(path: str, result: Result) -> list[str]:
    doc = Document(result.original)
    applied = set(result.applied)
    out = []
    for e in result.edits:
        line, col = doc.line_col(e.phrase_start)
        status = "fix" if e in applied else "suggest"
        out.append(
            f"{path}:{line}:{col}: {_show(e.found)} {ARROW} {_show(e.replacement)} "
            f"({e.confidence:.2f}, {e.source}, {status}: {e.reason})"
        )
    return out


def edit_records(path: str | None, result: Result) -> list[dict]:
    """Each edit of `result` as a JSON object, with its line and column in `result.original`,
    whether it was applied and, unless `path` is None (a batch record names its document
    once), its path."""
    doc, applied = Document(result.original), set(result.applied)
    records = []
    for e in result.edits:
        line, col = doc.line_col(e.phrase_start)
        d = e.to_dict()
        if path is not None:
            d["path"] = path
        d.update(line=line, column=col, applied=e in applied)
        records.append(d)
    return records


def json_report(results: Iterable[tuple[str, Result]], signature: str = "") -> str:
    """`signature` stands when no file was read (all skipped): the run's, from its options."""
    files = []
    for path, r in results:
        files.append(
            {
                "path": path,
                "spin_score": round(r.spin_score, 4),
                "changed": r.changed,
                "edits": edit_records(path, r),
            }
        )
        signature = r.signature
    return json.dumps({"files": files, "signature": signature}, ensure_ascii=False, indent=2)


def jsonl_report(path: str, result: Result) -> list[str]:
    return [json.dumps(record, ensure_ascii=False) for record in edit_records(path, result)]


# ---- unified diff -------------------------------------------------------------------------

def unified_diff(original: str, repaired: str, path: str, n: int = 3) -> str:
    """A patch that `patch -p1` applies to the original file (a/ and b/ prefixes)."""
    if original == repaired:
        return ""
    # Lines end at "\n" only, as `patch` sees them: str.splitlines would also break at
    # "\r", "\x0c", "\u2028"... and emit a patch that does not apply.
    a = _patch_lines(original)
    b = _patch_lines(repaired)
    out = []
    rel = _patch_path(path)
    for line in difflib.unified_diff(a, b, f"a/{rel}", f"b/{rel}", n=n):
        if line.startswith(("---", "+++")):
            # A name with a space ends at a tab, as GNU diff and git write it: `patch` reads
            # "a/my file.txt" up to the first space otherwise.
            out.append(line.rstrip("\n") + ("\t\n" if " " in rel else "\n"))
            continue
        if not line.endswith("\n"):
            out.append(line + "\n\\ No newline at end of file\n")
        else:
            out.append(line)
    return "".join(out)


def _patch_path(path: str) -> str:
    """The path as `patch -p1` and `git apply` expect it after "a/": normalised ("./sub/x"
    is "sub/x"), and relative to the working folder when it lies inside it."""
    path = os.path.normpath(path)
    if os.path.isabs(path):
        inside = os.path.relpath(path)
        path = inside if not inside.startswith(os.pardir) else path
    return path.lstrip("/")


def _patch_lines(text: str) -> list[str]:
    lines = text.split("\n")
    out = [ln + "\n" for ln in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


# ---- inline word diff (terminal) ----------------------------------------------------------



def _segments(text: str, edits: list[Edit], start: int, end: int):
    """Split text[start:end], which holds `edits`, into (kind, text, edit) pieces: kind is
    'same' or 'edit'."""
    pos = start
    for e in sorted(edits, key=lambda e: e.start):
        if e.start > pos:
            yield "same", text[pos : e.start], None
        yield "edit", text[e.start : e.end], e
        pos = e.end
    if pos < end:
        yield "same", text[pos:end], None


def _context_lines(text: str, edits: list[Edit], context: int) -> list[tuple[int, int]]:
    """Line ranges (start offset, end offset) holding edits, with `context` lines around."""
    lines = split_lines(text, keepends=True)
    starts, pos = [], 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln)
    want = set()
    import bisect

    for e in edits:
        i = max(0, bisect.bisect_right(starts, e.start) - 1)
        j = max(0, bisect.bisect_right(starts, max(e.start, e.end - 1)) - 1)
        for k in range(i - context, j + context + 1):
            if 0 <= k < len(lines):
                want.add(k)
    ranges = []
    for k in sorted(want):
        s, t = starts[k], starts[k] + len(lines[k])
        if ranges and ranges[-1][1] == s:
            ranges[-1] = (ranges[-1][0], t)
        else:
            ranges.append((s, t))
    return ranges


def inline_diff(path: str, result: Result, color: bool, context: int = 0, width: int | None = None):
    """A rich renderable (or plain string when color is off): changed lines with removed
    words struck through in red, inserted in green, suggestions underlined in yellow, then
    a numbered list of edits and reasons."""
    from rich.text import Text

    applied = set(result.applied)
    edits = result.edits
    numbers = {e: i for i, e in enumerate(edits, 1)}
    doc = Document(result.original)
    body = Text()
    body.append(f"{path}\n", style="bold")  # shown escaped by the caller, as in every view
    if not edits:
        body.append("  no changes\n", style="dim")
        return body if color else body.plain
    ranges = _context_lines(result.original, edits, context)
    for k, (rs, re_) in enumerate(ranges):
        if k:
            body.append("  ...\n", style="dim")
        line_start = rs
        for line in split_lines(result.original[rs:re_], keepends=True):
            line_end = line_start + len(line)
            _inline_line(body, doc, result, edits, numbers, applied, line_start, line_end, color)
            line_start = line_end
    body.append("\n")
    for e in edits:
        n = numbers[e]
        line, col = doc.line_col(e.phrase_start)
        status = "applied" if e in applied else "suggestion"
        body.append(f"  [{n}] ", style="cyan")
        body.append(f"{line}:{col} ")
        body.append(f"{_show(e.found)} {ARROW} {_show(e.replacement)}", style="bold")
        body.append(f"  {status}, {e.confidence:.2f}, {e.source}\n", style="dim")
        body.append(f"      {visible(e.reason)}\n", style="dim")
    if result.spin_score:
        body.append(f"  spin score: {result.spin_score:.2f}\n", style="dim")
    return body if color else body.plain


def _inline_line(body, doc, result, edits, numbers, applied, ls, le, color) -> None:
    line_no, _ = doc.line_col(ls)
    body.append(f"{line_no:>5} | ", style="dim")
    pos = ls
    content_end = ls + len(result.original[ls:le].rstrip("\r\n"))
    for e in (e for e in edits if ls <= e.start < le or (e.start < ls < e.end)):
        if e.start < pos:  # an edit spanning a line break was drawn on its first line
            pos = max(pos, e.end)
            continue
        body.append(visible(result.original[pos : e.start]))
        n = numbers[e]
        found, replacement = _show(e.found), _show(e.replacement)
        if e in applied:
            if e.found:
                body.append(found if color else f"[-{found}-]", style="red strike")
            if e.replacement:
                body.append(replacement if color else f"{{+{replacement}+}}", style="green bold")
        else:
            body.append(found if color else f"<{found}>", style="yellow underline")
        body.append(_superscript(n) if color else f"[{n}]", style="cyan")
        pos = max(pos, e.end)
    if pos < content_end:
        body.append(visible(result.original[pos:content_end]))
    body.append("\n")


_SUP = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _superscript(n: int) -> str:
    return str(n).translate(_SUP)


def side_by_side(path: str, result: Result, color: bool):
    from rich.table import Table
    from rich.text import Text

    # A Text title, not a str: a str is read as markup and emoji codes ("n[draft].txt"
    # would lose "[draft]", ":smile:.txt" become an emoji).
    table = Table(title=Text(path, style="table.title"), show_lines=True, expand=True)
    table.add_column("line", justify="right", style="dim", no_wrap=True)
    table.add_column("original", ratio=1)
    table.add_column("repaired", ratio=1)
    a = [visible(ln) for ln in split_lines(result.original)]
    b = [visible(ln) for ln in split_lines(result.repaired)]
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1:  # line for line (fixes keep line breaks): a numbered row each
            rows = [(str(i + 1), a[i], b[j]) for i, j in zip(range(i1, i2), range(j1, j2))]
        else:  # lines joined or split: the block as one row, numbered with its original lines
            label = str(i1 + 1) if i2 - i1 <= 1 else f"{i1 + 1}-{i2}"
            rows = [(label, "\n".join(a[i1:i2]), "\n".join(b[j1:j2]))]
        for label, left, right in rows:
            table.add_row(
                label,
                _style_words(left, right, "red", None if color else ("[-", "-]")),
                _style_words(right, left, "green", None if color else ("{+", "+}")),
            )
    return table


_DIFF_TOKEN_RE = re.compile(r"\s+|\w+(?:['\u2019]\w+)*|[^\w\s]")


def _style_words(mine: str, other: str, style: str, marks: tuple[str, str] | None = None):
    """`mine` with the words that differ from `other` in `style`, and between `marks` (the
    inline diff's) when there is no colour to show them. Words and punctuation are compared
    apart ("consultants." against "experts." changes one word, not the full stop), and two
    changes with only spaces between them read as one ("[-safety menace-]")."""
    from rich.text import Text

    mt, ot = _DIFF_TOKEN_RE.findall(mine), _DIFF_TOKEN_RE.findall(other)
    pieces: list[list] = []  # [text, changed]
    sm = difflib.SequenceMatcher(a=mt, b=ot, autojunk=False)
    for tag, i1, i2, _, _ in sm.get_opcodes():
        chunk, changed = "".join(mt[i1:i2]), tag != "equal"
        if not chunk:
            continue
        if pieces and pieces[-1][1] == changed:
            pieces[-1][0] += chunk
        elif changed and len(pieces) > 1 and not pieces[-1][0].strip():
            pieces[-2][0] += pieces.pop()[0] + chunk  # only spaces since the last change
        else:
            pieces.append([chunk, changed])
    t = Text()
    for chunk, changed in pieces:
        if changed and marks:
            chunk = f"{marks[0]}{chunk}{marks[1]}"
        t.append(chunk, style=f"{style} bold" if changed else None)
    return t


# ---- HTML ---------------------------------------------------------------------------------

_HTML_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mtfix: {title}</title>
<style>
body{{font:16px/1.6 Georgia,serif;max-width:52em;margin:2em auto;padding:0 1em;color:#222}}
del{{color:#b00;background:#fee}} ins{{color:#060;background:#efe;text-decoration:none}}
mark{{background:#ffd;border-bottom:2px dotted #c90}} sup{{color:#06c;font-size:.7em}}
.meta{{color:#666;font:13px/1.4 monospace}} ol{{font:14px/1.5 sans-serif}}
</style></head><body>
"""


# Two or more line ends in a row (a blank line) end a paragraph. The line ends are
# LINE_END_RE's; "\r" is one only where no "\n" follows, or the repeat would backtrack and
# read a single "\r\n" as two.
_PARAGRAPH_BREAK_RE = re.compile(r"(?:\r\n|\r(?!\n)|\n){2,}")


def html_report(files: Iterable[tuple[str, Result]]) -> str:
    """One page for all the files, one section each under its name: a reader (or a browser
    given one `mtfix diff --style html a b > report.html`) sees a single document."""
    files = list(files)
    single = len(files) == 1
    title = files[0][0] if single else f"{len(files)} files"
    parts = [_HTML_HEAD.format(title=html.escape(title))]
    if not single:
        parts.append(f"<h1>mtfix: {html.escape(title)}</h1>\n")
    for path, result in files:
        parts.append(_html_section(path, result, heading="h1" if single else "h2"))
    parts.append("</body></html>\n")
    return "".join(parts)


def _html_section(path: str, result: Result, heading: str) -> str:
    applied = set(result.applied)
    numbers = {e: i for i, e in enumerate(result.edits, 1)}
    parts = [f"<section><{heading}>{html.escape(path)}</{heading}>"]
    parts.append(
        f'<p class="meta">{len(result.edits)} edit{"" if len(result.edits) == 1 else "s"}, {len(result.applied)} applied; '
        f"spin score {result.spin_score:.2f}; {html.escape(result.signature)}</p><div>"
    )
    for start, end, edits in _paragraphs(result.original, result.edits):
        body = []
        for kind, chunk, e in _segments(result.original, edits, start, end):
            if kind == "same":
                body.append(_html_lines(chunk))
                continue
            n = numbers[e]
            title = html.escape(e.reason, quote=True)
            if e in applied:
                body.append(
                    f'<del title="{title}">{_html_lines(chunk)}</del>'
                    f'<ins title="{title}">{_html_lines(e.replacement or "")}</ins><sup>{n}</sup>'
                )
            else:
                body.append(f'<mark title="{title}">{_html_lines(chunk)}</mark><sup>{n}</sup>')
        parts.append(f"<p>{''.join(body)}</p>")
    parts.append("</div>")
    if result.edits:
        parts.append("<ol>")
        for e in result.edits:
            status = "applied" if e in applied else "suggestion"
            parts.append(
                f"<li><b>{html.escape(_show(e.found))}</b> {ARROW} <b>{html.escape(_show(e.replacement))}</b> "
                f"&mdash; {status}, {e.confidence:.2f}, <code>{html.escape(e.source)}</code><br>"
                f"{html.escape(e.reason)}</li>"
            )
        parts.append("</ol>")
    parts.append("</section>\n")
    return "".join(parts)


def _paragraphs(text: str, edits: list[Edit]) -> list[tuple[int, int, list[Edit]]]:
    """(start, end, edits) of each paragraph that has words or edits. A blank line inside an
    edit does not end its paragraph: the edit is drawn whole, so the markup stays nested."""
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    out, pos, taken, ahead = [], 0, 0, 0
    breaks = [m.span() for m in _PARAGRAPH_BREAK_RE.finditer(text)]
    for cut_start, cut_end in [*breaks, (len(text), len(text))]:
        while ahead < len(edits) and edits[ahead].end <= cut_start:
            ahead += 1
        if ahead < len(edits) and edits[ahead].start < cut_end:
            continue  # the blank line is inside an edit
        mine, taken = edits[taken:ahead], ahead
        # Line ends at its edges would show as empty lines; an edit's own text is kept whole.
        first = mine[0].start if mine else cut_start
        last = max((e.end for e in mine), default=pos)
        start, end = pos, cut_start
        while start < first and text[start] in "\r\n":
            start += 1
        while end > max(last, start) and text[end - 1] in "\r\n":
            end -= 1
        if text[start:end].strip() or mine:
            out.append((start, end, mine))
        pos = cut_end
    return out


def _html_lines(text: str) -> str:
    return "<br>".join(html.escape(visible(line)) for line in LINE_END_RE.split(text))
