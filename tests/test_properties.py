"""Properties of a repair over generated texts: clean words, rule phrases in any case,
punctuation, curly quotes, CRLF, non-ASCII, a BOM.

Rules come from tests/data/core_rules.tsv alone (no built-in tables), so the properties hold
whatever the built-in tables contain. That file is chain-free: no replacement contains a found
phrase or a context word (nor a word a context class takes: 'may' is a <month>), so a
failure of idempotency with it is a fault of the code, not of the table.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mtfix
from mtfix.render import unified_diff
from mtfix.text import indefinite_article, is_word_char

CORE_RULES = str(Path(__file__).resolve().parent / "data" / "core_rules.tsv")

CLEAN_WORDS = (
    "the officials report said experts security threat council road National Council May as already "
    "had has been were under a an A An AN banana Panama Zoë Müller İstanbul naïve café Łódź 東京 2020 "
    "3.5 don't it’s long-term e-mail U.S. Gen. mentionable assisting_tool consultantship"
).split()
FOUND_PHRASES = [
    "safety menace",
    "safety menaces",
    "till not too long ago",
    "mention",
    "mentioned",
    "mentions",
    "mentioning",
    "consultant",
    "consultants",
    "notice",
    "noticed",
    "noticing",
    "could also be",
    "in all probability",
    "essentially the most",
    "as a substitute",
    "huge",
    "assist",
    "assisted",
    "unlawful",
    "safety",
    "specialist",
    "specialists",
]
# Includes translation leftovers (" , ", ",, ", ".. ") so the MT checks meet the rule edits.
SEPARATORS = [
    " ",
    " ",
    " ",
    "  ",
    "\r\n",
    "\n",
    "\n\n",
    "\r\n\r\n",
    "\t",
    "\u00a0",
    ", ",
    ". ",
    "! ",
    "? ",
    "; ",
    ": ",
    " \u2014 ",
    " \u201c",
    "\u201d ",
    " \u2018",
    "\u2019 ",
    ' "',
    '" ',
    " (",
    ") ",
    ".\u201d ",
    "\u2028",
    " , ",
    ",, ",
    ".. ",
    "       ",
    "\t\t\t\t\t\t\t",
    # not prose: code, links and addresses, which no edit may touch
    " `",
    "` ",
    "\n```\n",
    " https://example.org/",
    " www.",
    "@",
]


def _random_case(draw, phrase: str) -> str:
    style = draw(st.sampled_from(["lower", "lower", "upper", "title", "capitalize", "mixed"]))
    if style == "upper":
        return phrase.upper()
    if style == "title":
        return phrase.title()
    if style == "capitalize":
        return phrase[:1].upper() + phrase[1:]
    if style == "mixed":
        flips = draw(st.lists(st.booleans(), min_size=len(phrase), max_size=len(phrase)))
        return "".join(c.upper() if f else c for c, f in zip(phrase, flips))
    return phrase


# Words before a found phrase that a/an agreement must (or must not) take for an article.
ARTICLE_LEADS = ["a", "an", "A", "An", "AN", "\u201ca", "(an", "Panama", "banana", "Cuban", "ta", "\u2014a"]


@st.composite
def damaged_texts(draw) -> str:
    n = draw(st.integers(min_value=1, max_value=40))
    parts = ["\ufeff"] if draw(st.integers(0, 9)) == 0 else []
    for i in range(n):
        roll = draw(st.integers(0, 9))
        if roll < 4:
            token = _random_case(draw, draw(st.sampled_from(FOUND_PHRASES)))
        elif roll == 4:
            lead = draw(st.sampled_from(ARTICLE_LEADS))
            space = draw(st.sampled_from([" ", " ", "\n", "\u00a0", " " * draw(st.integers(2, 12))]))
            token = _random_case(draw, lead + space + draw(st.sampled_from(FOUND_PHRASES)))
        elif roll == 5:
            token = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6))
        else:
            token = draw(st.sampled_from(CLEAN_WORDS))
        parts.append(token)
        if i < n - 1 or draw(st.booleans()):
            parts.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(parts)


def _repair(text: str, apply_all: bool = False):
    return mtfix.repair(text, tables=(), rules=[CORE_RULES], apply_all=apply_all)


def _rule_edits(edits):
    """Edits from the rule table (the MT checks, e.g. doubled words, follow their own logic)."""
    return [e for e in edits if e.source.startswith("core_rules/")]


# MTFIX_PROPERTY_EXAMPLES=2000 for a thorough run; the default keeps the suite fast.
EXAMPLES = int(os.environ.get("MTFIX_PROPERTY_EXAMPLES", "100"))
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_edits_are_valid_and_never_overlap(text, apply_all):
    result = _repair(text, apply_all)
    edits = result.edits
    assert edits == sorted(edits, key=lambda e: (e.start, e.end))
    for e in edits:
        assert 0 <= e.start <= e.end <= len(text)
        assert text[e.start : e.end] == e.found
        assert e.replacement is None or e.replacement != e.found
    for a, b in zip(edits, edits[1:]):
        assert not a.overlaps(b), (a, b)
        assert a.end <= b.start
    assert all(e in edits for e in result.applied)


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_no_edit_touches_code_links_or_addresses(text, apply_all):
    from mtfix.text import not_prose_spans

    spans = not_prose_spans(text)
    for e in _repair(text, apply_all).edits:
        assert not any(a < max(e.end, e.start + 1) and e.start < b for a, b in spans), (e, spans)


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_edits_never_cut_a_word_in_two(text, apply_all):
    def inside_word(i: int) -> bool:
        return 0 < i < len(text) and is_word_char(text[i - 1]) and is_word_char(text[i])

    for e in _repair(text, apply_all).edits:
        assert not inside_word(e.start), (text[max(0, e.start - 10) : e.end], e)
        assert not inside_word(e.end), (text[e.start : e.end + 10], e)


_ARTICLE_EDIT_RE = re.compile(r"(an?)(\s+)(\w+)", re.IGNORECASE)


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_an_article_pulled_into_an_edit_agrees_with_the_new_word(text, apply_all):
    for e in _rule_edits(_repair(text, apply_all).applied):
        if not _ARTICLE_EDIT_RE.fullmatch(e.found.split()[0] + " x") or len(e.found.split()) < 2:
            continue
        m = _ARTICLE_EDIT_RE.match(e.replacement)
        assert m, e
        article, word = m.group(1), m.group(3)
        # An all-caps replacement only carries the found phrase's case: it is not an acronym.
        spoken = word.lower() if _letters(e.found.split(None, 1)[1]).isupper() else word
        assert article.lower() == indefinite_article(spoken), e
        if word.isupper() and len(word) > 1 and _letters(e.found).isupper():
            assert article.isupper(), e


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_text_outside_edits_is_untouched(text, apply_all):
    result = _repair(text, apply_all)
    repaired, pos_orig, pos_rep = result.repaired, 0, 0
    for e in sorted(result.applied, key=lambda e: e.start):
        gap = text[pos_orig : e.start]
        assert repaired[pos_rep : pos_rep + len(gap)] == gap
        pos_rep += len(gap)
        assert repaired[pos_rep : pos_rep + len(e.replacement)] == e.replacement
        pos_rep += len(e.replacement)
        pos_orig = e.end
    assert repaired[pos_rep:] == text[pos_orig:]
    assert result.changed == bool(result.applied)


@PROPERTY_SETTINGS
@given(text=damaged_texts())
# Found by hypothesis: an MT punctuation fix widened to the neighbour word ("menace ," ->
# "menace,") overlaps the rule edit on that word and loses (or is held back as a suggestion
# only while the rule's phrase is there); the second run then applies it.
@example(text="\ufeffsafety menace , safety menace")
@example(text="In all probability the safety menace could also be , they said.")
def test_repair_is_idempotent_in_rules_mode(text):
    once = _repair(text).repaired
    twice = _repair(once)
    assert twice.repaired == once, [e for e in twice.applied]


def _letters(s: str) -> str:
    return "".join(c for c in s if c.isalpha())


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_case_is_carried_into_the_replacement(text, apply_all):
    for e in _rule_edits(_repair(text, apply_all).applied):
        found, rep = _letters(e.found), _letters(e.replacement)
        if len(found) > 1 and found.isupper():
            assert rep.isupper(), e
        elif found[:1].isupper():
            assert rep[:1].isupper(), e
        else:
            assert rep[:1].islower(), e


# ---- hard-wrapped text: the same edits as on one line, and the same lines -------------------

# One line break, any convention, with the spaces and tabs that wrapping (fold -s, textwrap,
# indented Markdown or e-mail) leaves around it.
WRAPS = ["\n", "\n", "\r\n", "\r", " \n", "\n  ", "\t\n", " \r\n    ", "\n\t"]
# Plain words at both ends: a phrase becoming one word always has a line to keep its break on.
PLAIN_WORDS = ["the", "officials", "report", "council", "road", "under", "banana", "2020", "long-term"]
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")


@st.composite
def wrapped_texts(draw) -> tuple[str, str]:
    """(text on one line, the same text hard-wrapped): rule phrases (lower or upper case; a
    capital after a line break reads as a sentence start) among clean words, single spaces made
    line breaks at least five words apart, so that no phrase holds two."""
    tokens = [draw(st.sampled_from(PLAIN_WORDS))]
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            phrase = draw(st.sampled_from(FOUND_PHRASES))
            tokens.append(phrase.upper() if draw(st.integers(0, 3)) == 0 else phrase)
        else:
            tokens.append(draw(st.sampled_from(CLEAN_WORDS)))
    tokens.append(draw(st.sampled_from(PLAIN_WORDS)))
    flat = " ".join(tokens)
    pieces, last_break = [], -5
    for k, piece in enumerate(flat.split(" ")):
        if k:
            if k - last_break >= 5 and draw(st.booleans()):
                pieces.append(draw(st.sampled_from(WRAPS)))
                last_break = k
            else:
                pieces.append(" ")
        pieces.append(piece)
    return flat, "".join(pieces)


def _flat(s: str | None) -> str | None:
    return s if s is None else " ".join(s.split())


@PROPERTY_SETTINGS
@given(texts=wrapped_texts(), apply_all=st.booleans())
@example(texts=("the safety menace road", "the safety\nmenace road"), apply_all=False)
@example(texts=("the could also be road", "the could also\r\nbe road"), apply_all=False)
@example(texts=("the in all probability road", "the in all \nprobability road"), apply_all=False)
def test_wrapped_text_gets_the_edits_of_unwrapped_text_and_keeps_its_lines(texts, apply_all):
    flat, wrapped = texts
    one_line = mtfix.repair(flat, tables=(), rules=[CORE_RULES], proposers=["rules"], apply_all=apply_all)
    result = mtfix.repair(wrapped, tables=(), rules=[CORE_RULES], proposers=["rules"], apply_all=apply_all)

    def same(edits):
        return [
            (_flat(e.found), _flat(e.replacement), tuple(map(_flat, e.alternatives)), e.source, e.confidence, e.auto)
            for e in edits
        ]

    assert same(result.edits) == same(one_line.edits)
    assert same(result.applied) == same(one_line.applied)
    assert result.spin_score == one_line.spin_score
    for e in result.edits:
        assert wrapped[e.start : e.end] == e.found, e
    # The same words, and the text does not reflow: every line break kept, no line emptied.
    assert result.repaired.split() == one_line.repaired.split()
    assert _LINE_BREAK_RE.findall(result.repaired) == _LINE_BREAK_RE.findall(wrapped)
    assert "" not in (line.strip() for line in _LINE_BREAK_RE.split(result.repaired))


@PROPERTY_SETTINGS
@given(text=st.text(alphabet="ab \t\n\r>\x0c\u00a0", max_size=30))
def test_joined_text_is_join_wrapped_with_offsets_back(text):
    from mtfix.text import JoinedText, join_wrapped

    joined = JoinedText(text)
    assert joined.text == join_wrapped(text)
    assert joined.text.count("\n\n") == text.count("\n\n")  # blank lines stay
    for pos, ch in enumerate(joined.text):
        orig = joined.original(pos)
        assert text[orig] == ch or (ch == " " and text[orig] in " \t\r\n"), (pos, orig)


# ---- unified diff round trip ----------------------------------------------------------------

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def apply_unified(original: str, patch: str) -> str:
    """A strict applier: every context and removed line must match the original exactly."""
    if not patch:
        return original
    src = _lines(original)
    plines = patch.split("\n")
    assert plines[0].startswith("--- a/") and plines[1].startswith("+++ b/"), patch[:200]
    body: list[tuple[str, str]] = []  # (tag, line) with tag in ' -+@'
    for raw in plines[2:]:
        if raw.startswith("\\"):
            tag, line = body[-1]
            assert line.endswith("\n")
            body[-1] = (tag, line[:-1])
        elif raw.startswith("@@"):
            body.append(("@", raw))
        elif raw:
            body.append((raw[0], raw[1:] + "\n"))
    out: list[str] = []
    pos = 0
    for tag, line in body:
        if tag == "@":
            m = _HUNK_RE.match(line)
            old_start, old_len = int(m.group(1)), int(m.group(2) or 1)
            begin = old_start if old_len == 0 else old_start - 1
            assert begin >= pos
            out.extend(src[pos:begin])
            pos = begin
        elif tag in " -":
            assert src[pos] == line, (src[pos], line)
            if tag == " ":
                out.append(line)
            pos += 1
        else:
            assert tag == "+", tag
            out.append(line)
    out.extend(src[pos:])
    return "".join(out)


@PROPERTY_SETTINGS
@given(text=damaged_texts(), apply_all=st.booleans())
def test_unified_diff_round_trips(text, apply_all):
    result = _repair(text, apply_all)
    patch = unified_diff(result.original, result.repaired, "doc.txt")
    assert (patch == "") == (not result.changed)
    assert apply_unified(result.original, patch) == result.repaired


@pytest.mark.skipif(shutil.which("patch") is None, reason="the `patch` program is not installed")
@settings(max_examples=max(10, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=damaged_texts())
def test_unified_diff_applies_with_patch_program(text):
    result = _repair(text)
    if not result.changed:
        return
    patch = unified_diff(result.original, result.repaired, "doc.txt")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "doc.txt"
        target.write_bytes(result.original.encode("utf-8"))
        proc = subprocess.run(
            ["patch", "-p1", "--batch", "--silent", "--no-backup-if-mismatch", "-d", tmp],
            input=patch.encode("utf-8"),
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert target.read_bytes() == result.repaired.encode("utf-8")


_NOT_PROSE_PIECES = [
    "`", "``", "```", "~~~", "::", ".. code-block:: python", ".. include:: a.rst", ">>> x = 1",
    ">>> print", "](", "[a](b c)", "]:", '[g]: ../a.md "t"', "://", "http://x.org/a.", "www.a.com",
    "@", "a@b.com", "git@h:p/q", "---", "+++", "...", "\n", "\n\n", "\r\n", "    ", "\t", " ",
    "word", "safety menace", "(", ")", "[", "]", ":", ".", "Example", "\ufeff", "=", "1. ", "- ",
]


@PROPERTY_SETTINGS
@given(pieces=st.lists(st.sampled_from(_NOT_PROSE_PIECES), max_size=40))
def test_not_prose_spans_match_the_alternation_of_every_branch(pieces):
    """not_prose_spans leaves out the branches whose marks a text lacks; that must never
    change a span (a branch that could match without its marks would be skipped wrongly)."""
    from mtfix.text import _NOT_PROSE_BRANCHES, _indented_code_spans, _not_prose_re, not_prose_spans

    text = "".join(pieces)
    every_branch = [m.span() for m in _not_prose_re(tuple(range(len(_NOT_PROSE_BRANCHES)))).finditer(text)]
    if "\n    " in text or "\n\t" in text or "\n \t" in text:
        every_branch = sorted(every_branch + _indented_code_spans(text))
    assert not_prose_spans(text) == every_branch
