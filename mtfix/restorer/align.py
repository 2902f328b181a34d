"""A restored sentence as minimal word-level edits of its source (errant-style).

1. Both sentences are split into tokens: words (`mtfix.text.WORD_RE`) and single punctuation
   characters; whitespace is not a token, so spacing differences are no edit.
2. A Levenshtein alignment over the tokens: an exact match costs 0, a case-only change 0.4,
   another substitution 0.6-1.0 (cheaper for similar spellings), a word for a punctuation mark
   2, an insertion or deletion 1 (tokens shared at both ends are matched first). Ties break
   the same way every time.
3. Consecutive non-matching tokens form one edit. A pure insertion or deletion is widened by
   one neighbouring token ("by simply just" -> "by just" becomes "simply just" -> "just"), so
   every edit replaces some words by others and stays readable for the scorer.
4. Protection: an edit is dropped when its source span touches a name (a capitalised word
   that does not start the sentence, or an acronym), a number (any digit) or a quotation, or
   when its replacement brings in a digit, a quotation mark or a capitalised word (other than
   at the sentence start); `names` protects known names even there.
5. Made-up rewrites: a restoration changing more than `MAX_CHANGED_SHARE` of the tokens yields
   no edit at all, and an edit longer than `MAX_EDIT_TOKENS` tokens is dropped.

Offsets are character offsets into `source` (plus `offset`), end exclusive. A hard-wrapped
`source` is read as one line (a word starting a wrapped line does not start the sentence);
each edit's `found` keeps its line breaks; fitting the replacement to them is `propose`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import WORD_RE, at_sentence_start, shared_ends, unwrapped

TOKEN_RE = re.compile(WORD_RE.pattern + r"|\S", re.UNICODE)
QUOTE_CHARS = "\"\u201c\u201d\u00ab\u00bb\u201e"
# Whole quotations, and an opening quote left open until the end of its paragraph.
QUOTE_RE = re.compile(
    r"\u201c[^\u201d\n]*(?:\u201d|$)|\"[^\"\n]*\"|\u00ab[^\u00bb\n]*(?:\u00bb|$)", re.MULTILINE
)
MAX_CHANGED_SHARE = 0.5
MAX_EDIT_TOKENS = 6
_PRONOUN_I = frozenset({"i", "i'm", "i've", "i'll", "i'd", "i\u2019m", "i\u2019ve", "i\u2019ll", "i\u2019d"})


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


@dataclass(frozen=True)
class WordEdit:
    start: int
    end: int
    found: str
    replacement: str


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def quotation_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in QUOTE_RE.finditer(text)]


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a[0].isalnum() != b[0].isalnum():
        return 2.0
    la, lb = a.lower(), b.lower()
    if la == lb:
        return 0.4
    prefix = 0
    for x, y in zip(la, lb):
        if x != y:
            break
        prefix += 1
    return 0.6 + 0.4 * (1.0 - 2.0 * prefix / (len(la) + len(lb)))


def align_tokens(src: list[str], tgt: list[str]) -> list[tuple[str, int, int]]:
    """Ops ("match" | "sub" | "del" | "ins", source index, target index) in order."""
    head, tail = shared_ends(src, tgt)
    middle = _align(src[head : len(src) - tail], tgt[head : len(tgt) - tail])
    return (
        [("match", k, k) for k in range(head)]
        + [(op, i + head, j + head) for op, i, j in middle]
        + [("match", len(src) - tail + k, len(tgt) - tail + k) for k in range(tail)]
    )


def _align(src: list[str], tgt: list[str]) -> list[tuple[str, int, int]]:
    n, m = len(src), len(tgt)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = float(i)
    for j in range(1, m + 1):
        cost[0][j] = float(j)
    for i in range(1, n + 1):
        row, prev = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + _sub_cost(src[i - 1], tgt[j - 1]), prev[j] + 1.0, row[j - 1] + 1.0)
    ops = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            c = _sub_cost(src[i - 1], tgt[j - 1])
            if abs(cost[i][j] - (cost[i - 1][j - 1] + c)) < 1e-9:
                ops.append(("match" if c == 0.0 else "sub", i - 1, j - 1))
                i, j = i - 1, j - 1
                continue
        if i > 0 and abs(cost[i][j] - (cost[i - 1][j] + 1.0)) < 1e-9:
            ops.append(("del", i - 1, j))
            i -= 1
        else:
            ops.append(("ins", i, j - 1))
            j -= 1
    return ops[::-1]


def _groups(ops) -> list[tuple[int, int, int, int]]:
    """(i0, i1, j0, j1) token ranges of each run of non-matching ops."""
    out = []
    run = None
    i = j = 0
    for op, a, b in ops:
        if op == "match":
            if run is not None:
                out.append((run[0], i, run[1], j))
                run = None
            i, j = a + 1, b + 1
            continue
        if run is None:
            run = (i, j)
        if op in ("sub", "del"):
            i = a + 1
        if op in ("sub", "ins"):
            j = b + 1
    if run is not None:
        out.append((run[0], i, run[1], j))
    return out


class _Guard:
    """Which source tokens and replacement texts an edit may not touch."""

    def __init__(self, source: str, tokens: list[Token], protected: list[tuple[int, int]],
                 names: frozenset[str] = frozenset()):
        self.source = source
        self.protected = protected
        self.names = names
        self.locked = [self._locked(t) for t in tokens]

    def _locked(self, t: Token) -> bool:
        if any(ch.isdigit() for ch in t.text) or any(ch in QUOTE_CHARS for ch in t.text):
            return True
        if any(t.start < e and s < t.end for s, e in self.protected) or t.text in self.names:
            return True
        return _is_name(t.text) and not at_sentence_start(self.source, t.start)

    def replacement_ok(self, replacement: str, at_start: bool) -> bool:
        for n, t in enumerate(tokenize(replacement)):
            if any(ch.isdigit() or ch in QUOTE_CHARS for ch in t.text):
                return False
            if _is_name(t.text) and not (n == 0 and at_start):
                return False
        return True


def _is_name(word: str) -> bool:
    if not word[0].isalpha() or word.lower() in _PRONOUN_I:
        return False
    return word[0].isupper() or (len(word) > 1 and word.isupper())


def align_edits(source: str, restored: str, offset: int = 0,
                protected: list[tuple[int, int]] | None = None,
                names: frozenset[str] = frozenset()) -> list[WordEdit]:
    """Minimal edits turning `source` into `restored`, names, numbers and quotations spared.

    `protected`: extra (start, end) spans of `source` no edit may touch (the proposer passes
    quotations found in the whole document); quotations inside `source` are always protected.
    `names`: words that are names wherever they stand, even first in the sentence.
    """
    src_tokens, tgt_tokens = tokenize(source), tokenize(restored)
    if not src_tokens:
        return []
    ops = align_tokens([t.text for t in src_tokens], [t.text for t in tgt_tokens])
    changed = sum(1 for op, _, _ in ops if op != "match")
    if changed > MAX_CHANGED_SHARE * max(len(src_tokens), len(tgt_tokens)):
        return []
    # Names are told from sentence starts on the sentence as one line: "told\nSmith" holds a name.
    one_line_source = unwrapped(source)
    guard = _Guard(one_line_source, src_tokens, quotation_spans(source) + list(protected or ()), names)
    edits = []
    for i0, i1, j0, j1 in _groups(ops):
        if i0 == i1 or j0 == j1:  # a pure insertion or deletion: take in a neighbour
            widened = _widen(i0, i1, j0, j1, src_tokens, tgt_tokens, guard)
            if widened is None:
                continue
            i0, i1, j0, j1 = widened
        if max(i1 - i0, j1 - j0) > MAX_EDIT_TOKENS or any(guard.locked[i0:i1]):
            continue
        start, end = src_tokens[i0].start, src_tokens[i1 - 1].end
        replacement = restored[tgt_tokens[j0].start : tgt_tokens[j1 - 1].end]
        if not guard.replacement_ok(replacement, at_sentence_start(one_line_source, start)):
            continue
        found = source[start:end]
        if replacement != found:
            edits.append(WordEdit(start + offset, end + offset, found, replacement))
    return edits


def _widen(i0, i1, j0, j1, src, tgt, guard):
    changed = src[i0:i1] if i1 > i0 else tgt[j0:j1]
    punctuation_only = not any(t.is_word for t in changed)
    before = (i0 - 1, i1, j0 - 1, j1) if i0 > 0 and j0 > 0 else None
    after = (i0, i1 + 1, j0, j1 + 1) if i1 < len(src) and j1 < len(tgt) else None
    order = (before, after) if punctuation_only else (after, before)
    candidates = [c for c in order if c is not None]
    # A word neighbour first, then punctuation; never a protected one.
    candidates.sort(key=lambda c: not src[c[0] if c is before else c[1] - 1].is_word)
    for c in candidates:
        k = c[0] if c is before else c[1] - 1
        if not guard.locked[k]:
            return c
    return None
