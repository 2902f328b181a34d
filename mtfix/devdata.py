"""A spinner simulator: damage clean English the way article spinners do, for honest dev data.

What real spinners do to news English (see ../shared/FIELD-NOTES.md and seed 000), imitated:

- replace a share of content words by a thesaurus synonym, inflected to match
  ("said" -> "stated", "threats" -> "menaces"); the choice follows the spinner's habits, not
  the context: often a synonym of another sense of the word, often the rarest one;
- swap function-word phrases from a list of their own ("may be" -> "could also be",
  "until" -> "till", "where" -> "the place", "instead" -> "as a substitute");
- keep names (capitalised words), numbers and quotations intact;
- be consistent: one spinner (a `SpinnerProfile`) maps a word the same way every time.

The synonyms come from the LibreOffice/WordNet thesaurus (`mythes-en-us`:
/usr/share/mythes/th_en_US_v2.dat, read directly), never from mtfix's rule tables, and
`FUNCTION_SWAPS` below is written separately from mtfix/rules/news.tsv, so the dev score does
not measure the rule table against itself (bench/quality.py reports the overlap).

Everything is deterministic: each decision is a hash of (profile seed, what is decided), so the
same input and profile give the same output on any machine and in any order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .text import WORD_RE, import_lemminflect, indefinite_article, inflections, split_sentences, transfer_case

DEFAULT_THESAURUS = Path("/usr/share/mythes/th_en_US_v2.dat")
_POS = {"(noun)": "NOUN", "(verb)": "VERB", "(adj)": "ADJ", "(adv)": "ADV"}
# How much a spinner likes each kind of thesaurus neighbour: plain synonyms most, then
# "similar" adjectives, then hypernyms ("security" -> "safety"), which spinners do use.
_RELATION_WEIGHT = {"": 1.0, "similar term": 0.6, "generic term": 0.25, "related term": 0.25}
# Candidates rarer than this (wordfreq Zipf scale: 3 = once per million words) are skipped.
MIN_ZIPF = 2.5

# Function-word phrases and what spinners put in their place. Written for the simulator from
# the behaviour of public spinners (not copied from mtfix/rules): longest phrases first.
FUNCTION_SWAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("until recently", ("till not too long ago", "till lately")),
    ("in order to", ("so as to", "with the intention to")),
    ("as well as", ("in addition to", "together with")),
    ("according to", ("in accordance with", "in keeping with")),
    ("instead of", ("as a substitute for", "rather than")),
    ("because of", ("as a result of", "on account of")),
    ("more than", ("greater than", "over")),
    ("at least", ("no less than", "not less than")),
    ("such as", ("comparable to", "similar to")),
    ("so that", ("in order that", "in order that")),
    ("may be", ("could also be", "could be")),
    ("may have", ("could have", "might have")),
    ("instead", ("as a substitute", "as an alternative")),
    ("because", ("as a result of", "since")),
    ("until", ("till", "till")),
    ("where", ("the place", "the place")),
    ("under", ("underneath", "beneath")),
    ("however", ("nonetheless", "nevertheless")),
    ("although", ("though", "even though")),
    ("while", ("whereas", "whilst")),
    ("also", ("additionally", "moreover")),
    ("including", ("together with", "along with")),
    ("during", ("throughout", "all through")),
    ("before", ("earlier than", "previous to")),
    ("despite", ("regardless of", "in spite of")),
    ("among", ("amongst", "amid")),
    ("almost", ("nearly", "virtually")),
    ("recently", ("lately", "not too long ago")),
    ("soon", ("quickly", "shortly")),
    ("often", ("typically", "incessantly")),
    ("therefore", ("subsequently", "due to this fact")),
    ("against", ("towards", "in opposition to")),
    ("through", ("by way of", "via")),
    ("within", ("inside", "inside of")),
    ("last", ("final", "ultimate")),
    ("next", ("subsequent", "subsequent")),
    ("around", ("round", "roughly")),
)

# Words a thesaurus swap never touches: function words, auxiliaries and light verbs, whose
# spinner treatment is FUNCTION_SWAPS, plus words whose thesaurus entries are all wrong.
_STOP = (
    frozenset("""a an the this that these those and or but nor for so yet of to in on at by with from into onto
    upon about above below over under between among through during before after since until while
    as than then there here when where why how what which who whom whose if because although though
    whether not no nor only also just very too more most less least much many few several some any
    each every all both either neither other another such same own i me my we us our you your he him
    his she her it its they them their be is am are was were been being have has had having do does
    did done doing will would shall should can could may might must ought get got gets make made take
    took go went gone going come came one two first last next new old mr mrs ms dr per via vs etc
    however also well even still yet ever never always often now again already soon once way thing
    things people year years time times day days part""".split())
    | frozenset(p for p, _ in FUNCTION_SWAPS if " " not in p)
)
# Thesaurus entries no spinner dictionary in news use would print: slurs, profanity, and the
# sexual senses WordNet lists for everyday verbs ("know", "love", "screw"). A candidate holding
# any of these words is skipped.
_UNFIT_WORDS = """nigger nigga coon jigaboo kike yid chink gook wop dago spic fag faggot dyke retard twat slut whore
    bitch bastard intercourse hump eff fuck fucking screw bonk shag sex laid fornicate copulate piss shit crap arse
    ass prick cock dick pussy tit tits wank bugger"""
_UNFIT = frozenset(_UNFIT_WORDS.split() + ["cunt", "sleep together", "make love", "make out"])  # codespell:ignore
_DETERMINERS = frozenset("a an the this that these those his her its their our my your some any no every each".split())
_VERB_CUES = frozenset(
    "to will would can could may might must should shall did does do not never i we they you who".split()
)
_PERFECT_CUES = frozenset("has have had having been be being is are was were get got".split())


def _unit(*keys) -> float:
    """A deterministic number in [0, 1) for the decision named by `keys`."""
    digest = hashlib.blake2b("\x1f".join(map(str, keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Sense:
    pos: str
    terms: tuple[tuple[str, str], ...]  # (term, relation); relation "" for a plain synonym


class Thesaurus:
    """A MyThes thesaurus (the LibreOffice format): lower-cased headword -> senses."""

    def __init__(self, entries: dict[str, list[Sense]], name: str = "custom"):
        self.entries = entries
        self.name = name

    @classmethod
    def load(cls, path: str | Path = DEFAULT_THESAURUS) -> "Thesaurus":
        return _load_mythes(str(path))

    @classmethod
    def parse(cls, text: str, name: str = "custom") -> "Thesaurus":
        entries: dict[str, list[Sense]] = {}
        lines = text.splitlines()
        i = 1 if lines and "|" not in lines[0] else 0  # first line names the encoding
        while i < len(lines):
            head, _, count = lines[i].rpartition("|")
            n = int(count) if count.isdigit() else 0
            senses = []
            for line in lines[i + 1 : i + 1 + n]:
                pos, *terms = line.split("|")
                if pos not in _POS:
                    continue
                parsed = []
                for t in terms:
                    m = re.fullmatch(r"(.*?)(?: \((generic term|similar term|related term|antonym)\))?", t)
                    parsed.append((m.group(1), m.group(2) or ""))
                senses.append(Sense(_POS[pos], tuple(parsed)))
            if senses:
                entries.setdefault(head.lower(), []).extend(senses)
            i += 1 + n
        return cls(entries, name)

    def senses(self, lemma: str, pos: str) -> list[Sense]:
        return [s for s in self.entries.get(lemma, ()) if s.pos == pos]


@lru_cache(maxsize=4)
def _load_mythes(path: str) -> Thesaurus:
    return Thesaurus.parse(Path(path).read_text(encoding="utf-8", errors="replace"), name=Path(path).name)


def thesaurus_available(path: str | Path = DEFAULT_THESAURUS) -> bool:
    return Path(path).is_file()


@dataclass(frozen=True)
class SpinnerProfile:
    """One spinner's habits. `seed` fixes its dictionary: which words it swaps and for what."""

    seed: int = 0
    content_rate: float = 0.3  # share of eligible content lemmas this spinner has a swap for
    function_rate: float = 0.6  # share of FUNCTION_SWAPS phrases it uses
    first_sense: float = 0.5  # chance it takes a synonym of the word's main sense
    rarest: float = 0.4  # chance it takes the rarest direct synonym (else any, by relation weight)
    skip: float = 0.1  # chance it leaves one occurrence alone (spintax picks per occurrence)


@dataclass
class Spin:
    """One simulated swap: damaged[start:end] == found, and the clean text had `original`."""

    start: int
    end: int
    found: str
    original: str
    kind: str  # synonym-swap | function-word
    via: str  # thesaurus relation (synonym, generic term, ...) or "phrase list"

    def to_dict(self) -> dict:
        return dict(
            start=self.start, end=self.end, found=self.found, original=self.original, kind=self.kind, via=self.via
        )


@dataclass
class SpunText:
    damaged: str
    reference: str
    spins: list[Spin] = field(default_factory=list)


def _rarity():
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # pragma: no cover - the build script records which was used
        return None
    return lambda term: zipf_frequency(term, "en")


def _protected(text: str) -> list[tuple[int, int]]:
    """Quotations, which a spinner leaves alone."""
    spans = [m.span() for m in re.finditer(r"\u201c[^\u201d\n]*\u201d|\"[^\"\n]*\"", text)]
    return spans


def _tag_for(word: str, lemma: str, pos: str, prev: list[str]) -> str | None:
    """The Penn tag of `word` as a form of `lemma`, or None when it cannot be told."""
    if pos == "NOUN":
        if word == lemma:
            return "NN"
        return "NNS" if word in inflections(lemma, "NNS") else None
    if pos in ("ADJ", "ADV"):
        return ("JJ" if pos == "ADJ" else "RB") if word == lemma else None
    if word == lemma:
        return "VB"
    tags = [t for t in ("VBZ", "VBG", "VBD", "VBN") if word in inflections(lemma, t)]
    if set(tags) == {"VBD", "VBN"}:
        return "VBN" if _PERFECT_CUES & set(prev[-3:]) else "VBD"
    return tags[0] if len(tags) == 1 else None


def _guess_pos(word: str, prev: str | None, nxt: str | None) -> tuple[str, str] | None:
    """(pos, lemma) for a content word from its forms and its neighbours; None when unsure."""
    getAllLemmas = import_lemminflect().getAllLemmas

    lemmas = {p: ls[0] for p, ls in getAllLemmas(word).items() if p in ("NOUN", "VERB", "ADJ", "ADV") and ls}
    if len(lemmas) == 1:
        pos, lemma = next(iter(lemmas.items()))
        return pos, lemma
    if set(lemmas) == {"NOUN", "VERB"}:
        if prev in _DETERMINERS:
            return "NOUN", lemmas["NOUN"]
        verb_context = prev in _VERB_CUES or nxt in _DETERMINERS
        if verb_context or (prev in _PERFECT_CUES and word.endswith(("ed", "en", "ing"))):
            return "VERB", lemmas["VERB"]
    return None


class Spinner:
    """Spins texts with one profile and one thesaurus."""

    def __init__(self, thesaurus: Thesaurus, profile: SpinnerProfile = SpinnerProfile()):
        self.thesaurus = thesaurus
        self.profile = profile
        self.rarity = _rarity()
        self._choice: dict[tuple[str, str], tuple[str, str] | None] = {}
        self._swaps = re.compile(
            r"(?<![\w'\u2019-])(" + "|".join(re.escape(p) for p, _ in FUNCTION_SWAPS) + r")(?![\w'\u2019-])",
            re.IGNORECASE,
        )
        self._swap_of = dict(FUNCTION_SWAPS)

    # -- decisions (deterministic per profile)
    def synonym_for(self, lemma: str, pos: str) -> tuple[str, str] | None:
        """(synonym, relation) this spinner uses for lemma/pos, or None if it keeps the word."""
        key = (lemma, pos)
        if key not in self._choice:
            self._choice[key] = self._pick(lemma, pos)
        return self._choice[key]

    def _pick(self, lemma: str, pos: str) -> tuple[str, str] | None:
        p = self.profile
        if _unit(p.seed, "spin", lemma, pos) >= p.content_rate:
            return None
        senses = [
            [(t, rel) for t, rel in s.terms if rel != "antonym" and _usable(t, lemma)]
            for s in self.thesaurus.senses(lemma, pos)
        ]
        senses = [s for s in senses if s]
        if not senses:
            return None
        if len(senses) == 1 or _unit(p.seed, "sense", lemma, pos) < p.first_sense:
            pool = senses[0]
        else:
            pool = senses[1 + int(_unit(p.seed, "other", lemma, pos) * (len(senses) - 1))]
        pool = sorted(set(pool))
        if self.rarity is not None:
            # Spinner dictionaries hold dictionary words, not hapaxes ("criminated").
            pool = [c for c in pool if self.rarity(c[0]) >= MIN_ZIPF]
            if not pool:
                return None
            direct = [c for c in pool if c[1] in ("", "similar term")]
            if direct and _unit(p.seed, "rare", lemma, pos) < p.rarest:
                return min(direct, key=lambda c: (self.rarity(c[0]), c))
        weights = [_RELATION_WEIGHT.get(rel, 0.3) for _, rel in pool]
        x = _unit(p.seed, "pick", lemma, pos) * sum(weights)
        for cand, w in zip(pool, weights):
            x -= w
            if x < 0:
                return cand
        return pool[-1]

    def phrase_for(self, phrase: str) -> str | None:
        p = self.profile
        if _unit(p.seed, "phrase", phrase) >= p.function_rate:
            return None
        options = self._swap_of[phrase]
        return options[int(_unit(p.seed, "phrase-pick", phrase) * len(options))]

    # -- spinning
    def spin(self, text: str, key: str = "") -> SpunText:
        """Spin `text`; `key` names the document so per-occurrence choices differ between texts."""
        protected = _protected(text)
        starts = {s.start for s in split_sentences(text)}
        taken: list[tuple[int, int, str, str, str, str]] = []  # start, end, new, original, kind, via

        def free(a: int, b: int) -> bool:
            return not any(a < pe and ps < b for ps, pe in protected) and not any(a < e and s < b for s, e, *_ in taken)

        for m in self._swaps.finditer(text):
            phrase = m.group(1).lower()
            new = self.phrase_for(phrase)
            if (
                new is None
                or not free(*m.span())
                or _unit(self.profile.seed, "skip", key, m.start()) < self.profile.skip
            ):
                continue
            if m.group(1)[0].isupper() and m.start() not in starts:
                continue  # "Last Post", "Under Secretary": part of a name
            taken.append((*m.span(), transfer_case(m.group(1), new), m.group(1), "function-word", "phrase list"))

        words = list(WORD_RE.finditer(text))
        for n, m in enumerate(words):
            w = m.group()
            if not free(*m.span()) or _unit(self.profile.seed, "skip", key, m.start()) < self.profile.skip:
                continue
            lower = w.lower()
            if lower in _STOP or len(w) < 3 or not w.isalpha() or not w.isascii():
                continue
            nxt_word = words[n + 1].group() if n + 1 < len(words) else ""
            if w[0].isupper() and (m.start() not in starts or not w[1:].islower() or nxt_word[:1].isupper()):
                continue  # a name ("Grand Jury" at a sentence start too), or an acronym
            prev = [x.group().lower() for x in words[max(0, n - 3) : n]]
            nxt = nxt_word.lower() or None
            guess = _guess_pos(lower, prev[-1] if prev else None, nxt)
            if guess is None:
                continue
            pos, lemma = guess
            tag = _tag_for(lower, lemma, pos, prev)
            choice = self.synonym_for(lemma, pos) if tag else None
            if choice is None:
                continue
            new = _inflect_phrase(choice[0], pos, tag)
            if new is None or new == lower:
                continue
            taken.append((*m.span(), transfer_case(w, new), w, "synonym-swap", choice[1] or "synonym"))

        return _splice(text, sorted(taken))


def _usable(term: str, lemma: str) -> bool:
    words = term.split(" ")
    return (
        term != lemma
        and term not in _UNFIT
        and not _UNFIT.intersection(words)
        and len(words) <= 2
        and all(w.replace("-", "").isalpha() and w.islower() and w.isascii() for w in words)
        and lemma not in words
    )


def _inflect_phrase(term: str, pos: str, tag: str) -> str | None:
    if tag in ("NN", "VB", "JJ", "RB"):
        return term
    words = term.split(" ")
    head = 0 if pos == "VERB" else len(words) - 1
    forms = inflections(words[head], tag)
    if not forms:
        return None
    words[head] = forms[0]
    return " ".join(words)


_ARTICLE_RE = re.compile(r"\b(an?|An?)(\s+)$")


def _splice(text: str, taken) -> SpunText:
    out, spins, pos, shift = [], [], 0, 0
    for start, end, new, original, kind, via in taken:
        before = text[pos:start]
        m = _ARTICLE_RE.search(before)
        if m:  # "a report" -> "an account": good spinners fix the article, so the damage is the swap
            article = indefinite_article(new.split(" ")[0])
            article = article.capitalize() if m.group(1)[0].isupper() else article
            before = before[: m.start(1)] + article + before[m.end(1) :]
        out.append(before)
        shift += len(before)
        spins.append(Spin(shift, shift + len(new), new, original, kind, via))
        out.append(new)
        shift += len(new)
        pos = end
    out.append(text[pos:])
    return SpunText(damaged="".join(out), reference=text, spins=spins)


def spin_texts(texts: Iterable[tuple[str, str]], thesaurus: Thesaurus, profiles: list[SpinnerProfile]):
    """Spin (key, text) pairs, each with the profile its key hashes to; yields (key, profile index, SpunText)."""
    spinners = [Spinner(thesaurus, p) for p in profiles]
    for key, text in texts:
        k = int(_unit("profile", key) * len(spinners))
        yield key, k, spinners[k].spin(text, key)
