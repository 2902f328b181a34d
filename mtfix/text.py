"""Offset-preserving text utilities: search normalisation, words, sentences, case, articles.

Everything here keeps a one-to-one mapping between character positions of the
original text and of the derived text, so offsets found in one are valid in the other.
"""
from __future__ import annotations

import bisect
import re
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache

# Typographic variants folded for matching only; the original characters are kept.
_FOLD = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2011": "-", "\u2010": "-",
})
APOSTROPHES = "'\u2019\u2018\u02bc"
QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"


_FOLD_PAIRS = tuple((chr(k), v) for k, v in _FOLD.items())


def fold_for_search(text: str) -> str:
    """Lower-case and fold typographic variants without changing the length."""
    # str.replace per variant is C-speed; str.translate with a dict is a Python-level loop
    # per character and was the slowest step of a rules-only run.
    folded = text
    for src, dst in _FOLD_PAIRS:
        if src in folded:
            folded = folded.replace(src, dst)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters (e.g. 'İ') lower to two code points; keep them one-for-one.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def is_word_char(ch: str) -> bool:
    # Hyphens and underscores join words: "long-term" is not "term", "foo_bar" is not "bar".
    return ch.isalnum() or ch in "-_\u2011\u2010"


WORD_RE = re.compile(r"[^\W_]+(?:[-'\u2019\u2011][^\W_]+)*", re.UNICODE)
_SENT_END_RE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n\s*\n")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "st", "sen", "rep", "gov",
    "jr", "sr", "inc", "ltd", "co", "corp", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "u.n", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "approx",
}


@dataclass(frozen=True)
class Span:
    start: int
    end: int


# Where editors (and `check`'s line numbers) end a line; str.splitlines would also end one at
# "\x0c" (pdftotext pages), "\u2028" and others.
LINE_END_RE = re.compile(r"\r\n|\r|\n")
# A line break of hard-wrapped text (e-mail, plain-text documents, Markdown paragraphs): one
# line break with the spaces and tabs around it, between two words. A blank line (two line
# breaks) ends a paragraph and never matches; nor does a line starting with a quote marker
# ("> ") or any other non-space character, which is then the next word.
WRAP_RE = re.compile(r"(?<=\S)[ \t]*(?:\r\n|\r|\n)[ \t]*(?=\S)")
# The end of a WRAP_RE match, for `JoinedText`, which searches from the line break: a pattern
# starting with one literal character is found at C speed, several times faster than WRAP_RE.
_LF_BREAK_RE = re.compile(r"\n[ \t]*(?=\S)")
_CR_BREAK_RE = re.compile(r"\r\n?[ \t]*(?=\S)")
_ANY_BREAK_RE = re.compile(r"(?:\r\n?|\n)[ \t]*(?=\S)")
_BARE_LF_RE = re.compile(r"\n(?<=\S\n)(?=\S)")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Lines where `check` ends them (LINE_END_RE), without an empty one after a final line end."""
    out, pos = [], 0
    for m in LINE_END_RE.finditer(text):
        out.append(text[pos : m.end() if keepends else m.start()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


def has_line_break(s: str) -> bool:
    return "\n" in s or "\r" in s


_KEPT_SEPARATOR_RE = re.compile(r"[^\S ]")  # whitespace other than a plain space


def has_kept_separator(s: str) -> bool:
    """Whether `s` separates words by something a fix keeps (`keep_line_breaks`): a line
    break, a tab, a no-break space; not plain spaces only."""
    return _KEPT_SEPARATOR_RE.search(s) is not None


def unwrapped(text: str) -> str:
    """`text` with each hard-wrapping line break made spaces, one for one (offsets stay)."""
    if not has_line_break(text):
        return text
    return WRAP_RE.sub(lambda m: " " * len(m.group()), text)


def one_line(s: str) -> str:
    """`s` as its words and single spaces, for a report line or a lookup: "safety\\nmenace" is
    "safety menace"."""
    return " ".join(s.split()) if has_line_break(s) else s


def join_wrapped(s: str) -> str:
    """`s` with each hard-wrapping line break (and the spaces and tabs around it) made one
    space: "safety\\n  menace" -> "safety menace". Other text, blank lines included, stays."""
    return WRAP_RE.sub(" ", s) if has_line_break(s) else s


def wrapped_phrase(found: str) -> str:
    """An edit's phrase as one line, the same whether a line break splits it or not, and
    without the spaces an edit took in beside a moved break (`widen_over_moved_break`)."""
    return join_wrapped(found).strip()


def keep_line_breaks(text: str, start: int, end: int, replacement: str) -> str | None:
    """`replacement` for the hard-wrapped `text[start:end]`, keeping its line breaks, so that a
    fix never reflows the text. With as many words as the found phrase, the found phrase's
    separators go back between the words in order ("safety\\nmenace" -> "security\\nthreat");
    otherwise a line break stays at its word gap or, past the replacement's last gap, at that
    one ("could also\\nbe" -> "may\\nbe"), and other separators (a no-break space) become
    spaces. A break the replacement has no gap for (a phrase
    becoming one word) goes before it or, at the start of a line, after it when a space and more
    words follow (a second one after it); None (no fix) where that would make a blank line or
    start a line with punctuation."""
    gaps = re.findall(r"\s+", text[start:end])
    words = replacement.split()
    if len(words) == len(gaps) + 1:
        return "".join(w + g for w, g in zip(words, gaps)) + words[-1]
    seps = [" "] * (len(words) - 1)
    left: list[str] = []  # breaks with no gap left for them
    slot = len(seps)
    for k in reversed(range(len(gaps))):
        if not has_line_break(gaps[k]):
            continue
        slot = min(k, slot - 1)
        if slot < 0:
            left.append(gaps[k])
        else:
            seps[slot] = gaps[k]
    out = "".join(w + s for w, s in zip(words, seps)) + words[-1]
    if not left:
        return out
    # The spaces already before (or after) the phrase stay: only the break and its far side move.
    i, j = start, end
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    while j < len(text) and text[j] in " \t":
        j += 1
    before_ok = i > 0 and text[i - 1] not in "\r\n"
    after_ok = end < j < len(text) and text[j] not in "\r\n"
    left.reverse()  # in text order
    if len(left) == 1 and before_ok:
        return left[0].lstrip(" \t") + out
    if len(left) == 1 and after_ok:
        return out + left[0].rstrip(" \t")
    if len(left) == 2 and before_ok and after_ok:
        return left[0].lstrip(" \t") + out + left[1].rstrip(" \t")
    return None


def widen_over_moved_break(
    text: str, start: int, end: int, options: tuple[str, ...]
) -> tuple[int, int, tuple[str, ...]]:
    """The span and options of an edit writing `options` (from `keep_line_breaks`) over
    `text[start:end]`: a line break moved to before (after) a phrase that became one word
    takes the place of the spaces there too ("a 12\nmonths-lengthy" -> "a\nyear-long", not
    "a \nyear-long" with a space left at the line's end); an option that kept its break
    inside gets those spaces back, so that any of them can be applied to the wider span."""
    breaks = ("\r", "\n")
    lo, hi = start, end
    if any(o[:1] in breaks for o in options):
        while lo > 0 and text[lo - 1] in " \t":
            lo -= 1
    if any(o[-1:] in breaks for o in options):
        while hi < len(text) and text[hi] in " \t":
            hi += 1
    before, after = text[lo:start], text[end:hi]
    return lo, hi, tuple(
        ("" if o[:1] in breaks else before) + o + ("" if o[-1:] in breaks else after) for o in options
    )


def options_keeping_line_breaks(text: str, start: int, end: int, options: tuple[str, ...]) -> tuple[str, ...]:
    """The `options` for `text[start:end]` that can keep its line breaks and other kept
    separators (`keep_line_breaks`), as they keep them; all of them, unchanged, when it has
    plain spaces only."""
    if not has_kept_separator(text[start:end]):
        return options
    return tuple(k for k in (keep_line_breaks(text, start, end, o) for o in options) if k is not None)


def has_wrapped_lines(s: str) -> bool:
    """Whether a line break of `s` may end a line of words: False where every line break is
    one of a pair making a blank line between paragraphs (counted at C speed)."""
    return "\r" in s or s.count("\n") != 2 * s.count("\n\n")


class JoinedText:
    """A text with its hard-wrapped lines joined (as `join_wrapped` does), for matching phrases
    that a line break splits, and the way back: `original(pos)` is where position `pos` of
    `text` lies in the given text. A joined space maps to the start of its run of whitespace."""

    __slots__ = ("text", "_at", "_shift")

    def __init__(self, text: str):
        self.text = text
        self._at = [0]  # positions of the joined text from which ...
        self._shift = [0]  # ... this many characters have been removed before them
        if not has_wrapped_lines(text):
            return  # one line, or only blank lines between paragraphs: nothing to join
        if "\r" not in text:
            # Most wrapped lines end in a bare "\n", joined one character for one at C speed;
            # the loop below sees only the rest (blank lines, indented or space-ended lines).
            text = self.text = _BARE_LF_RE.sub(" ", text)
            breaks = _LF_BREAK_RE
        else:
            breaks = _CR_BREAK_RE if text.count("\n") == text.count("\r\n") else _ANY_BREAK_RE
        lines: list[str] = []  # the text between joined breaks
        last = shift = 0
        for m in breaks.finditer(text):
            a, b = m.span()
            while a > 0 and text[a - 1] in " \t":
                a -= 1
            if a == 0 or text[a - 1].isspace():
                continue  # a blank line, or the text's first line
            lines.append(text[last:a])
            last = b
            if b - a > 1:
                shift += b - a - 1
                self._at.append(b - shift)
                self._shift.append(shift)
        if lines:
            lines.append(text[last:])
            self.text = " ".join(lines)

    def original(self, pos: int) -> int:
        if len(self._at) == 1:
            return pos
        return pos + self._shift[bisect.bisect_right(self._at, pos) - 1]


class Document:
    """The original text plus lazily built indexes (lines, sentences, words)."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def folded(self) -> str:
        return fold_for_search(self.text)

    @cached_property
    def joined(self) -> JoinedText:
        """`folded` with hard-wrapped lines joined, for phrase matching across line breaks."""
        return JoinedText(self.folded)

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for m in LINE_END_RE.finditer(self.text):
            starts.append(m.end())
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset, as editors count them: a byte-order
        mark at the start of the text is not a column."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        col = offset - self._line_starts[line] + 1
        if line == 0 and offset > 0 and self.text.startswith("\ufeff"):
            col -= 1
        return line + 1, col

    @cached_property
    def sentences(self) -> list[Span]:
        return split_sentences(self.text)

    def sentence_at(self, offset: int) -> Span:
        starts = [s.start for s in self.sentences]
        i = max(0, bisect.bisect_right(starts, offset) - 1)
        return self.sentences[i] if self.sentences else Span(0, len(self.text))

    @cached_property
    def word_count(self) -> int:
        return count_words(self.text)

    @cached_property
    def words(self) -> DocumentWords:
        return DocumentWords(self.text)


class DocumentWords:
    """How often a word or phrase occurs in a document (lower case, whole words: not inside a
    longer word or hyphenated compound)."""

    def __init__(self, text: str):
        self.text = text.lower()
        self.counts = Counter(re.findall(r"[\w-]+", self.text))

    def count(self, phrase: str) -> int:
        phrase = phrase.lower()
        if phrase not in self.counts and not re.fullmatch(r"[\w-]+", phrase):
            # A phrase (or a word with an apostrophe) is searched once, then counted like a word.
            self.counts[phrase] = len(re.findall(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", self.text))
        return self.counts[phrase]


def count_words(text: str) -> int:
    return len(WORD_RE.findall(text))


def split_sentences(text: str) -> list[Span]:
    """Sentence spans over the original text; paragraphs always end a sentence. Front matter
    is one span of its own: metadata, never the start of the first sentence."""
    spans: list[Span] = []
    start = _front_matter_end(text)
    if start:
        spans.append(Span(0, start))
    n = len(text)
    for m in _SENT_END_RE.finditer(text, start):
        end = m.end()
        if m.group().strip(".!?\u2026\"'\u201d\u2019)]") == "" and m.group()[0] == ".":
            # "Gen. Smith", "U.S. forces": an abbreviation, not a boundary.
            prev = re.search(r"([\w.]+)$", text[start:m.start()])
            if prev and prev.group(1).lower().rstrip(".") in _ABBREV:
                continue
        seg = text[start:end]
        if seg.strip():
            lead = len(seg) - len(seg.lstrip())
            spans.append(Span(start + lead, end))
        start = end
    if start < n and text[start:].strip():
        seg = text[start:]
        lead = len(seg) - len(seg.lstrip())
        spans.append(Span(start + lead, len(text.rstrip()) if text.rstrip() else n))
    return spans


# Metadata opening a Markdown file (Jekyll, Hugo, pandoc): YAML between "---" and "---" or
# "...", or TOML between "+++" lines. Only at the very start: a later "---" is a thematic
# break. The opening line must not be followed by a blank line (pandoc's rule), so a document
# opening with a thematic break is not mistaken for metadata; nor is an unclosed opening line.
_FRONT_MATTER = (
    r"\A\ufeff?(?:---[ \t]*\r?\n(?![ \t]*\r?$).*?^(?:---|\.\.\.)[ \t]*\r?$"
    r"|\+\+\+[ \t]*\r?\n(?![ \t]*\r?$).*?^\+\+\+[ \t]*\r?$)"
)
_FRONT_MATTER_OPENERS = ("---", "+++", "\ufeff---", "\ufeff+++")
_FRONT_MATTER_RE = re.compile(_FRONT_MATTER, re.MULTILINE | re.DOTALL)

# Text that is not prose and must never be edited: front matter, code (Markdown fenced and
# indented blocks and inline spans, reStructuredText literal blocks, doctest lines), link
# destinations, URLs and e-mail addresses. Users clean README files and scraped pages, where
# "safety menace" inside a code sample or a link is somebody's identifier, not a spinner's swap.
_NOT_PROSE_BRANCHES = (
    # (marks of which the text must hold one for the branch to match anywhere, branch)
    (None, _FRONT_MATTER),  # None: the text opens with a front-matter fence
    # fenced code block: closed by a run of the same character at least as long (CommonMark),
    # on a line that may end in "\r"; a byte-order mark may precede the first fence
    (("```", "~~~"), r"^[\ufeff \t]*(?P<fence>(?P<ch>[`~])(?P=ch){2,})[^\n]*\n.*?(?:^[ \t]*(?P=fence)(?P=ch)*[ \t]*\r?$|\Z)"),
    # inline code: closed by a run of as many backticks (``a ` b``), may wrap a line, never a
    # paragraph
    (("`",), r"(?<!`)(?P<ticks>`+)(?:(?!\r?\n[ \t]*\r?\n).)+?(?<!`)(?P=ticks)(?!`)"),
    # reStructuredText literal block ("Example::", ".. code-block:: python"): the indented
    # lines after the blank line that follows "::"
    (("::",),
     r"(?:^\.\. (?:code-block|code|sourcecode|literalinclude|doctest|testcode|testoutput|parsed-literal|math)::[^\n]*"
     r"|::[ \t]*\r?)\n(?:[ \t]*\r?\n)+(?:[ \t]+\S[^\n]*(?:\n|\Z)(?:[ \t]*\r?\n)*)+"),
    # any other directive's own line: its arguments are names and paths (".. include:: ../a.rst")
    (("::",), r"^[ \t]*\.\. [\w.:-]+::[^\n]*"),
    # a doctest line; one that reads as code (=, a call, brackets) with its output, to a blank line
    ((">>> ",), r"^[ \t]*>>> (?=[^\n]*[=(\[])[^\n]*(?:\n(?![ \t]*\r?$)[^\n]*)*|^[ \t]*>>> [^\n]*"),
    (("](",), r"\]\((?:<[^>\n]*>|[^\s()]*)"),  # a Markdown link's destination: [text](<docs/a b.md>)
    # a Markdown link reference definition, "[guide]: ../../a.md" and an optional title (not
    # "[Update]: Officials said ...", which is prose)
    (("]:",),
     r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*(?:<[^>\n]*>|[^\s<>]+)(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*\r?$"),
    # a URL of any scheme (https, ssh://git@..., git+ssh, file:///srv/...)
    (("://",), r"(?<![\w+.-])[A-Za-z][\w+.-]*://[^\s<>\"'\]\[)]*[^\s<>\"'\]\[).,;:!?]"),
    (("www.",), r"\bwww\.[^\s<>\"'\]\[)]*[^\s<>\"'\]\[).,;:!?]"),
    # e-mail address, or an scp-style git@host:path (the host may have no dot); started only
    # at a token's start, else a long run of letters is rescanned from each of its characters
    (("@",), r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:(?:\.[\w-]+)+(?::[\w./~-]+)?|:[\w./~-]*[\w/~])"),
)


@lru_cache(maxsize=None)
def _not_prose_re(branches: tuple[int, ...]) -> re.Pattern[str]:
    """One alternation of the branches a text can match: a branch whose marks the text lacks
    can match nowhere, so leaving it out changes no match, and each position tries fewer."""
    return re.compile("|".join(_NOT_PROSE_BRANCHES[k][1] for k in branches), re.MULTILINE | re.DOTALL)


_BLOCK_RE = re.compile(r"(?:^[ \t]*\S[^\n]*(?:\n|\Z))+", re.MULTILINE)  # lines up to a blank one
_INDENTED_LINE_RE = re.compile(r"(?: {4}|[ ]{0,3}\t)")
_LIST_ITEM_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]", re.MULTILINE)


def not_prose_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of front matter, code, link destinations, URLs and e-mail addresses in
    `text`, in order (they may overlap)."""
    spans = []
    branches = tuple(
        k
        for k, (marks, _) in enumerate(_NOT_PROSE_BRANCHES)
        if (text.startswith(_FRONT_MATTER_OPENERS) if marks is None else any(mark in text for mark in marks))
    )
    if branches:
        spans = [m.span() for m in _not_prose_re(branches).finditer(text)]
    if "\n    " in text or "\n\t" in text or "\n \t" in text:
        spans = sorted(spans + _indented_code_spans(text))
    return spans


def _indented_code_spans(text: str) -> list[tuple[int, int]]:
    """Markdown indented code blocks: paragraphs whose every line is indented four columns,
    after a blank line. A document that indents all its paragraphs so is prose laid out that
    way, and a paragraph after a list item belongs to the item ("1. Step\n\n    More")."""
    blocks = [m.span() for m in _BLOCK_RE.finditer(text)]
    indented = [all(_INDENTED_LINE_RE.match(line) for line in text[a:b].splitlines()) for a, b in blocks]
    if all(indented):
        return []
    spans = []
    previous = None  # the last paragraph that is not indented
    for k, (a, b) in enumerate(blocks):
        if not indented[k]:
            previous = (a, b)
            continue
        if k == 0 and a == 0:
            continue
        if previous is not None and _LIST_ITEM_RE.search(text, *previous):
            continue
        spans.append((a, b))
    return spans


def _front_matter_end(text: str) -> int:
    """Where the front matter opening `text` ends (at the end of its closing line, before the
    "\n"), or 0 when there is none."""
    if not text.startswith(_FRONT_MATTER_OPENERS):
        return 0
    m = _FRONT_MATTER_RE.match(text)
    return m.end() if m else 0


class SpanSet:
    """Spans (merged where they overlap or touch), with logarithmic tests of a span against
    them: what no edit may touch, a re-check's focus, a rule's earlier output."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.ends, start + 1)  # the first span ending after `start`
        return i < len(self.starts) and self.starts[i] < max(end, start + 1)

    def touches(self, start: int, end: int) -> bool:
        """Whether [start, end] meets a span, edges included (merging touching spans keeps
        this exact: their union is the merged span)."""
        i = bisect.bisect_left(self.ends, start)  # the first span ending at or after `start`
        return i < len(self.starts) and self.starts[i] <= end

    def contains(self, start: int, end: int) -> bool:
        """Whether [start, end) lies inside a span (spans that touch count as one)."""
        i = bisect.bisect_right(self.starts, start) - 1  # the last span starting at or before it
        return i >= 0 and end <= self.ends[i]


def shared_ends(a, b) -> tuple[int, int]:
    """(length of the common prefix, of the common suffix after it) of two sequences."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


# Words a line can end in only when its sentence goes on: no sentence or heading ends in "the".
_LINE_GOES_ON = frozenset(
    "a an the of to in on at by for from with into onto and or nor but as than that which who "
    "whose whom his her its their our your my this these those".split()
)


def at_sentence_start(text: str, offset: int) -> bool:
    """True when only opening punctuation separates `offset` from a sentence boundary. A line
    break is one unless it wraps a sentence: the line before ends in a comma or a word that
    cannot end one ("the\nSafety Council" holds a name, not a new sentence)."""
    i = offset - 1
    # A byte-order mark is invisible: "\ufeffConsultants said" starts a sentence.
    while i >= 0 and (text[i] in " \t\ufeff" or text[i] in "\"'\u201c\u2018([\u00ab"):
        i -= 1
    if i < 0:
        return True
    if text[i] in "\n\r":
        return not _line_goes_on(text, i)
    return text[i] in ".!?:\u2026" or text[i] in "\u201d\"" and i > 0 and text[i - 1] in ".!?"


def _line_goes_on(text: str, line_end: int) -> bool:
    """Whether the line ending at `line_end` (its "\n" or "\r") ends in a comma or a word
    of `_LINE_GOES_ON`."""
    i = line_end - (2 if text[line_end] == "\n" and line_end > 0 and text[line_end - 1] == "\r" else 1)
    while i >= 0 and text[i] in " \t":
        i -= 1
    if i >= 0 and text[i] == ",":
        return True
    j = i
    while j >= 0 and text[j].isalpha():
        j -= 1
    return text[j + 1 : i + 1] in _LINE_GOES_ON


def transfer_case(source: str, replacement: str) -> str:
    """Carry the capitalisation pattern of `source` into `replacement`.

    "Mentioned" -> "Said", "SAFETY MENACE" -> "SECURITY THREAT"; lower case is left as written,
    so a replacement holding a proper noun keeps it.
    """
    letters = [c for c in source if c.isalpha()]
    if not letters or not replacement:
        return replacement
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return replacement.upper()
    words = source.split()
    if len(words) > 1 and all(w[:1].isupper() for w in words if w[:1].isalpha()):
        return " ".join(w[:1].upper() + w[1:] for w in replacement.split(" "))
    if letters[0].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def transfer_apostrophes(source: str, replacement: str) -> str:
    """Use the original's apostrophe style (curly or straight) in the replacement."""
    for ch in "\u2019\u02bc":
        if ch in source:
            return replacement.replace("'", ch)
    return replacement


_AN_EXCEPTIONS = ("hour", "honest", "honou", "heir", "herb", "x-")  # "an X-ray"
_A_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "once", "ewe", "ure", "uro", "uga", "uk", "us ", "u.")


def indefinite_article(word: str) -> str:
    """'a' or 'an' for the word that follows (by sound, with the usual exceptions)."""
    if not word:
        return "a"
    if word.isupper() and 1 < len(word) <= 5:
        # Acronyms are read letter by letter: "an FBI agent", "a UN report".
        return "an" if word[0].lower() in "aefhilmnorsx" else "a"
    w = word.lower()
    if w.startswith(_AN_EXCEPTIONS):
        return "an"
    if w.startswith(_A_EXCEPTIONS) or w in ("u", "us"):
        return "a"
    return "an" if w[0] in "aeiou" else "a"


class _SpacyBlocker:
    """Meta-path finder refusing spaCy while lemminflect is imported (see `import_lemminflect`)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "spacy" or name.startswith("spacy."):
            raise ImportError("spaCy is not loaded for lemminflect's optional hooks")
        return None


def import_lemminflect():
    """Import lemminflect without its optional spaCy hook.

    lemminflect's __init__ tries `import spacy` to register token extensions mtfix never
    uses; with spaCy installed that drags spaCy and torch (seconds) into every rules-only
    run. Import it once, early, with spaCy refused; later imports reuse the module."""
    module = sys.modules.get("lemminflect")
    if module is not None:
        return module
    if "spacy" in sys.modules:
        import lemminflect

        return lemminflect
    sys.meta_path.insert(0, _SpacyBlocker)
    try:
        import lemminflect
    finally:
        sys.meta_path.remove(_SpacyBlocker)
    return lemminflect


@lru_cache(maxsize=100_000)
def inflections(lemma: str, tag: str, inflect_oov: bool = True) -> tuple[str, ...]:
    """lemminflect's `getInflection`, remembered. lemminflect deep-copies its tables on every
    call, which made inflecting thesaurus candidates a tenth of full mode's time."""
    return tuple(import_lemminflect().getInflection(lemma, tag, inflect_oov=inflect_oov) or ())
