"""Repair stays linear in a document's length: no stage compares each edit with every fix
or every changed span of the document (a 2 MB spun file once took minutes that way).

Nothing here times anything (bench/speed.py measures speed); the tests count the steps the
pipeline takes, or check a helper's answers against the plain definition."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import mtfix
from mtfix import pipeline
from mtfix.edit import Edit
from mtfix.options import Options
from mtfix.pipeline import Context, _clear_of, _rank, _resolve_group, compose, resolve
from mtfix.ruletable import RuleSet
from mtfix.text import Document

CORE_RULES = str(Path(__file__).resolve().parent / "data" / "core_rules.tsv")
# Every paragraph has sure fixes, a fix whose output a re-check fixes again (a doubled
# "security", merged into the first fix by `compose`) and a suggestion ("huge").
PARAGRAPH = (
    "In all probability the safety menace security safety menace grew till not too long ago. "
    "A huge storm came.\n\n"
)


class _CountingSpans(tuple):
    """A tuple of spans that counts the spans read out of it."""

    reads = 0

    def __iter__(self):
        for span in super().__iter__():
            type(self).reads += 1
            yield span


def _context(focus) -> Context:
    return Context(doc=Document(""), options=Options(), ruleset=RuleSet(rules=[]), focus=focus)


def test_focus_spans_are_read_once_not_once_per_edit():
    """A re-check asks `in_focus` for every edit of its window, and one window can hold a
    whole spun document's fixes: the spans are indexed once, not scanned per edit."""
    spans = _CountingSpans((i * 10, i * 10 + 3) for i in range(2000))
    _CountingSpans.reads = 0
    ctx = _context(spans)
    hits = sum(ctx.in_focus(p, p + 1) for p in range(0, 20000, 7))
    assert hits > 0
    assert _CountingSpans.reads <= 2 * len(spans), _CountingSpans.reads


def test_in_focus_matches_its_definition():
    """Touching a focus span, edges included (an edit may start where a change ends)."""
    rng = random.Random(7)
    for _ in range(200):
        spans = []
        for _ in range(rng.randint(0, 8)):
            a = rng.randint(0, 60)
            spans.append((a, a + rng.randint(0, 6)))  # empty, touching and overlapping spans too
        ctx = _context(tuple(spans))
        for _ in range(20):
            s = rng.randint(0, 70)
            e = s + rng.randint(0, 5)
            want = any(s <= c1 and c0 <= e for c0, c1 in spans)
            assert ctx.in_focus(s, e) is want, (spans, s, e)
    assert _context(None).in_focus(3, 4)


def _edit(text: str, start: int, end: int, replacement: str, confidence: float, auto: bool, source: str) -> Edit:
    return Edit(start, end, text[start:end], replacement, "synonym-swap", source, confidence, auto, "test")


def test_resolve_by_groups_equals_resolving_everything_at_once():
    """`resolve` resolves each run of overlapping edits by itself; the result must be what
    one pass over all the edits gives (merges and replacements included)."""
    rng = random.Random(11)
    text = "abcdefghij klmnopqrst uvwxyz " * 4
    for _ in range(300):
        edits = []
        for _ in range(rng.randint(0, 12)):
            a = rng.randint(0, len(text) - 1)
            b = min(len(text), a + rng.randint(0, 8))
            found = text[a:b]
            rep = rng.choice([found.upper(), found[:1] + "X" + found[2:], "", "new", found + "s"])
            edits.append(
                _edit(text, a, b, rep, rng.choice([0.3, 0.6, 0.95]), rng.random() < 0.5, rng.choice("pq"))
            )
        for t in (None, text):
            whole = _resolve_group(sorted(edits, key=_rank), t)
            assert resolve(edits, t) == sorted(whole, key=lambda e: (e.start, e.end))


def test_clear_of_matches_its_definition():
    rng = random.Random(5)
    text = "x" * 80
    for _ in range(300):
        applied = []
        pos = 0
        while pos < 70 and rng.random() < 0.8:
            a = pos + rng.randint(0, 6)
            b = a + rng.randint(0, 4)
            applied.append(_edit(text, a, b, "y", 0.95, True, "p"))
            pos = b + (b == a)  # applied fixes never overlap
        edits = [
            _edit(text, a, a + rng.randint(0, 4), "z", 0.4, False, "q")
            for a in (rng.randint(0, 75) for _ in range(10))
        ] + applied[:2]
        want = [e for e in edits if e not in applied and not any(e.overlaps(a) for a in applied)]
        assert _clear_of(edits, applied) == want


def test_compose_merges_second_pass_edits_into_the_fixes_they_touch():
    original = "aa bb cc dd"
    first = [_edit(original, 3, 5, "BBB", 0.95, True, "p"), _edit(original, 9, 11, "D", 0.95, True, "p")]
    repaired = "aa BBB cc D"
    second = [
        Edit(0, 2, "aa", "A", "mt-other", "q", 0.9, True, "r"),  # in unchanged text: shifted
        Edit(5, 8, "B c", "b-c", "mt-other", "q", 0.9, True, "r"),  # inside and after "BBB"
        Edit(10, 11, "D", "DD", "mt-other", "q", 0.9, True, "r"),  # on "D"
    ]
    out = compose(original, first, repaired, second)
    assert pipeline.apply(original, out) == pipeline.apply(repaired, second) == "A BBb-cc DD"
    assert [(e.start, e.end, e.replacement) for e in out] == [(0, 2, "A"), (3, 7, "BBb-c"), (9, 11, "DD")]


def _pipeline_steps(text: str) -> int:
    """The lines of mtfix/pipeline.py a repair executes (each loop iteration counts)."""
    steps = 0
    target = pipeline.__file__

    def local(frame, event, arg):
        nonlocal steps
        if event == "line":
            steps += 1
        return local

    def glob(frame, event, arg):
        return local if frame.f_code.co_filename == target else None

    previous = sys.gettrace()  # a coverage tool's, say
    sys.settrace(glob)
    try:
        mtfix.repair(text, tables=(), rules=[CORE_RULES])
    finally:
        sys.settrace(previous)
    return steps


def test_pipeline_steps_grow_linearly_with_the_document():
    """Four times the text, about four times the steps: a stage that scans every fix (or
    every changed span) for each edit would take about sixteen."""
    result = mtfix.repair(PARAGRAPH * 2, tables=(), rules=[CORE_RULES])
    assert any("; then " in e.reason for e in result.applied), "the text no longer needs a re-check"
    assert any(e not in result.applied for e in result.edits), "the text no longer has a suggestion"
    small, large = _pipeline_steps(PARAGRAPH * 40), _pipeline_steps(PARAGRAPH * 160)
    assert large < 5 * small, (small, large)
