"""A rule never rewrites a rule's output: not within one repair (the re-checks around fixes
leave rules' output alone) and not across repairs (a user table whose output an applying rule
matches is refused when loaded, as the built-in tables are by tests/test_rule_tables.py), so
fixing twice equals fixing once."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

import mtfix
from mtfix import pipeline
from mtfix.conditions import CLASS_WITNESS, CLASSES, parse_conditions
from mtfix.io import ExitCode
from mtfix.options import Options
from mtfix.rulematch import propose_rules
from mtfix.ruletable import RuleFileError, RuleSet, load_rules, parse_table, rule_chains
from mtfix.text import Document

HEADER = "found\treplacement\tpos\tkind\tapply\tcontext\tsource\tnote\n"
# The user audit's table: each replacement contains its own found phrase.
HOUSE = (
    HEADER
    + "Acme\tAcme Corp\tnoun\tsynonym-swap\tauto\t\thouse\t\n"
    + "Inc\tInc.\tnoun\tsynonym-swap\tauto\t\thouse\t\n"
)
TEXT = "We met Acme yesterday. Widgets Inc sold well.\n"
FIXED = "We met Acme Corp yesterday. Widgets Inc. sold well.\n"


def _table(tmp_path: Path, text: str, name: str = "house.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _unchecked(monkeypatch, text: str, table: str = "house") -> None:
    """Runs use these rules as they are, without the load-time check."""
    ruleset = RuleSet(rules=parse_table(text, table, f"{table}.tsv"))
    monkeypatch.setattr(pipeline, "ruleset_for", lambda options: ruleset)


def test_a_repair_never_rewrites_its_own_fixes(monkeypatch):
    """The re-check around "Acme Corp" must not find "Acme" in it again ("Acme Corp Corp
    Corp" after three passes), nor "Inc" in "Inc." ("Inc..")."""
    _unchecked(monkeypatch, HOUSE)
    result = pipeline.run(TEXT, Options(tables=()))
    assert result.repaired == FIXED
    assert [e.replacement for e in result.applied] == ["Acme Corp", "Inc."]
    assert not any("; then " in e.reason for e in result.applied)


def test_the_rules_proposer_skips_phrases_inside_rule_output():
    ruleset = RuleSet(rules=parse_table(HOUSE, "house", "house.tsv"))
    text = "We met Acme Corp and Acme. Inc. is here."
    ctx = types.SimpleNamespace(doc=Document(text), ruleset=ruleset, produced=((7, 16), (27, 31)))
    assert [(e.start, e.found) for e in propose_rules(ctx)] == [(21, "Acme")]
    ctx.produced = None
    assert [e.start for e in propose_rules(ctx)] == [7, 21, 27]


def test_a_user_rule_matching_its_own_output_is_refused(tmp_path):
    path = _table(tmp_path, HOUSE)
    with pytest.raises(RuleFileError) as info:
        load_rules((), [path])
    message = str(info.value)
    assert message.startswith(
        f"{path}:2: rule house/Acme writes 'Acme Corp', which the rule itself matches again"
    ), message
    assert "\n" not in message and "1 more such pairs" in message  # Inc -> Inc. too


def test_a_user_rule_rewriting_another_rules_output_is_refused(tmp_path):
    first = _table(tmp_path, HEADER + "big hazard\tsafety menace\t-\tsynonym-swap\tsuggest\t\tme\t\n", "first.tsv")
    second_rows = "# menaces\n\nsafety menace\tsecurity threat\t-\tsynonym-swap\tauto\t\tme\t\n"
    second = _table(tmp_path, HEADER + second_rows, "second.tsv")
    with pytest.raises(RuleFileError) as info:
        load_rules((), [first, second])
    assert str(info.value) == (
        f"{first}:2: rule first/big-hazard writes 'safety menace', which rule second/safety-menace"
        f" ({second}:4) matches again (a repaired text would be changed again); remove or --disable one of them"
    )
    # Disabled, either rule breaks the chain.
    assert len(load_rules((), [first, second], disable=["second/safety-menace"])) == 1
    assert len(load_rules((), [first, second], disable=["first/big-hazard"])) == 1


def test_a_user_rule_rewriting_a_builtin_output_is_refused(tmp_path):
    """Checked against the built-in tables too: their outputs are read only where a user
    rule's phrase occurs in them."""
    builtin = next(r for r in load_rules(("news",)).rules if r.pos == "-" and r.found.islower()
                   and not r.ambiguous and len(r.replacements[0].split()) > 1)
    word = builtin.replacements[0].split()[-1]
    path = _table(tmp_path, HEADER + f"{word}\tzzz\t-\tsynonym-swap\tauto\t\tme\t\n")
    with pytest.raises(RuleFileError) as info:
        load_rules(("news",), [path])
    assert re.match(
        rf"{re.escape(str(path))}:2: rule news/\S+ \(mtfix/rules/news\.tsv:\d+\) writes '[^']*', "
        rf"which rule house/{re.escape(word)} matches again",
        str(info.value),
    ), str(info.value)
    # Suggestions are never applied by a plain repair: a suggest-only rule breaks nothing.
    quiet = _table(tmp_path, HEADER + f"{word}\tzzz\t-\tsynonym-swap\tsuggest\t\tme\t\n", "quiet.tsv")
    assert any(r.id == f"quiet/{word}" for r in load_rules(("news",), [quiet]).rules)


def test_rule_chains_of_a_chain_free_ruleset_are_none():
    ruleset = RuleSet(rules=parse_table(HEADER + "menace\tthreat\t-\tsynonym-swap\tauto\n", "t", "t.tsv"))
    assert rule_chains(ruleset) == []
    chained = RuleSet(rules=parse_table(HOUSE, "house", "house.tsv"))
    chains = rule_chains(chained)
    assert {(c.rule.id, c.by.id) for c in chains} == {("house/Acme", "house/Acme"), ("house/Inc", "house/Inc")}
    assert {"Acme Corp", "Acme Corps", "Inc."} <= {c.output for c in chains}  # every inflection


def test_a_rule_reading_the_word_beside_an_output_is_a_chain():
    """"health authorities" is fine alone, but a rule taking "authorities" for "government"
    before "shutdown" rewrites it in "health authorities shutdown" on a second repair."""
    produce = "well being authorities\thealth authorities\t-\tsynonym-swap\tauto\t\tt\t\n"
    reread = "authorities\tgovernment\t-\tsynonym-swap\tauto\tbefore:shutdown{}\tt\t\n"
    chained = RuleSet(rules=parse_table(HEADER + reread.format("") + produce, "t", "t.tsv"))
    assert [(c.rule.id, c.output, c.by.id) for c in rule_chains(chained)] == [
        ("t/well-being-authorities", "health authorities", "t/authorities")
    ]
    guarded = RuleSet(rules=parse_table(HEADER + reread.format(";not_after:health") + produce, "t", "t.tsv"))
    assert rule_chains(guarded) == []
    # A producing rule that never fires beside that word makes no chain either.
    blocked = produce.replace("\tauto\t\t", "\tauto\tnot_before:shutdown\t")
    assert rule_chains(RuleSet(rules=parse_table(HEADER + reread.format("") + blocked, "t", "t.tsv"))) == []


def test_the_command_line_turns_a_refused_table_into_a_usage_error(run_cli, tmp_path):
    rules, text = _table(tmp_path, HOUSE), tmp_path / "h.txt"
    text.write_text(TEXT, encoding="utf-8")
    run = run_cli(["fix", "--no-config", "--tables", "", "--rules", rules, text])
    assert run.code == ExitCode.USAGE and run.out == ""
    assert len(run.err_lines) == 1 and f"{rules}:2: rule house/Acme writes 'Acme Corp'" in run.err


def test_fixing_twice_equals_fixing_once_with_an_accepted_user_table(tmp_path):
    path = _table(tmp_path, HEADER + "Acme\tAcme Corp\t-\tsynonym-swap\tauto\tnot_before:corp\thouse\t\n")
    once = mtfix.repair(TEXT, tables=(), rules=[path]).repaired
    assert once == "We met Acme Corp yesterday. Widgets Inc sold well.\n"
    assert mtfix.repair(once, tables=(), rules=[path]).repaired == once


def test_fixing_twice_equals_fixing_once_where_a_context_rule_reads_past_an_output():
    """The fuzzing find: "health authorities" (from "well being authorities") followed by
    "shutdown" was read as "health government shutdown" by a second repair."""
    text = "well being authorities shutdown win Related Press May that a lot higher off supplier."
    once = mtfix.repair(text, mode="rules", apply_all=True, min_confidence=0).repaired
    assert "health authorities shutdown" in once, once
    assert mtfix.repair(once, mode="rules", apply_all=True, min_confidence=0).repaired == once


@pytest.mark.parametrize("cls", CLASSES)
def test_each_class_witness_is_accepted_by_its_class(cls):
    (cond,) = parse_conditions(f"before:{cls}")
    word = CLASS_WITNESS[cls]
    assert cond.holds(word, word[0]) if word[0].isalnum() else cond.holds(None, word), (cls, word)
