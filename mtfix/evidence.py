"""Rules-mode scorer: weigh each ambiguous edit by how spun the whole document looks.

Spinners damage a document throughout while clean prose has no spun words at all, so a
document's sure evidence (automatic rule hits, which are almost never wrong) is a prior for
its ambiguous sites: "safety" stays in a clean report and becomes "security" in an article
that also says "safety menace" and "till not too long ago". This is the document-level
quality gate the WMT post-editing results call for.
"""
from __future__ import annotations

import math

from .edit import Edit
from .text import wrapped_phrase

# A document is judged spun (and `spun` rules apply) at this score or above.
SPUN_THRESHOLD = 0.7
# Sure hits per 1,000 words at which density stops limiting the score.
FULL_DENSITY = 3.0


def spin_score(sure_hits: int, words: int) -> float:
    """P(document is spun) from its count of sure hits and its length.

    Each sure hit halves the chance the document is clean; a long document needs
    proportionally more hits, so a stray hit in a book does not condemn it."""
    if sure_hits <= 0:
        return 0.0
    density = sure_hits * 1000.0 / max(words, 100)
    return (1.0 - 0.5 ** sure_hits) * min(1.0, density / FULL_DENSITY)


def _sure(edit: Edit, ctx) -> bool:
    rule = ctx.ruleset.get(edit.source)
    return edit.auto and rule is not None and rule.apply == "auto"


def score_by_document_evidence(ctx, edits: list[Edit]) -> list[Edit]:
    sure_edits = [e for e in edits if _sure(e, ctx)]
    sure_phrases = {wrapped_phrase(e.found).lower() for e in sure_edits}
    sure = len(sure_edits)
    # Distinct phrases count fully, repeats of one phrase only a little: one odd house
    # style repeated ten times is weaker evidence than ten different swaps.
    effective = len(sure_phrases) + 0.25 * (sure - len(sure_phrases))
    s = spin_score(math.floor(effective), ctx.doc.word_count)
    ctx.notes["sure_hits"] = sure
    if ctx.document:  # a re-check of a window: the whole document's evidence counts
        s = max(s, ctx.document.get("spin_score", 0.0))
        sure = max(sure, ctx.document.get("sure_hits", 0))  # as the reasons state it
    ctx.spin_score = s
    out = []
    for e in edits:
        rule = ctx.ruleset.get(e.source)
        if rule is None or e.auto:
            out.append(e)
            continue
        if rule.apply == "spun" and not rule.ambiguous:
            if s >= SPUN_THRESHOLD:
                conf = round(0.6 + 0.35 * s, 4)
                out.append(e.with_(confidence=conf, auto=True,
                                   reason=f"{e.reason}; applied because the document's spin score is {s:.2f} ({sure} sure swaps)"))
            else:
                out.append(e.with_(confidence=round(0.3 + 0.4 * s, 4)))
        else:
            # Suggest-only and ambiguous rules are reported in spun documents, never applied.
            out.append(e.with_(confidence=round(0.3 + 0.5 * s, 4),
                               reason=f"{e.reason}; document spin score {s:.2f}" if s else e.reason))
    return out
