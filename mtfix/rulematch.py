"""The rule-table proposer: Aho-Corasick matching on word boundaries, longest match first,
case-insensitive, carrying case, inflection and a/an agreement into the replacement."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .edit import Edit
from .ruletable import Rule, RuleSet
from .text import (
    WORD_RE,
    SpanSet,
    at_sentence_start,
    has_kept_separator,
    indefinite_article,
    is_word_char,
    join_wrapped,
    keep_line_breaks,
    transfer_apostrophes,
    transfer_case,
    widen_over_moved_break,
)

AUTO_CONFIDENCE = 0.95
# Before document evidence is weighed; the evidence scorer revises these.
PRIOR_CONFIDENCE = {"auto": AUTO_CONFIDENCE, "spun": 0.35, "suggest": 0.3}
_PERFECT_AUX = frozenset(
    "have has had having 've 's be been being is are was were am 're get gets got gotten".split()
)
_PREV_WORD_RE = re.compile(r"([^\W_]+(?:['\u2019][^\W_]+)?)[^\w]*$", re.UNICODE)
_NEXT_WORD_RE = re.compile(r"^[^\w]*?([^\W_]+)", re.UNICODE)
# An article standing alone: after whitespace, an opening quote or bracket, a dash, or at the start.
_ARTICLE_BEFORE_RE = re.compile(r"(?<![^\s\"'(\[\u201c\u2018\u2014\u2013])(an?|An?|AN?)(\s+)$")


@dataclass(frozen=True)
class _Entry:
    rule: Rule
    by_tag: tuple[tuple[str, tuple[str, ...]], ...]


class Matcher:
    """An automaton over every inflected found form of a rule set."""

    def __init__(self, ruleset: RuleSet):
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        table: dict[str, list[_Entry]] = {}
        for rule in ruleset.rules:
            for form, by_tag in rule.forms().items():
                key = form.lower()
                table.setdefault(key, []).append(_Entry(rule, tuple(by_tag.items())))
        for key, entries in table.items():
            self.automaton.add_word(key, (key, tuple(entries)))
        self.empty = not table
        if table:
            self.automaton.make_automaton()

    def matches(self, folded: str):
        if self.empty:
            return
        for end_index, (key, entries) in self.automaton.iter(folded):
            start = end_index - len(key) + 1
            yield start, end_index + 1, entries


def matcher_for(ruleset: RuleSet) -> Matcher:
    """One automaton per rule set, built on first use and kept with it (and so in the
    rule-set cache, see `ruletable.load_rules`)."""
    m = getattr(ruleset, "_matcher", None)
    if m is None:
        m = Matcher(ruleset)
        object.__setattr__(ruleset, "_matcher", m)
    return m


def _neighbour_matches(text: str, start: int, end: int):
    """(text before, its last word's match, text after, its first word's match): the window
    a rule's context reads beside text[start:end]."""
    before = text[max(0, start - 60) : start]
    after = text[end : end + 60]
    return before, _PREV_WORD_RE.search(before), after, _NEXT_WORD_RE.match(after)


def _neighbours(text: str, start: int, end: int):
    """(previous word, char before), (next word, char after), ignoring spaces."""
    before, m, after, n = _neighbour_matches(text, start, end)
    prev_word = m.group(1) if m else None
    b = before.rstrip()
    prev_char = b[-1] if b else None
    if prev_char is not None and prev_word is not None and not b.endswith(prev_word):
        prev_word = None if prev_char in ".!?\n" else prev_word
    next_word = n.group(1) if n else None
    a = after.lstrip()
    next_char = a[0] if a else None
    if next_char is not None and next_char in ".!?" and next_word is not None:
        next_word = None  # a sentence ends first
    return (prev_word, prev_char), (next_word, next_char)


def context_reach(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to the words a rule's context reads beside it (`_neighbours`):
    a rule next to a changed span may now match, or no longer, as its context changed."""
    before, prev, _, nxt = _neighbour_matches(text, start, end)
    return (start - len(before) + prev.start(1) if prev else start, end + nxt.end(1) if nxt else end)


def _looks_like_name(text: str, start: int, found: str) -> bool:
    """A capitalised word inside the match, not explained by sentence start or all-caps."""
    letters = [c for c in found if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return False
    words = found.split()
    for i, w in enumerate(words):
        if w[:1].isupper():
            if i == 0 and at_sentence_start(text, start):
                continue
            return True
    return False


def _choose_form(by_tag, prev_text: str) -> tuple[str, ...]:
    tags = dict(by_tag)
    if len(tags) == 1:
        return next(iter(tags.values()))
    if "VBD" in tags and "VBN" in tags and tags["VBD"] != tags["VBN"]:
        # A line break ends the clause unless it only wraps a line ("had\\nnoticed" -> "had seen";
        # the "x" stands for the phrase, which closes a break just before it).
        clause = re.split(r"[,;:.!?\n\r]", join_wrapped(prev_text[-50:] + "x")[:-1])[-1]
        prev_words = [w.lower().replace("\u2019", "'") for w in WORD_RE.findall(clause)][-6:]
        if any(w in _PERFECT_AUX or w.endswith(("'ve", "'s", "'d")) for w in prev_words):
            return tags["VBN"]
        return tags["VBD"]
    for tag in ("VBD", "VBZ", "VBG", "NN", "NNS", "VB", "VBN", "-"):
        if tag in tags:
            return tags[tag]
    return next(iter(tags.values()))


def _reason(rule: Rule, found: str, replacement: str) -> str:
    # One line of prose: a wrapped phrase's break (or one moved beside it) reads as a space.
    found, replacement = " ".join(found.split()), " ".join(replacement.split())
    alt = " (or " + ", ".join(f"'{r}'" for r in rule.replacements[1:]) + ")" if rule.ambiguous else ""
    target = f"'{replacement}'{alt}"
    if rule.kind == "tortured-phrase":
        return f"'{found}' is a tortured phrase for {target} (Problematic Paper Screener fingerprint)"
    if rule.apply == "auto":
        return f"'{found}' is a known spinner substitute for {target}, almost never right in clean English"
    if rule.apply == "spun":
        return f"'{found}' is a common spinner substitute for {target}, also legitimate English"
    return f"'{found}' may be a spinner substitute for {target}; often legitimate, check the context"


def propose_rules(ctx) -> list[Edit]:
    text = ctx.doc.text
    # Matched with hard-wrapped lines joined, so "safety\nmenace" is "safety menace"; the
    # offsets are mapped back to the text's.
    joined = ctx.doc.joined
    candidates: list[tuple[int, int, Rule, tuple[str, ...]]] = []
    n = len(text)
    # On a re-check, the spans that are rules' output from earlier in the run.
    inside_output = SpanSet(ctx.produced or ())
    for jstart, jend, entries in matcher_for(ctx.ruleset).matches(joined.text):
        start, end = joined.original(jstart), joined.original(jend - 1) + 1
        if start > 0 and is_word_char(text[start - 1]):
            continue
        if end < n and is_word_char(text[end]):
            continue
        if inside_output.contains(start, end):
            continue  # a rule never rewrites what a rule wrote in this run ("Inc." is no "Inc")
        # An apostrophe glued to a letter continues the word ("don't" is not "don").
        if end + 1 < n and text[end] in "'\u2019" and text[end + 1].isalpha() and text[end + 1] not in "sS":
            continue
        found = text[start:end]
        prev, nxt = _neighbours(text, start, end)
        for entry in entries:
            rule = entry.rule
            if rule.case_sensitive:
                spelled = join_wrapped(found).replace("\u2019", "'")
                if spelled not in (rule.found, rule.found.upper()):
                    continue
            if not rule.case_sensitive and _looks_like_name(text, start, found):
                continue
            if not all(c.holds_at(prev, nxt, ctx.doc) for c in rule.conditions):
                continue
            # The 40 characters before the phrase, line breaks joined (the same words wrapped or not).
            before = text[joined.original(max(0, jstart - 40)) : start]
            candidates.append((start, end, rule, _choose_form(entry.by_tag, before)))
            break
    # Longest match first, then leftmost: "safety menace" beats "safety" and "menace".
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0]))
    # The characters taken matches cover: a candidate clashes when one of its own is taken,
    # a test (and a mark) as long as the phrase, whatever the number of matches so far.
    taken = bytearray(n)
    edits: list[Edit] = []
    for start, end, rule, forms in candidates:
        if taken.find(1, start, end) >= 0:
            continue
        taken[start:end] = b"\x01" * (end - start)
        edit = _make_edit(text, start, end, rule, forms)
        if edit is not None:
            edits.append(edit)
    return edits


def _make_edit(text: str, start: int, end: int, rule: Rule, forms: tuple[str, ...]) -> Edit | None:
    found = text[start:end]
    pairs = [(f, transfer_apostrophes(found, transfer_case(found, f))) for f in forms]
    if has_kept_separator(found):
        # A wrapped phrase keeps its line breaks, and "safety\u00a0menace" its no-break space.
        # Unlike a thesaurus site's list, the table's first form is the fix: no other stands in.
        pairs = [(f, keep_line_breaks(text, start, end, o)) for f, o in pairs]
        if pairs[0][1] is None:
            return None
        pairs = [(f, o) for f, o in pairs if o is not None]
    options = tuple(o for _, o in pairs)
    # a/an agreement: "an assistance" -> "a help" needs the article too.
    # Searched in place (not in a slice) so a word ending in "a" is never read as the article.
    m = _ARTICLE_BEFORE_RE.search(text, max(0, start - 40), start)
    if m and not join_wrapped(found).lower().startswith(("a ", "an ")):
        articles = [_agreeing_article(m.group(1), f, o) for f, o in pairs]
        if articles[0] != m.group(1):
            # Every option then covers the article, each with its own ("a help", "an aid").
            # A line break moved before the phrase replaces the article's space.
            options = tuple(
                a + ("" if o[:1] in ("\r", "\n") else m.group(2)) + o for a, o in zip(articles, options)
            )
            start = m.start(1)
    start, end, options = widen_over_moved_break(text, start, end, options)
    found, replacement = text[start:end], options[0]
    auto = rule.apply == "auto" and not rule.ambiguous
    return Edit(
        start=start,
        end=end,
        found=found,
        replacement=replacement,
        kind=rule.kind,
        source=rule.id,
        confidence=PRIOR_CONFIDENCE["suggest" if rule.ambiguous and rule.apply == "auto" else rule.apply],
        auto=auto,
        reason=_reason(rule, found, replacement),
        alternatives=options[1:],
    )


def _agreeing_article(article: str, form: str, option: str) -> str:
    """`article` as it must read before `option` (from the table's `form`)."""
    # The table's own spelling, not the case-carried one: "A MENTION" -> "A SAY", and
    # "SAY" is not an acronym to be read letter by letter.
    want = indefinite_article(form.split(" ")[0])
    if want == article.lower():
        return article
    shouting = len(article) > 1 or sum(c.isalpha() for c in option) > 1 and option.isupper()
    if article.isupper() and shouting:
        return want.upper()  # "A CONSULTANT" -> "AN EXPERT"
    return want.capitalize() if article[0].isupper() else want
