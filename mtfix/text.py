"""Offset-preserving text utilities: search normalisation, words, sentences, case, articles.

Everything here keeps a one-to-one mapping between character positions of the
original text and of the derived text, so offsets found in one are valid in the other.
"""
from __future__ import annotations

import bisect
import re
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache

# Typographic variants folded for matching only; the original characters are kept.
_FOLD = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2011": "-", "\u2010": "-",
})
APOSTROPHES = "'\u2019\u2018\u02bc"
QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"


_FOLD_PAIRS = tuple((chr(k), v) for k, v in _FOLD.items())


def fold_for_search(text: str) -> str:
    """Lower-case and fold typographic variants without changing the length."""
    # str.replace per variant is C-speed; str.translate with a dict is a Python-level loop
    # per character and was the slowest step of a rules-only run.
    folded = text
    for src, dst in _FOLD_PAIRS:
        if src in folded:
            folded = folded.replace(src, dst)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # A few characters (e.g. 'İ') lower to two code points; keep them one-for-one.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def is_word_char(ch: str) -> bool:
    # Hyphens and underscores join words: "long-term" is not "term", "foo_bar" is not "bar".
    return ch.isalnum() or ch in "-_\u2011\u2010"


WORD_RE = re.compile(r"[^\W_]+(?:[-'\u2019\u2011][^\W_]+)*", re.UNICODE)
_SENT_END_RE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n\s*\n")
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "col", "lt", "sgt", "capt", "st", "sen", "rep", "gov",
    "jr", "sr", "inc", "ltd", "co", "corp", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "u.n", "no",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "fig", "approx",
}


@dataclass(frozen=True)
class Span:
    start: int
    end: int


# Where editors (and `check`'s line numbers) end a line; str.splitlines would also end one at
# "\x0c" (pdftotext pages), "\u2028" and others.
LINE_END_RE = re.compile(r"\r\n|\r|\n")


class Document:
    """The original text plus lazily built indexes (lines, sentences, words)."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def folded(self) -> str:
        return fold_for_search(self.text)

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        for m in LINE_END_RE.finditer(self.text):
            starts.append(m.end())
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset, as editors count them: a byte-order
        mark at the start of the text is not a column."""
        line = bisect.bisect_right(self._line_starts, offset) - 1
        col = offset - self._line_starts[line] + 1
        if line == 0 and offset > 0 and self.text.startswith("\ufeff"):
            col -= 1
        return line + 1, col

    @cached_property
    def sentences(self) -> list[Span]:
        return split_sentences(self.text)

    def sentence_at(self, offset: int) -> Span:
        starts = [s.start for s in self.sentences]
        i = max(0, bisect.bisect_right(starts, offset) - 1)
        return self.sentences[i] if self.sentences else Span(0, len(self.text))

    @cached_property
    def word_count(self) -> int:
        return count_words(self.text)

    @cached_property
    def words(self) -> DocumentWords:
        return DocumentWords(self.text)


class DocumentWords:
    """How often a word or phrase occurs in a document (lower case, whole words: not inside a
    longer word or hyphenated compound)."""

    def __init__(self, text: str):
        self.text = text.lower()
        self.counts = Counter(re.findall(r"[\w-]+", self.text))

    def count(self, phrase: str) -> int:
        phrase = phrase.lower()
        if phrase not in self.counts and not re.fullmatch(r"[\w-]+", phrase):
            # A phrase (or a word with an apostrophe) is searched once, then counted like a word.
            self.counts[phrase] = len(re.findall(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", self.text))
        return self.counts[phrase]


def count_words(text: str) -> int:
    return len(WORD_RE.findall(text))


def split_sentences(text: str) -> list[Span]:
    """Sentence spans over the original text; paragraphs always end a sentence."""
    spans: list[Span] = []
    start = 0
    n = len(text)
    for m in _SENT_END_RE.finditer(text):
        end = m.end()
        if m.group().strip(".!?\u2026\"'\u201d\u2019)]") == "" and m.group()[0] == ".":
            # "Gen. Smith", "U.S. forces": an abbreviation, not a boundary.
            prev = re.search(r"([\w.]+)$", text[start:m.start()])
            if prev and prev.group(1).lower().rstrip(".") in _ABBREV:
                continue
        seg = text[start:end]
        if seg.strip():
            lead = len(seg) - len(seg.lstrip())
            spans.append(Span(start + lead, end))
        start = end
    if start < n and text[start:].strip():
        seg = text[start:]
        lead = len(seg) - len(seg.lstrip())
        spans.append(Span(start + lead, len(text.rstrip()) if text.rstrip() else n))
    return spans


# Text that is not prose and must never be edited: Markdown code (fenced blocks, inline spans),
# URLs and e-mail addresses. Users clean README files and scraped pages, where "safety menace"
# inside a code sample or a link is somebody's identifier, not a spinner's swap.
_NOT_PROSE_RE = re.compile(
    # fenced code block: closed by a run of the same character at least as long (CommonMark),
    # on a line that may end in "\r"; a byte-order mark may precede the first fence
    r"^[\ufeff \t]*(?P<fence>(?P<ch>[`~])(?P=ch){2,})[^\n]*\n.*?(?:^[ \t]*(?P=fence)(?P=ch)*[ \t]*\r?$|\Z)"
    r"|`[^`\n]+`"  # inline code
    r"|\b(?:https?|ftp)://[^\s<>\"'\]\[)]*[^\s<>\"'\]\[).,;:!?]"  # URL
    r"|\bwww\.[^\s<>\"'\]\[)]*[^\s<>\"'\]\[).,;:!?]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail address
    re.MULTILINE | re.DOTALL,
)


def not_prose_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of code, URLs and e-mail addresses in `text`, in order."""
    if "`" not in text and "~~~" not in text and "://" not in text and "www." not in text and "@" not in text:
        return []  # the common case, at no cost
    return [m.span() for m in _NOT_PROSE_RE.finditer(text)]


def shared_ends(a, b) -> tuple[int, int]:
    """(length of the common prefix, of the common suffix after it) of two sequences."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def at_sentence_start(text: str, offset: int) -> bool:
    """True when only opening punctuation separates `offset` from a sentence boundary."""
    i = offset - 1
    # A byte-order mark is invisible: "\ufeffConsultants said" starts a sentence.
    while i >= 0 and (text[i] in " \t\ufeff" or text[i] in "\"'\u201c\u2018([\u00ab"):
        i -= 1
    if i < 0:
        return True
    return text[i] in ".!?\n\r:\u2026" or text[i] in "\u201d\"" and i > 0 and text[i - 1] in ".!?"


def transfer_case(source: str, replacement: str) -> str:
    """Carry the capitalisation pattern of `source` into `replacement`.

    "Mentioned" -> "Said", "SAFETY MENACE" -> "SECURITY THREAT"; lower case is left as written,
    so a replacement holding a proper noun keeps it.
    """
    letters = [c for c in source if c.isalpha()]
    if not letters or not replacement:
        return replacement
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return replacement.upper()
    words = source.split()
    if len(words) > 1 and all(w[:1].isupper() for w in words if w[:1].isalpha()):
        return " ".join(w[:1].upper() + w[1:] for w in replacement.split(" "))
    if letters[0].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def transfer_apostrophes(source: str, replacement: str) -> str:
    """Use the original's apostrophe style (curly or straight) in the replacement."""
    for ch in "\u2019\u02bc":
        if ch in source:
            return replacement.replace("'", ch)
    return replacement


_AN_EXCEPTIONS = ("hour", "honest", "honou", "heir", "herb", "x-")  # "an X-ray"
_A_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "once", "ewe", "ure", "uro", "uga", "uk", "us ", "u.")


def indefinite_article(word: str) -> str:
    """'a' or 'an' for the word that follows (by sound, with the usual exceptions)."""
    if not word:
        return "a"
    if word.isupper() and 1 < len(word) <= 5:
        # Acronyms are read letter by letter: "an FBI agent", "a UN report".
        return "an" if word[0].lower() in "aefhilmnorsx" else "a"
    w = word.lower()
    if w.startswith(_AN_EXCEPTIONS):
        return "an"
    if w.startswith(_A_EXCEPTIONS) or w in ("u", "us"):
        return "a"
    return "an" if w[0] in "aeiou" else "a"


class _SpacyBlocker:
    """Meta-path finder refusing spaCy while lemminflect is imported (see `import_lemminflect`)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "spacy" or name.startswith("spacy."):
            raise ImportError("spaCy is not loaded for lemminflect's optional hooks")
        return None


def import_lemminflect():
    """Import lemminflect without its optional spaCy hook.

    lemminflect's __init__ tries `import spacy` to register token extensions mtfix never
    uses; with spaCy installed that drags spaCy and torch (seconds) into every rules-only
    run. Import it once, early, with spaCy refused; later imports reuse the module."""
    module = sys.modules.get("lemminflect")
    if module is not None:
        return module
    if "spacy" in sys.modules:
        import lemminflect

        return lemminflect
    sys.meta_path.insert(0, _SpacyBlocker)
    try:
        import lemminflect
    finally:
        sys.meta_path.remove(_SpacyBlocker)
    return lemminflect


@lru_cache(maxsize=100_000)
def inflections(lemma: str, tag: str, inflect_oov: bool = True) -> tuple[str, ...]:
    """lemminflect's `getInflection`, remembered. lemminflect deep-copies its tables on every
    call, which made inflecting thesaurus candidates a tenth of full mode's time."""
    return tuple(import_lemminflect().getInflection(lemma, tag, inflect_oov=inflect_oov) or ())
