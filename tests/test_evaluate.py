"""`mtfix eval` metrics on hand-made pairs whose numbers are worked out by hand below.

The repair is replaced by a stub returning hand-written edits, so the expected values do not
move when the rule tables change; the CLI tests at the end run the real repair and check only
what does not depend on it.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jiwer")
pytest.importorskip("sacrebleu")

from mtfix.cli import main  # noqa: E402
from mtfix.edit import Edit, Result  # noqa: E402
from mtfix.evaluate import clean_report, evaluate_pairs, summarise, tokenize, word_diff  # noqa: E402
from mtfix.options import Options  # noqa: E402
from mtfix.pipeline import apply  # noqa: E402


def edit(text, found, replacement, kind="synonym-swap", nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(found, start + 1)
    return Edit(start, start + len(found), found, replacement, kind, "test", 0.9, True, "hand-made")


def stub_repair(plan):
    """A repair that applies the edits planned for each damaged text."""

    def repair(text, options):
        edits = sorted(plan.get(text, []), key=lambda e: e.start)
        return Result(original=text, edits=edits, repaired=apply(text, edits), applied=edits, signature="stub")

    return repair


D1 = "Officials mentioned the safety menace could also be real."
R1 = "Officials said the security threat may be real."
D2 = "The experts noticed a big problem."
R2 = "The experts saw a big problem."
D3 = "Nothing changes here."
PLAN = {
    D1: [
        edit(D1, "mentioned", "said"),
        edit(D1, "safety menace", "security threat"),
        edit(D1, "could also be", "may be"),
    ],
    D2: [
        edit(D2, "experts", "consultants", kind="mt-other"),  # changes a word that was right: harmful
        edit(D2, "noticed", "observed", kind="mt-other"),  # changes a wrong word, still wrong: wrong
    ],
}
PAIRS = [
    {"id": "one", "damaged": D1, "reference": R1},
    {"id": "two", "damaged": D2, "reference": R2, "note": "carried"},
    {"id": "three", "damaged": D3, "reference": D3},
]


@pytest.fixture(scope="module")
def report():
    scores = evaluate_pairs(PAIRS, Options(), repair=stub_repair(PLAN))
    return scores, summarise(scores)


def test_tokenisation_is_lower_case_with_punctuation_split_off():
    words, spans = tokenize("U.S. officials don\u2019t “Quote” long-term")
    assert words == ["u", ".", "s", ".", "officials", "don't", '"', "quote", '"', "long-term"]
    assert spans[4] == (5, 14)


def test_word_error_rates(report):
    # Reference tokens: 9 (officials said the security threat may be real .) + 7 + 4 = 20.
    # Damaged errors: pair 1 has 3 substitutions + (could also / may) 1 sub + 1 insertion = 5;
    # pair 2 has noticed/saw = 1. Repaired errors: pair 1 none; pair 2 consultants, observed = 2.
    _, r = report
    assert r["words"] == 20
    assert r["wer_before"] == pytest.approx(6 / 20)
    assert r["wer_after"] == pytest.approx(2 / 20)


def test_edit_verdicts_precision_recall_and_harm(report):
    scores, r = report
    assert [j.verdict for j in scores[0].judged] == ["correct", "correct", "correct"]
    assert [j.verdict for j in scores[1].judged] == ["harmful", "wrong"]
    assert r["edits"] == 5
    assert r["edit_precision"] == pytest.approx(3 / 5)
    # Correct edits removed 1 + 2 + 2 of the 6 damaged-vs-reference word errors.
    assert r["edit_recall"] == pytest.approx(5 / 6, abs=1e-4)
    assert r["harmful_edits"] == 1 and r["wrong_edits"] == 1
    assert r["sentences_improved"] == 1 and r["sentences_worsened"] == 1
    assert scores[0].judged[2].reference == "may be"


def test_per_kind_rows_apply_only_that_kinds_edits(report):
    _, r = report
    syn, mt = r["by_kind"]["synonym-swap"], r["by_kind"]["mt-other"]
    assert (syn["edits"], syn["edit_precision"], syn["harmful_edits"]) == (3, 1.0, 0)
    assert syn["wer_after"] == pytest.approx(1 / 20)  # pair 2 keeps "noticed"
    assert syn["edit_recall"] == pytest.approx(5 / 6, abs=1e-4)
    assert (mt["edits"], mt["edit_precision"], mt["edit_recall"]) == (2, 0.0, 0.0)
    assert mt["wer_after"] == pytest.approx(7 / 20)  # pair 1 untouched (5) + pair 2 (2)
    assert (mt["sentences_improved"], mt["sentences_worsened"]) == (0, 1)


def test_ter_and_chrf_match_sacrebleu_corpus_scores(report):
    from sacrebleu.metrics import CHRF, TER

    scores, r = report
    refs = [p["reference"] for p in PAIRS]
    hyps = [s.repaired for s in scores]
    assert r["ter_before"] == pytest.approx(TER().corpus_score([p["damaged"] for p in PAIRS], [refs]).score, abs=0.01)
    assert r["ter_after"] == pytest.approx(TER().corpus_score(hyps, [refs]).score, abs=0.01)
    assert r["chrf_after"] == pytest.approx(CHRF().corpus_score(hyps, [refs]).score, abs=0.01)


def test_deletion_insertion_and_case_only_edits():
    d1, r1 = "He went to the the market.", "He went to the market."
    d2, r2 = "She said it was fine.", "She said that it was fine."
    d3 = "hello world."
    plan = {
        d1: [Edit(14, 18, " the", "", "mt-other", "t", 0.9, True, "")],
        d2: [Edit(9, 9, "", "that ", "mt-other", "t", 0.9, True, "")],
        d3: [edit(d3, "hello", "Hello", kind="mt-boundary")],
    }
    pairs = [
        {"damaged": d1, "reference": r1},
        {"damaged": d2, "reference": r2},
        {"damaged": d3, "reference": "Hello world."},
    ]
    scores = evaluate_pairs(pairs, Options(), repair=stub_repair(plan))
    assert [s.judged[0].verdict for s in scores] == ["correct", "correct", "neutral"]
    r = summarise(scores, with_ter=False)
    assert r["wer_after"] == 0.0 and r["edit_recall"] == 1.0
    assert r["edit_precision"] == 1.0 and r["neutral_edits"] == 1  # neutral edits are not judged


def test_an_edit_closer_to_the_reference_but_not_exact_is_partial():
    damaged, reference = "Till not too long ago it rained.", "Until recently it rained."
    plan = {damaged: [edit(damaged, "Till not too long ago", "Until lately")]}
    scores = evaluate_pairs([{"damaged": damaged, "reference": reference}], Options(), repair=stub_repair(plan))
    r = summarise(scores, with_ter=False)
    # 5 errors before (till/until, not/recently, too long ago extra), 1 after (lately/recently).
    assert scores[0].judged[0].verdict == "partial" and scores[0].judged[0].reference == "until recently"
    assert (r["wer_before"], r["wer_after"]) == (5 / 5, 1 / 5)
    assert r["edit_precision"] == 0.0 and r["edit_recall"] == 0.0 and r["partial_edits"] == 1


def test_an_edit_that_drops_a_matching_word_is_harmful_even_if_its_output_matches():
    damaged = reference = "It closed at 5 p.m.. Then it rained."
    plan = {damaged: [edit(damaged, "p.m..", "p.m.", kind="mt-other")]}
    scores = evaluate_pairs([{"damaged": damaged, "reference": reference}], Options(), repair=stub_repair(plan))
    assert scores[0].judged[0].verdict == "harmful"


def test_a_document_is_repaired_whole_and_sentences_counted_inside_it():
    damaged = "It was a menace. Nothing else.\n\nThe safety plan worked."
    reference = "It was a threat. Nothing else.\n\nThe security plan worked."
    seen = []

    def repair(text, options):
        seen.append(text)
        return stub_repair({damaged: [edit(damaged, "menace", "threat")]})(text, options)

    scores = evaluate_pairs([{"damaged": damaged, "reference": reference}], Options(), repair=repair)
    assert seen == [damaged]
    assert (scores[0].sentences, scores[0].improved, scores[0].worsened) == (3, 1, 0)
    assert word_diff(reference, scores[0].repaired) == ["... else . the [-security-] {+safety+} plan worked . ..."]


def test_clean_report_counts_every_applied_edit_as_a_false_positive():
    text = "The experts noticed a problem."
    r = clean_report([("doc", text)], Options(), repair=stub_repair({text: [edit(text, "noticed", "saw")]}))
    assert (r["edits"], r["words"], r["edits_per_1000_words"]) == (1, 5, 200.0)
    assert r["edit_list"][0]["found"] == "noticed" and "experts noticed" in r["edit_list"][0]["context"]


# ---- the command, with the real repair: only repair-independent numbers are checked


def run_cli(args, capsys):
    code = main(["eval", "--no-config", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_refuses_an_unwritable_pairs_out_before_repairing(tmp_path, capsys, monkeypatch):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(p) for p in PAIRS) + "\n", encoding="utf-8")
    repaired = []
    monkeypatch.setattr("mtfix.evaluate.command.evaluate_pairs", lambda *a, **k: repaired.append(1) or [])
    code, out, err = run_cli([str(pairs), "--pairs-out", str(tmp_path / "missing" / "x.jsonl")], capsys)
    assert code == 3 and out == "" and not repaired
    assert err.count("\n") == 1 and "cannot write (no such directory" in err


def test_cli_json_from_jsonl_carries_extra_fields(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(p) for p in PAIRS) + "\n", encoding="utf-8")
    out_pairs = tmp_path / "per-pair.jsonl"
    code, out, _ = run_cli([str(pairs), "--format", "json", "--pairs-out", str(out_pairs)], capsys)
    assert code == 0
    r = json.loads(out)
    assert r["words"] == 20 and r["wer_before"] == pytest.approx(0.3)
    for key in (
        "wer_after",
        "ter_before",
        "chrf_after",
        "edits",
        "edit_precision",
        "edit_recall",
        "harmful_edits",
        "sentences_improved",
        "sentences_worsened",
        "signature",
        "by_kind",
    ):
        assert key in r
    assert r["signature"].startswith("mtfix:") and "rules:" in r["signature"]
    rows = [json.loads(x) for x in out_pairs.read_text().splitlines()]
    assert rows[1]["id"] == "two" and rows[1]["note"] == "carried" and rows[1]["reference"] == R2


def test_cli_parallel_files_and_clean(tmp_path, capsys):
    (tmp_path / "d.txt").write_text(f"{D2}\n{D3}\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text(f"{R2}\n{D3}\n", encoding="utf-8")
    (tmp_path / "clean.txt").write_text("A plain sentence about the weather.\n", encoding="utf-8")
    args = [
        "--damaged",
        str(tmp_path / "d.txt"),
        "--reference",
        str(tmp_path / "r.txt"),
        "--clean",
        str(tmp_path / "clean.txt"),
        "--format",
        "json",
        "--no-ter",
    ]
    code, out, _ = run_cli(args, capsys)
    r = json.loads(out)
    assert code == 0 and r["words"] == 11 and r["wer_before"] == pytest.approx(1 / 11, abs=1e-4)
    assert r["clean"]["words"] == 6 and "edits_per_1000_words" in r["clean"]


def test_cli_text_report_states_the_tokenisation(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps(PAIRS[2]) + "\n", encoding="utf-8")
    code, out, _ = run_cli([str(pairs), "--show", "1"], capsys)
    assert code == 0 and "tokenisation for WER: lower-case" in out and "signature: mtfix:" in out


@pytest.mark.parametrize(
    "content, message",
    [('{"damaged": "a"}\n', "missing string field(s) reference"), ("not json\n", ":1: not valid JSON")],
)
def test_cli_bad_jsonl_is_an_input_error(tmp_path, capsys, content, message):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(content, encoding="utf-8")
    code, _, err = run_cli([str(pairs)], capsys)
    assert code == 3 and message in err


def test_cli_usage_errors(tmp_path, capsys):
    (tmp_path / "d.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("a\n", encoding="utf-8")
    assert run_cli([], capsys)[0] == 2
    assert run_cli(["--damaged", str(tmp_path / "d.txt")], capsys)[0] == 2
    code, _, err = run_cli(["--damaged", str(tmp_path / "d.txt"), "--reference", str(tmp_path / "r.txt")], capsys)
    assert code == 3 and "has 2 lines" in err


def test_cli_clean_jsonl_lists_each_document(tmp_path, capsys):
    clean = tmp_path / "clean.jsonl"
    rows = [{"id": "a", "text": "The weather was fine all week."}, {"id": "b", "reference": "Prices rose in May."}]
    clean.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = run_cli(["--clean", str(clean), "--format", "json"], capsys)
    r = json.loads(out)
    assert code == 0 and r["clean"]["words"] == 10 and "wer_before" not in r
    clean.write_text('{"id": "c", "body": "x"}\n', encoding="utf-8")
    code, _, err = run_cli(["--clean", str(clean)], capsys)
    assert code == 3 and "record 1: no text" in err


# ---- properties: exact inverse edits are all correct; edits on clean text are all harmful

VOCAB = ["the", "a", "cat", "dog", "sat", "on", "mat", "could also", "said", ","]


@st.composite
def damaged_pairs(draw):
    ref_words = draw(st.lists(st.sampled_from([w for w in VOCAB if " " not in w]), min_size=3, max_size=14))
    reference = " ".join(ref_words) + "."
    positions = sorted(draw(st.sets(st.integers(0, len(ref_words) - 1), max_size=4)))
    positions = [p for i, p in enumerate(positions) if i == 0 or p - positions[i - 1] > 1]  # edits never touch
    words, plan = list(ref_words), []
    for p in positions:
        words[p] = draw(st.sampled_from([w for w in VOCAB if w != ref_words[p]]))
    damaged = " ".join(words) + "."
    offset = 0
    for i, w in enumerate(words):
        if i in positions:
            plan.append(Edit(offset, offset + len(w), w, ref_words[i], "synonym-swap", "t", 0.9, True, ""))
        offset += len(w) + 1
    return damaged, reference, plan


@settings(max_examples=200, deadline=None)
@given(damaged_pairs())
def test_exact_inverse_edits_are_all_correct(case):
    damaged, reference, plan = case
    scores = evaluate_pairs(
        [{"damaged": damaged, "reference": reference}], Options(), repair=stub_repair({damaged: plan})
    )
    r = summarise(scores, with_ter=False)
    assert scores[0].repaired == reference
    assert [j.verdict for j in scores[0].judged] == ["correct"] * len(plan)
    assert r["wer_after"] == 0.0 and r["harmful_edits"] == 0
    if plan:
        assert r["edit_recall"] == 1.0 and r["edit_precision"] == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VOCAB[:7]), min_size=3, max_size=14), st.data())
def test_edits_on_clean_text_are_all_harmful(words, data):
    reference = " ".join(words) + "."
    positions = sorted(data.draw(st.sets(st.integers(0, len(words) - 1), min_size=1, max_size=4)))
    positions = [p for i, p in enumerate(positions) if i == 0 or p - positions[i - 1] > 1]
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    edits = [
        Edit(starts[p], starts[p] + len(words[p]), words[p], data.draw(st.sampled_from([w for w in VOCAB if w != words[p]])),
             "mt-other", "t", 0.9, True, "")
        for p in positions
    ]  # fmt: skip
    scores = evaluate_pairs(
        [{"damaged": reference, "reference": reference}], Options(), repair=stub_repair({reference: edits})
    )
    r = summarise(scores, with_ter=False)
    assert [j.verdict for j in scores[0].judged] == ["harmful"] * len(edits)
    assert r["edit_precision"] == 0.0 and r["wer_before"] == 0.0 and r["wer_after"] > 0
    assert r["sentences_worsened"] == 1 and r["edit_recall"] is None


def _key(text: str, found: str, expected: str, nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(found, start + 1)
    return {"start": start, "end": start + len(found), "found": found, "expected": expected}


def test_answer_key_judge():
    """The one judge behind bench/quality.py, bench/check_rules.py and the seed tests."""
    from mtfix.evaluate.keys import judge_key

    text = "They had been dedicated by a consultant and the main safety menace."
    committed = _key(text, "had been dedicated", "were committed")
    both = [edit(text, "had been", "were"), edit(text, "dedicated", "committed")]
    assert judge_key(text, committed, both) == "restored"  # two edits make one key right
    assert judge_key(text, committed, both[1:]) == "improved"
    assert judge_key(text, committed, [edit(text, "dedicated", "devoted")]) == "wrong"
    assert judge_key(text, committed, []) == "missed"
    expert = _key(text, "consultant", "expert")
    # The edit matched the article too, and re-agreed it: still exactly the key.
    assert judge_key(text, expert, [edit(text, "a consultant", "an expert")]) == "restored"
    # ...but a changed word of context is not.
    assert judge_key(text, expert, [edit(text, "by a consultant", "with an expert")]) != "restored"
    # Edits away from the key do not count for it.
    assert judge_key(text, expert, [edit(text, "main", "leading")]) == "missed"
    # One edit over two keys restores each only as far as it reads right with the other as was.
    threat = _key(text, "menace", "threat")
    merged = [edit(text, "safety menace", "security threat")]
    assert judge_key(text, threat, merged) != "restored"
    assert judge_key(text, threat, [edit(text, "safety menace", "safety threat")]) == "restored"


def test_cli_pairs_split_lines_as_editors_do(tmp_path, capsys):
    """Only \n, \r\n and \r end a line (str.splitlines would also split at U+2028 and shift every
    later pair); a byte-order mark and blank lines at the end do not count."""
    (tmp_path / "d.txt").write_text("\ufeffOne\u2028line.\r\nWe saw the the house.\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("One\u2028line.\nWe saw the house.\n\n\n", encoding="utf-8")
    code, out, err = run_cli(
        ["--mode", "rules", "--damaged", str(tmp_path / "d.txt"), "--reference", str(tmp_path / "r.txt"),
         "--format", "json"],
        capsys,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["pairs"] == 2 and report["wer_before"] > 0 and report["wer_after"] == 0.0


def test_cli_jsonl_with_a_byte_order_mark_and_a_line_separator_inside_a_string(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    row = {"damaged": "We saw the the house.\u2028Then.", "reference": "We saw the house.\u2028Then."}
    pairs.write_text("\ufeff" + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, err = run_cli(["--mode", "rules", str(pairs), "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["pairs"] == 1


def test_cli_an_empty_last_segment_is_a_pair_and_one_extra_blank_line_no_mismatch(tmp_path, capsys):
    (tmp_path / "d.txt").write_text("We saw the the house.\n\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("We saw the house.\nThen.\n", encoding="utf-8")
    (tmp_path / "r1.txt").write_text("We saw the house.\n", encoding="utf-8")
    args = ["--mode", "rules", "--format", "json", "--damaged", str(tmp_path / "d.txt"), "--reference"]
    code, out, err = run_cli([*args, str(tmp_path / "r.txt")], capsys)
    assert code == 0, err  # two lines each: the empty damaged segment pairs with "Then."
    code, out, err = run_cli([*args, str(tmp_path / "r1.txt")], capsys)
    assert code == 0 and json.loads(out)["pairs"] == 1, err
