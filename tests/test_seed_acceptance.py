"""Acceptance on the spun seed (../shared/seeds/000_*.txt): the default repair restores the
sure keys exactly and leaves names, numbers and quotations alone.

Sure keys: confidence 'original-seen', or 'inferred' with certainty 'high' (109 of them).
A key counts as restored when an applied edit covers exactly its span (or its span plus a
directly preceding a/an that the edit re-agrees) and replaces it with `expected`, compared
case-insensitively with apostrophes normalised."""

from __future__ import annotations

import json
import re

import pytest

import mtfix

SEED = "000_82abaa1a0cd5630b"
MIN_RESTORED = 25


def _norm(s: str) -> str:
    return s.replace("\u2019", "'").replace("\u2018", "'").casefold()


def _sure(key: dict) -> bool:
    return key.get("confidence") == "original-seen" or key.get("certainty") == "high"


def _restores(edit, key, text: str) -> bool:
    if edit.end != key["end"] or edit.replacement is None:
        return False
    if edit.start == key["start"]:
        return _norm(edit.replacement) == _norm(key["expected"])
    article = re.fullmatch(r"(an?)(\s+)", text[edit.start : key["start"]], re.IGNORECASE)
    if not article:
        return False
    new_article, _, rest = edit.replacement.partition(" ")
    return new_article.lower() in ("a", "an") and _norm(rest.lstrip()) == _norm(key["expected"])


@pytest.fixture(scope="module")
def seed(seeds_dir):
    text_path, key_path = seeds_dir / f"{SEED}.txt", seeds_dir / f"{SEED}.key.json"
    if not (text_path.is_file() and key_path.is_file()):
        pytest.skip(f"seed {SEED} not in {seeds_dir}")
    text = text_path.read_text(encoding="utf-8")
    key = json.loads(key_path.read_text(encoding="utf-8"))
    for k in key["keys"]:
        assert text[k["start"] : k["end"]] == k["found"], k  # the key still fits the text
    return text, key, mtfix.repair(text)


def test_sure_keys_are_restored(seed):
    text, key, result = seed
    sure = [k for k in key["keys"] if _sure(k)]
    assert len(sure) == 109
    restored = [k for k in sure if any(_restores(e, k, text) for e in result.applied)]
    print(
        f"\nseed {SEED}: {len(restored)}/{len(sure)} sure keys restored exactly; "
        f"{len(result.applied)} edits applied, spin score {result.spin_score:.2f}"
    )
    assert len(restored) >= MIN_RESTORED, f"only {len(restored)} of {len(sure)} sure keys restored"


def test_unchanged_details_are_untouched(seed):
    text, key, result = seed
    for detail in key["unchanged_detail"]:
        assert text[detail["start"] : detail["end"]] == detail["phrase"], detail
        hits = [e for e in result.applied if e.start < detail["end"] and detail["start"] < e.end]
        assert not hits, (detail["phrase"], hits)
