"""The staged pipeline: segment -> propose -> score -> resolve -> apply.

Proposers and scorers live in registries keyed by name. An entry is either a callable or a
"module:function" string imported on first use, so heavy back-ends (torch, spaCy) load only
when a run asks for them (`mtfix --help` and rules-only runs never import them).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from . import __version__
from .edit import Edit, Result
from .options import Options
from .ruletable import RuleSet, load_rules
from .text import Document, import_lemminflect


@dataclass
class Context:
    """What every stage may read: the segmented document, the options and the rule set."""

    doc: Document
    options: Options
    ruleset: RuleSet
    spin_score: float = 0.0
    notes: dict = field(default_factory=dict)


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
}
SCORERS: dict[str, Callable | str] = {
    "evidence": "mtfix.evidence:score_by_document_evidence",
    "lm": "mtfix.lm.scorer:score_with_language_model",
}
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


def register_proposer(name: str, fn: Callable | str) -> None:
    PROPOSERS[name] = fn


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


_RULESET_CACHE: dict[tuple, RuleSet] = {}


def _file_stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def ruleset_for(options: Options) -> RuleSet:
    # Keyed on the rule files' stamps too: an edited rule file is reloaded, not served stale.
    key = (options.tables, options.rules, options.disable, tuple(_file_stamp(p) for p in options.rules))
    rs = _RULESET_CACHE.get(key)
    if rs is None:
        rs = load_rules(options.tables, options.rules, options.disable)
        _RULESET_CACHE.clear() if len(_RULESET_CACHE) > 16 else None
        _RULESET_CACHE[key] = rs
    return rs


def segment(text: str, options: Options) -> Context:
    return Context(doc=Document(text), options=options, ruleset=ruleset_for(options))


def propose(ctx: Context) -> list[Edit]:
    names = ctx.options.proposers or MODE_PROPOSERS[ctx.options.mode]
    edits: list[Edit] = []
    for name in names:
        if name in ctx.options.disable:
            continue  # not even called: a disabled check must not load its back-end
        fn = _resolve_entry(PROPOSERS, name, "proposer")
        edits.extend(fn(ctx))
    return [e for e in edits if e.source not in ctx.options.disable and e.kind not in ctx.options.disable]


def score(ctx: Context, edits: list[Edit]) -> list[Edit]:
    name = ctx.options.scorer or MODE_SCORER[ctx.options.mode]
    return list(_resolve_entry(SCORERS, name, "scorer")(ctx, edits))


def resolve(edits: Iterable[Edit]) -> list[Edit]:
    """Drop overlapping edits deterministically: higher confidence wins, then the longer
    span, then the earlier one (then source name, so ties never depend on input order)."""
    ranked = sorted(edits, key=lambda e: (-e.confidence, -(e.end - e.start), e.start, e.source, e.replacement or ""))
    kept: list[Edit] = []
    for e in ranked:
        if not any(e.overlaps(k) for k in kept):
            kept.append(e)
    return sorted(kept, key=lambda e: (e.start, e.end))


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
    return "|".join(parts)


def run(text: str, options: Options) -> Result:
    ctx = segment(text, options)
    proposed = propose(ctx)
    scored = score(ctx, proposed)
    reported = [e for e in resolve(scored) if e.confidence >= options.min_confidence]
    applied = select_applied(reported, options)
    return Result(
        original=text,
        edits=reported,
        repaired=apply(text, applied),
        applied=applied,
        spin_score=ctx.spin_score,
        signature=signature(options, ctx.ruleset),
    )
