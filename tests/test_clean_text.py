"""Do no harm: on clean English the default repair applies nothing and suggests almost nothing.

Clean text: the human post-edited English of every MLQE-PE dev pair (detokenised, grouped into
~20-sentence documents; skipped without ../shared) and the clean example(s) in examples/.

The post-edits are not spotless: a handful hold real typos ("the the", "songs,,"), listed
and checked by hand in tests/data/mlqe_pe_dev_typos.tsv. A fix inside one of those is not
harm; any other applied edit is, and fails the test."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import mtfix
from mtfix.text import count_words

MAX_SUGGESTIONS_PER_1000_WORDS = 1.0
CLEAN_EXAMPLES = ["clean_news.txt"]
TYPOS_FILE = Path(__file__).resolve().parent / "data" / "mlqe_pe_dev_typos.tsv"


def known_typos() -> dict[str, list[str]]:
    by_pair: dict[str, list[str]] = {}
    lines = [ln for ln in TYPOS_FILE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    for line in lines[1:]:
        pair, context, _problem = line.split("\t")
        by_pair.setdefault(pair, []).append(context)
    return by_pair


@pytest.mark.parametrize("name", CLEAN_EXAMPLES)
def test_clean_example_comes_back_unchanged(examples_dir, name):
    text = (examples_dir / name).read_text(encoding="utf-8")
    result = mtfix.repair(text)
    assert result.repaired == text, result.applied
    assert result.edits == []


@pytest.fixture(scope="module")
def clean_corpus(clean_pe_documents, examples_dir):
    docs = list(clean_pe_documents)
    docs += [("example", (examples_dir / name).read_text(encoding="utf-8")) for name in CLEAN_EXAMPLES]
    return [(pair, doc, mtfix.repair(doc)) for pair, doc in docs]


def test_clean_corpus_is_large_enough(clean_corpus):
    assert sum(count_words(doc) for _, doc, _ in clean_corpus) >= 20_000


def test_every_known_typo_is_still_in_the_data(clean_pe_documents):
    texts: dict[str, str] = {}
    for pair, doc in clean_pe_documents:
        texts[pair] = texts.get(pair, "") + doc
    for pair, contexts in known_typos().items():
        for context in contexts:
            assert texts[pair].count(context) == 1, (pair, context)


def _excused(pair: str, doc: str, edit, typos: dict[str, list[str]]) -> bool:
    for context in typos.get(pair, ()):
        at = doc.find(context)
        if at >= 0 and at <= edit.start and edit.end <= at + len(context):
            return True
    return False


def test_no_edit_is_applied_to_clean_text(clean_corpus):
    typos = known_typos()
    harmful, typo_fixes = [], 0
    for pair, doc, result in clean_corpus:
        for e in result.applied:
            if _excused(pair, doc, e, typos):
                typo_fixes += 1
            else:
                harmful.append((pair, e.found, e.replacement, e.source, doc[max(0, e.start - 40) : e.end + 40]))
    print(
        f"\nclean corpus: {len(clean_corpus)} documents; {len(harmful)} harmful applied edits; "
        f"{typo_fixes} fixes of known typos in the post-edits"
    )
    assert harmful == []


def test_suggestions_on_clean_text_are_rare(clean_corpus):
    words = sum(count_words(doc) for _, doc, _ in clean_corpus)
    suggested = [(e.found.lower(), e.source) for _, _, r in clean_corpus for e in r.edits if e not in r.applied]
    rate = len(suggested) * 1000 / words
    print(f"\nclean corpus: {words} words, {len(suggested)} suggestions ({rate:.2f} per 1,000 words)")
    assert rate <= MAX_SUGGESTIONS_PER_1000_WORDS, Counter(suggested).most_common(20)
