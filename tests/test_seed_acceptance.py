"""Acceptance on the spun seed (../shared/seeds/000_*.txt): the default repair restores the
sure keys exactly and leaves names, numbers and quotations alone.

Sure keys and "restored exactly" as bench/quality.py counts them (`mtfix.evaluate.keys`):
109 sure keys; a key is restored when the applied edits touching it make it read `expected`."""

from __future__ import annotations

import json

import pytest

import mtfix
from mtfix.evaluate.keys import is_sure, judge_key

SEED = "000_82abaa1a0cd5630b"
MIN_RESTORED = 88  # the neural-detection issue's target, 80% of 109; measured 92


def _restored(text: str, key: dict, applied) -> bool:
    return judge_key(text, key, applied) == "restored"


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
    sure = [k for k in key["keys"] if is_sure(k)]
    assert len(sure) == 109
    restored = [k for k in sure if _restored(text, k, result.applied)]
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


def test_fixing_the_seed_twice_equals_fixing_it_once(seed):
    """black's rule: a second run changes nothing. A site beside a fix is weighed by the
    model in the fixed wording the first time round, as a second run would weigh it."""
    text = seed[0]
    for mode in ("rules", "full"):
        once = mtfix.repair(text, mode=mode).repaired
        again = mtfix.repair(once, mode=mode)
        assert again.repaired == once, (mode, [(e.found, e.replacement, e.source) for e in again.applied])


def test_fixing_the_storm_example_twice_equals_fixing_it_once(examples_dir):
    # "houses with out energy": the fix of "with out" made "energy" -> "electricity" sure on a
    # second run when the model had weighed it in the damaged wording.
    text = (examples_dir / "spun_news_storm.txt").read_text(encoding="utf-8")
    once = mtfix.repair(text, mode="full").repaired
    again = mtfix.repair(once, mode="full")
    assert again.repaired == once, [(e.found, e.replacement, e.source) for e in again.applied]
