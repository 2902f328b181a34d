"""Verbless fragments standing as sentences.

Machine translation can cut an attribution off its sentence: "..., he said. Maria Lopez, chief
economist at the Central Bank." The second "sentence" has no verb; the fix is "..., said Maria
Lopez, chief economist at the Central Bank.", applied automatically because the pattern
(", he said." followed by a name and a comma) has no other reading.

Other verbless sentences are flagged without a fix: "Name Surname, title." ones at confidence
0.6, the rest (often written on purpose: captions, "The bigger the city, the more cockroaches.")
at 0.4, below the default reporting threshold. A sentence counts as verbless only when no word in
it could be a verb at all (mtfix/mt/lexicon.py), which misses some fragments but never
mistakes a sentence for one. Only sentences that follow another one on the same line are
checked, so headings, captions and bylines on lines of their own are left alone; so are short
stylistic fragments ("Far from it."), dated captions, labels with a colon, quotations, and
sentences cut by an abbreviation ("the U.S. Army Corps of Engineers."). A hard-wrapped sentence
is read as one: it goes on over single line breaks, never over a blank line.
"""

from __future__ import annotations

import re

from ..text import WORD_RE, has_line_break, keep_line_breaks, widen_over_moved_break
from . import mt_edit, possible_verb
from .boundaries import ABBREVIATIONS, inside_quotation

SOURCE = "mt/fragment"
KIND = "mt-fragment"
MIN_WORDS = 6
FLAG_CONFIDENCE = 0.6
QUIET_CONFIDENCE = 0.4  # below the default --min-confidence 0.5
JOIN_CONFIDENCE = 0.9

# A character of a sentence's body, or one line break of a hard-wrapped sentence: the next
# line goes on with the sentence, and a blank line (a new paragraph) never does.
_BODY_CHAR = r"""(?:[^.!?\r\n:;"\u201c\u201d()]|(?:\r\n|\r|\n)(?=[ \t]*\S))"""
# A word gap, on one line or over one wrapped line's break.
_GAP = r"(?:[^\S\r\n]|[ \t]*(?:\r\n|\r|\n)[ \t]*(?=\S))"
# A sentence that follows another on the same line: "... he said. Maria Lopez, chief ...
# Group." A literal first character keeps the scan at C speed (this check runs in rules mode);
# by default only sentences opening with a name and a comma, after a full stop, are examined.
_SENTENCE_AFTER_RE = re.compile(
    r"[.!?](?P<close>[\"'\u201d\u2019)\]]*)[ \t\u00a0]+(?P<body>[A-Z]" + _BODY_CHAR + r"{15,400}\.)(?=\s|$)"
)
_APPOSITIVE_AFTER_RE = re.compile(
    r"\.(?P<close>[\"'\u201d\u2019)\]]?)[ \t\u00a0]+(?!(?:In|On|At|The|A|An|For|After|Before|During|By|From|"
    r"With|Since|Until|As|When|While|But|And|However|Although|Under|Over|Between|Among|Like|Unlike|This|That|Its)"
    r"\b)(?P<body>[A-Z][\w'\u2019-]*+(?:(?: |[ \t]*(?:\r\n|\r|\n)[ \t]*)[A-Z][\w'\u2019.-]*+)++,"
    + _GAP + _BODY_CHAR + r"{5,400}\.)(?=\s|$)"
)
_ATTRIBUTION_RE = re.compile(
    r",\s*(?P<who>he|she|they)\s+(?P<verb>said|added|says|adds|noted|wrote|explained|argued|warned|stressed)$"
)
_NAME_RE = re.compile(
    r"(?P<name>[A-Z][\w'\u2019.-]*(?:\s+(?:[A-Z][\w'\u2019.-]*|de|da|van|von|al|bin))*\s+[A-Z][\w'\u2019-]*),\s"
)
_TOKEN_BEFORE_RE = re.compile(r"(\S+)$")


def propose(ctx) -> list:
    text = ctx.doc.text
    options = getattr(ctx, "options", None)
    # Quiet flags are only worth the lexicon look-ups when they would be reported; by default
    # only sentences opening with a name and a comma are examined.
    quiet = options is not None and options.min_confidence <= QUIET_CONFIDENCE
    edits = []
    for m in (_SENTENCE_AFTER_RE if quiet else _APPOSITIVE_AFTER_RE).finditer(text):
        start, end = m.start("body"), m.end("body")
        body = m.group("body")
        if _after_abbreviation(text, m.start()) or _ends_with_abbreviation(body):
            continue  # "the U.S. Army Corps of Engineers." is one sentence
        if len(body.split()) < MIN_WORDS or any(c.isdigit() for c in body):
            continue  # short, or dated: "Tony Blair, Prime Minister, 24 June 2007." is a caption
        if sum(c.isupper() for c in body) > sum(c.islower() for c in body):
            continue  # capitals only ("IN NO EVENT SHALL THE AUTHORS BE LIABLE"): the lexicon reads no verb there
        if not _verbless(body):
            continue
        if inside_quotation(text, start):
            continue
        join = None if m.group("close") else _attribution_join(text, m.start(), start, end)
        if join is not None:
            edits.append(join)
            continue
        # "Name Surname, senior analyst at X." is the shape MT leaves when it cuts an attribution
        # off; other verbless sentences ("The bigger the city, the more cockroaches.", captions)
        # are often written on purpose, so they are reported only below the default threshold.
        appositive = _NAME_RE.match(text, start, end) is not None
        edits.append(
            mt_edit(
                text,
                start,
                end,
                None,
                kind=KIND,
                source=SOURCE,
                auto=False,
                confidence=FLAG_CONFIDENCE if appositive else QUIET_CONFIDENCE,
                reason="a sentence without a verb: a fragment cut off a neighbouring sentence?",
            )
        )
    return edits


def _after_abbreviation(text: str, stop: int) -> bool:
    before = _TOKEN_BEFORE_RE.search(text, max(0, stop - 40), stop)
    if before is None:
        return True
    token = before.group(1).lstrip("([{\"'\u201c\u2018")
    return "." in token or token.lower() in ABBREVIATIONS or len(token) <= 1


def _ends_with_abbreviation(body: str) -> bool:
    last = body[:-1].rsplit(None, 1)[-1]
    return "." in last or last.lower() in ABBREVIATIONS or len(last) <= 1


_COMMON_VERBS = frozenset(
    "is are was were be been being am has have had do does did will would can could shall should may might must "
    "said says say told made make get got go went see saw".split()
)


def _verbless(body: str) -> bool:
    words = [m.group(0) for m in WORD_RE.finditer(body)]
    lowered = [w.lower() for w in words[1:] if w.islower()]
    if any(w in _COMMON_VERBS or w.endswith("ed") for w in lowered):
        return False  # settled without the lexicon (whose first look-up loads it: a second)
    for i, w in enumerate(words):
        if w[0].isupper() and (i > 0 or (len(words) > 1 and words[1][0].isupper())):
            continue  # a proper noun: "Maria Lopez", "Central Bank"
        if "'" in w or "\u2019" in w or possible_verb(w):
            return False
    return True


def _attribution_join(text: str, stop: int, start: int, end: int):
    """', he said. Maria Lopez, chief economist.' -> ', said Maria Lopez, chief economist.'"""
    m = _ATTRIBUTION_RE.search(text, max(0, stop - 40), stop)
    name = _NAME_RE.match(text, start, end)
    if m is None or name is None:
        return None
    join_start, join_end = m.start("who"), name.end("name")
    joined = f"{m.group('verb')} {name.group('name')}"
    if has_line_break(text[join_start:join_end]):
        # Hard-wrapped: the words move, the line breaks stay ("he\nsaid. Maria" -> "said\nMaria").
        joined = keep_line_breaks(text, join_start, join_end, joined)
        if joined is None:
            return None
        join_start, join_end, (joined,) = widen_over_moved_break(text, join_start, join_end, (joined,))
    return mt_edit(
        text,
        join_start,
        join_end,
        joined,
        kind=KIND,
        source=SOURCE,
        confidence=JOIN_CONFIDENCE,
        auto=True,
        reason=f"'{name.group('name')}, ...' has no verb: the attribution '{m.group('who')} "
        f"{m.group('verb')}' belongs to it",
    )
