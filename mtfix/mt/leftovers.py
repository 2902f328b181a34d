"""Leftovers of translation: doubled words, doubled punctuation, spacing damage, foreign words.

Two proposers. mt-leftover (rules mode) runs:
    mt/doubled-word   "the the" -> "the"; word loops "prayer prayer prayer" -> "prayer"
    mt/doubled-punct  ",," -> ","; "etc.." -> "etc."; ",." -> "."
mt-spacing (full mode, or when named) runs:
    mt/spacing        "ofBeijing" -> "of Beijing"; "Sino- U.S." -> "Sino-U.S."; "word ," -> "word,"
    mt/foreign-word   untranslated words in another script or alphabet (flag only)
Each rule id can be disabled on its own.

Doubles that English uses on purpose ("had had", "that that", "going on on land", "bye bye")
and capitalised doubles (names like "Walla Walla", tautonyms like "Gorilla gorilla") are never
changed automatically.

Every pattern starts with a rare literal or character, so the scans run at C speed: this check
runs in rules mode and must cost a few per cent of a rules run.
"""

from __future__ import annotations

import re
import unicodedata

from ..text import LINE_END_RE, at_sentence_start, has_wrapped_lines
from . import merge_overlapping, mt_edit
from .boundaries import ABBREVIATIONS

KIND = "mt-other"

# Run on the folded (lower-cased) text. ASCII classes: a Unicode letter class is five times slower.
# On the folded text; possessive "++": three times faster.
_SPACE_SCAN = re.compile(r" ([a-z]++) \1(?![\w'\u2019-])")
_SPACE_COMMA_SCAN = re.compile(r" ,(?=[ \t][a-z])")
_NEW_LINE_DOUBLE_RE = re.compile(r"[\r\n]([a-z]++) \1(?![\w'\u2019-])")  # \r: old Mac line ends
_LINE_START_DOUBLE_RE = re.compile(r"([a-z]++) \1(?![\w'\u2019-])")
# Never doubled in well-formed English: a doubled one is a slip.
_FUNCTION_WORDS = frozenset("""
    the a an of to and or for with from at as than but nor if this these those their its his our
    my your which who whom whose when where why what how are was were be been will would can
    could should shall may might must they we he she i also not
    """.split())
# Doubled on purpose, at least sometimes: left alone.
_LEGITIMATE_DOUBLES = frozenset("""
    had that is was do does very so no yes bye ha ho he hee blah bla la da ta tut tsk knock chop
    hush well now there come go many far really more long night boo choo pooh goody yum pom bon
    aye yeah oh ah uh um hmm hey hip hear wait please quick cha tom mahi bora walla pago wagga
    sing mau dik beri ylang tse can yo bang kill never little pretty her you it again round over
    through by
    """.split())
_LEGITIMATE_DOUBLES |= {"dum"}  # codespell:ignore dum
# Particles of phrasal verbs: "going on on land", "log in in the morning".
_PARTICLES = frozenset("in on up out off down about around along away back".split())
# A copy follows spaces or one hard-wrapping line break ("at the\nthe station"), never a blank line.
_NEXT_COPY_RE = re.compile(r"(?:[ \t\u00a0]*(?:\r\n|\r|\n))?[ \t\u00a0]*(?<=\s)([^\W\d_]+)(?![\w'\u2019-])")
# A word, a line break, the same word: only in text with line breaks, so its cost is rare.
_WRAPPED_DOUBLE_RE = re.compile(r"(?<![\w'\u2019-])([a-z]++)[ \t]*+(?:\r\n|\r|\n)[ \t]*+\1(?![\w'\u2019-])")
_INDENT_RE = re.compile(r"[ \t\u00a0]*")
# A command-line option before a repeated word on its line: a shell command or `ls -l` output.
_COMMAND_LINE_RE = re.compile(r"(?<!\S)(?:--[a-z][\w-]+|-[A-Za-z]{1,2}|[-dlcbps][rwxsStT-]{9})(?=\s)|^[ \t]*\$ ", re.M)
_CODE_AFTER_RE = re.compile(r"[ \t]*[;=(){}\[\]<>*&]")
_WRAP_MIN_LINE = 40  # characters: a hard-wrapped paragraph's lines are long, a list's or a script's short


def _wrapped_prose(text: str, line: int, brk: "re.Match", end: int) -> bool:
    """Whether the line break `brk` (inside a repeat ending at `end`) wraps a paragraph: the
    line before it is long and the next line starts at the same indentation (a list item, a
    changelog subject or a command on its own line is short or indented differently)."""
    first = text[line : brk.start()]
    nxt = text[brk.end() : end]
    indent = len(first) - len(first.lstrip(" \t"))
    return len(first.strip()) >= _WRAP_MIN_LINE and len(nxt) - len(nxt.lstrip(" \t")) == indent
_GAP_BEFORE_WORD_RE = re.compile(r"[ \t\u00a0]+(?=[^\W\d_])")
_GAP_AFTER_WORD_RE = re.compile(r"(?<=[^\W\d_])[ \t\u00a0]+\Z")

# Literal-prefixed scans are five times faster than one scan for "[,;.][,;.]".
_PUNCT_SCANS = (re.compile(r",[,.]"), re.compile(r";;"), re.compile(r"\.\."))
_CLOSERS = frozenset(")]\"'\u201d\u2019")
_SPACE_THEN_WORD_RE = re.compile(r"[ \t\u00a0]+[\"'\u201c\u2018(]*\w")
_MISSING_SPACE_RE = re.compile(r"\.(?=[A-Z][a-z]{2,}\b)")
# Scans for capitals (rare) and looks behind: one pass for "of", "the", "and" and "from".
_GLUED_RE = re.compile(r"[A-Z](?<=(?:of|he|nd|om)[A-Z])(?=[a-z]{2})")  # codespell:ignore nd
_GLUED_WORDS = ("of", "the", "and", "from")
_PREFIXES = frozenset("""
    sino anglo franco afro euro indo russo austro greco italo judeo turko irano hispano nippo
    pro anti post pre non ex mid neo pan trans inter intra multi co self semi sub super ultra counter cross
    """.split())
_PREFIX_GAP_RE = re.compile(r"-[ \t]+(?=[A-Z])")

# Letters of another script, or Latin letters almost never found in English loanwords
# (Romanian, Baltic, Slavic, Turkish, Hungarian, Icelandic).
_FOREIGN_LETTERS = "șşțţăõőűąęłńśźżčďěňřťůğıėųūīāēģķļņđßðþ"
_SUSPECT_RE = re.compile("[\u0370-\u03ff\u0400-\u052f\u0530-\u1fff\u2e80-\ud7ff\uf900-\ufaff" + _FOREIGN_LETTERS + "]")
_TOKEN_CHARS = re.compile(r"[^\s\"()\[\]{}.,;:!?\u201c\u201d\u00ab\u00bb]+")
_END_OF_LATIN = "\u0250"  # Basic Latin to Latin Extended-B


def propose(ctx) -> list:
    """mt-leftover: doubled words and doubled punctuation (rules mode)."""
    text, folded = ctx.doc.text, ctx.doc.folded  # folded: lower-cased, same length, built by the rules
    return _finish(ctx, _core_fixes(text, folded))


def propose_spacing(ctx) -> list:
    """mt-spacing: spacing damage and untranslated words (full mode, or when named: it costs as
    much again as mt-leftover and fires far more rarely)."""
    text, folded = ctx.doc.text, ctx.doc.folded
    edits = _spacing_fixes(text, folded)
    if edits and active(ctx, "mt-leftover"):
        # A doubled word next to a spacing fix ("the the ,") is folded into it, as mt-boundary does.
        edits += [x for e in edits for x in _around(ctx, _core_fixes, e.start, e.end)]
    edits = _finish(ctx, edits)
    if not text.isascii():
        edits.extend(_foreign_words(text))
    return edits


def active(ctx, name: str) -> bool:
    """Does this run use the proposer `name`?"""
    options = getattr(ctx, "options", None)
    if options is None:
        return False
    from ..pipeline import active_proposers

    return name in active_proposers(options)


def fixes_around(ctx, start: int, end: int) -> list:
    """The fixes of the active leftover checks that overlap text[start:end] (for mt-boundary,
    which folds them into its join)."""
    out = []
    if active(ctx, "mt-leftover"):
        out += _around(ctx, _core_fixes, start, end)
    if active(ctx, "mt-spacing"):
        out += _around(ctx, _spacing_fixes, start, end)
    return [e for e in out if e.source not in ctx.options.disable]


def _around(ctx, finder, start: int, end: int) -> list:
    # A small window, not the whole document: only fixes overlapping [start, end) are wanted.
    text, folded = ctx.doc.text, ctx.doc.folded
    lo, hi = max(0, start - 60), min(len(text), end + 60)
    out = []
    for e in finder(text[lo:hi], folded[lo:hi]):
        e = e.with_(start=e.start + lo, end=e.end + lo)
        if e.start < end and start < e.end and e.fixable:
            out.append(e)
    return _finish(ctx, out)


def _finish(ctx, edits: list) -> list:
    # A fix overlapping a rule's phrase ("safety menace,,") is merged with it by the pipeline's
    # resolver, so both apply in one run and a second run finds nothing.
    return merge_overlapping(ctx.doc.text, edits) if len(edits) > 1 else edits


def _core_fixes(text: str, folded: str) -> list:
    """Doubled words and punctuation: a few literal-prefixed scans, at C speed."""
    out = []
    doubled = [m.start(1) for m in _SPACE_SCAN.finditer(folded)]
    doubled += [m.start(1) for m in _NEW_LINE_DOUBLE_RE.finditer(folded)]
    if _LINE_START_DOUBLE_RE.match(folded):
        doubled.append(0)
    if has_wrapped_lines(folded):  # the pattern starts anywhere: a scan only where it can match
        doubled += [m.start(1) for m in _WRAPPED_DOUBLE_RE.finditer(folded)]
    covered = -1
    for start in sorted(set(doubled)):
        if start < covered:
            continue  # inside a loop already reported
        edit = _doubled_word_edit(text, start)
        if edit is not None:
            covered = edit.end
            out.append(edit)
    for rx in _PUNCT_SCANS:
        for m in rx.finditer(text):
            out.extend(_punctuation(text, m.group(0), m.start(), m.end()))
    return out


def _spacing_fixes(text: str, folded: str) -> list:
    out = []
    for m in _SPACE_COMMA_SCAN.finditer(folded):
        out.extend(_comma_space(text, m.start()))
    for m in _MISSING_SPACE_RE.finditer(text):
        out.extend(_missing_space(text, m.start()))
    for m in _GLUED_RE.finditer(text):
        out.extend(_glued(text, m.start()))
    for m in _PREFIX_GAP_RE.finditer(text):
        out.extend(_prefix_gap(text, m.start(), m.end()))
    return out


def _doubled_word_edit(text: str, start: int):
    word = re.match(r"[^\W\d_]+", text[start : start + 60]).group(0)
    lw = word.lower()
    copies, end = [], start + len(word)
    while True:
        n = _NEXT_COPY_RE.match(text, end)
        if n is None or n.group(1).lower() != lw:
            break
        copies.append(n.group(1))
        end = n.end()
    if not copies or (start > 0 and text[start - 1] in "-'\u2019"):
        return None
    total = len(copies) + 1
    loop = total >= 3
    if lw in _LEGITIMATE_DOUBLES and total < 6:
        return None  # "had had", "ha ha ha"; six in a row is a translation loop all the same
    if copies[0][0].isupper() and (total < 3 or not word[0].isupper()):
        return None  # "Walla Walla", "in the The Hague": names
    if word[0].isupper() and copies[0][0].islower() and not at_sentence_start(text, start):
        return None  # "Georg and Are are", "Gorilla gorilla": a name, then a word
    if len(word) > 1 and word.isupper() and not copies[0].isupper():
        return None  # "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz": data
    if word[0].isupper() and copies[0][0].islower() and lw not in _FUNCTION_WORDS and _CODE_AFTER_RE.match(text, end):
        return None  # "Window window;", "Time time = 0": a type, then a variable
    if not loop and lw not in _FUNCTION_WORDS:
        line = _line_start(text, start)
        brk = LINE_END_RE.search(text, start, end)
        if brk is not None and not _wrapped_prose(text, line, brk, end):
            return None  # "make\nmake install", "completion: ...\n    completion: ...": list lines, commands
        if _COMMAND_LINE_RE.search(text, max(line, start - 200), start):
            return None  # "cp -rl dir dir", "mount -t tmpfs tmpfs", "-rwxr-xr-x 1 root root"
    start, end, replacement = _keeping_the_line_break(text, start, end, word)
    if replacement is None:
        return None
    if lw in _PARTICLES and not loop:
        return mt_edit(
            text,
            start,
            end,
            replacement,
            kind=KIND,
            source="mt/doubled-word",
            confidence=0.6,
            auto=False,
            reason=f"doubled '{lw}' (right only after a phrasal verb: 'going on on land')",
        )
    sure = loop or lw in _FUNCTION_WORDS or (len(lw) >= 3 and all(c.islower() for c in copies))
    return mt_edit(
        text,
        start,
        end,
        replacement,
        kind=KIND,
        source="mt/doubled-word",
        confidence=0.9 if sure else 0.6,
        auto=sure,
        reason=f"word repeated {total} times" if loop else f"doubled word '{lw}'",
    )


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _keeping_the_line_break(text: str, start: int, end: int, word: str):
    """(start, end, replacement) that leaves one copy of `word` for the run text[start:end] and
    keeps the line break inside it: the break moves to the gap after the run ("at the\nthe
    station" -> "at the\nstation") or, at the end of a line, to the gap before it ("sat on
    the\nthe." -> "sat on\nthe."). Replacement None where the run holds two breaks or has no
    such gap on its line: no fix rather than a reflowed text."""
    breaks = list(LINE_END_RE.finditer(text, start, end))
    if not breaks:
        return start, end, word
    if len(breaks) > 1:
        return start, end, None
    # The break's own indentation comes with it: the next line starts where it did.
    new_line = breaks[0].group() + _INDENT_RE.match(text, breaks[0].end()).group()
    after = _GAP_BEFORE_WORD_RE.match(text, end)
    if after is not None:
        return start, after.end(), word + new_line
    before = _GAP_AFTER_WORD_RE.search(text[max(0, start - 20) : start])
    if before is not None:
        return start - len(before.group()), end, new_line + word
    return start, end, None


def _punctuation(text: str, pair: str, at: int, end: int):
    before = text[at - 1] if at else " "
    after = text[end] if end < len(text) else " "
    if pair in (",,", ";;"):
        while end < len(text) and text[end] == pair[0]:
            end += 1
        # Only between a word and the next on its line ("said,, the"): at a line's start or
        # end, after a space or bracket, or before a letter it is code or data (Lisp
        # comments, "for (;;)", a shell case's ";;", empty CSV fields "a,,b").
        if before != pair[0] and (before.isalnum() or before in _CLOSERS) and _SPACE_THEN_WORD_RE.match(text, end):
            yield _sure_fix("mt/doubled-punct", text, at, end, pair[0], 0.9, "doubled punctuation")
    elif pair == ".." and before.isalpha() and after not in "." and not after.isalnum():
        # "etc..", "J..": an abbreviation's stop doubled by the sentence's. A bare "Ah.." is an
        # informal ellipsis that post-editors keep.
        token = re.search(r"(\S+)$", text[max(0, at - 30) : at])
        core = token.group(1).lstrip("([{\"'\u201c\u2018") if token else ""
        if "." in core or core.lower() in ABBREVIATIONS or (len(core) == 1 and core.isalpha()):
            yield _sure_fix("mt/doubled-punct", text, at, end, ".", 0.85, "doubled full stop after an abbreviation")
    elif pair == ",." and after != "." and before not in ",." and (after.isupper() or not after.isalnum()):
        # Not before a small letter or digit: "crti,.o" and ".func,.endfunc" are file names.
        # "end,.The": the space the missing-space rule would add next time comes now.
        stop = ". " if after.isupper() and before.isalpha() else "."
        yield _sure_fix("mt/doubled-punct", text, at, end, stop, 0.85, "comma before a full stop")


def _sure_fix(source: str, text: str, start: int, end: int, replacement: str, confidence: float, reason: str):
    return mt_edit(
        text, start, end, replacement, kind=KIND, source=source, confidence=confidence, auto=True, reason=reason
    )


def _glued(text: str, at: int):
    fw = next((w for w in _GLUED_WORDS if text.startswith(w, at - len(w))), None)
    begin = at - len(fw) if fw else 0
    if fw is None or (begin and (text[begin - 1].isalnum() or text[begin - 1] in "./@#:_-'\u2019")):
        return  # "proofBeijing", ".ofType", "@theName": not a glued function word
    if re.match(r"[A-Z][a-z]{2,}(?![\w(@/_-])", text[at : at + 40]):
        yield _sure_fix("mt/spacing", text, begin, at, fw + " ", 0.9, f"missing space after '{fw}'")


def _prefix_gap(text: str, start: int, end: int):
    prefix = re.search(r"(?<![\w-])([A-Za-z]+)$", text[max(0, start - 12) : start])
    if prefix and prefix.group(1).lower() in _PREFIXES:
        yield _sure_fix("mt/spacing", text, start, end, "-", 0.85, f"space after the prefix '{prefix.group(1)}-'")


def _comma_space(text: str, space: int):
    gap_start = space
    while gap_start and text[gap_start - 1] == " ":
        gap_start -= 1
    if gap_start and text[gap_start - 1].islower():
        yield _sure_fix("mt/spacing", text, gap_start, space + 1, "", 0.85, "space before a comma")


def _missing_space(text: str, stop: int):
    if re.search(r"(?<![\w./@:_-])[a-z]{2,}$", text[max(0, stop - 30) : stop]):
        yield _sure_fix("mt/spacing", text, stop, stop + 1, ". ", 0.8, "no space after a full stop")


def _foreign_words(text: str):
    hits = [m.start() for m in _SUSPECT_RE.finditer(text)]
    if not hits or sum(1 for h in hits if text[h] >= _END_OF_LATIN) > 0.5 * len(text):
        return  # nothing suspect, or mostly another script: not English text with leftovers
    run: list = []  # consecutive tokens in another script are one leftover
    last_end = -1
    for pos in hits:
        if pos < last_end:
            continue
        token = _token_around(text, pos)
        if token is None:
            continue
        start, end = token
        last_end = end
        word = text[start:end]
        alpha = [c for c in word if c.isalpha()]
        if len(alpha) < 2 or _inside_brackets(text, start):
            continue  # "Xi Jinping (习近平)": an original-script gloss on purpose
        if not any(c < _END_OF_LATIN for c in alpha):
            if run and not text[run[-1][1] : start].strip():
                run.append(token)
                continue
            yield from _script_flag(text, run)
            run = [token]
        elif word[0].isupper():
            continue  # "Iysa'īl", "Brașov": a name
        elif word.islower() and word.replace("'", "").replace("\u2019", "").isalpha():
            yield _foreign_flag(text, start, end, f"'{word}' is not an English word: left untranslated?")
    yield from _script_flag(text, run)


def _foreign_flag(text: str, start: int, end: int, reason: str):
    """Flagged, never fixed: only a reader knows what the foreign words meant."""
    return mt_edit(text, start, end, None, kind=KIND, source="mt/foreign-word", confidence=0.6, auto=False, reason=reason)


def _token_around(text: str, pos: int) -> tuple[int, int] | None:
    lo = max(0, pos - 60)
    for m in _TOKEN_CHARS.finditer(text, lo, min(len(text), pos + 60)):
        if m.start() <= pos < m.end():
            return m.start(), m.end()
    return None


def _script_flag(text: str, run: list):
    if not run:
        return
    start, end = run[0][0], run[-1][1]
    words = [text[a:b] for a, b in run]
    if all(w[0].isupper() for w in words):
        return  # "Дм. Быков": a name left in its script (cased scripts only; CJK has no case)
    script = unicodedata.name(next(c for c in text[start:end] if c.isalpha()), "OTHER").split(" ")[0]
    yield _foreign_flag(text, start, end, f"{script.title()} script in English text: left untranslated?")


def _inside_brackets(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    return before.count("(") > before.count(")")
