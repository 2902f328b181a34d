"""The "restorer" proposer: the seq2seq restorer rewrites suspicious sentences, and each
difference from the input becomes a candidate edit for the scorer, like the thesaurus's.

Opt-in (`mtfix fix --enable restorer`, `enable = ["restorer"]` in the config, or
`Options(enable=("restorer",))`) until a trained
adapter meets the targets of issue 7; no mode runs it by default.

- Gate: `suspicious_sentences(ctx)`. Generation costs far more than anything else in the
  pipeline, and rewriting text that shows no damage is how a restorer harms good text, so
  (like the quality gates of automatic post-editing) it runs only where the cheaper proposers
  that ran before it found something: a sentence with an edit of theirs (the rule table, the
  machine-translation checks; not the thesaurus, which proposes for most words), or next to
  one. A document with no such edit gets no generation at all. Sentences of `MIN_WORDS` to
  `MAX_WORDS` words only, and none wholly inside a quotation (nothing in them may change).
  Re-checks around fixes never run the restorer (`pipeline.RECHECK_SKIPS`).
- Generation: greedy and deterministic (`model.Restorer`); the generator is injectable
  (`propose_restorer(ctx, generator=fake)`; a generator maps [(context, sentence)] to
  [restored sentence or None]).
- Edits: `align.align_edits`, minimal word-level edits with offsets into the original text;
  names, numbers and quotations are never touched, and an edit replaces at most
  `MAX_FOUND_WORDS` words (longer rewrites are paraphrases). Kinds: "function-word" when every changed
  word is a function word, "synonym-swap" when a content word changes (both are weighed by
  the language-model scorer, `mtfix.lm.scorer.SCORED_KINDS`), "mt-other" for punctuation- or
  case-only changes (passed through unscored, so below the default confidence threshold).
  Confidence `PROPOSED_CONFIDENCE`, never automatic: only the scorer can make them count.
  The model reads and writes one line; on hard-wrapped text an edit keeps the line breaks of
  what it replaces (`text.options_keeping_line_breaks`), or is not made.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from ..edit import Edit
from ..pipeline import LM_CANDIDATE_PROPOSERS
from ..text import WORD_RE, at_sentence_start, one_line, options_keeping_line_breaks
from .align import align_edits, quotation_spans
from .prompt import CONTEXT_CHARS, context_window

SOURCE = "restorer"
PROPOSED_CONFIDENCE = 0.1
MIN_WORDS = 3
MAX_WORDS = 80
# Longest span of the input one restorer edit may replace. Longer rewrites are paraphrases
# the scorer cannot verify: on seed 000 the one such edit it applied ("no direct parallel
# criticism of" -> "no direct comparison between") rewrote words the spinner had left alone.
MAX_FOUND_WORDS = 2
# Edits that do not count as damage for the gate: the language model's candidates, and its own.
UNGATED_SOURCES = LM_CANDIDATE_PROPOSERS | {SOURCE}

Generator = Callable[[Sequence[tuple[str, str]]], Sequence["str | None"]]


def _function_words() -> frozenset[str]:
    from ..lm.propose import STOPWORDS

    return STOPWORDS


def suspicious_sentences(ctx) -> list[tuple[int, int]]:
    """(start, end) of the sentences worth a generation; see the module docstring."""
    hits = [(e.start, e.end) for e in ctx.proposed if e.source not in UNGATED_SOURCES]
    damaged = set()
    for i, s in enumerate(ctx.doc.sentences):
        if any(a < s.end and s.start < b for a, b in hits):
            damaged.update((i - 1, i, i + 1))
    return eligible_sentences(ctx, damaged.__contains__) if damaged else []


def eligible_sentences(ctx, keep: Callable[[int], bool] | None = None) -> list[tuple[int, int]]:
    """(start, end) of the sentences the restorer may rewrite at all: `MIN_WORDS` to
    `MAX_WORDS` words, not wholly inside a quotation; `keep(index)` narrows them further."""
    text = ctx.doc.text
    quotes = quotation_spans(text)
    out = []
    for i, s in enumerate(ctx.doc.sentences):
        if keep is not None and not keep(i):
            continue
        n = len(WORD_RE.findall(text, s.start, s.end))
        if not MIN_WORDS <= n <= MAX_WORDS:
            continue
        if any(q0 <= s.start and s.end <= q1 for q0, q1 in quotes):
            continue
        out.append((s.start, s.end))
    return out


def known_names(ctx) -> frozenset[str]:
    """Capitalised words the document uses inside sentences: names, even where one starts a
    sentence ("Smith said ... Smith added")."""
    text, stop = ctx.doc.text, _function_words()
    names = set()
    for m in WORD_RE.finditer(text):
        w = m.group()
        if w[:1].isupper() and w.lower() not in stop and not at_sentence_start(text, m.start()):
            names.add(w)
    return frozenset(names)


def edit_kind(found: str, replacement: str) -> str:
    a = Counter(w.lower() for w in WORD_RE.findall(found))
    b = Counter(w.lower() for w in WORD_RE.findall(replacement))
    changed = set((a - b) + (b - a))
    if not changed:
        return "mt-other"
    return "function-word" if changed <= _function_words() else "synonym-swap"


def _default_generator(ctx) -> Generator:
    from .model import load_restorer

    return load_restorer(device=ctx.options.device).restore


def propose_restorer(
    ctx, generator: Generator | None = None, gate: Callable[..., list[tuple[int, int]]] = suspicious_sentences
) -> list[Edit]:
    """`gate(ctx)`: the sentences to rewrite (bench/restorer_alone.py passes `eligible_sentences`)."""
    text = ctx.doc.text
    spans = gate(ctx)
    ctx.notes["restorer_spans"] = spans  # the sentences generated for (bench/restorer_ceiling.py)
    if not spans:
        return []
    items = [(context_window(text[max(0, a - 4 * CONTEXT_CHARS) : a]), text[a:b]) for a, b in spans]
    restored = list((generator or _default_generator(ctx))(items))
    if len(restored) != len(items):
        raise ValueError(f"the restorer returned {len(restored)} outputs for {len(items)} sentences")
    quotes = quotation_spans(text)
    names = known_names(ctx)
    edits = []
    for (a, b), out in zip(spans, restored):
        if out is None:
            continue
        local_quotes = [(max(q0, a) - a, min(q1, b) - a) for q0, q1 in quotes if q0 < b and a < q1]
        for w in align_edits(text[a:b], out, offset=a, protected=local_quotes, names=names):
            if len(WORD_RE.findall(w.found)) > MAX_FOUND_WORDS:
                continue
            # The model reads and writes one line: its words go back into the found phrase's
            # line breaks, never reflowing the text.
            kept = options_keeping_line_breaks(text, w.start, w.end, (one_line(w.replacement),))
            if not kept or kept[0] == w.found:
                continue
            replacement = kept[0]
            edits.append(
                Edit(
                    start=w.start,
                    end=w.end,
                    found=w.found,
                    replacement=replacement,
                    kind=edit_kind(w.found, replacement),
                    source=SOURCE,
                    confidence=PROPOSED_CONFIDENCE,
                    auto=False,
                    reason=f"the restorer rewrites '{w.found}' as '{replacement}'",
                )
            )
    return sorted(edits, key=lambda e: (e.start, e.end))
