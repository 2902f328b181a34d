"""The built-in rule tables are code: they must parse, stay sorted and unique, never chain
into each other, and do what their rows say (case, inflection, a/an)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest

import mtfix
from mtfix.ruletable import (
    APPLY_MODES,
    BUILTIN_TABLES,
    RuleFileError,
    builtin_table_text,
    load_rules,
    load_user_table,
    parse_table,
    rule_chains,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
TABLE_SOURCES = {"news": "mtfix", "tortured": "pps"}
HEADER = "found\treplacement\tpos\tkind\tapply\tcontext\tsource\tnote\n"
# Enough sure swaps (auto rules) in a short text for the document to count as spun.
SPUN_CONTEXT = "The safety menace grew previously month, and till not too long ago it was essentially the most serious."


@pytest.fixture(scope="module", params=BUILTIN_TABLES)
def table(request):
    name = request.param
    return name, parse_table(builtin_table_text(name), name, f"mtfix/rules/{name}.tsv")


def test_every_table_parses_and_has_rules(table):
    name, rules = table
    assert rules, f"{name}.tsv has no rules"


def test_tables_are_sorted_by_found(table):
    name, rules = table
    founds = [r.found for r in rules]
    out_of_order = [(a, b) for a, b in zip(founds, founds[1:]) if a > b]
    assert (
        not out_of_order
    ), f"{name}.tsv not sorted (plain string sort): {out_of_order[:5]}"


def test_found_phrases_are_unique(table):
    name, rules = table
    dupes = [f for f, n in Counter(r.found for r in rules).items() if n > 1]
    assert not dupes, f"{name}.tsv repeats {dupes[:5]}"


def test_found_is_clean_and_lower_case_unless_marked(table):
    name, rules = table
    for r in rules:
        assert r.found == " ".join(r.found.split()), f"{r.id}: stray spaces"
        assert (
            "\u2019" not in r.found and "\u2018" not in r.found
        ), f"{r.id}: use straight apostrophes"
        if r.case_sensitive:
            # Capitals make a row case-sensitive, so they must be meant (a name, an acronym).
            assert (
                "case-sensitive" in r.note
            ), f"{r.id}: capitals in 'found' without a case-sensitive note"


def test_replacements_differ_from_found(table):
    name, rules = table
    for r in rules:
        for rep in r.replacements:
            assert rep.strip() == rep and rep, f"{r.id}: empty or padded replacement"
            assert rep.lower() != r.found.lower(), f"{r.id}: replacement equals found"


def test_ambiguous_rows_are_never_automatic(table):
    name, rules = table
    bad = [r.id for r in rules if r.ambiguous and r.apply == "auto"]
    assert not bad, f"ambiguous rows marked auto: {bad[:5]}"


def test_sources_are_present(table):
    name, rules = table
    wrong = [r.id for r in rules if r.source != TABLE_SOURCES[name]]
    assert (
        not wrong
    ), f"{name}.tsv rows without source {TABLE_SOURCES[name]!r}: {wrong[:5]}"


def test_news_table_is_large_enough():
    assert len(load_rules(("news",))) >= 1500


def test_no_rule_output_is_rewritten_by_another_rule():
    """Repairing twice must change nothing: no output (any inflection) is matched by a
    rule, itself included, with its conditions read inside the output itself (the check
    `load_rules` makes of a user's table, see tests/test_core.py). Suggestions count too:
    `fix --all` applies them, and fixing its output again must change nothing either."""
    chains = [f"{c.rule.id} -> {c.output!r} -> {c.by.id}" for c in rule_chains(load_rules(), applying=APPLY_MODES)]
    assert not chains, f"{len(chains)} outputs rewritten by a rule: {chains[:10]}"


def test_case_is_carried_into_the_replacement():
    result = mtfix.repair(f"Mentioned the minister on Monday. {SPUN_CONTEXT}")
    assert result.repaired.startswith("Said the minister"), result.repaired
    shouting = mtfix.repair("THE SAFETY MENACE IS REAL.")
    assert shouting.repaired == "THE SECURITY THREAT IS REAL."


def test_noun_rows_cover_every_inflection():
    result = mtfix.repair(f"Two consultants warned on Monday. {SPUN_CONTEXT}")
    assert "Two experts warned" in result.repaired, result.repaired
    assert "consultants" not in result.repaired


def test_spun_rows_wait_for_evidence():
    """A `spun` row alone (a clean text that happens to say 'consultants') changes nothing."""
    text = "Two consultants warned on Monday that the plan would fail."
    assert mtfix.repair(text).repaired == text


def test_malformed_table_names_path_and_line(tmp_path):
    bad = (
        HEADER
        + "safety menace\tsecurity threat\tnoun\tsynonym-swap\tauto\t\tmtfix\t\nfoo\tbar\tadverb\tsynonym-swap\tauto\n"
    )
    with pytest.raises(RuleFileError, match=r"^bad\.tsv:3: pos must be"):
        parse_table(bad, "bad", "bad.tsv")
    path = tmp_path / "mine.tsv"
    path.write_text(
        HEADER + "foo\tbar\t-\tsynonym-swap\tauto\tbefore:Capital\tme\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleFileError, match=rf"^{path}:2: bad context"):
        load_user_table(path)


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_tortured_table", REPO / "bench" / "build_tortured_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_committed_tortured_table_matches_its_build_script():
    if not (SHARED / "data" / "tortured-phrases" / "tortured.csv").is_file():
        pytest.skip(
            f"needs the tortured-phrase list under {SHARED} (the shared data folder)"
        )
    built = _build_script().table_text(
        SHARED / "data" / "tortured-phrases" / "tortured.csv"
    )
    assert built == builtin_table_text(
        "tortured"
    ), "rerun: .venv/bin/python bench/build_tortured_table.py"


@pytest.mark.parametrize(
    "sentence,changed",
    [
        ("The planes had been sent to the base.", "The planes were sent to the base."),
        ("They had been painted grey.", "They were painted grey."),
        # A singular subject keeps its past perfect ("it were" would be wrong).
        ("It had been painted grey.", "It had been painted grey."),
        # "had been to" is a visit.
        ("They had been to the base.", "They had been to the base."),
        # A document that still says "were" was not spun "were" -> "had been".
        ("They had been sent. Others were not.", "They had been sent. Others were not."),
        # Spinners write "may even" for "might" before a bare verb.
        ("Voters may even see a second round.", "Voters might see a second round."),
        # Not before other words: "may even more" is no spun "might".
        ("Prices may even more sharply rise.", "Prices may even more sharply rise."),
        # A possessive's "evaluation of" is the spinner's "assessment of".
        ("Its evaluation of the war was bleak.", "Its assessment of the war was bleak."),
        # Not after other words: a form's evaluation stays.
        ("A careful evaluation of the war was bleak.", "A careful evaluation of the war was bleak."),
    ],
)
def test_context_bound_spun_rows_apply_only_in_their_context(sentence, changed):
    """had been -> were (plural subject, document without "were"), may even -> might (before a
    bare verb), evaluation -> assessment (after a possessive)."""
    result = mtfix.repair(f"{sentence} {SPUN_CONTEXT}")
    assert result.repaired.startswith(changed), result.repaired


# Ordinary English in some domain that `auto` rows once rewrote (user audit, 2026-11-22):
# such phrases are `spun` now, so clean text keeps them and they are no evidence of spinning.
CLEAN_DOMAIN_TEXT = """Larger training sets improve accuracy.
Let us take a look at outcomes for each group.
My phone plan has overseas coverage in Europe, and the insurer offers international coverage.
The plant hired safety consultants to audit the boilers.
AI safety researchers warned about the risks.
The monitor report shows no errors.
Please note what number of the form you used.
The frame check sequence detects errors.
Universities with excessive faculty turnover struggle.
We describe the analysis and improvement of the protocol.
The main consultants on the project work part-time.
Even a minimal wage rise helps, and the bridge sagged beneath strain.
Exterior threats such as flooding were ruled out; damage worries remain.
The engineer mentioned the new routers in her talk. The consultants agreed, whereas the vendor did not.
"""


def test_ordinary_domain_phrases_are_not_sure_swaps():
    result = mtfix.repair(CLEAN_DOMAIN_TEXT)
    assert result.repaired == CLEAN_DOMAIN_TEXT, [(e.found, e.replacement) for e in result.applied]


# ---- the function-word candidates of full mode (mtfix/lm/function_words.tsv) ------------------


def test_function_word_table_is_sorted_unique_and_never_proposes_its_own_output():
    from importlib import resources

    from mtfix.lm.function_words import TABLE, parse_table

    rows = parse_table(resources.files("mtfix.lm").joinpath(TABLE).read_text(encoding="utf-8"))
    found = [f for f, _ in rows]
    assert len(rows) > 40
    assert found == sorted(found) and len(set(found)) == len(found)
    for f, plains in rows:
        assert f == f.lower().strip() and " ".join(f.split()) == f
        assert plains and len(set(plains)) == len(plains) and f not in plains
    # A plain phrase that was itself a found phrase would be proposed again after a repair.
    assert not {p for _, plains in rows for p in plains} & set(found)

