"""Unit tests of the core: Edit, resolver, apply, segmentation, case and articles, rule
matching (inflection, a/an, context, names, spin gating), rule files, config and the API.

Rule behaviour is tested with tests/data/core_rules.tsv or rule files written here, never
with the built-in tables, whose contents keep growing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import mtfix
from mtfix.conditions import ConditionError, parse_conditions
from mtfix.edit import Edit, Result
from mtfix.options import ConfigError, Options, find_config, load_config
from mtfix.pipeline import apply, resolve
from mtfix.ruletable import RuleFileError, load_rules
from mtfix.text import Document, indefinite_article, split_sentences, transfer_case

CORE_RULES = str(Path(__file__).resolve().parent / "data" / "core_rules.tsv")
HEADER = "found\treplacement\tpos\tkind\tapply\tcontext\tsource\tnote\n"
# Three distinct automatic hits: enough sure evidence for `spun` rules in a short document.
EVIDENCE = "In all probability the safety menace grew till not too long ago. "


def core(text: str, **options):
    options.setdefault("proposers", ["rules"])
    return mtfix.repair(text, tables=(), rules=[CORE_RULES], **options)


def fixed(text: str, **options) -> str:
    return core(text, **options).repaired


def spun(sentence: str) -> str:
    """`sentence` repaired inside a document that is clearly spun, evidence removed."""
    out = fixed(EVIDENCE + sentence)
    prefix = "Probably the security threat grew until recently. "
    assert out.startswith(prefix), out
    return out[len(prefix) :]


def write_rules(tmp_path: Path, rows: list[str], name: str = "mine.tsv") -> str:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return str(path)


def edit(start, end, found="x", replacement="y", confidence=0.9, source="t", auto=True):
    return Edit(start, end, found, replacement, "synonym-swap", source, confidence, auto, "test")


# ---- Edit, resolve, apply -----------------------------------------------------------------


@pytest.mark.parametrize("start,end,confidence", [(5, 3, 0.5), (-1, 2, 0.5), (0, 1, 1.5), (0, 1, -0.1)])
def test_edit_rejects_bad_span_or_confidence(start, end, confidence):
    with pytest.raises(ValueError):
        edit(start, end, confidence=confidence)


def test_edit_fixable_overlaps_and_round_trip():
    assert not edit(0, 1, replacement=None).fixable
    assert not edit(0, 1, found="x", replacement="x").fixable
    assert edit(0, 3).overlaps(edit(2, 5)) and not edit(0, 2).overlaps(edit(2, 5))
    assert edit(2, 2).overlaps(edit(0, 5)) and edit(2, 2).overlaps(edit(2, 2))
    assert not edit(5, 5).overlaps(edit(0, 5))
    e = Edit(1, 4, "abc", "d", "mt-other", "s", 0.7, False, "r", ("e", "f"))
    assert Edit.from_dict(json.loads(json.dumps(e.to_dict()))) == e


def test_resolver_prefers_confidence_then_length_then_position():
    confident = edit(0, 4, confidence=0.9, source="short")
    longer = edit(0, 10, confidence=0.8, source="long")
    assert resolve([longer, confident]) == [confident]
    a, b = edit(0, 4, source="a"), edit(2, 9, source="b")
    assert resolve([a, b]) == [b]
    first, second = edit(0, 4, source="z"), edit(2, 6, source="a")
    assert resolve([second, first]) == [first]


def test_a_fix_that_makes_the_kept_change_and_more_replaces_it():
    text = "a safety menace grows"
    word = edit(9, 15, found="menace", replacement="threat", confidence=0.99, source="thesaurus")
    phrase = edit(2, 15, found="safety menace", replacement="security threat", confidence=0.95, source="rule")
    assert resolve([word, phrase], text) == [phrase.with_(confidence=0.99)]
    other = edit(2, 15, found="safety menace", replacement="security danger", confidence=0.95, source="rule")
    assert resolve([word, other], text) == [word]  # "menace" made something else: the more confident wins
    suggestion = edit(2, 15, found="safety menace", replacement="security threat", confidence=0.95, auto=False)
    assert resolve([word, suggestion], text) == [word]  # a suggestion never displaces a fix
    assert apply(text, resolve([word, phrase], text)) == "a security threat grows"


def test_resolver_is_independent_of_input_order():
    rng = random.Random(7)
    edits = [
        edit(s, s + n, confidence=c, source=f"r{i}", replacement=f"y{i}")
        for i, (s, n, c) in enumerate(
            [
                (0, 5, 0.9),
                (3, 4, 0.9),
                (3, 9, 0.7),
                (10, 2, 0.5),
                (11, 3, 0.5),
                (11, 3, 0.5),
                (20, 0, 0.6),
                (20, 4, 0.6),
            ]
        )
    ]
    want = resolve(edits)
    assert all(not a.overlaps(b) for a, b in zip(want, want[1:]))
    for _ in range(30):
        shuffled = edits[:]
        rng.shuffle(shuffled)
        assert resolve(shuffled) == want


def test_apply_splices_only_the_edits():
    text = "The consultants mentioned it."
    edits = [edit(4, 15, "consultants", "experts"), edit(16, 25, "mentioned", "said"), edit(28, 28, "", "!")]
    assert apply(text, edits) == "The experts said it!."
    assert apply(text, [edit(4, 15, "consultants", None)]) == text
    with pytest.raises(ValueError):
        apply(text, [edit(0, 5), edit(3, 8)])


# ---- segmentation and offsets ---------------------------------------------------------------


def test_sentences_keep_offsets_with_crlf_bom_and_curly_quotes():
    text = "\ufeff\u201cIt is late,\u201d Gen. Smith said.\r\nThe U.S. team left.\r\n\r\nWhy? Because! end"
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "\ufeff\u201cIt is late,\u201d Gen. Smith said.",
        "The U.S. team left.",
        "Why?",
        "Because!",
        "end",
    ]
    doc = Document(text)
    assert doc.sentence_at(text.index("team")).start == text.index("The U.S.")
    assert doc.word_count == 14  # "U.S." counts as two


def test_line_col_counts_crlf_cr_and_lf_as_one_break():
    text = "one\r\ntwo\rthree\nfour"
    doc = Document(text)
    assert doc.line_col(0) == (1, 1)
    assert doc.line_col(text.index("two")) == (2, 1)
    assert doc.line_col(text.index("three") + 2) == (3, 3)
    assert doc.line_col(text.index("four")) == (4, 1)


def test_line_col_does_not_count_a_byte_order_mark():
    text = "\ufeffa safety menace\nsafety menace"
    doc = Document(text)
    assert doc.line_col(text.index("safety")) == (1, 3)  # where an editor puts the cursor
    assert doc.line_col(text.rindex("safety")) == (2, 1)


def test_report_position_survives_crlf_and_curly_quotes():
    text = "Line one.\r\n\u201cQuote\u201d then a safety menace here.\r\n"
    (e,) = core(text).edits
    assert text[e.start : e.end] == "safety menace"
    assert Document(text).line_col(e.start) == (2, 16)


# ---- case and articles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,replacement,want",
    [
        ("mentioned", "said", "said"),
        ("Mentioned", "said", "Said"),
        ("SAFETY MENACE", "security threat", "SECURITY THREAT"),
        ("Safety Menace", "security threat", "Security Threat"),
        ("Safety menace", "security threat", "Security threat"),
        ("mEnTiOnEd", "said", "said"),
        ("consultants", "experts at NATO", "experts at NATO"),
        ("", "x", "x"),
        ("42", "forty-two", "forty-two"),
    ],
)
def test_transfer_case(source, replacement, want):
    assert transfer_case(source, replacement) == want


@pytest.mark.parametrize(
    "word,article",
    [
        ("apple", "an"),
        ("hour", "an"),
        ("honest", "an"),
        ("university", "a"),
        ("European", "a"),
        ("one", "a"),
        ("FBI", "an"),
        ("UN", "a"),
        ("MP", "an"),
        ("unicorn", "a"),
        ("x-ray", "an"),
        ("expert", "an"),
        ("support", "a"),
        ("", "a"),
    ],
)
def test_indefinite_article(word, article):
    assert indefinite_article(word) == article


# ---- rule matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damaged,restored",
    [
        ("He mentioned the plan.", "He said the plan."),
        ("She mentions the plan.", "She says the plan."),
        ("They are mentioning the plan.", "They are saying the plan."),
        ("They had noticed the cracks.", "They had seen the cracks."),
        ("They noticed the cracks.", "They saw the cracks."),
        ("The cracks were noticed early.", "The cracks were seen early."),
        ("Two consultants agreed.", "Two experts agreed."),
        ("The consultant\u2019s view won.", "The expert\u2019s view won."),
        ("Consultants agreed.", "Experts agreed."),
    ],
)
def test_inflection_follows_the_found_form(damaged, restored):
    assert spun(damaged) == restored


@pytest.mark.parametrize(
    "damaged,restored",
    [
        ("Hire a consultant now.", "Hire an expert now."),
        ("A consultant left.", "An expert left."),
        ("It was an assist.", "It was a support."),
        ("An assist came.", "A support came."),
        ("HIRE A CONSULTANT.", "HIRE AN EXPERT."),
        ("GIVE AN ASSIST.", "GIVE A SUPPORT."),
        ("\u201cA consultant came.\u201d", "\u201cAn expert came.\u201d"),
        ("They hired (a consultant).", "They hired (an expert)."),
        ("Hire a\nconsultant now.", "Hire an\nexpert now."),
        ("The banana consultant left.", "The banana expert left."),
        ("In Panama       consultant work pays.", "In Panama       expert work pays."),
    ],
)
def test_indefinite_article_agrees_with_the_replacement(damaged, restored):
    assert spun(damaged) == restored


def test_a_capitalised_word_after_a_byte_order_mark_starts_a_sentence():
    assert fixed("\ufeffConsultants said so. " + EVIDENCE).startswith("\ufeffExperts said so.")


# ---- phrases hard-wrapped across a line break (e-mail, plain text, Markdown paragraphs) -----

# One line break, any convention, with the spaces and tabs around it that wrapping leaves.
WRAPS = ["\n", "\r\n", "\r", " \n", "\n    ", "\t\r\n\t", "  \r  "]


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize(
    "damaged,restored",
    [
        # As many words: the separators go back between the words in order.
        ("A safety{}menace grew.", "A security{}threat grew."),
        ("THE SAFETY{}MENACE GREW.", "THE SECURITY{}THREAT GREW."),
        ("Safety{}menace grew.", "Security{}threat grew."),
        # Fewer words: the break stays at its gap, or at the replacement's last one.
        ("It grew till{}not too long ago.", "It grew until{}recently."),
        ("It grew till not too{}long ago.", "It grew until{}recently."),
        ("It grew in all probability till not{}too long ago.", "It grew probably until{}recently."),
    ],
)
def test_a_phrase_wrapped_across_a_line_break_is_matched_and_keeps_the_break(wrap, damaged, restored):
    text = damaged.format(wrap)
    result = core(text)
    assert result.repaired == restored.format(wrap)
    assert result.applied
    for e in result.edits:
        assert text[e.start : e.end] == e.found
        assert "\n" not in e.reason and "\r" not in e.reason, e.reason  # a report line stays one line


@pytest.mark.parametrize(
    "damaged,restored",
    [
        # A phrase becoming one word: the break goes before it, in place of the spaces there
        # (no space is left at a line's end) ...
        ("It was in all\nprobability so.", "It was\nprobably so."),
        ("It was in all \r\nprobability so.", "It was\r\nprobably so."),
        ("It was in\nall probability so.", "It was\nprobably so."),
        # ... or after it, when the phrase starts a line (before it would leave a blank line),
        # in place of the spaces after it (no line starts with a space).
        ("In all\nprobability it was.", "Probably\nit was."),
        ("It was\nin all\nprobability so.", "It was\nprobably\nso."),
        # Two breaks: one on each side.
        ("It was in\nall\nprobability so.", "It was\nprobably\nso."),
        # An indented next line keeps its indentation.
        ("It was in all\n  probability so.", "It was\n  probably so."),
    ],
)
def test_a_wrapped_phrase_becoming_one_word_keeps_its_line_breaks(damaged, restored):
    assert fixed(damaged) == restored


def test_an_edit_taking_in_the_spaces_beside_a_moved_break_reports_the_phrase(run_cli, tmp_path):
    text = "It was in all\nprobability so.\n"
    edit = mtfix.check(text, tables=(), rules=[CORE_RULES], mode="rules")[0]
    assert (edit.found, edit.replacement) == (" in all\nprobability", "\nprobably")
    assert text[edit.start : edit.end] == edit.found
    assert "'in all probability'" in edit.reason and "' in" not in edit.reason
    path = tmp_path / "w.txt"
    path.write_text(text, encoding="utf-8")
    report = run_cli(["check", "--mode", "rules", "--tables", "", "--rules", CORE_RULES, path]).out
    assert report.startswith(f"{path}:1:8: "), report


@pytest.mark.parametrize(
    "text,row,expected",
    [
        # The span took in the space before a moved break: the alternative gets it back.
        ("It was in all\nprobability so.", "in all probability\tprobably|most likely",
         ("It was\nprobably so.", "It was most\nlikely so.")),
        # The span took in the article: each option carries the article it needs.
        ("They asked for an assistance today.", "assistance\thelp|aid",
         ("They asked for a help today.", "They asked for an aid today.")),
    ],
)
def test_every_option_of_a_widened_rule_edit_can_be_applied(tmp_path, text, row, expected):
    path = tmp_path / "alt.tsv"
    path.write_text(
        "found\treplacement\tpos\tkind\tapply\tcontext\tsource\tnote\n" + row + "\t-\tsynonym-swap\tauto\t\ttest\t\n",
        encoding="utf-8",
    )
    (edit,) = mtfix.check(text, tables=(), rules=[str(path)], mode="rules", min_confidence=0)
    options = (edit.replacement, *edit.alternatives)
    assert tuple(apply(text, [edit.with_(replacement=o)]) for o in options) == expected


def test_a_wrapped_phrase_is_left_alone_where_its_break_has_no_place():
    assert fixed("It was in all\nprobability so.") == "It was\nprobably so."
    # A one-word fix of a phrase filling a line (or two breaks for one) would make a blank line,
    # and one before punctuation would start a line with it: no fix rather than a reflow.
    for text in (
        "It was\nin all\nprobability\nso.",
        "In all\nprobability, it was.",
        "It was\nin\nall\nprobability so.",
    ):
        assert fixed(text) == text


def test_a_blank_line_or_a_quote_marker_is_no_word_gap():
    assert fixed("A safety\n  menace grew.") == "A security\n  threat grew."
    for gap in ("\n\n", "\r\n\r\n", "\r\r", "\n\r", "\n \n", " \n\t\n ", "\n> ", "\n>", "\n- ", "\x0c\n", "\n\x0c"):
        text = f"A safety{gap}menace grew."
        assert fixed(text) == text, repr(gap)


@pytest.mark.parametrize(
    "text, edited",
    [
        ("He joined the\nSafety menace group.", False),  # the line carries on: a name
        ("He warned them,\r\nSafety menace or not.", False),
        ("He spoke.\nSafety menace grew.", True),  # a new sentence on a new line
        ("Introduction\nSafety menace grew.", True),  # after a heading
        ("He joined the\n\nSafety menace group.", True),  # a new paragraph
    ],
)
def test_a_capital_on_a_wrapped_line_is_a_name_where_the_line_before_goes_on(text, edited):
    assert (fixed(text) != text) == edited


def test_an_auxiliary_on_the_line_before_picks_the_participle():
    assert spun("They had\nnoticed the cracks.") == "They had\nseen the cracks."
    assert spun("The cracks were\r\n    noticed early.") == "The cracks were\r\n    seen early."
    # A blank line ends the clause, as it did.
    assert spun("They had\n\nnoticed the cracks.") == "They had\n\nsaw the cracks."


def test_a_wrapped_and_an_unwrapped_phrase_are_one_phrase_of_evidence():
    one_line = core("A safety menace. A safety menace. Officials mentioned it.")
    wrapped = core("A safety menace. A safety\nmenace. Officials mentioned it.")
    assert wrapped.spin_score == one_line.spin_score
    assert [e.replacement for e in wrapped.applied] == ["security threat", "security\nthreat"]


def test_joined_text_maps_offsets_back_to_the_text():
    from mtfix.text import JoinedText, join_wrapped

    text = "a safety \r\n   menace\n\nb\tc \n d\re\n> f"
    joined = JoinedText(text)
    # "> " stays: no phrase runs through a quote marker, though its line is joined.
    assert joined.text == join_wrapped(text) == "a safety menace\n\nb\tc d e > f"
    for pos, ch in enumerate(joined.text):
        orig = joined.original(pos)
        assert text[orig] == ch or (ch == " " and text[orig] in " \t\r\n"), (pos, ch, orig)
    start = joined.text.index("menace")
    assert text[joined.original(start) : joined.original(start + 5) + 1] == "menace"


@pytest.mark.parametrize(
    "sentence,changed",
    [
        ("As mentioned, it grew.", False),
        ("It was already mentioned twice.", False),
        ("It was mentioned twice.", True),
        ("Such acts are unlawful under the law.", True),
        ("It was unlawful 12 times.", True),
        ("It was unlawful.", True),
        ("It was unlawful \u201cthen\u201d too.", True),
        ("Unlawful acts are rare.", False),
        ("The unlawful acts are rare.", False),
    ],
)
def test_context_conditions_gate_a_rule(sentence, changed):
    assert (spun(sentence) != sentence) is changed


def test_each_condition_field_and_class(tmp_path):
    rules = write_rules(
        tmp_path,
        [
            "alpha\tomega\t-\tsynonym-swap\tauto\tbefore:<number>|<month>",
            "beta\tgamma\t-\tsynonym-swap\tauto\tafter:<det>|<pron>",
            "delta\tepsilon\t-\tsynonym-swap\tauto\tnot_before:<punct>",
            "zeta\teta\t-\tsynonym-swap\tauto\tnot_after:very|<cap>",
            "theta\tiota\t-\tsynonym-swap\tauto\tafter:<quote>",
            "kappa\tlambda\t-\tsynonym-swap\tauto\tbefore:<end>|<weekday>",
            "mu\tnu\t-\tsynonym-swap\tauto\tafter:<plural>",
            "xi\tomicron\t-\tsynonym-swap\tauto\tdoc_without:pi|rho",
        ],
    )
    cases = {
        "we saw alpha 12 times": True,
        "we saw alpha March 3": True,
        "we saw alpha here": False,
        "we saw the beta here": True,
        "so we beta here": True,
        "we saw beta here": False,
        "we saw delta here": True,
        "we saw delta, here": False,
        "we saw zeta here": True,
        "we saw very zeta here": False,
        "we saw Rome zeta here": False,
        "we said: theta here": True,
        "we said \u201ctheta here": True,
        "we said theta here": False,
        "we saw kappa. Then": True,
        "we saw kappa Friday night": True,
        "we saw kappa here": False,
        "the planes mu here": True,
        "they mu here": True,
        "the allies mu here": True,
        "the news mu here": False,
        "the plane mu here": False,
        "it always mu here": False,
        "its mu here": False,
        "in Texas mu here": False,
        "the crisis mu here": False,
        "we saw xi here": True,
        "we saw xi and pi here": False,
        "Rho came. We saw xi here": False,
        "we saw xi and pie here": True,
    }
    for text, want in cases.items():
        result = mtfix.repair(text, tables=(), rules=[rules], proposers=["rules"])
        assert result.changed is want, text


@pytest.mark.parametrize(
    "spec,problem",
    [
        ("sideways:x", "unknown field"),
        ("before:<noun>", "unknown class"),
        ("before:Word", "lower-case"),
        ("before", "lacks"),
        ("before:a||b", "empty alternative"),
        ("doc_without:<cap>", "takes words"),
    ],
)
def test_bad_conditions_are_rejected(spec, problem):
    with pytest.raises(ConditionError, match=problem):
        parse_conditions(spec)


def test_proper_nouns_are_protected(tmp_path):
    rules = write_rules(tmp_path, ["safety\tsecurity\tnoun\tsynonym-swap\tauto"])

    def run(text):
        return mtfix.repair(text, tables=(), rules=[rules], proposers=["rules"]).repaired

    assert run("The National Safety Council met on Monday.") == "The National Safety Council met on Monday."
    assert run("They praised Safety Week.") == "They praised Safety Week."
    assert run("They praised safety rules.") == "They praised security rules."
    assert run("Safety came first.") == "Security came first."


def test_spun_rules_need_sure_evidence_in_the_document():
    plain = "Officials mentioned that a consultant had noticed the cracks."
    clean = core(plain)
    assert clean.repaired == plain and clean.applied == [] and clean.spin_score < 0.7
    hidden = core(plain, min_confidence=0.0)
    assert {e.found for e in hidden.edits} == {"mentioned", "a consultant", "noticed"}
    assert not any(e.auto for e in hidden.edits)
    dirty = core(EVIDENCE + plain)
    assert dirty.spin_score >= 0.7
    assert dirty.repaired.endswith("Officials said that an expert had seen the cracks.")
    # One sure hit in a long document is not enough evidence.
    long_doc = "The report was read by all. " * 300 + "A safety menace. " + plain
    assert core(long_doc).repaired.endswith(plain)


def test_ambiguous_and_suggest_rules_are_reported_not_applied():
    text = EVIDENCE + "A huge storm came, so they left as a substitute."
    result = core(text)
    suggestions = {e.found: e for e in result.edits if e not in result.applied}
    assert set(suggestions) == {"huge", "as a substitute"}
    assert suggestions["huge"].replacement == "big" and suggestions["huge"].alternatives == ("large",)
    assert "huge" in result.repaired
    everything = core(text, apply_all=True)
    assert "A big storm came, so they left instead." in everything.repaired


# ---- rule files -----------------------------------------------------------------------------


def test_user_rules_override_builtin_and_earlier_files(tmp_path):
    builtin = next(r for r in load_rules(("news",)).rules if r.found.islower() and not r.conditions)
    first = write_rules(tmp_path, [f"{builtin.found}\tzzfirst\t-\tsynonym-swap\tauto"], "first.tsv")
    second = write_rules(tmp_path, [f"{builtin.found}\tzzsecond\t-\tsynonym-swap\tauto"], "second.tsv")
    rule = {r.found: r for r in load_rules(("news",), [first]).rules}[builtin.found]
    assert rule.table == "first" and rule.replacements == ("zzfirst",)
    rule = {r.found: r for r in load_rules(("news",), [first, second]).rules}[builtin.found]
    assert rule.replacements == ("zzsecond",)
    text = f"Yesterday we wrote {builtin.found} here."
    result = mtfix.repair(text, rules=[second], proposers=["rules"])
    at = text.index(builtin.found)
    assert any(e.start == at and e.replacement == "zzsecond" and e in result.applied for e in result.edits)


@pytest.mark.parametrize("key", ["core_rules/safety-menace", "safety menace", "core_rules", "synonym-swap", "rules"])
def test_disable_by_id_phrase_table_kind_or_proposer(key):
    text = "A safety menace grew."
    assert fixed(text) == "A security threat grew."
    assert fixed(text, disable=[key]) == text


@pytest.mark.parametrize(
    "lines,lineno,problem",
    [
        (
            [
                "# a comment",
                "",
                "safety\tsecurity\tnoun\tsynonym-swap\tauto",
                "menace\tthreat\tadjective\tsynonym-swap\tauto",
            ],
            5,
            "pos",
        ),
        (["menace\tthreat\t-\tsynonym-swap\tsometimes"], 2, "apply"),
        (["menace\tthreat\t-\tspelling\tauto"], 2, "kind"),
        (["menace\tthreat"], 2, "columns"),
        (["menace\t\t-\tsynonym-swap\tauto"], 2, "empty replacement"),
        (["menace\tmenace\t-\tsynonym-swap\tauto"], 2, "equals"),
        (["menace\tthreat\t-\tsynonym-swap\tauto\tbefore:<noun>"], 2, "context"),
        (["menace\tthreat\t-\tsynonym-swap\tauto", "menace\tdanger\t-\tsynonym-swap\tauto"], 3, "duplicate"),
    ],
)
def test_malformed_rule_file_error_names_file_and_line(tmp_path, lines, lineno, problem):
    path = write_rules(tmp_path, lines, "bad.tsv")
    with pytest.raises(RuleFileError, match=problem) as info:
        mtfix.repair("text", tables=(), rules=[path])
    assert str(info.value).startswith(f"{path}:{lineno}: ")


def test_rule_file_without_header_or_missing(tmp_path):
    bad = tmp_path / "nohead.tsv"
    bad.write_text("menace\tthreat\t-\tsynonym-swap\tauto\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=rf"^{bad}:1: header"):
        load_rules((), [bad])
    with pytest.raises(RuleFileError, match="not found"):
        load_rules((), [tmp_path / "absent.tsv"])


def test_an_edited_rule_file_is_reloaded(tmp_path):
    path = write_rules(tmp_path, ["menace\tthreat\t-\tsynonym-swap\tauto"])
    assert mtfix.repair("a menace", tables=(), rules=[path]).repaired == "a threat"
    write_rules(tmp_path, ["menace\tdanger zone\t-\tsynonym-swap\tauto"])
    assert mtfix.repair("a menace", tables=(), rules=[path]).repaired == "a danger zone"


# ---- configuration --------------------------------------------------------------------------


def test_config_from_dot_mtfix_toml(tmp_path, monkeypatch):
    (tmp_path / "rules").mkdir()
    write_rules(tmp_path / "rules", ["menace\tthreat\t-\tsynonym-swap\tauto"])
    (tmp_path / ".mtfix.toml").write_text(
        'min-confidence = 0.7\nall = true\nrules = ["rules/mine.tsv"]\ndisable = ["tortured"]\n', encoding="utf-8"
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    path = find_config()
    assert path == tmp_path / ".mtfix.toml"
    opts = load_config(path)
    assert opts.min_confidence == 0.7 and opts.apply_all and opts.disable == ("tortured",)
    assert opts.rules == (str((tmp_path / "rules" / "mine.tsv").resolve()),)


def test_config_from_pyproject_tool_table(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.mtfix]\nmode = "rules"\nmin_confidence = 1\n'
    )
    monkeypatch.chdir(tmp_path)
    assert find_config() == tmp_path / "pyproject.toml"
    assert load_config(find_config()).min_confidence == 1.0


def test_pyproject_without_tool_table_is_not_a_config(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(tmp_path)
    assert find_config() != tmp_path / "pyproject.toml"


@pytest.mark.parametrize("content", ["[tool.mtfix\nmode = 'rules'\n", "[tool]\nmtfix = 1\n"])
def test_a_broken_pyproject_stops_the_search_with_a_config_error(tmp_path, monkeypatch, content):
    # A folder further up must not stand in for this project's unreadable settings.
    (tmp_path / ".mtfix.toml").write_text("min_confidence = 0.99\n")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text(content)
    monkeypatch.chdir(tmp_path / "proj")
    assert find_config() == tmp_path / "proj" / "pyproject.toml"
    with pytest.raises(ConfigError, match="pyproject.toml: (invalid TOML|.*must be a table)"):
        load_config(find_config())


@pytest.mark.parametrize(
    "content,problem",
    [
        ("colour = 1\n", "unknown key"),
        ("min_confidence = 'high'\n", "must be a float"),
        ("min_confidence = 3.0\n", "min_confidence"),
        ("mode = 'turbo'\n", "mode"),
        ("rules = [\n", "invalid TOML"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / ".mtfix.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as info:
        load_config(path)
    assert str(path) in str(info.value)


# ---- API ------------------------------------------------------------------------------------


def test_api_check_and_repair():
    text = EVIDENCE + "Officials mentioned it."
    edits = mtfix.check(text, tables=(), rules=[CORE_RULES], proposers=["rules"])
    assert all(isinstance(e, mtfix.Edit) for e in edits)
    assert [e.found for e in edits] == ["In all probability", "safety menace", "till not too long ago", "mentioned"]
    result = core(text)
    assert isinstance(result, mtfix.Result) and result.changed
    assert result.repaired.endswith("Officials said it.")
    assert core(text, min_confidence=0.96).applied == []
    with pytest.raises(TypeError, match="colour"):
        mtfix.repair(text, colour=True)
    with pytest.raises(ConfigError):
        mtfix.repair(text, mode="turbo")
    with pytest.raises(ConfigError, match="disable 'news/main': no rule"):
        mtfix.check(text, disable=["news/main"])  # a misspelt name would silently turn nothing off
    with pytest.raises(ConfigError, match="enable 'restorer': .* language model"):
        mtfix.check(text, mode="rules", enable=["restorer"])
    assert isinstance(mtfix.Options(), Options)


def test_result_to_dict_is_json_and_marks_applied():
    result = core(EVIDENCE + "A huge storm.")
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) == {"spin_score", "changed", "edits", "signature"}
    assert d["changed"] is True and 0.7 <= d["spin_score"] <= 1
    flags = {e["found"]: e["applied"] for e in d["edits"]}
    assert flags == {"In all probability": True, "safety menace": True, "till not too long ago": True, "huge": False}
    assert d["signature"].startswith(f"mtfix:{mtfix.__version__}|mode:rules|")
    assert "user:core_rules." in d["signature"]


def test_clean_text_with_core_rules_is_unchanged():
    text = "The council said its experts had seen a security threat until recently.\r\n"
    result = core(text)
    assert result.repaired == text and result.edits == [] and not result.changed
    assert isinstance(result, Result)


# --- repairs re-check their own output (fixpoint) ------------------------------------------

def test_a_fix_that_creates_new_damage_is_finished_in_the_same_run():
    # Fixing both phrases leaves "security security": the doubled-word check must catch it in
    # the same run, expressed as edits of the ORIGINAL text.
    text = "Officials warned of a safety menace security safety menace yesterday."
    result = mtfix.repair(text)
    assert "security security" not in result.repaired
    assert "safety menace" not in result.repaired
    for e in result.applied:
        assert text[e.start:e.end] == e.found
    assert mtfix.repair(result.repaired).repaired == result.repaired


def test_compose_maps_second_pass_edits_back_to_the_original():
    from mtfix.edit import Edit
    from mtfix.pipeline import apply, compose

    original = "aa bb cc bb dd"
    first = [Edit(3, 5, "bb", "xxxx", "synonym-swap", "t/1", 0.9, True, "r"),
             Edit(9, 11, "bb", "", "synonym-swap", "t/2", 0.9, True, "r")]
    repaired = apply(original, first)
    assert repaired == "aa xxxx cc  dd"
    second = [Edit(10, 12, "  ", " ", "mt-other", "mt/spacing", 0.9, True, "r"),  # touches the deletion
              Edit(0, 2, "aa", "AA", "mt-other", "t/3", 0.9, True, "r")]  # in unchanged text
    composed = compose(original, first, repaired, second)
    for e in composed:
        assert original[e.start:e.end] == e.found
    assert apply(original, composed) == "AA xxxx cc dd"


def test_the_recheck_scores_only_edits_at_the_fixes_with_the_documents_evidence(monkeypatch):
    # The re-check of a window must not re-weigh the window's other sites (in full mode that
    # is the language model's whole cost again), and must see the first pass's spin score.
    from mtfix import pipeline

    calls = []
    real = pipeline._resolve_entry(pipeline.SCORERS, "evidence", "scorer")

    def recording(ctx, edits):
        calls.append((ctx.focus, ctx.document, list(edits)))
        return real(ctx, edits)

    monkeypatch.setitem(pipeline.SCORERS, "recording", recording)
    # "amongst" is a suggestion: proposed again in the window, never applied, so only the
    # focus keeps it from being scored a second time.
    text = "Amongst others, officials warned of a safety menace security safety menace yesterday. " * 3
    result = pipeline.run(text, Options(scorer="recording"))
    assert "security security" not in result.repaired
    first, rechecks = calls[0], calls[1:]
    assert first[0] is None and first[1] is None and rechecks
    for focus, document, edits in rechecks:
        assert focus and document["spin_score"] == result.spin_score
        assert all(any(e.start <= c1 and c0 <= e.end for c0, c1 in focus) for e in edits)


def test_the_cache_keeps_a_bounded_number_of_entries_per_family(tmp_path, monkeypatch):
    import os
    import time

    from mtfix import cache

    monkeypatch.setenv("MTFIX_CACHE", str(tmp_path))
    for i in range(cache.KEEP_PER_FAMILY + 3):
        cache.save_pickle(f"ruleset-{i:02d}.pickle", i)
        os.utime(tmp_path / f"ruleset-{i:02d}.pickle", (time.time() - 100 + i, time.time() - 100 + i))
    cache.save_pickle("table-news.pickle", "other family")
    assert cache.load_pickle("ruleset-03.pickle") == 3  # a read marks it as recently used
    cache.save_pickle("ruleset-99.pickle", 99)
    kept = sorted(p.name for p in tmp_path.glob("ruleset-*.pickle"))
    assert len(kept) == cache.KEEP_PER_FAMILY
    assert "ruleset-99.pickle" in kept and "ruleset-03.pickle" in kept and "ruleset-00.pickle" not in kept
    assert cache.load_pickle("table-news.pickle") == "other family"


def test_ignored_phrases_block_every_edit_that_touches_them():
    text = "Safety menace grows. Officials saw a safety\nmenace till not too long ago."
    assert len(mtfix.check(text)) == 3
    # any case, any spacing (the line break too), and an edit inside the phrase is blocked
    assert [e.found for e in mtfix.check(text, ignore=["safety menace"])] == ["till not too long ago"]
    assert mtfix.repair(text, ignore=("menace",)).repaired.count("menace") == 2


def test_code_links_and_addresses_are_never_edited():
    text = (
        "See https://example.com/a-safety-menace, www.safety-menace.org and safety.menace@example.org.\n\n"
        "```text\nsafety menace\n```\n\n~~~\nA safety menace.\n~~~\n"
        "Use `safety menace` in code, but a safety menace in prose is fixed."
    )
    edits = mtfix.check(text)
    assert [(e.found, e.replacement) for e in edits] == [("safety menace", "security threat")]
    assert edits[0].start == text.rindex("safety menace")
    # an unclosed fence protects to the end, as Markdown renders it
    assert mtfix.check("Text.\n```\nsafety menace") == []


@pytest.mark.parametrize(
    "code",
    [
        'Call `configure(mode="safety\nmenace")` to set it.\n',  # inline code wrapping a line
        "Inline ``safety ` menace`` here.\n",  # a double-backtick span holding a backtick
        "See [the guide](<docs/safety menace.md>) for details.\n",  # a link destination
        "Intro.\n\n    label = 'safety menace'\n\nMore.\n",  # a Markdown indented code block
        "Intro.\r\n\r\n\tlabel = 'safety menace'\r\n\r\nMore.\r\n",
        "Example::\n\n   label = 'safety menace'\n\nMore.\n",  # reStructuredText literal block
        ".. code-block:: python\n\n   label = 'safety menace'\n",
        '>>> classify("the safety menace")\n',  # a doctest line
        "Clone git@host:safety/menace.git now.\n",  # an scp-style remote, host without a dot
        "See ssh://git@github.com/acme/menace.git too.\n",  # URLs of any scheme
        "Or git+ssh://host/menace.git here.\n",
        "Or file:///srv/menace.txt here.\n",
    ],
)
def test_code_in_any_markup_is_never_edited(code):
    # The prose's sure swap makes the document spun, so a lone "menace" would be fixed too.
    text = code + "\nBut the safety menace in prose is fixed.\n"
    assert [e.start for e in mtfix.check(text)] == [text.rindex("safety menace")]


@pytest.mark.parametrize(
    "prose",
    [
        "    The safety menace grew.\n\n    Another safety menace.\n",  # every paragraph indented
        "1. Step one\n\n    The safety menace grew.\n",  # a list item's second paragraph
        ".. note:: Mind the gap.\n\n   The safety menace grew.\n",  # an admonition is prose
        "Use `a\n\nb` and the safety menace.\n",  # a backtick never spans a paragraph
    ],
)
def test_indented_or_marked_prose_is_still_prose(prose):
    assert len(mtfix.check(prose)) == prose.count("safety menace")


@pytest.mark.parametrize(
    "markdown",
    [
        "\ufeff```\nthe safety menace\n```\nThe safety menace.\n",  # a byte-order mark before the fence
        "```\r\ncode\r\n```\r\n\r\nThe safety menace.\r\n",  # Windows line endings
        "````\ncode\n```\nsafety menace\n````\n\nThe safety menace.\n",  # a longer fence holds a shorter one
        "~~~~\nsafety menace\n~~~~~\nThe safety menace.\n",
    ],
)
def test_a_code_fence_ends_where_markdown_ends_it(markdown):
    edits = mtfix.check(markdown)
    assert [e.start for e in edits] == [markdown.rindex("safety menace")]


@pytest.mark.parametrize(
    "markdown",
    [
        "---\ntitle: Safety menace in the city\ntags: [safety menace]\n---\n\nThe safety menace grew.\n",
        "---\ntitle: A safety menace\n...\nThe safety menace grew.\n",  # YAML's document end
        "\ufeff---\r\ntitle: A safety menace\r\n---\r\nThe safety menace grew.\r\n",
        "+++\ntitle = \"Safety menace\"\n+++\nThe safety menace grew.\n",  # TOML (Hugo)
        "---\n---\nThe safety menace grew.\n",
    ],
)
def test_front_matter_is_metadata_not_prose(markdown):
    edits = mtfix.check(markdown)
    assert [e.start for e in edits] == [markdown.rindex("safety menace")]
    # one span of its own, so the first sentence starts at the body
    assert split_sentences(markdown)[1].start == markdown.rindex("The")


@pytest.mark.parametrize(
    "markdown",
    [
        "Intro.\n\n---\ntitle: A safety menace\n---\n\nThe safety menace grew.\n",  # a thematic break
        "---\ntitle: A safety menace\nThe safety menace grew.\n",  # never closed
        "---\n\nA safety menace.\n\n---\n\nThe safety menace grew.\n",  # a thematic break first
        " ---\ntitle: A safety menace\n---\nThe safety menace grew.\n",
    ],
)
def test_a_rule_line_that_does_not_open_the_text_is_no_front_matter(markdown):
    assert len(mtfix.check(markdown)) == 2


def test_rechecks_in_full_mode_skip_the_model_the_parser_and_the_restorer():
    from mtfix.pipeline import MODE_PROPOSERS, recheck_options

    full = recheck_options(Options(mode="full", enable=("restorer", "mt-spacing")))
    assert full.scorer == "evidence" and full.enable == ()
    assert "thesaurus" not in full.proposers and "mt-pronoun" not in full.proposers
    assert "function-words" not in full.proposers  # only the language model decides them
    assert "restorer" not in full.proposers and "mt-spacing" in full.proposers and "rules" in full.proposers
    rules = recheck_options(Options())
    assert rules.proposers == MODE_PROPOSERS["rules"] and rules.scorer is None


def test_an_edit_reason_is_one_report_line_whatever_it_quotes():
    # Every proposer quotes found text, and hard-wrapped text brings its line breaks along.
    e = Edit(0, 12, "safety\nmenace", "security\nthreat", "synonym-swap", "x", 0.9, True, "'safety\r\nmenace' is spun")
    assert e.reason == "'safety menace' is spun"
    assert e.with_(reason="prefers 'a\nb'").reason == "prefers 'a b'"


def test_no_edit_moves_a_combining_accent_onto_another_letter():
    # Decomposed text (macOS, PDFs) writes 'ë' as 'e' + U+0308: "the" there is not the word "the".
    text = "The the\u0308 end. A safety menace\u0301 grew. " + EVIDENCE
    result = mtfix.repair(text, mode="rules")
    assert result.repaired.startswith("The the\u0308 end. A safety menace\u0301 grew. ")
    assert result.changed  # the plain phrases after it are still fixed


def test_a_fixed_phrase_keeps_its_no_break_space():
    text = EVIDENCE + "A safety\u00a0menace and a safety\u202fmenace."
    assert core(text).repaired.endswith("A security\u00a0threat and a security\u202fthreat.")
