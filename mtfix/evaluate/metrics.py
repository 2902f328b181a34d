"""The metrics of `mtfix eval`.

Word metrics tokenise both sides the same way (``tokenize``): typographic apostrophes, quotes
and spaces are folded (’ → ', “ ” → "), the text is lower-cased, and it is split into words
(letters and digits, joined by inner hyphens or apostrophes: "long-term", "don't") and single
punctuation characters, each its own token ("U.S." → u . s .). WER is jiwer's over those
tokens, corpus-level (all errors / all reference tokens). TER and chrF are sacrebleu's on the
untouched strings (TER: tercom tokenisation, case-insensitive; chrF: defaults).

Edit verdicts (`judge_edit`) judge each applied edit by its own effect: the damaged text with
only that edit applied is aligned with the reference (jiwer, Levenshtein) and its word errors
compared with the damaged text's. The edit is *correct* when it removes errors and every token
it outputs aligns equal to the reference, i.e. its replacement equals the reference words at
that position (a pure deletion: when it removes errors and no reference word is missing
there); *partial* when it removes errors but is not exact ("till not too long ago" -> "until
lately" for "until recently"); *harmful* when it adds errors, or removes none and changed a
damaged word that matched the reference (or inserted words where none were missing); *neutral*
when it changes no token (case, spacing); *wrong* otherwise (it changed wrong words into other
wrong words). Precision = correct / all but neutral edits. Recall = the share of the damaged
text's word errors (the WER numerator) removed by correct edits.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..edit import Edit
from ..text import fold_for_search, split_sentences

TOKENISATION = "lower-case; ’‘ʼ→' “”→\"; words [letters/digits joined by inner - or '] and each punctuation mark"
_TOKEN_RE = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[^\w\s]|_", re.UNICODE)


# The per-kind metrics every report shows, in order; `mtfix eval` adds its verdict counts.
REPORT_COLUMNS = (
    "wer_before",
    "wer_after",
    "ter_before",
    "ter_after",
    "chrf_before",
    "chrf_after",
    "edits",
    "edit_precision",
    "edit_recall",
    "harmful_edits",
    "sentences_improved",
    "sentences_worsened",
)


def tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Metric tokens of `text` and their character spans in `text` (see the module doc)."""
    folded = fold_for_search(text)  # same length as text, so spans are valid in both
    words, spans = [], []
    for m in _TOKEN_RE.finditer(folded):
        words.append(m.group())
        spans.append(m.span())
    return words, spans


def _align(ref: list[str], hyp: list[str]):
    """jiwer alignment chunks (type, ref_start_idx, ref_end_idx, hyp_start_idx, hyp_end_idx)."""
    import jiwer

    if not ref and not hyp:
        return []
    if not ref or not hyp:
        from types import SimpleNamespace as NS

        kind = "insert" if hyp else "delete"
        return [NS(type=kind, ref_start_idx=0, ref_end_idx=len(ref), hyp_start_idx=0, hyp_end_idx=len(hyp))]
    return jiwer.process_words(" ".join(ref), " ".join(hyp)).alignments[0]


def _errors(chunks) -> int:
    n = 0
    for c in chunks:
        if c.type in ("substitute", "insert"):
            n += c.hyp_end_idx - c.hyp_start_idx
        elif c.type == "delete":
            n += c.ref_end_idx - c.ref_start_idx
    return n


def _distance(a: list[str], b: list[str]) -> int:
    return _errors(_align(a, b))


def _errors_by_ref_token(chunks, n_ref: int) -> list[int]:
    """Word errors charged to each reference token; an extra hypothesis word is charged to the
    reference token before it (or the first one), so errors can be summed per sentence."""
    charge = [0] * max(n_ref, 1)
    for c in chunks:
        if c.type in ("substitute", "delete"):
            for r in range(c.ref_start_idx, c.ref_end_idx):
                charge[r] += 1
        elif c.type == "insert":
            charge[max(0, c.ref_start_idx - 1) if n_ref else 0] += c.hyp_end_idx - c.hyp_start_idx
    return charge


@dataclass
class _Alignment:
    """A reference-vs-hypothesis alignment seen from the hypothesis side."""

    lo: list[int]  # reference boundary of each hypothesis boundary, before adjacent missing words
    hi: list[int]  # ... and after them
    ref_of: list[int | None]  # reference token aligned to each hypothesis token (None: extra word)
    equal: list[bool]  # hypothesis token matches its reference token
    matched: list[bool]  # reference token is matched by some hypothesis token
    chunks: list = field(default_factory=list)

    @classmethod
    def build(cls, chunks, n_hyp: int, n_ref: int) -> "_Alignment":
        lo = [sys.maxsize] * (n_hyp + 1)
        hi = [0] * (n_hyp + 1)
        ref_of: list[int | None] = [None] * n_hyp
        equal = [False] * n_hyp
        matched = [False] * n_ref

        def link(k: int, r: int) -> None:
            lo[k], hi[k] = min(lo[k], r), max(hi[k], r)

        for c in chunks:
            hs, he, rs, re_ = c.hyp_start_idx, c.hyp_end_idx, c.ref_start_idx, c.ref_end_idx
            if c.type in ("equal", "substitute"):
                for t in range(he - hs + 1):
                    link(hs + t, rs + t)
                for t in range(he - hs):
                    ref_of[hs + t] = rs + t
                if c.type == "equal":
                    equal[hs:he] = [True] * (he - hs)
                    matched[rs:re_] = [True] * (re_ - rs)
            elif c.type == "insert":  # hypothesis words with no reference counterpart
                for k in range(hs, he + 1):
                    link(k, rs)
            else:  # delete: reference words missing at one hypothesis boundary
                link(hs, rs)
                link(hs, re_)
        lo = [0 if v == sys.maxsize else v for v in lo]
        return cls(lo, hi, ref_of, equal, matched, list(chunks))


@dataclass
class JudgedEdit:
    edit: Edit
    verdict: str  # correct | partial | wrong | harmful | neutral
    reference: str  # the reference words aligned to the edit's output
    restored: int  # word errors the edit removed (correct edits only)

    def to_dict(self) -> dict:
        return dict(self.edit.to_dict(), verdict=self.verdict, reference_words=self.reference)


def _token_range(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Tokens a character span touches: [i, j) (i == j: a point between tokens)."""
    i = 0
    while i < len(spans) and spans[i][1] <= start:
        i += 1
    j = i
    while j < len(spans) and spans[j][0] < end:
        j += 1
    return i, j


def judge_edit(edit: Edit, damaged: str, ref: list[str], dwords: list[str], dspans, before: _Alignment) -> JudgedEdit:
    """The verdict on one applied edit, from its own effect: the damaged text with only this edit
    applied is aligned with the reference (see the module doc). Judging each edit alone keeps
    one edit's verdict from depending on how its neighbours shifted the alignment."""
    from ..pipeline import apply

    errors_before = _errors(before.chunks)
    alone = apply(damaged, [edit])
    words, spans = tokenize(alone)
    chunks = _align(ref, words)
    after = _Alignment.build(chunks, len(words), len(ref))
    errors_after = _errors(chunks)
    i, j = _token_range(dspans, edit.start, edit.end)
    p, q = _token_range(spans, edit.start, edit.start + len(edit.replacement))
    reference = " ".join(ref[after.lo[p] : after.hi[q]])
    if words == dwords:
        return JudgedEdit(edit, "neutral", reference, 0)
    if errors_after < errors_before:
        if p < q and all(after.equal[p:q]):
            r0, r1 = after.ref_of[p], after.ref_of[q - 1] + 1
            return JudgedEdit(edit, "correct", " ".join(ref[r0:r1]), errors_before - errors_after)
        if p == q and after.lo[p] == after.hi[p]:
            return JudgedEdit(edit, "correct", "", errors_before - errors_after)  # removed extra words only
        return JudgedEdit(edit, "partial", reference, 0)
    if errors_after > errors_before or any(before.equal[i:j]) or (i == j and before.lo[i] == before.hi[i]):
        # It added errors, changed a word that matched, or added words where none were missing.
        return JudgedEdit(edit, "harmful", reference, 0)
    return JudgedEdit(edit, "wrong", reference, 0)


def _sentence_ids(text: str, spans: list[tuple[int, int]]) -> list[int]:
    bounds = [s.end for s in split_sentences(text)]
    ids, s = [], 0
    for start, _ in spans:
        while s < len(bounds) - 1 and start >= bounds[s]:
            s += 1
        ids.append(s)
    return ids


@dataclass
class PairScore:
    """One pair's numbers: reference words, errors before/after, sentences, judged edits."""

    index: int
    extra: dict
    damaged: str
    reference: str
    repaired: str
    words: int
    errors_before: int
    errors_after: int
    sentences: int
    improved: int
    worsened: int
    judged: list[JudgedEdit] = field(default_factory=list)
    suggestions: int = 0
    by_kind: dict = field(default_factory=dict)  # kind -> (errors_after, improved, worsened, hyp)

    @property
    def name(self) -> str:
        return str(self.extra.get("id", self.index + 1))


def _sentence_changes(ref_sent: list[int], n_sent: int, before: list[int], after_chunks, n_ref: int):
    after = _errors_by_ref_token(after_chunks, n_ref)
    b, a = [0] * n_sent, [0] * n_sent
    for t in range(n_ref):
        b[ref_sent[t]] += before[t]
        a[ref_sent[t]] += after[t]
    if not n_ref:
        b[0], a[0] = before[0], after[0]
    return sum(x < y for x, y in zip(a, b)), sum(x > y for x, y in zip(a, b))


def score_pair(index: int, damaged: str, reference: str, result, extra: dict | None = None) -> PairScore:
    from ..pipeline import apply

    ref, rspans = tokenize(reference)
    dwords, dspans = tokenize(damaged)
    applied = sorted((e for e in result.applied if e.fixable), key=lambda e: e.start)
    before_chunks = _align(ref, dwords)
    after_chunks = _align(ref, tokenize(result.repaired)[0])
    ref_sent = _sentence_ids(reference, rspans)
    n_sent = (max(ref_sent) + 1) if ref_sent else 1
    before = _errors_by_ref_token(before_chunks, len(ref))
    improved, worsened = _sentence_changes(ref_sent, n_sent, before, after_chunks, len(ref))
    alignment = _Alignment.build(before_chunks, len(dwords), len(ref))
    judged = [judge_edit(e, damaged, ref, dwords, dspans, alignment) for e in applied]
    by_kind = {}
    for kind in sorted({e.kind for e in applied}):
        hyp = apply(damaged, [e for e in applied if e.kind == kind])
        chunks = _align(ref, tokenize(hyp)[0])
        by_kind[kind] = (_errors(chunks), *_sentence_changes(ref_sent, n_sent, before, chunks, len(ref)), hyp)
    return PairScore(
        index=index,
        extra=extra or {},
        damaged=damaged,
        reference=reference,
        repaired=result.repaired,
        words=len(ref),
        errors_before=_errors(before_chunks),
        errors_after=_errors(after_chunks),
        sentences=n_sent,
        improved=improved,
        worsened=worsened,
        judged=judged,
        suggestions=len(result.edits) - len(result.applied),
        by_kind=by_kind,
    )


def _ratio(num: float, den: float, digits: int = 4):
    return round(num / den, digits) if den else None


_METRICS: dict = {}


def _sacrebleu_metrics():
    if not _METRICS:
        from sacrebleu.metrics import CHRF, TER

        _METRICS.update(ter=TER(), chrf=CHRF())
    return _METRICS["ter"], _METRICS["chrf"]


_STATS_CACHE: dict = {}


def _segment_stats(name: str, hyp: str, ref: str) -> list:
    """sacrebleu's sufficient statistics of one segment, cached: most hypotheses (unchanged
    texts, one kind's edits) repeat, and TER costs ~0.1 s on a 300-word document."""
    key = (name, hyp, ref)
    stats = _STATS_CACHE.get(key)
    if stats is None:
        metric = dict(zip(("ter", "chrf"), _sacrebleu_metrics()))[name]
        stats = metric._extract_corpus_statistics([hyp], [[ref]])[0]
        if len(_STATS_CACHE) > 200_000:
            _STATS_CACHE.clear()
        _STATS_CACHE[key] = stats
    return stats


def _corpus_ter_chrf(hyps: list[str], refs: list[str]) -> tuple[float, float]:
    """Corpus TER and chrF (sacrebleu: statistics summed over segments, then scored)."""
    out = []
    for name, metric in zip(("ter", "chrf"), _sacrebleu_metrics()):
        summed = [sum(col) for col in zip(*(_segment_stats(name, h, r) for h, r in zip(hyps, refs)))]
        out.append(round(metric._compute_score_from_stats(summed).score, 2))
    return out[0], out[1]


def metric_signature() -> dict:
    """sacrebleu's signatures (valid once a score was computed)."""
    ter, chrf = _sacrebleu_metrics()
    return {"ter": str(ter.get_signature()), "chrf": str(chrf.get_signature())}


def summarise(scores: list[PairScore], with_ter: bool = True) -> dict:
    """Corpus-level metrics, overall and per edit kind (kind rows: only that kind's edits applied)."""
    words = sum(s.words for s in scores)
    before = sum(s.errors_before for s in scores)
    refs = [s.reference for s in scores]

    def block(judged: list[JudgedEdit], errors_after: int, improved: int, worsened: int, hyps: list[str]) -> dict:
        verdicts = Counter(j.verdict for j in judged)
        d = {"wer_before": _ratio(before, words), "wer_after": _ratio(errors_after, words)}
        if with_ter:
            d["ter_before"], d["chrf_before"] = ter_chrf_before
            d["ter_after"], d["chrf_after"] = _corpus_ter_chrf(hyps, refs) if hyps else (None, None)
        d.update(
            edits=len(judged),
            edit_precision=_ratio(verdicts["correct"], len(judged) - verdicts["neutral"]),
            edit_recall=_ratio(min(before, sum(j.restored for j in judged)), before),
            harmful_edits=verdicts["harmful"],
            wrong_edits=verdicts["wrong"],
            partial_edits=verdicts["partial"],
            neutral_edits=verdicts["neutral"],
            sentences_improved=improved,
            sentences_worsened=worsened,
        )
        return d

    ter_chrf_before = _corpus_ter_chrf([s.damaged for s in scores], refs) if with_ter and scores else (None, None)
    out = block(
        [j for s in scores for j in s.judged],
        sum(s.errors_after for s in scores),
        sum(s.improved for s in scores),
        sum(s.worsened for s in scores),
        [s.repaired for s in scores],
    )
    out.update(
        words=words,
        pairs=len(scores),
        sentences=sum(s.sentences for s in scores),
        suggestions=sum(s.suggestions for s in scores),
    )
    kinds = sorted({k for s in scores for k in s.by_kind})
    out["by_kind"] = {}
    for kind in kinds:
        rows = [s.by_kind.get(kind, (s.errors_before, 0, 0, s.damaged)) for s in scores]
        out["by_kind"][kind] = block(
            [j for s in scores for j in s.judged if j.edit.kind == kind],
            sum(r[0] for r in rows),
            sum(r[1] for r in rows),
            sum(r[2] for r in rows),
            [r[3] for r in rows],
        )
    return out


def _default_repair() -> Callable:
    from ..pipeline import run

    return run


def evaluate_pairs(pairs: Iterable[dict], options, repair: Callable | None = None, progress=None) -> list[PairScore]:
    """Repair each pair's damaged text (as one document) and score it against its reference."""
    repair = repair or _default_repair()
    scores = []
    for index, pair in enumerate(pairs):
        extra = {k: v for k, v in pair.items() if k not in ("damaged", "reference")}
        result = repair(pair["damaged"], options)
        scores.append(score_pair(index, pair["damaged"], pair["reference"], result, extra))
        if progress is not None:
            progress.update(1)
    return scores


def clean_report(texts: Iterable[tuple[str, str]], options, repair: Callable | None = None) -> dict:
    """Run the repair on clean texts: every applied edit is a false positive."""
    from ..text import count_words

    repair = repair or _default_repair()
    words, listed, suggestions = 0, [], 0
    for name, text in texts:
        result = repair(text, options)
        words += count_words(text)
        suggestions += len(result.edits) - len(result.applied)
        for e in result.applied:
            ctx = text[max(0, e.start - 40) : e.end + 40].replace("\n", " ")
            listed.append(dict(e.to_dict(), document=name, context=ctx))
    return {
        "edits": len(listed),
        "words": words,
        "edits_per_1000_words": round(1000.0 * len(listed) / words, 3) if words else None,
        "suggestions": suggestions,
        "edits_by_kind": dict(Counter(e["kind"] for e in listed)),
        "edit_list": listed,
    }


def word_diff(reference: str, hypothesis: str, context: int = 3) -> list[str]:
    """Remaining differences of a repaired text from its reference, one hunk a line:
    [-reference words-] {+repaired words+}, with `context` words either side."""
    ref, hyp = tokenize(reference)[0], tokenize(hypothesis)[0]
    hunks: list[list[int]] = []  # [ref_start, ref_end, hyp_start, hyp_end], adjacent changes merged
    for c in _align(ref, hyp):
        if c.type == "equal":
            continue
        if hunks and hunks[-1][1] == c.ref_start_idx and hunks[-1][3] == c.hyp_start_idx:
            hunks[-1][1], hunks[-1][3] = c.ref_end_idx, c.hyp_end_idx
        else:
            hunks.append([c.ref_start_idx, c.ref_end_idx, c.hyp_start_idx, c.hyp_end_idx])
    out = []
    for r0, r1, h0, h1 in hunks:
        left = " ".join(ref[max(0, r0 - context) : r0])
        right = " ".join(ref[r1 : r1 + context])
        out.append(f"... {left} [-{' '.join(ref[r0:r1])}-] {{+{' '.join(hyp[h0:h1])}+}} {right} ...")
    return out
