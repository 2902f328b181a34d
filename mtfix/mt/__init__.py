"""Checks for machine-translation damage: structure, not word swaps.

Each check family is a proposer registered in `mtfix.pipeline.PROPOSERS` under its own name
(`--disable mt-pronoun` turns it off) and tags its edits with finer rule ids (`mt/doubled-word`,
...) that can be disabled one by one:

    mt-boundary  mtfix.mt.boundaries  a full stop followed by a lower-case continuation
    mt-fragment  mtfix.mt.fragments   verbless sentences; "he said. Name, title." joins
    mt-leftover  mtfix.mt.leftovers   doubled words and punctuation
    mt-spacing   mtfix.mt.leftovers   spacing damage ("ofBeijing"), untranslated words
    mt-pronoun   mtfix.mt.pronouns    he/she/it disagreeing with its antecedent (needs spaCy)

The first three run in rules mode; mt-spacing and mt-pronoun in full mode or when named.

Only the pronoun check needs spaCy; it is imported there, lazily, never from this package.
Automatic fixes are reserved for sure cases; everything else is a flag or a suggestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..edit import Edit
from ..text import is_word_char

_BLANK_LINE_RE = re.compile(r"\r?\n[ \t\u00a0]*\r?\n\s*")  # "\r\n\r\n" too
_WORD_AT_RE = re.compile(r"[\w'-]+")
_WORD_BEFORE_RE = re.compile(r"[\w'-]+$")
# What mtfix.text.is_word_char accepts: letters and digits, hyphens, underscores.
_WORD_AT_RE_STRICT = re.compile(r"(?:[^\W]|[-\u2010\u2011])+")
_WORD_BEFORE_RE_STRICT = re.compile(r"(?:[^\W]|[-\u2010\u2011])+$")


@dataclass(frozen=True)
class Block:
    """A paragraph: text between blank lines, stripped, with its offsets in the document."""

    start: int
    end: int

    def lines(self, text: str) -> int:
        return text.count("\n", self.start, self.end) + 1


def paragraphs(text: str) -> list[Block]:
    blocks: list[Block] = []
    pos = 0
    for m in [*_BLANK_LINE_RE.finditer(text), None]:
        end = m.start() if m else len(text)
        chunk = text[pos:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            blocks.append(Block(pos + lead, pos + len(chunk.rstrip())))
        pos = m.end() if m else len(text)
    return blocks


def mt_edit(
    text: str,
    start: int,
    end: int,
    replacement: str | None,
    *,
    kind: str,
    source: str,
    confidence: float,
    auto: bool,
    reason: str,
    alternatives: tuple[str, ...] = (),
) -> Edit:
    """An edit of text[start:end], widened to whole words: edits start and end on word
    boundaries (", ," inside "word,,next" becomes "word,,next" -> "word,next")."""
    s, e = start, end
    if s > 0 and is_word_char(text[s - 1]):
        s = _WORD_BEFORE_RE_STRICT.search(text, max(0, s - 80), s).start()
    if e < len(text) and is_word_char(text[e]):
        e = _WORD_AT_RE_STRICT.match(text, e).end()
    head, tail = text[s:start], text[end:e]
    if replacement is not None:
        replacement = head + replacement + tail
        alternatives = tuple(head + a + tail for a in alternatives if head + a + tail != replacement)
    return Edit(
        start=s,
        end=e,
        found=text[s:e],
        replacement=replacement,
        kind=kind,
        source=source,
        confidence=confidence,
        auto=auto and replacement is not None,
        reason=reason,
        alternatives=alternatives,
    )


def possible_verb(word: str) -> bool:
    """True when the lexicon knows `word` (lower-cased) as a verb or auxiliary form."""
    from .lexicon import can_be_verb

    return word.lower() in _VERBISH_CONTRACTIONS or can_be_verb(word)


_VERBISH_CONTRACTIONS = frozenset(
    "'s 're 've 'd 'll 'm n't \u2019s \u2019re \u2019ve \u2019d \u2019ll \u2019m n\u2019t".split()
)


def bare(word: str) -> str:
    return word.lower().strip(".,;:!?\"'()[]\u201c\u201d\u2018\u2019")


def merge_overlapping(text: str, edits: list[Edit]) -> list[Edit]:
    """Merge one check's overlapping fixes into single edits.

    Widening to whole words makes neighbouring fixes overlap ("the the ," -> a doubled word and a
    space before a comma, both holding the middle "the"). The pipeline keeps only one of two
    overlapping edits, and the other would then apply on a second run; so fixes whose changed
    parts do not collide are combined here, and of colliding ones the more confident is kept."""
    fixes = sorted((e for e in edits if e.fixable), key=lambda e: (e.start, e.end))
    others = [e for e in edits if not e.fixable]
    merged: list[Edit] = []
    for e in fixes:
        if merged and e.start < merged[-1].end:
            combined = _combine(text, merged[-1], e)
            # Combined at the higher confidence, so it wins over either part in the pipeline.
            merged[-1] = combined if combined is not None else max(merged[-1], e, key=lambda x: x.confidence)
        else:
            merged.append(e)
    return merged + others


def _combine(text: str, a: Edit, b: Edit) -> Edit | None:
    if a.auto != b.auto:
        return a if a.auto else b  # a suggestion never holds back a sure fix
    from ..pipeline import merged_span

    span = merged_span(text, a, b)
    if span is None:
        return None
    start, end, replacement = span
    return Edit(
        start=start,
        end=end,
        found=text[start:end],
        replacement=replacement,
        kind=a.kind,
        source=a.source if a.confidence <= b.confidence else b.source,
        confidence=max(a.confidence, b.confidence),
        auto=a.auto and b.auto,
        reason=f"{a.reason}; {b.reason}",
    )
