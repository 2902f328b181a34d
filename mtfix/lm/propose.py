"""The "thesaurus" proposer: every word (or thesaurus phrase) a spinner could have put in, with
the words it may have replaced, best first. It proposes freely and decides nothing: its edits
carry a low confidence and are never automatic, so only a scorer that weighs them in context
(the language-model scorer) can make them count. Needs neither torch nor a model."""

from __future__ import annotations

import re
from functools import lru_cache

from ..edit import Edit
from ..text import (
    WORD_RE,
    at_sentence_start,
    indefinite_article,
    options_keeping_line_breaks,
    transfer_apostrophes,
    transfer_case,
)

SOURCE = "thesaurus"
PROPOSED_CONFIDENCE = 0.1
# Closed-class and very frequent words: spinners rarely touch them one by one (their phrase
# swaps are rule-table entries), and as sites they would only cost time.
STOPWORDS = frozenset(
    """a an the and or but nor so yet if then than that this these those there here what which who
    whom whose when where why how all any both each every few more most other some such no not only
    own same too very can could may might must shall should will would do does did done doing be
    am is are was were been being have has had having i me my mine we us our ours you your yours he
    him his she her hers it its they them their theirs one ones to of in on at by for with from up
    down out off over into onto upon about as just also again further once s t don now get got
    says said say mr mrs ms dr""".split()
)
MIN_WORD_LENGTH = 3
# Spinners put rarer words in place of common ones: on the synthetic dev set only 7% of the
# swaps the scorer restores have a found word this frequent (wordfreq Zipf), against a third
# of the words that are not swaps, so such words are not worth the model's time.
MAX_FOUND_ZIPF = 5.3


@lru_cache(maxsize=1)
def _phrase_automaton():
    import ahocorasick

    from ..thesaurus import load_index

    automaton = ahocorasick.Automaton()
    for phrase in load_index().phrases:
        automaton.add_word(phrase, phrase)
    automaton.make_automaton()
    return automaton


def is_name(text: str, start: int, word: str) -> bool:
    if len(word) > 1 and word.isupper():
        return True
    return word[:1].isupper() and not at_sentence_start(text, start)


def _sites(doc):
    """(start, end, lower-case form) for each single word and thesaurus phrase worth asking about."""
    text, folded = doc.text, doc.folded
    for m in WORD_RE.finditer(text):
        word = m.group()
        if len(word) < MIN_WORD_LENGTH or not word.isalpha():
            continue  # digits, hyphenated compounds, contractions
        form = folded[m.start() : m.end()]
        if form in STOPWORDS or is_name(text, m.start(), word):
            continue
        yield m.start(), m.end(), form
    # Phrases are matched with hard-wrapped lines joined ("primer\ncoat" is "primer coat").
    joined = doc.joined
    n = len(joined.text)
    for end_index, phrase in _phrase_automaton().iter(joined.text):
        jstart, jend = end_index - len(phrase) + 1, end_index + 1
        if (jstart > 0 and joined.text[jstart - 1].isalnum()) or (
            jend < n and joined.text[jend].isalnum()
        ):
            continue
        start, end = joined.original(jstart), joined.original(jend - 1) + 1
        if not re.fullmatch(r"[a-z' -]+", joined.text[jstart:jend]) or is_name(
            text, start, text[start:end]
        ):
            continue
        yield start, end, phrase


# British and American spellings of one word ("favour"/"favor", "organise"/"organize",
# "centre"/"center", "defence"/"defense", "travelled"/"traveled") read alike after these: the
# thesaurus lists some as synonyms, and changing a writer's spelling restores nothing.
_SPELLING_RULES = (
    (re.compile(r"our(?=s?$|ed$|ing$|ite|able|er)"), "or"),
    (re.compile(r"is(?=e$|es$|ed$|ing$|ation)"), "iz"),
    (re.compile(r"ys(?=e$|es$|ed$|ing$)"), "yz"),
    (re.compile(r"tre(?=s?$)"), "ter"),
    (re.compile(r"ence(?=s?$)"), "ense"),
    (re.compile(r"ogue(?=s?$)"), "og"),
    (re.compile(r"ll(?=ed$|ing$|er$|ers$)"), "l"),
    (re.compile(r"(?<=[a-z])(ae|oe)"), "e"),
)


@lru_cache(maxsize=200_000)  # the same few thousand words come back at every site
def spelling_key(word: str) -> str:
    key = word.lower()
    for pattern, american in _SPELLING_RULES:
        key = pattern.sub(american, key)
    return key


def same_word_respelled(a: str, b: str) -> bool:
    return a.lower() != b.lower() and spelling_key(a) == spelling_key(b)


_ARTICLE_RE = re.compile(r"(?:^|(?<=\s))(an?|An?|AN?)(\s+)$")


def candidate_edit(
    start: int, end: int, found: str, options: tuple[str, ...], kind: str, source: str, reason: str
) -> Edit:
    """A proposal only the language-model scorer may turn into an edit: low confidence, never
    automatic, the candidates best first."""
    return Edit(
        start=start,
        end=end,
        found=found,
        replacement=options[0],
        kind=kind,
        source=source,
        confidence=PROPOSED_CONFIDENCE,
        auto=False,
        reason=reason,
        alternatives=options[1:],
    )


def _edit(start: int, end: int, found: str, options: tuple[str, ...]) -> Edit:
    reason = f"'{found}' may be a thesaurus substitute (for '{options[0]}'...)"
    return candidate_edit(start, end, found, options, "synonym-swap", SOURCE, reason)


def propose_thesaurus(ctx) -> list[Edit]:
    from ..thesaurus import load_index

    index = load_index()
    text = ctx.doc.text
    edits = []
    for start, end, form in _sites(ctx.doc):
        if index.zipf(form) >= MAX_FOUND_ZIPF:
            continue
        originals = index.originals(form)
        if not originals:
            continue
        found = text[start:end]
        options = tuple(
            dict.fromkeys(
                transfer_apostrophes(found, transfer_case(found, o))
                for o in originals
                if not same_word_respelled(o, found)
            )
        )
        options = options_keeping_line_breaks(text, start, end, options)
        if not options:
            continue
        m = _ARTICLE_RE.search(text[max(0, start - 8) : start])
        if m is None:
            edits.append(_edit(start, end, found, options))
            continue
        # "an evaluation" -> "an assessment" but "a rating": candidates needing the other
        # article form a second site that spans the article too.
        article = m.group(1)
        agree = tuple(
            o for o in options if indefinite_article(o.split(" ")[0]) == article.lower()
        )
        other = tuple(o for o in options if o not in agree)
        if agree:
            edits.append(_edit(start, end, found, agree))
        if other:
            a_start = start - len(m.group(1)) - len(m.group(2))
            swapped = "an" if article.lower() == "a" else "a"
            swapped = (
                transfer_case(article, swapped) if article[0].isupper() else swapped
            )
            with_article = tuple(swapped + m.group(2) + o for o in other)
            edits.append(_edit(a_start, end, text[a_start:end], with_article))
    return edits
