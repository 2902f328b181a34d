"""Context conditions for rule-table entries.

Syntax (the `context` column): conditions separated by ';', each `FIELD:ALTERNATIVES` where
FIELD is one of

    before      the next word (after the match) must be one of the alternatives
    after       the previous word (before the match) must be one of them
    not_before  the next word must not be one of them
    not_after   the previous word must not be one of them

and ALTERNATIVES is a '|' separated list of lower-case words or classes:

    <quote>    a quotation mark or a colon      <weekday>  monday .. sunday
    <month>    january .. december               <date>     weekday, month, a number, today...
    <number>   digits                            <cap>      a capitalised word
    <det>      the, a, an, this, its, their...   <pron>     i, you, he, she, it, we, they
    <punct>    , ; : . ! ? or a dash             <end>      no word: sentence or text ends/starts

Example: `before:that|<quote>|<date>;not_after:as` (the "mentioned" of "as mentioned" stays).
"""
from __future__ import annotations

from dataclasses import dataclass

FIELDS = ("before", "after", "not_before", "not_after")
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_MONTHS = frozenset(
    "january february march april may june july august september october november december".split()
)
_DATE_WORDS = frozenset("today yesterday tomorrow tonight last this next earlier".split())
_DETS = frozenset("the a an this that these those its their his her our my your some any every each".split())
_PRONS = frozenset("i you he she it we they".split())
_QUOTE_CHARS = frozenset("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb:")
_PUNCT_CHARS = frozenset(",;:.!?\u2013\u2014-()")
CLASSES = ("<quote>", "<weekday>", "<month>", "<date>", "<number>", "<cap>", "<det>", "<pron>", "<punct>", "<end>")


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
        return False


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
                classes.append(alt)
            else:
                if alt != alt.lower() or " " in alt:
                    raise ConditionError(f"word {alt!r} must be one lower-case word")
                words.add(alt)
        out.append(Condition(name, frozenset(words), tuple(classes)))
    return tuple(out)
