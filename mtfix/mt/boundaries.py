"""Broken sentence boundaries: a full stop followed by a lower-case continuation.

Machine translation sometimes ends a sentence too early and leaves the rest standing on its
own ("the unrest that followed. of the strike in the ports", "fell in 1989. backed by
Moscow."). A lower-case word after a full stop is legitimate after abbreviations ("U.S.",
"e.g.", "et al."), ellipses, list markers ("1. the first"), brand names ("iPhone") and name
particles ("de Gaulle"), and common in text written without capitals; those are skipped.

The fix joins the pieces. It is applied automatically only when the continuation is clearly a
piece of the previous sentence: it opens with a preposition, a conjunction, a relative word or a
participle, and has no finite verb of its own. Other lower-case continuations might instead be
a sentence missing its capital, so they are suggested (join, or capitalise) and never applied.
"""

from __future__ import annotations

import re

from . import bare, merge_overlapping, mt_edit, possible_verb

SOURCE = "mt/boundary"
KIND = "mt-boundary"
AUTO_CONFIDENCE = 0.9
SUGGEST_CONFIDENCE = 0.55

# A single full stop (not part of an ellipsis) after a non-space, same-line whitespace, then
# a word starting with a lower-case letter.
_CANDIDATE_RE = re.compile(r"\.[ \t\u00a0\u2009\u202f]+(?=[a-z])")
_TOKEN_BEFORE_RE = re.compile(r"(\S+)$")
_WORD_AFTER_RE = re.compile(r"[^\s]+")
# A continuation ends with its sentence or its paragraph: a hard-wrapped one goes on over a
# single line break, and a finite verb on its next line makes it a clause of its own.
_CONTINUATION_END_RE = re.compile(r"[.!?\u2026](?=[\"'\u201d\u2019)\]]*(?:\s|$))|\r?\n[ \t]*\r?\n|\r[ \t]*\r")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*")

ABBREVIATIONS = frozenset("""
    mr mrs ms dr prof gen col lt sgt capt st sen rep gov jr sr inc ltd co corp vs etc no nos
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat sun
    fig figs approx al cf viz ca vol vols pp ed eds dept govt est mt ft lbs lb oz min max sq mi
    hr hrs yr yrs mo mos wk wks sec esp incl excl ch chap sect art op ibid seq tel ext div assn
    bros univ ave blvd rd hwy messrs mme mlle rev hon supt adm maj cmdr brig pvt cpl fl var
    subsp sp spp cv pl lit orig trans abbr repr misc resp dist approx abt nr ref refs cit
    """.split())
ABBREVIATIONS |= {"thur", "pres", "ser"}  # codespell:ignore thur,pres,ser
# Titles in the plural and "Miss." as old texts write it ("Drs. and Mrs.", "Miss. and Mrs.").
ABBREVIATIONS |= {"miss", "drs", "profs", "gens", "sens", "reps", "mmes", "jrs", "sts", "cos"}
# Written without their inner stops in technical prose ("eg. from fsck", "(aka. defining").
ABBREVIATIONS |= {"eg", "ie", "aka", "wrt", "cca", "etal"}
_ROMAN_NUMERAL_RE = re.compile(r"^[ivxlcdm]+$", re.I)
_LAST_LETTERS_RE = re.compile(r"(?<![A-Za-z])[A-Za-z]+$")
_CODE_SYMBOLS = frozenset("=<>+*/\\|^~$%&#{}[]`")
_LOWER_WORD_RE = re.compile(r"[a-z'\u2019-]+")
_GLUED_TOKEN_RE = re.compile(r"(?:of|the|and|from)[A-Z][a-z]{2,}")
_TRAILING_PUNCT_RE = re.compile(r"[,;:.)\"'\u201d\u2019]")
_CAPITAL_NEXT_RE = re.compile(r"\s+[A-Z]")
_NAME_PARTICLES = frozenset("de da di del della der den des du la le van von ter ten al el bin ibn dos das".split())

# Continuations that are surely a piece of the previous sentence when they carry no finite verb.
_JOIN_WITH_SPACE = frozenset("""
    of in on at for from with by to into onto between among amongst during without within
    against under over through throughout across toward towards upon via than and or nor
    """.split())
_JOIN_WITH_COMMA = frozenset(
    "which whom whose including according especially particularly notably namely mainly mostly".split()
)
_RELATIVES = frozenset("which whom whose".split())
# Words after which a verb-looking word is a noun or an infinitive, not a finite verb.
_NOT_FINITE_AFTER = frozenset("""
    the a an this that these those his her its their our my your of to for in on at by with from
    into between among during about against over under some any each every no many much several
    all both other another such own more most first last new old same
    """.split())
_FINITE_AUXILIARIES = frozenset(
    "is are was were am has have had will would can could should shall may might must does did do".split()
)
_SUBJECT_PRONOUNS = frozenset("i you he she it we they who which that none".split())
_OPEN_QUOTES = "\u201c\u00ab"
_CLOSE_QUOTES = "\u201d\u00bb"


def propose(ctx) -> list:
    text = ctx.doc.text
    found = []
    for m in _CANDIDATE_RE.finditer(text):
        period, next_start = m.start(), m.end()
        if not period or text[period - 1] in " \t\n.":
            continue
        before = _TOKEN_BEFORE_RE.search(text, max(0, period - 60), period)
        word = _WORD_AFTER_RE.match(text, next_start)
        if not before or not word:
            continue
        token_before, next_token = before.group(1), word.group(0)
        if _legitimate_lower_case(token_before, next_token, text, next_start + len(next_token)):
            continue
        if inside_quotation(text, period):
            continue
        found.append((period, next_start, token_before, next_token))
    # Chat-style text is judged on every lower-case start after a full stop, those taken for
    # legitimate included: counting only the suspect ones, a fix elsewhere ("the the" -> "the")
    # could move a text across the line and a second run would join what the first left.
    lower = len(_CANDIDATE_RE.findall(text))
    if not found or (lower >= 3 and _written_without_capitals(text, lower)):
        return []
    # A join overlapping a rule's phrase is merged with the rule's fix by the pipeline's resolver.
    edits = [_boundary_edit(text, *f) for f in found]
    # A leftover fix next to the join ("the. of,,") is folded into it: kept apart, the pipeline
    # would apply one of the two now and the other on a second run.
    from .leftovers import fixes_around

    near = [x for b in edits for x in fixes_around(ctx, b.start, b.end)]
    if near:
        edits = [e for e in merge_overlapping(text, edits + near) if e.source == SOURCE or e not in near]
    return edits


def _boundary_edit(text: str, period: int, next_start: int, token_before: str, next_token: str):
    first = _LOWER_WORD_RE.match(next_token).group(0)
    joiner = _joiner(first)
    end_match = _CONTINUATION_END_RE.search(text, next_start)
    continuation = text[next_start : end_match.start() if end_match else len(text)]
    sure = joiner is not None and not _has_own_finite_verb(continuation, first)
    if bare(token_before) == first:
        sure = False  # "the. the" would join into a doubled word
    span_end = next_start + 1
    joined = (joiner or " ") + text[next_start]
    capitalised = text[period:next_start] + text[next_start].upper()
    if sure:
        reason = f"full stop before the lower-case continuation '{first} ...': join the pieces"
    else:
        reason = f"lower-case '{first}' after a full stop: a broken sentence, or a missing capital"
    return mt_edit(
        text,
        period,
        span_end,
        joined,
        kind=KIND,
        source=SOURCE,
        confidence=AUTO_CONFIDENCE if sure else SUGGEST_CONFIDENCE,
        auto=sure,
        reason=reason,
        alternatives=(capitalised,),
    )


def _joiner(first: str) -> str | None:
    """How to join a continuation opening with `first`, or None when it is not clearly a piece."""
    if first in _JOIN_WITH_SPACE:
        return " "
    if first in _JOIN_WITH_COMMA:
        return ", "
    if first.endswith(("ed", "en", "ing")) and len(first) > 4 and possible_verb(first):
        return ", "  # "fell in 1989. backed by Moscow." -> "fell in 1989, backed by Moscow."
    return None


def _has_own_finite_verb(continuation: str, first: str) -> bool:
    """Does the continuation look like a clause of its own? Only clear evidence counts: an
    auxiliary, a word that can only be a verb ("won", "went"), or a noun-or-verb word right after
    a subject pronoun ("none runs"); "the banking collapse" and "launched by" are not clauses."""
    from .lexicon import verb_only

    words = _WORD_RE.findall(continuation)
    allowed = 1 if first in _RELATIVES else 0
    found = 0
    for i, w in enumerate(words[1:], 1):
        lw, prev = w.lower(), words[i - 1].lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        if w[0].isupper() or prev in _NOT_FINITE_AFTER or lw.endswith("ing"):
            continue
        if lw in _FINITE_AUXILIARIES:
            finite = True
        elif not possible_verb(lw) or (lw.endswith(("ed", "en")) and nxt == "by"):
            finite = False
        elif not verb_only(lw):
            finite = prev in _SUBJECT_PRONOUNS  # "collapse", "runs": a noun too, unless after "none"
        else:
            finite = True
        found += finite
        if found > allowed:
            return True
    return False


def _legitimate_lower_case(token_before: str, next_token: str, text: str, after_next: int) -> bool:
    core = token_before.lstrip("([{\"'\u201c\u2018")
    if not core or "." in core or "/" in core or "@" in core:
        return True  # "U.S.", "e.g.", "a.m.", an ellipsis ". . .", a URL or an address
    lowered = core.lower()
    if len(core) == 1 and core.isalpha():
        return True
    tail = _LAST_LETTERS_RE.search(core)
    if tail is not None and tail.group(0).lower() in ABBREVIATIONS:
        return True  # "etc.", and "0,1,etc. in order": a list's abbreviation
    if core[-1] in _CODE_SYMBOLS:
        return True  # "-ffile-prefix-map=$(CURDIR)=. for": code, not a sentence's end
    if core.isdigit() and len(core) <= 3:
        return True  # "1. the first item", "Chapter 3. the author"
    if _ROMAN_NUMERAL_RE.match(core) and len(core) <= 4 and lowered not in ("mill", "ill", "mix", "dim"):
        return True  # "ii. the second"
    if not any(c.isalnum() for c in core):
        return True  # a bullet or a dash
    word = _LOWER_WORD_RE.match(next_token)
    glued = _GLUED_TOKEN_RE.match(next_token)  # "ofBeijing": mt/spacing's
    bare_token = _TRAILING_PUNCT_RE.split(next_token, maxsplit=1)[0]
    if word is None or (word.group(0) != bare_token and not glued):
        return True  # "iPhone", "mRNA", "e.g.", "x2": not a plain lower-case word
    w = word.group(0)
    if len(w) == 1 and w != "a":
        return True  # a variable or a list letter
    if w in _NAME_PARTICLES and _CAPITAL_NEXT_RE.match(text, after_next):
        return True  # "de Gaulle", "van Gogh"
    return False


def inside_quotation(text: str, pos: int) -> bool:
    """True when an opening quote earlier in the paragraph is not closed before `pos`."""
    # Look back a bounded window: searching to the start of a long text for every period
    # made this check quadratic in the document length.
    lo = max(0, pos - 4000)
    para_start = max(text.rfind("\n\n", lo, pos), text.rfind("\r\n\r\n", lo, pos), lo)
    segment = text[para_start:pos]
    if segment.count('"') % 2 == 1:
        return True
    last_open = max(segment.rfind(q) for q in _OPEN_QUOTES)
    last_close = max(segment.rfind(q) for q in _CLOSE_QUOTES)
    return last_open > last_close


def _written_without_capitals(text: str, lower: int) -> bool:
    """Chat-style text that starts its sentences in lower case on purpose."""
    upper = len(re.findall(r"[.!?]\s+[A-Z]", text))
    return lower > 0.3 * (lower + upper)
