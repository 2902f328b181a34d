"""The spinner simulator (mtfix.devdata) and the committed dev data (bench/data)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtfix import devdata
from mtfix.devdata import FUNCTION_SWAPS, Spinner, SpinnerProfile, Thesaurus, thesaurus_available

REPO = Path(__file__).resolve().parents[1]
TINY = """UTF-8
threat|1
(noun)|menace
say|2
(verb)|state
(verb)|suppose
expert|1
(noun)|specialist|person (generic term)
security|1
(noun)|safety (generic term)|insecurity (antonym)
warn|1
(verb)|caution
report|1
(noun)|account
"""
EVERYTHING = SpinnerProfile(seed=1, content_rate=1.0, function_rate=1.0, first_sense=1.0, rarest=0.0, skip=0.0)


@pytest.fixture(scope="module")
def tiny():
    return Thesaurus.parse(TINY)


def swaps(result):
    return [(s.original, s.found) for s in result.spins]


def test_thesaurus_parse_keeps_relations_and_pos(tiny):
    assert [s.pos for s in tiny.senses("say", "VERB")] == ["VERB", "VERB"]
    assert tiny.senses("security", "NOUN")[0].terms == (("safety", "generic term"), ("insecurity", "antonym"))
    assert tiny.senses("threat", "VERB") == []


def test_swaps_are_inflected_and_antonyms_never_used(tiny):
    text = "Officials said the experts saw security threats until recently."
    r = Spinner(tiny, EVERYTHING).spin(text)
    assert ("said", "stated") in swaps(r)
    assert ("experts", "specialists") in swaps(r)
    assert ("threats", "menaces") in swaps(r)
    assert ("security", "safety") in swaps(r)
    assert dict(swaps(r))["until recently"] in dict(FUNCTION_SWAPS)["until recently"]
    assert "insecurity" not in r.damaged
    for s in r.spins:
        assert r.damaged[s.start : s.end] == s.found
    assert r.reference == text


def test_names_numbers_and_quotations_survive(tiny):
    text = 'Warn Smith, the Report said. On 5 May he said "the threat is real" to experts.'
    r = Spinner(tiny, EVERYTHING).spin(text)
    assert '"the threat is real"' in r.damaged
    assert "Warn Smith, the Report stated." in r.damaged  # "Warn Smith" at a sentence start: a name
    assert "5 May" in r.damaged
    assert ("experts", "specialists") in swaps(r)


def test_article_follows_the_new_word(tiny):
    r = Spinner(tiny, EVERYTHING).spin("It was a report from Paris.")
    assert r.damaged == "It was an account from Paris."


def test_deterministic_and_seeded(tiny):
    text = "The experts said a report warned of a threat. The experts said so again, under pressure."
    half = SpinnerProfile(seed=3, content_rate=0.5, function_rate=0.5, skip=0.2)
    a = Spinner(tiny, half).spin(text, "doc").damaged
    assert a == Spinner(tiny, half).spin(text, "doc").damaged
    outputs = {
        Spinner(tiny, SpinnerProfile(seed=s, content_rate=0.5, function_rate=0.5)).spin(text).damaged for s in range(12)
    }
    assert len(outputs) > 1


def test_rate_zero_changes_nothing(tiny):
    text = "Officials said the experts saw security threats until recently."
    r = Spinner(tiny, SpinnerProfile(content_rate=0.0, function_rate=0.0)).spin(text)
    assert r.damaged == text and r.spins == []


def test_without_wordfreq_the_choice_is_still_made(tiny, monkeypatch):
    monkeypatch.setattr(devdata, "_rarity", lambda: None)
    r = Spinner(tiny, EVERYTHING).spin("The experts agreed.")
    assert r.damaged in ("The specialists agreed.", "The persons agreed.")


def test_simulator_never_reads_the_repair_rule_tables():
    code = "import sys, mtfix.devdata; print('mtfix.ruletable' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.skipif(not thesaurus_available(), reason="mythes-en-us thesaurus not installed")
def test_real_thesaurus_spins_news_english():
    th = Thesaurus.load()
    text = "The minister said the agreement would support jobs and reduce the threat of strikes."
    profile = SpinnerProfile(seed=7, content_rate=0.8, function_rate=1.0, skip=0.0)
    a = Spinner(th, profile).spin(text, "k")
    assert a.spins and a.damaged != text
    assert a.damaged == Spinner(th, profile).spin(text, "k").damaged


@pytest.mark.parametrize("split", ["dev", "test"])
def test_committed_dev_data(split):
    path = REPO / "bench" / "data" / f"{split}.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert sum(r["sentences"] for r in rows) >= 2000
    assert len({r["id"] for r in rows}) == len(rows)
    assert not any("/test" in r["source"] for r in rows)  # mlqe-pe test is for the do-no-harm bench only
    spun = [r for r in rows if r["spins"]]
    assert len(spun) > len(rows) / 2 and any(r["damaged"] == r["reference"] for r in rows)
    for r in spun:
        for s in r["spins"]:
            assert r["damaged"][s["start"] : s["end"]] == s["found"]


def test_dev_and_test_share_no_documents():
    refs = {}
    for split in ("dev", "test"):
        path = REPO / "bench" / "data" / f"{split}.jsonl"
        refs[split] = {json.loads(x)["reference"] for x in path.read_text(encoding="utf-8").splitlines()}
    assert not refs["dev"] & refs["test"]


def test_slurs_profanity_and_sexual_senses_are_never_chosen():
    th = Thesaurus.parse("UTF-8\nknow|1\n(verb)|have intercourse|hump\nlove|1\n(verb)|make love|cherish\n")
    r = Spinner(th, EVERYTHING).spin("We know it. We love it.")
    assert r.damaged == "We know it. We cherish it."
