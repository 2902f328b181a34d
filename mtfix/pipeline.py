"""The staged pipeline: segment -> propose -> score -> resolve -> apply.

Proposers and scorers live in registries keyed by name. An entry is either a callable or a
"module:function" string imported on first use, so heavy back-ends (torch, spaCy) load only
when a run asks for them (`mtfix --help` and rules-only runs never import them).
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import importlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Protocol

from . import __version__
from .edit import KINDS, Edit, Result
from .io import file_stamp
from .options import Options
from .ruletable import BUILTIN_TABLES, RuleSet, load_rules, rule_table_names, unknown_table_names
from .text import Document, SpanSet, not_prose_spans, shared_ends


@dataclass
class Context:
    """What every stage may read: the segmented document, the options and the rule set."""

    doc: Document
    options: Options
    ruleset: RuleSet
    spin_score: float = 0.0
    notes: dict = field(default_factory=dict)
    # Set on a re-check of the text around earlier fixes: the spans that changed (only edits
    # touching them are wanted, so proposers may skip the rest) and the first pass's spin
    # score (the whole document's evidence, which a window of it lacks).
    focus: tuple[tuple[int, int], ...] | None = None
    document: dict | None = None
    # The edits of the proposers that already ran in this pass (a costly proposer may look
    # only where the cheap ones found something).
    proposed: list[Edit] = field(default_factory=list)
    # Set on a re-check too: where the text is a rule's output from earlier in this run
    # (sorted, non-overlapping). No rule matches inside one: a rule whose replacement
    # contains its own found phrase ("Inc" -> "Inc.") would otherwise apply again and again.
    produced: tuple[tuple[int, int], ...] | None = None

    @functools.cached_property
    def _focus_spans(self) -> SpanSet | None:
        # Built on the first question, from the focus the context was made with.
        return None if self.focus is None else SpanSet(list(self.focus))

    def in_focus(self, start: int, end: int) -> bool:
        """Whether [start, end] touches a focus span (edges included); logarithmic in the
        number of spans (every edit of a long document's re-check asks)."""
        spans = self._focus_spans
        return spans is None or spans.touches(start, end)


class Proposer(Protocol):
    def __call__(self, ctx: Context) -> Iterable[Edit]: ...


class Scorer(Protocol):
    def __call__(self, ctx: Context, edits: list[Edit]) -> list[Edit]: ...


PROPOSERS: dict[str, Callable | str] = {
    "rules": "mtfix.rulematch:propose_rules",
    # Machine-translation artifacts (mtfix/mt/); only mt-pronoun needs spaCy.
    "mt-boundary": "mtfix.mt.boundaries:propose",
    "mt-fragment": "mtfix.mt.fragments:propose",
    "mt-leftover": "mtfix.mt.leftovers:propose",
    "mt-spacing": "mtfix.mt.leftovers:propose_spacing",
    "mt-pronoun": "mtfix.mt.pronouns:propose",
    # Reverse-thesaurus candidates for the language-model scorer (mtfix/lm/); no torch.
    "thesaurus": "mtfix.lm.propose:propose_thesaurus",
    # Closed-class phrases ("moreover", "whilst") the thesaurus does not list; no torch. Opt-in
    # (`enable`): the calibration fitted with it applied an unkeyed edit on seed 000.
    "function-words": "mtfix.lm.function_words:propose_function_words",
    # The seq2seq restorer (mtfix/restorer/): opt-in, in no mode until a trained adapter ships.
    "restorer": "mtfix.restorer.propose:propose_restorer",
}
# The finer rule ids a proposer tags its edits with (`Edit.source`), which `disable` may name
# one by one; the rules proposer's ids come from its tables, and the other proposers tag their
# edits with their own name.
PROPOSER_RULE_IDS: dict[str, tuple[str, ...]] = {
    "mt-boundary": ("mt/boundary",),
    "mt-fragment": ("mt/fragment",),
    "mt-leftover": ("mt/doubled-word", "mt/doubled-punct"),
    "mt-spacing": ("mt/spacing", "mt/foreign-word"),
    "mt-pronoun": ("mt/pronoun",),
}
SCORERS: dict[str, Callable | str] = {
    "evidence": "mtfix.evidence:score_by_document_evidence",
    "lm": "mtfix.lm.scorer:score_with_language_model",
}
# Proposers whose edits are only candidates for the language-model scorer (nearly every word,
# every "though"), each under its own name as source: no evidence of damage by themselves
# (the restorer's gate), nothing to decide without the model (re-checks).
LM_CANDIDATE_PROPOSERS = frozenset({"thesaurus", "function-words"})
# Proposers whose edits only the language-model scorer can confirm: they cost time and change
# nothing in a run without it.
MODEL_CONFIRMED_PROPOSERS = LM_CANDIDATE_PROPOSERS | {"restorer"}
# Which proposers and scorer each mode runs when the user names none.
# MT checks may add at most 30% to a rules run (bench/mt_quality.py, speed): boundaries,
# fragments and doubled words/punctuation fit; spacing damage and foreign words would double the
# cost for rare finds, and mt-pronoun loads spaCy (seconds): full mode, or named in `proposers`.
_MT_CHEAP = ("mt-boundary", "mt-fragment", "mt-leftover")
MODE_PROPOSERS: dict[str, tuple[str, ...]] = {
    "rules": ("rules", *_MT_CHEAP),
    "full": ("rules", *_MT_CHEAP, "mt-spacing", "mt-pronoun", "thesaurus"),
}
# Full mode: the language model decides spun/suggest rule hits and thesaurus candidates.
MODE_SCORER: dict[str, str] = {"rules": "evidence", "full": "lm"}


class UnknownComponent(KeyError):
    pass


def register_proposer(name: str, fn: Callable | str, rule_ids: Iterable[str] = ()) -> None:
    """Add a proposer; `rule_ids` are the sources its edits carry besides its own name."""
    PROPOSERS[name] = fn
    if rule_ids:
        PROPOSER_RULE_IDS[name] = tuple(rule_ids)


def register_scorer(name: str, fn: Callable | str) -> None:
    SCORERS[name] = fn


def _resolve_entry(registry: dict, name: str, what: str) -> Callable:
    try:
        entry = registry[name]
    except KeyError:
        raise UnknownComponent(f"unknown {what} {name!r} (known: {', '.join(sorted(registry))})") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        registry[name] = entry
    return entry


def disable_names(options: Options) -> frozenset[str]:
    """Every value `disable` acts on in a run with these options: proposers and their rule
    ids, edit kinds, and the tables, rule ids and found phrases of the built-in and the
    user's rule tables (built-in ones even when not loaded, so that a shared configuration
    stays valid for a run restricted to some tables)."""
    return _cheap_disable_names() | rule_table_names(BUILTIN_TABLES, options.rules)


def _cheap_disable_names() -> frozenset[str]:
    rule_ids = (rule_id for ids in PROPOSER_RULE_IDS.values() for rule_id in ids)
    return frozenset((*PROPOSERS, *rule_ids, *KINDS, *BUILTIN_TABLES))


def scorer_name(options: Options) -> str:
    """The scorer a run uses: the named one, or its mode's."""
    return options.scorer or MODE_SCORER[options.mode]


def proposers_without_their_scorer(options: Options) -> list[str]:
    """The proposers a run calls whose candidates need the language model to confirm them,
    in a run whose scorer is not it (rules mode)."""
    if scorer_name(options) == "lm":
        return []
    return [n for n in active_proposers(options) if n in MODEL_CONFIRMED_PROPOSERS]


def switch_problem(
    options: Options, disable: Iterable[str] | None = None, enable: Iterable[str] | None = None
) -> tuple[str, str, str] | None:
    """(key, name, problem) for the first `disable` or `enable` value a run with `options`
    cannot honour, or None; `disable` and `enable` narrow the check to some of the values
    (those of one configuration source)."""
    disable = options.disable if disable is None else tuple(disable)
    enable = options.enable if enable is None else tuple(enable)
    unknown_disabled = unknown_disable_names(options, disable)
    if unknown_disabled:
        return "disable", unknown_disabled[0], "no rule, table, kind or check has this name"
    unknown_enabled = [n for n in enable if n not in PROPOSERS]
    if unknown_enabled:
        return "enable", unknown_enabled[0], "no check has this name"
    unscored = [n for n in proposers_without_their_scorer(options) if n in enable]
    if unscored:
        return "enable", unscored[0], "its candidates need the language model to confirm them (mode 'full')"
    return None


def unknown_disable_names(options: Options, names: Iterable[str]) -> list[str]:
    """The `names` that no proposer, rule id, kind, table or found phrase has."""
    cheap = _cheap_disable_names()
    rest = [n for n in names if n not in cheap]
    return unknown_table_names(rest, BUILTIN_TABLES, options.rules) if rest else []


_RULESET_CACHE: dict[tuple, RuleSet] = {}


def ruleset_for(options: Options) -> RuleSet:
    # Keyed on the rule files' stamps too: an edited rule file is reloaded, not served stale.
    key = (options.tables, options.rules, options.disable, tuple(file_stamp(p) for p in options.rules))
    rs = _RULESET_CACHE.get(key)
    if rs is None:
        rs = load_rules(options.tables, options.rules, options.disable)
        _RULESET_CACHE.clear() if len(_RULESET_CACHE) > 16 else None
        _RULESET_CACHE[key] = rs
    return rs


def segment(
    text: str,
    options: Options,
    focus: tuple[tuple[int, int], ...] | None = None,
    document: dict | None = None,
    produced: tuple[tuple[int, int], ...] | None = None,
) -> Context:
    return Context(
        doc=Document(text),
        options=options,
        ruleset=ruleset_for(options),
        focus=focus,
        document=document,
        produced=produced,
    )


def proposer_names(options: Options) -> tuple[str, ...]:
    """The proposers a run names: the named ones or the mode's, then the enabled extras."""
    return tuple(dict.fromkeys((*(options.proposers or MODE_PROPOSERS[options.mode]), *options.enable)))


def active_proposers(options: Options) -> tuple[str, ...]:
    """The proposers a run calls: those it names, less the disabled ones (not even called: a
    disabled check must not load its back-end)."""
    return tuple(n for n in proposer_names(options) if n not in options.disable)


def propose(ctx: Context) -> list[Edit]:
    edits: list[Edit] = []
    ctx.proposed = edits
    for name in active_proposers(ctx.options):
        fn = _resolve_entry(PROPOSERS, name, "proposer")
        edits.extend(fn(ctx))
    untouchable = SpanSet(ignored_spans(ctx.doc.text, ctx.options.ignore) + not_prose_spans(ctx.doc.text))
    return [
        e
        for e in edits
        if e.source not in ctx.options.disable
        and e.kind not in ctx.options.disable
        and ctx.in_focus(e.start, e.end)
        and not untouchable.overlaps(e.start, e.end)
        and not splits_a_character(ctx.doc.text, e.start, e.end)
    ]


def splits_a_character(text: str, start: int, end: int) -> bool:
    """Does text[start:end] begin or stop inside a character written as a letter plus a
    combining mark (decomposed text: 'e' + U+0301)? Its edit would move the accent onto
    another letter; the word checks read the letter alone, so such a span is left alone."""
    return (start < len(text) and unicodedata.combining(text[start]) != 0) or (
        end < len(text) and unicodedata.combining(text[end]) != 0
    )


def ignored_spans(text: str, phrases: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the user's ignored words and phrases occur: whole words, any case, any spacing."""
    pattern = _ignore_pattern(phrases)
    return [m.span() for m in pattern.finditer(text)] if pattern else []


@functools.lru_cache(maxsize=8)
def _ignore_pattern(phrases: tuple[str, ...]) -> "re.Pattern | None":
    # Built once per ignore list, not per document (a batch job repairs millions).
    words = [r"\s+".join(re.escape(w) for w in p.split()) for p in phrases if p.split()]
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE)


def score(ctx: Context, edits: list[Edit]) -> list[Edit]:
    name = scorer_name(ctx.options)
    return list(_resolve_entry(SCORERS, name, "scorer")(ctx, edits))


def resolve(edits: Iterable[Edit], text: str | None = None) -> list[Edit]:
    """Remove overlaps deterministically: higher confidence wins, then the longer span, then
    the earlier one (then source name, so ties never depend on input order).

    Given the text, two overlapping fixes of the same standing (both automatic or both
    suggestions) whose changed parts do not collide are merged into one edit instead
    ("could also be,," -> "may be,"): dropping one would let it apply on a second run, and
    repair must be idempotent. A less confident fix that makes the kept one's change and more
    ("safety menace" -> "security threat" over "menace" -> "threat") replaces it."""
    # Edits only ever meet edits they overlap (a merged edit spans the two it merges), so
    # each run of spans chained by overlaps (or shared edges) is resolved by itself: a
    # document's thousands of separate fixes are never all kept in one sorted list.
    groups: list[list[Edit]] = []
    reach = -1
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e.start > reach:
            groups.append([])
        groups[-1].append(e)
        reach = max(reach, e.end)
    return [e for group in groups for e in _resolve_group(sorted(group, key=_rank), text)]


def _rank(e: Edit) -> tuple:
    return (-e.confidence, -(e.end - e.start), e.start, e.source, e.replacement or "")


def _resolve_group(ranked: list[Edit], text: str | None) -> list[Edit]:
    """`resolve` for edits in rank order, sorted by position in its result."""
    # Kept edits never overlap each other, so sorted by start they are sorted by end too and
    # the ones a new edit can clash with sit next to its insertion point (no quadratic scan).
    kept: list[Edit] = []
    starts: list[int] = []
    for e in ranked:
        i = bisect.bisect_left(starts, e.start)
        lo = i - 1 if i > 0 else 0
        clashes = []
        j = lo
        while j < len(kept) and kept[j].start <= e.end:
            if e.overlaps(kept[j]):
                clashes.append(j)
            j += 1
        if not clashes:
            kept.insert(i, e)
            starts.insert(i, e.start)
            continue
        if text is not None and len(clashes) == 1:
            merged = combine_edits(text, kept[clashes[0]], e)
            if merged is None and subsumes(text, e, kept[clashes[0]]):
                merged = e.with_(confidence=kept[clashes[0]].confidence)
            if merged is not None:
                del kept[clashes[0]], starts[clashes[0]]
                k = bisect.bisect_left(starts, merged.start)
                kept.insert(k, merged)
                starts.insert(k, merged.start)
    return sorted(kept, key=lambda e: (e.start, e.end))


def _same_standing(a: Edit, b: Edit) -> bool:
    """Both fixes, and both automatic or both suggestions: one may stand in for the other."""
    return a.fixable and b.fixable and a.auto == b.auto


def subsumes(text: str, big: Edit, small: Edit) -> bool:
    """`big` spans `small` and makes `small`'s change in place, plus more beside it."""
    if not _same_standing(big, small):
        return False
    if not (big.start <= small.start and small.end <= big.end) or (big.start, big.end) == (small.start, small.end):
        return False
    new, rep = small.replacement or "", big.replacement or ""
    return rep.endswith(new + text[small.end : big.end]) or rep.startswith(text[big.start : small.start] + new)


def changed_part(e: Edit) -> tuple[int, int, str]:
    """(start, end, new text) of the part of an edit that really changes."""
    found, rep = e.found, e.replacement or ""
    head, tail = shared_ends(found, rep)
    return e.start + head, e.end - tail, rep[head : len(rep) - tail]


def merged_span(text: str, a: Edit, b: Edit) -> tuple[int, int, str] | None:
    """(start, end, replacement) of one edit doing `a` then `b` (a's change first), or None
    when the changes themselves collide."""
    (a0, a1, anew), (b0, b1, bnew) = changed_part(a), changed_part(b)
    if a1 > b0 or a0 == a1 == b0 == b1:
        return None
    start, end = min(a.start, b.start), max(a.end, b.end)
    return start, end, text[start:a0] + anew + text[a1:b0] + bnew + text[b1:end]


def combine_edits(text: str, a: Edit, b: Edit) -> Edit | None:
    """One edit doing both `a` and `b`, or None when they cannot both apply."""
    if not _same_standing(a, b):
        return None
    first_change, second_change = sorted((a, b), key=changed_part)
    span = merged_span(text, first_change, second_change)
    if span is None:
        return None
    start, end, replacement = span
    first, second = (a, b) if a.confidence >= b.confidence else (b, a)
    return Edit(
        start=start,
        end=end,
        found=text[start:end],
        replacement=replacement,
        kind=first.kind,
        source=first.source,
        confidence=max(a.confidence, b.confidence),
        auto=a.auto,
        reason=f"{first.reason}; and {second.source}: {second.reason}",
    )


def select_applied(edits: Iterable[Edit], options: Options) -> list[Edit]:
    return [
        e
        for e in edits
        if e.fixable and e.confidence >= options.min_confidence and (e.auto or options.apply_all)
    ]


def apply(text: str, edits: Iterable[Edit]) -> str:
    """Splice non-overlapping edits into the original; text outside them is untouched."""
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        if e.start < pos:
            raise ValueError(f"overlapping edits at {e.start}")
        out.append(text[pos : e.start])
        out.append(e.replacement if e.replacement is not None else e.found)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def signature(options: Options, ruleset: RuleSet) -> str:
    """A reproducibility signature, sacrebleu-style: everything that changes the output."""
    parts = [
        f"mtfix:{__version__}",
        f"mode:{options.mode}",
        f"minconf:{options.min_confidence:g}",
        f"all:{'yes' if options.apply_all else 'no'}",
        f"rules:{ruleset.signature()}",
    ]
    if options.mode == "full" or options.model:
        parts.append(f"model:{options.model or 'default'}")
    if options.disable:
        parts.append("disable:" + ",".join(sorted(options.disable)))
    if options.enable:
        parts.append("enable:" + ",".join(sorted(options.enable)))
    if options.ignore:
        digest = hashlib.sha256("\n".join(sorted(options.ignore)).encode()).hexdigest()[:8]
        parts.append(f"ignore:{len(options.ignore)}.{digest}")
    return "|".join(parts)


# Fixing can create what another check then finds ("safety menace security safety menace"
# becomes "security threat security security threat", a doubled word); a repair re-checks its
# own output this many times so that repairing a repaired text changes nothing.
MAX_PASSES = 3


def _one_pass(
    text: str,
    options: Options,
    focus: tuple[tuple[int, int], ...] | None = None,
    document: dict | None = None,
    produced: tuple[tuple[int, int], ...] | None = None,
) -> tuple[list[Edit], list[Edit], Context]:
    ctx = segment(text, options, focus, document, produced)
    scored = score(ctx, propose(ctx))
    reported = [e for e in resolve(scored, text) if e.confidence >= options.min_confidence]
    return reported, select_applied(reported, options), ctx


def run(text: str, options: Options) -> Result:
    reported, applied, ctx = _one_pass(text, options)
    judged = {(e.start, e.end, e.source) for e in ctx.proposed}
    repaired = apply(text, applied)
    for _ in range(MAX_PASSES - 1):
        if not applied or repaired == text:
            break
        more = _recheck_around_fixes(
            applied,
            repaired,
            recheck_options(options),
            {"spin_score": ctx.spin_score, "sure_hits": ctx.notes.get("sure_hits", 0)},
            ctx.ruleset,
            judged,
        )
        if not more:
            break
        applied = compose(text, applied, repaired, more)
        suggestions = _clear_of(reported, applied)
        reported = sorted(applied + suggestions, key=lambda e: (e.start, e.end))
        repaired = apply(text, applied)
    return Result(
        original=text,
        edits=reported,
        repaired=repaired,
        applied=applied,
        spin_score=ctx.spin_score,
        signature=signature(options, ctx.ruleset),
    )


def _clear_of(edits: list[Edit], applied: list[Edit]) -> list[Edit]:
    """The `edits` that are not in `applied` and overlap none of them. `applied` never
    overlap each other, so sorted by start they are sorted by end too and only those around
    an edit's own span are compared with it (no scan of every fix for every edit)."""
    ordered = sorted(applied, key=lambda a: (a.start, a.end))
    ends = [a.end for a in ordered]
    taken = set(applied)
    out = []
    for e in edits:
        if e in taken:
            continue
        i = bisect.bisect_left(ends, e.start)  # the first fix not ending before `e`
        clash = False
        while i < len(ordered) and ordered[i].start <= e.end:
            if e.overlaps(ordered[i]):
                clash = True
                break
            i += 1
        if not clash:
            out.append(e)
    return out


# What a fix can break is mechanical (a doubled word, an article, a rule phrase formed across
# the seam), so re-checks run the cheap proposers and the rules-mode scorer: the language
# model and the parser would cost a second pass over most of a spun document for nothing.
RECHECK_SKIPS = MODEL_CONFIRMED_PROPOSERS | {"mt-pronoun"}


def recheck_options(options: Options) -> Options:
    return replace(
        options,
        proposers=tuple(n for n in proposer_names(options) if n not in RECHECK_SKIPS),
        enable=(),
        scorer="evidence" if scorer_name(options) == "lm" else options.scorer,
    )


def _recheck_around_fixes(
    applied: list[Edit],
    repaired: str,
    options: Options,
    document: dict,
    ruleset: RuleSet,
    judged: set,
) -> list[Edit]:
    """Fixes that the repaired text needs near the previous fixes, in repaired-text offsets.

    New damage can only appear next to a change, so only windows around the changes are
    checked again (a second pass over a whole 10 MB file would double its cost), and only
    edits touching a change, or the word either side of one, are scored (in full mode the
    model would otherwise re-weigh every site of every window). The word either side counts
    because a rule's context reads it ("solely" is left alone before "as", not before the
    "instead" that replaced "as a substitute"); an edit there that the first pass already
    proposed (`judged`: original offsets and source) was judged then and is not re-judged.
    No rule matches inside a rule's output (from `ruleset`): a rule whose replacement
    contains its own found phrase would apply again each pass."""
    from .rulematch import context_reach

    regions = Regions(applied)
    changed = regions.spans
    by_rule = [ruleset.get(e.source) is not None for e in regions.edits]
    windows: list[tuple[int, int, list[int]]] = []  # (start, end, the changes inside)
    for i, (lo, hi) in enumerate(changed):
        lo = _window_edge(repaired, max(0, lo - _RECHECK_MARGIN), -1)
        hi = _window_edge(repaired, min(len(repaired), hi + _RECHECK_MARGIN), +1)
        if windows and lo <= windows[-1][1]:
            last = windows[-1]
            windows[-1] = (last[0], max(last[1], hi), last[2] + [i])
        else:
            windows.append((lo, hi, [i]))
    more: list[Edit] = []
    for lo, hi, inside in windows:
        # Only what touches a change is new damage; anything else in the window was judged
        # by the first pass with the whole document's evidence, which a window lacks.
        window = repaired[lo:hi]
        spans = [(changed[i][0] - lo, changed[i][1] - lo) for i in inside]
        focus = tuple(context_reach(window, a, b) for a, b in spans)
        produced = tuple(span for i, span in zip(inside, spans) if by_rule[i])
        touching = SpanSet(spans)
        for e in _one_pass(window, options, focus, document, produced)[1]:
            start, end = e.start + lo, e.end + lo
            if not touching.touches(e.start, e.end) and (
                (regions.to_original(start), regions.to_original(end), e.source) in judged
            ):
                continue
            more.append(e.with_(start=start, end=end))
    return more


class Regions:
    """Each applied edit's span in the repaired text, in text order. The edits do not overlap,
    so the spans' starts and ends both ascend: those near a position are found by bisection."""

    def __init__(self, applied: list[Edit]) -> None:
        self.edits = sorted(applied, key=lambda e: e.start)
        self.original_ends = [e.end for e in self.edits]
        self.spans: list[tuple[int, int]] = []
        shift = 0
        for e in self.edits:
            rep = e.replacement if e.replacement is not None else e.found
            start = e.start + shift
            self.spans.append((start, start + len(rep)))
            shift += len(rep) - (e.end - e.start)
        self.ends = [b for _, b in self.spans]

    def to_original(self, pos: int) -> int:
        """For a position in unchanged text (or at a span's edge): undo the length changes
        of every replacement that ends at or before it."""
        i = bisect.bisect_right(self.ends, pos) - 1  # the last span ending at or before it
        return pos + (self.edits[i].end - self.ends[i]) if i >= 0 else pos

    def to_repaired(self, pos: int) -> int:
        """For a position of the original outside every edit (or at an edge): the inverse."""
        i = bisect.bisect_right(self.original_ends, pos) - 1  # the last edit ending at or before it
        return pos + (self.ends[i] - self.edits[i].end) if i >= 0 else pos


_RECHECK_MARGIN = 400


def _window_edge(text: str, pos: int, direction: int) -> int:
    """Move `pos` outwards to a paragraph or line break (or the text's edge)."""
    if direction < 0:
        cut = text.rfind("\n", 0, pos)
        return 0 if cut < 0 else cut + 1
    cut = text.find("\n", pos)
    return len(text) if cut < 0 else cut


def compose(original: str, first: list[Edit], repaired: str, second: list[Edit]) -> list[Edit]:
    """Express edits made to `repaired` (= `first` applied to `original`) as edits of the
    original: an edit in unchanged text is shifted; one touching a first-pass replacement is
    merged with it into a single edit from the original wording to the final one."""
    regions = Regions(first)
    first, spans, to_original = regions.edits, regions.spans, regions.to_original

    def touching_regions(s: Edit) -> list[int]:
        touching = []
        i = bisect.bisect_left(regions.ends, s.start)  # no earlier region can touch `s`
        while i < len(spans) and spans[i][0] <= s.end:
            rs, re_ = spans[i]
            if rs < s.end and s.start < re_ or rs == re_ == s.start:
                touching.append(i)
            i += 1
        return touching

    merged_first: set[int] = set()
    out: list[Edit] = []
    for s in sorted(second, key=lambda e: e.start):
        touching = touching_regions(s)
        if not touching:
            o0, o1 = to_original(s.start), to_original(s.end)
            out.append(s.with_(start=o0, end=o1, found=original[o0:o1]))
            continue
        r0 = min(s.start, spans[touching[0]][0])
        r1 = max(s.end, spans[touching[-1]][1])
        o0 = min(to_original(s.start) if s.start <= spans[touching[0]][0] else first[touching[0]].start,
                 first[touching[0]].start)
        o1 = max(to_original(s.end) if s.end >= spans[touching[-1]][1] else first[touching[-1]].end,
                 first[touching[-1]].end)
        final = repaired[r0 : s.start] + (s.replacement or s.found) + repaired[s.end : r1]
        base = first[touching[0]]
        out.append(base.with_(start=o0, end=o1, found=original[o0:o1], replacement=final,
                              reason=f"{base.reason}; then {s.source}: {s.reason}"))
        merged_first.update(touching)
    kept = [e for i, e in enumerate(first) if i not in merged_first]
    result = sorted(kept + out, key=lambda e: (e.start, e.end))
    # Two second-pass edits merged into the same first-pass edit would overlap: keep the first.
    final: list[Edit] = []
    for e in result:
        if final and e.start < final[-1].end:
            continue
        final.append(e)
    return final
