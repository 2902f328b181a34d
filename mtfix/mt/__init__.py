"""Checks for machine-translation damage: structure, not word swaps.

Each check family is a proposer registered in `mtfix.pipeline.PROPOSERS` under its own name
(`--disable mt-pronoun` turns it off) and tags its edits with finer rule ids (`mt/doubled-word`,
...) that can be disabled one by one:

    mt-boundary  mtfix.mt.boundaries  a full stop followed by a lower-case continuation
    mt-fragment  mtfix.mt.fragments   verbless sentences; "he said. Name, title." joins
    mt-leftover  mtfix.mt.leftovers   doubled words and punctuation, spacing damage, foreign words
    mt-pronoun   mtfix.mt.pronouns    he/she/it disagreeing with its antecedent (needs spaCy)

Only the pronoun check needs spaCy; it is imported there, lazily, never from this package.
Automatic fixes are reserved for sure cases; everything else is a flag or a suggestion.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..edit import Edit
from ..text import is_word_char

_BLANK_LINE_RE = re.compile(r"\n[ \t\u00a0]*\n\s*")


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
    while s > 0 and is_word_char(text[s - 1]):
        s -= 1
    while e < len(text) and is_word_char(text[e]):
        e += 1
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
    from lemminflect import getAllLemmas

    w = word.lower()
    if w in _VERBISH_CONTRACTIONS:
        return True
    return bool(getAllLemmas(w, "VERB") or getAllLemmas(w, "AUX"))


_VERBISH_CONTRACTIONS = frozenset(
    "'s 're 've 'd 'll 'm n't \u2019s \u2019re \u2019ve \u2019d \u2019ll \u2019m n\u2019t".split()
)
