"""The "function-words" proposer: closed-class phrases a spinner writes in place of plainer ones
("moreover" for "also", "whilst" for "while", "by way of" for "through"), with the plain
phrases as candidates. The reverse thesaurus has no entries for most of these (WordNet lists no
prepositions or conjunctions), and the rule table can only hold the ones that are rarely right
in clean English; these are often right, so only the language-model scorer, reading the
context and the rest of the document, may turn one into an edit. Needs neither torch nor a
model.

The table (`function_words.tsv`) is data: sorted, one row per found phrase, no plain phrase
that is itself a found phrase (a repaired text is never proposed again), checked by
tests/test_rule_tables.py.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from ..edit import Edit
from ..text import options_keeping_line_breaks, transfer_case
from .propose import candidate_edit, is_name

SOURCE = "function-words"
TABLE = "function_words.tsv"


def parse_table(text: str) -> list[tuple[str, tuple[str, ...]]]:
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            found, plains = line.split("\t")
            rows.append((found, tuple(plains.split("|"))))
    return rows


@lru_cache(maxsize=1)
def load_table() -> dict[str, tuple[str, ...]]:
    text = resources.files("mtfix.lm").joinpath(TABLE).read_text(encoding="utf-8")
    return dict(parse_table(text))


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern:
    # Longest first, so "inside of" wins over "inside"; never part of a longer word,
    # hyphenated compound ("round-the-clock") or contraction.
    phrases = sorted(load_table(), key=len, reverse=True)
    # Words are apart by spaces or one wrapped line's break, never a blank line (a paragraph).
    gap = r"(?:[ \t]+|[ \t]*(?:\r\n|\r|\n)[ \t]*)"
    body = "|".join(re.escape(p).replace(r"\ ", gap) for p in phrases)
    return re.compile(rf"(?<![\w'\u2019-])(?:{body})(?![\w'\u2019-])", re.IGNORECASE)


def propose_function_words(ctx) -> list[Edit]:
    table = load_table()
    text = ctx.doc.text
    edits = []
    for m in _pattern().finditer(text):
        found = m.group()
        if is_name(text, m.start(), found.split()[0]):
            continue  # "Via Appia", "Round Table"
        plains = table[" ".join(found.lower().split())]
        options = options_keeping_line_breaks(text, m.start(), m.end(), tuple(transfer_case(found, p) for p in plains))
        if not options:
            continue
        reason = f"'{found}' may be a spinner's substitute for '{options[0]}'"
        edits.append(candidate_edit(m.start(), m.end(), found, options, "function-word", SOURCE, reason))
    return edits
