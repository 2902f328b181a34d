"""Context conditions for rule-table entries.

Syntax (the `context` column): conditions separated by ';', each `FIELD:ALTERNATIVES` where
FIELD is one of

    before      the next word (after the match) must be one of the alternatives
    after       the previous word (before the match) must be one of them
    not_before  the next word must not be one of them
    not_after   the previous word must not be one of them

    doc_without the document must not contain any of the alternatives (words only): a
                spinner maps a word the same way throughout, so a document that still says
                "were" was not spun "were" -> "had been"

and ALTERNATIVES is a '|' separated list of lower-case words or classes:

    <quote>    a quotation mark or a colon      <weekday>  monday .. sunday
    <month>    january .. december               <date>     weekday, month, a number, today...
    <number>   digits                            <cap>      a capitalised word
    <det>      the, a, an, this, its, their...   <pron>     i, you, he, she, it, we, they
    <punct>    , ; : . ! ? or a dash             <end>      no word: sentence or text ends/starts
    <plural>   a plural subject: they, we, these... or a lower-case plural-looking noun
               ("planes", "allies"; not "news", "always", "its", nor names like "Texas")

Example: `before:that|<quote>|<date>;not_after:as` (the "mentioned" of "as mentioned" stays).
"""
from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("before", "after", "not_before", "not_after", "doc_without")
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_DATE_WORDS = frozenset("today yesterday tomorrow tonight last this next earlier".split())
_DETS = frozenset("the a an this that these those its their his her our my your some any every each".split())
_PRONS = frozenset("i you he she it we they".split())
_PLURAL_WORDS = frozenset("they we you these those both many several few others all".split())
# Words ending in a plain "s" that are not plurals (the "-ss", "-us", "-is" ones are excluded by
# their ending): agreement with them would turn "the news had been" into "the news were".
_S_NOT_PLURAL = frozenset(
    "as has was does goes says its thus yes plus less unless whereas perhaps always sometimes "
    "afterwards towards besides nevertheless nonetheless news series species means politics "
    "economics physics mathematics ethics athletics lens bias gas chaos".split()
)
_QUOTE_CHARS = frozenset("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb:")
_PUNCT_CHARS = frozenset(",;:.!?\u2013\u2014-()")
# A word (or mark) each class accepts: what the rule-chain check puts beside a rule's output.
CLASS_WITNESS = {
    "<quote>": '"', "<weekday>": "Monday", "<month>": "May", "<date>": "today", "<number>": "2020",
    "<cap>": "Reuters", "<det>": "the", "<pron>": "they", "<plural>": "officials", "<punct>": ",",
    "<end>": ".",
}
CLASSES = tuple(CLASS_WITNESS)


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str
    words: frozenset[str]
    classes: tuple[str, ...]

    @property
    def looks_before(self) -> bool:
        return self.field in ("before", "not_before")

    @property
    def negated(self) -> bool:
        return self.field.startswith("not_")

    def witnesses(self) -> list[str]:
        """Words (or marks) the condition's alternatives accept: each listed word and a
        witness of each class."""
        return sorted(self.words) + [CLASS_WITNESS[c] for c in self.classes]

    def holds_at(self, prev, nxt, doc) -> bool:
        """Whether the condition holds for a match with (word, char) `prev` before it and `nxt`
        after it in `doc` (a `text.Document`; only doc_without reads it, through its word
        index, which is built on first use: few rules need it)."""
        if self.field == "doc_without":
            return not any(doc.words.count(w) for w in self.words)
        word, char = nxt if self.looks_before else prev
        return self.holds(word, char)

    def holds(self, word: str | None, char: str | None) -> bool:
        hit = self._matches(word, char)
        return not hit if self.negated else hit

    def _matches(self, word: str | None, char: str | None) -> bool:
        lw = word.lower() if word else None
        if lw is not None and lw in self.words:
            return True
        for cls in self.classes:
            if cls == "<quote>" and char is not None and char in _QUOTE_CHARS:
                return True
            if cls == "<punct>" and char is not None and char in _PUNCT_CHARS:
                return True
            if cls == "<end>" and (word is None or (char is not None and char in ".!?")):
                return True
            if lw is None:
                continue
            if cls == "<weekday>" and lw in _WEEKDAYS:
                return True
            if cls == "<month>" and lw in _MONTHS:
                return True
            if cls == "<date>" and (lw in _WEEKDAYS or lw in _MONTHS or lw in _DATE_WORDS or lw[:1].isdigit()):
                return True
            if cls == "<number>" and lw[:1].isdigit():
                return True
            if cls == "<cap>" and word[:1].isupper():
                return True
            if cls == "<det>" and lw in _DETS:
                return True
            if cls == "<pron>" and lw in _PRONS:
                return True
            if cls == "<plural>" and _looks_plural(word, lw):
                return True
        return False


def _looks_plural(word: str, lw: str) -> bool:
    if lw in _PLURAL_WORDS:
        return True
    return (
        word.islower()
        and len(lw) > 3
        and lw.endswith("s")
        and not lw.endswith(("ss", "us", "is", "'s", "\u2019s"))
        and lw not in _S_NOT_PLURAL
    )


def parse_conditions(spec: str) -> tuple[Condition, ...]:
    spec = spec.strip()
    if not spec or spec == "-":
        return ()
    out = []
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise ConditionError(f"condition {part!r} lacks 'FIELD:'")
        name, _, alts = part.partition(":")
        name = name.strip()
        if name not in FIELDS:
            raise ConditionError(f"unknown field {name!r} (use {', '.join(FIELDS)})")
        words, classes = set(), []
        for alt in alts.split("|"):
            alt = alt.strip()
            if not alt:
                raise ConditionError(f"empty alternative in {part!r}")
            if alt.startswith("<"):
                if alt not in CLASSES:
                    raise ConditionError(f"unknown class {alt} (use {', '.join(CLASSES)})")
                if name == "doc_without":
                    raise ConditionError(f"{name} takes words, not classes ({alt})")
                classes.append(alt)
            else:
                if alt != alt.lower() or " " in alt:
                    raise ConditionError(f"word {alt!r} must be one lower-case word")
                words.add(alt)
        out.append(Condition(name, frozenset(words), tuple(classes)))
    return tuple(out)
