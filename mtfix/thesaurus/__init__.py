"""The reverse thesaurus: for a word a spinner may have put in, the words it may have replaced.

The index (`index.data`, gzip'd TSV built by bench/build_thesaurus.py from WordNet 3.0 and the
LibreOffice English thesaurus, ranked by wordfreq frequencies; see models/README.md for the
licences) is keyed by lemma and part of speech. `originals(form)` lemmatises a found word form
with lemminflect, looks up every reading, and inflects the candidate originals back to the
found form's tag: "consultants" -> "advisers", "mentioned" -> "said", "noticed" -> "saw"/"seen".
Needs no Debian package and no torch at run time.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from ..text import inflections

# lemminflect's universal POS -> index POS, and the Penn tags each can inflect to.
_POS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
_TAGS = {
    "NOUN": ("NN", "NNS"),
    "VERB": ("VB", "VBZ", "VBD", "VBN", "VBG"),
    "ADJ": ("JJ", "JJR", "JJS"),
    "ADV": ("RB", "RBR", "RBS"),
}
_BASE_TAG = {"NOUN": "NN", "VERB": "VB", "ADJ": "JJ", "ADV": "RB"}
MAX_ORIGINALS = 32


class ReverseThesaurus:
    """Entries are kept as raw text ("pos:cand|cand<TAB>pos:..." per lemma), split on first lookup:
    loading 100k entries eagerly would cost most of a second at every start."""

    def __init__(self, raw: dict[str, str]):
        self._raw = raw
        self._parsed: dict[str, dict[str, tuple[str, ...]]] = {}
        self.phrases = frozenset(k for k, v in raw.items() if " " in k and "\t" in v)

    @classmethod
    def from_text(cls, text: str) -> "ReverseThesaurus":
        return cls(
            dict(
                line.split("\t", 1)
                for line in text.split("\n")
                if line and line[0] != "#"
            )
        )

    def __contains__(self, lemma: str) -> bool:
        return lemma in self._raw

    def lemma_candidates(self, lemma: str, pos: str) -> tuple[str, ...]:
        parsed = self._parsed.get(lemma)
        if parsed is None:
            parsed = {}
            for part in self._raw.get(lemma, "").split("\t"):
                if part and part[0] != "z":
                    parsed[part[0]] = tuple(part[2:].split("|"))
            self._parsed[lemma] = parsed
        return parsed.get(pos, ())

    def zipf(self, phrase: str) -> float:
        """wordfreq Zipf frequency of a word or phrase's lemma (DEFAULT_ZIPF when unknown)."""
        return _zipf(self, phrase.lower())

    def originals(self, form: str) -> tuple[str, ...]:
        """Likely originals of a lower-case found word or phrase, inflected like it, best first."""
        return _originals(self, form)


def _lemminflect():
    from ..text import import_lemminflect

    return import_lemminflect()


def _inflect_phrase(phrase: str, tag: str, upos: str) -> str | None:
    words = phrase.split(" ")
    head = 0 if upos == "VERB" else len(words) - 1
    if tag == _BASE_TAG[upos]:
        return phrase
    forms = inflections(words[head], tag, upos in ("NOUN", "VERB"))
    if not forms:
        return None
    words[head] = forms[0]
    return " ".join(words)


@lru_cache(maxsize=200_000)
def _originals(index: ReverseThesaurus, form: str) -> tuple[str, ...]:
    lemminflect = _lemminflect()
    readings: list[tuple[str, str, str]] = []  # (lemma, upos, tag)
    if " " in form:
        for pos, upos in (("n", "NOUN"), ("v", "VERB"), ("a", "ADJ"), ("r", "ADV")):
            if index.lemma_candidates(form, pos):
                readings.append((form, upos, _BASE_TAG[upos]))
    else:
        for upos, lemmas in lemminflect.getAllLemmas(form).items():
            if upos not in _POS:
                continue
            for lemma in lemmas:
                if not index.lemma_candidates(lemma, _POS[upos]):
                    continue
                for tag in _TAGS[upos]:
                    if tag == _BASE_TAG[upos] and lemma == form:
                        readings.append((lemma, upos, tag))
                    elif (
                        tag != _BASE_TAG[upos]
                        and lemma != form
                        and form in inflections(lemma, tag)
                    ):
                        # lemma != form: lemminflect lists mass nouns ("safety") as their own plural
                        readings.append((lemma, upos, tag))
    out: dict[str, None] = {}
    for rank in range(MAX_ORIGINALS):
        for lemma, upos, tag in readings:
            cands = index.lemma_candidates(lemma, _POS[upos])
            if rank < len(cands):
                inflected = _inflect_phrase(cands[rank], tag, upos)
                if inflected and inflected != form:
                    out.setdefault(inflected, None)
        if len(out) >= MAX_ORIGINALS:
            break
    return tuple(out)[:MAX_ORIGINALS]


DEFAULT_ZIPF = 2.5


@lru_cache(maxsize=200_000)
def _zipf(index: ReverseThesaurus, phrase: str) -> float:
    candidates = [phrase]
    if " " not in phrase:
        for lemmas in _lemminflect().getAllLemmas(phrase).values():
            candidates.extend(lemmas)
    for lemma in candidates:
        raw = index._raw.get(lemma)
        if raw is not None and raw.startswith("z:"):
            return int(raw[2:].split("\t", 1)[0]) / 10
    return DEFAULT_ZIPF


@lru_cache(maxsize=1)
def load_index() -> ReverseThesaurus:
    data = resources.files("mtfix.thesaurus").joinpath("index.data").read_bytes()
    return ReverseThesaurus.from_text(gzip.decompress(data).decode("utf-8"))
