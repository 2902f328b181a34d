"""Language-model evidence for candidate restorations: how much more probable the text around a
site becomes when a candidate replaces the found phrase.

For one site with found phrase F, candidates C and right context R (a few tokens), all sharing
the sentence's left context L, the evidence for candidate c is

    delta(c) = log P(c R | L) - log P(F R | L)      (nats; > 0: the model prefers c)

Cost is what decides the design (full mode must run at hundreds of words per second on two CPU
cores):
1. One causal pass per sentence (batched) gives the hidden state before every site, and the
   key/value cache of every prefix.
2. Prefilter, nearly free: the first token of each candidate is scored from the hidden state
   already computed (a dot product, no softmax needed: log-probabilities at one position differ
   by their logits). log P(first token of c) bounds log P(c) from above, so a candidate whose
   bound is far below log P(F) cannot win and is dropped with no further work.
3. Survivors are scored exactly: each continues its sentence's cached prefix with its own
   tokens plus the right context, all survivors of all sentences in one batched `extend`.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

# Tuned on the synthetic dev set (bench/calibrate_lm.py); see models/README.md.
PREFILTER_MARGIN = (
    -0.5
)  # a candidate survives if its upper bound beats the found phrase by 0.5 nats
MAX_SCORED = 2  # candidates per site scored exactly
RIGHT_TOKENS = 1  # right context scored after the variant (see models/README.md)
MAX_FOUND_LOGPROB = (
    -5.0
)  # sites whose found phrase is at least this probable are not scored
MAX_SEGMENT_CHARS = (
    600  # text per model row: whole sentences packed together (about 130 tokens)
)
TOKEN_BUDGET = 4096  # tokens per batched pass (rows x longest row)
MAX_ROWS = 64
# Batches scored at once on the CPU (see `_streams`).
MAX_STREAMS = 8
# Positions per vocabulary projection: bounds memory at 128 x vocabulary floats (25 MB for
# SmolLM2's 49,152 tokens), under the 32 MB up to which `backend.keep_freed_memory` lets glibc
# reuse freed blocks; 256 (50 MB) was mapped and unmapped afresh for every block.
LOGIT_BLOCK = 128
STATS = {
    "segment_tokens": 0,
    "candidate_tokens": 0,
    "sites": 0,
    "candidates": 0,
}  # for bench/
_STATS_LOCK = threading.Lock()


def _count(**amounts: int) -> None:
    with _STATS_LOCK:  # batches run in several threads
        for key, n in amounts.items():
            STATS[key] += n


@dataclass
class Site:
    """One span of the original text and the candidate texts that may replace it."""

    start: int
    end: int
    found: str
    candidates: list[str]
    forced: frozenset[str] = (
        frozenset()
    )  # candidates scored exactly whatever the prefilter says
    # Filled in by `measure_sites`:
    deltas: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    found_logprob: float | None = (
        None  # log P(found phrase + right context | left context)
    )
    found_word_logprob: float | None = None  # log P(found phrase | left context)
    scored: bool = False


@dataclass
class _Segment:
    start: int
    end: int
    sites: list[Site] = field(default_factory=list)


@dataclass
class _Placed:
    site: Site
    row: int  # row in the batch
    pos: int  # position of the first found token in the model input
    gap: str  # text between the prefix and the found phrase (a space or nothing)
    found_ids: list[int]
    right_ids: list[int]


def _segments(doc, sites: list[Site]) -> list[_Segment]:
    """Runs of whole sentences up to MAX_SEGMENT_CHARS (a longer sentence is cut at a space
    outside any site), keeping those that hold sites. Packing several sentences into one row
    gives later sentences more context and leaves almost no padding in a batch."""
    text = doc.text
    pieces: list[tuple[int, int]] = []
    for span in doc.sentences:
        start = span.start
        while span.end - start > MAX_SEGMENT_CHARS:
            cut = text.rfind(" ", start + 1, start + MAX_SEGMENT_CHARS)
            while cut > start and any(s.start < cut < s.end for s in sites):
                cut = text.rfind(" ", start + 1, cut)
            if cut <= start:
                break
            pieces.append((start, cut))
            start = cut + 1
        pieces.append((start, span.end))
    segments: list[_Segment] = []
    for start, end in pieces:
        if segments and end - segments[-1].start <= MAX_SEGMENT_CHARS:
            segments[-1].end = end
        else:
            segments.append(_Segment(start, end))
    starts = [s.start for s in segments]
    for site in sorted(sites, key=lambda s: s.start):
        i = bisect.bisect_right(starts, site.start) - 1
        if i >= 0 and site.end <= segments[i].end:
            segments[i].sites.append(site)
    return [s for s in segments if s.sites]


class _TokenCache:
    """Token ids of candidate texts, shared by the batches of one document. Streams may both
    encode a missing text; they write the same ids, so no lock is needed."""

    def __init__(self, lm):
        self.lm = lm
        self.cache: dict[str, list[int]] = {}

    def ids(self, texts: list[str]) -> list[list[int]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            for t, (ids, _) in zip(missing, self.lm.encode_texts(missing)):
                self.cache[t] = ids
        return [self.cache[t] for t in texts]


def _place(
    seg_text: str, seg_start: int, ids: list[int], offsets, site: Site, shift: int
):
    """Token positions of a site inside its encoded segment, or None if it straddles tokens."""
    rel_s, rel_e = site.start - seg_start, site.end - seg_start
    b = rel_s - 1 if rel_s > 0 and seg_text[rel_s - 1] == " " else rel_s
    i = next((j for j, (s, e) in enumerate(offsets) if e > b), None)
    if i is None or offsets[i][0] < b:
        return None
    k = next(
        (j for j in range(i, len(offsets)) if offsets[j][0] >= rel_e), len(offsets)
    )
    if k == i or (k > 0 and offsets[k - 1][1] > rel_e):
        return None
    if i + shift == 0:
        return None  # no token before the site to condition on
    return i + shift, seg_text[b:rel_s], ids[i:k], ids[k : k + RIGHT_TOKENS]


def _gather_logprobs(net, hidden_rows, targets: list[list[int]]) -> list[list[float]]:
    """log P(token) for chosen tokens at each row: hidden (N, D), targets[i] a list of token
    ids for row i. Works in blocks and keeps only what is asked for, so memory stays at one
    block x vocabulary whatever the number of rows."""
    import torch

    out: list[list[float]] = []
    for a in range(0, hidden_rows.shape[0], LOGIT_BLOCK):
        logits = net.logits(hidden_rows[a : a + LOGIT_BLOCK]).float()
        norm = torch.logsumexp(logits, dim=-1)
        block = targets[a : a + LOGIT_BLOCK]
        width = max((len(t) for t in block), default=0)
        if not width:
            out.extend([] for _ in block)
            continue
        index = torch.tensor(
            [t + [0] * (width - len(t)) for t in block], device=logits.device
        )
        got = (logits.gather(1, index) - norm[:, None]).cpu().tolist()
        out.extend(g[: len(t)] for g, t in zip(got, block))
    return out


def _summed_logprobs(net, hidden, at: list[tuple[int, int, int, int]]):
    """For entries (key, row, position, token): the sum per key of log P(token) read from the
    hidden state at (row, position)."""
    sums: defaultdict[int, float] = defaultdict(float)
    if at:
        got = _gather_logprobs(net, hidden[[a[1] for a in at], [a[2] for a in at]], [[a[3]] for a in at])
        for (key, *_), (v,) in zip(at, got):
            sums[key] += v
    return sums


def _pack(lengths: list[int], order: list[int], budget: int) -> list[list[int]]:
    """Segments of similar length share a batch (`order`: shortest first): rows x longest row
    stays within `budget`."""
    batches: list[list[int]] = [[]]
    width = 0
    for j in order:
        batch = batches[-1]
        if batch and (max(width, lengths[j]) * (len(batch) + 1) > budget or len(batch) >= MAX_ROWS):
            batch, width = [], 0
            batches.append(batch)
        batch.append(j)
        width = max(width, lengths[j])
    return batches


def _padded(batch: list[int], lengths: list[int]) -> int:
    return len(batch) * max(lengths[j] for j in batch)


def _makespan(batches: list[list[int]], lengths: list[int], streams: int) -> int:
    """Padded tokens of the busiest stream when the largest batches go first to the idlest."""
    load = [0] * streams
    for size in sorted((_padded(b, lengths) for b in batches), reverse=True):
        load[load.index(min(load))] += size
    return max(load)


def _batches(lengths: list[int], streams: int) -> list[list[int]]:
    """Batches of segment indices for `streams` streams, each within TOKEN_BUDGET / streams,
    largest first: the order in which the streams take them.

    A stream that runs out of batches idles while the others finish theirs: 7 equal batches on
    2 streams kept the cores busy 1.73 times over, not 2. So of the budgets down to half the
    largest, the one whose batches spread most evenly over the streams is taken."""
    order = sorted(range(len(lengths)), key=lambda j: lengths[j])
    budget = TOKEN_BUDGET // streams
    best = _pack(lengths, order, budget)
    if streams > 1:
        best_span = _makespan(best, lengths, streams)
        for tighter in range(budget - budget // 64, budget // 2, -max(1, budget // 64)):
            trial = _pack(lengths, order, tighter)
            span = _makespan(trial, lengths, streams)
            if span < best_span:
                best, best_span = trial, span
    return sorted(best, key=lambda b: -_padded(b, lengths))


def measure_sites(lm, doc, sites: list[Site]) -> list[Site]:
    """Fill in `deltas`, `bounds` and `found_logprob` of every site that can be scored."""
    import torch

    segments = _segments(doc, sites)
    if not segments:
        return sites
    texts = [doc.text[s.start : s.end] for s in segments]
    encoded = lm.encode_texts(texts)
    prefix = [lm.start_id] if lm.start_id is not None else []
    shift = len(prefix)
    tokens = _TokenCache(lm)
    streams = _streams(lm)
    batches = _batches([len(ids) + shift for ids, _ in encoded], streams)

    def run(batch: list[int], threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)  # this Python thread's own setting
        with torch.inference_mode():  # thread-local, so entered in each stream
            _run_batch(
                lm,
                [segments[b] for b in batch],
                [texts[b] for b in batch],
                [encoded[b] for b in batch],
                prefix,
                tokens,
            )

    streams = min(streams, len(batches))
    if streams == 1:
        for batch in batches:
            run(batch)
        return sites
    per_stream = max(1, torch.get_num_threads() // streams)
    with ThreadPoolExecutor(streams, thread_name_prefix="mtfix-lm") as pool:
        for _ in pool.map(lambda b: run(b, per_stream), batches):
            pass
    return sites


def _streams(lm) -> int:
    """How many batches run at once on the CPU, each on its own share of torch's threads.

    The model is small (576-wide layers), and torch splitting one matrix product over two
    cores gains little: on the 2-core machine, two passes side by side on 1 thread each
    encoded 1.35-1.6 times the tokens per second of one pass on 2 threads (4 alternating
    trials). Each batch is still computed by one stream alone, so results do not depend on
    the scheduling."""
    import torch

    if str(lm.device) != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), MAX_STREAMS))


def _run_batch(lm, segments, texts, encoded, prefix, tokens: _TokenCache) -> None:
    import torch

    net, device = lm.net, lm.device
    shift = len(prefix)
    rows = [prefix + ids for ids, _ in encoded]
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row)
    ids = ids.to(device)
    placed: list[_Placed] = []
    for r, (seg, text, (seg_ids, offsets)) in enumerate(zip(segments, texts, encoded)):
        for site in seg.sites:
            where = _place(text, seg.start, seg_ids, offsets, site, shift)
            if where is not None:
                pos, gap, found_ids, right_ids = where
                placed.append(_Placed(site, r, pos, gap, found_ids, right_ids))
    if not placed:
        return
    hidden, cache = net.encode(ids)
    _count(segment_tokens=int(ids.numel()), sites=len(placed))

    # 1. Prefilter: log P(first token of c) bounds log P(c) from above; compare it with the
    #    found phrase's log-probability (all read from the pass just made).
    cand_ids = [tokens.ids([p.gap + c for c in p.site.candidates]) for p in placed]
    firsts = [
        [p.found_ids[0]] + [c[0] for c in cids if c]
        for p, cids in zip(placed, cand_ids)
    ]
    before = _gather_logprobs(
        net, hidden[[p.row for p in placed], [p.pos - 1 for p in placed]], firsts
    )
    tail = _summed_logprobs(
        net,
        hidden,
        [(n, p.row, p.pos + t - 1, tok) for n, p in enumerate(placed) for t, tok in enumerate(p.found_ids) if t],
    )
    survivors: list[tuple[int, str, list[int]]] = []
    first_lp: dict[tuple[int, str], float] = {}
    for n, (p, cids) in enumerate(zip(placed, cand_ids)):
        found_lp = before[n][0] + tail[n]
        p.site.found_word_logprob = found_lp
        scored_cands = [(c, t) for c, t in zip(p.site.candidates, cids) if t]
        bounds = {}
        for (c, _), lp in zip(scored_cands, before[n][1:]):
            bounds[c] = lp - found_lp
            first_lp[(n, c)] = lp
        p.site.bounds = bounds
        _count(candidates=len(bounds))
        chosen = [c for c in p.site.candidates if c in p.site.forced and c in bounds]
        if (
            found_lp <= MAX_FOUND_LOGPROB
        ):  # else the model finds the text natural: no swap to seek
            ranked = sorted(
                ((b, c) for c, b in bounds.items() if b >= -PREFILTER_MARGIN),
                reverse=True,
            )
            chosen += [c for _, c in ranked if c not in chosen][:MAX_SCORED]
        for c in chosen:
            survivors.append((n, c, tokens.ids([p.gap + c])[0]))

    # 2. Exact scores: log P(found + right | prefix) from the pass already made ...
    live = sorted({n for n, _, _ in survivors})
    # The found phrase's own tokens were scored for the prefilter; only the right context is new.
    right = _summed_logprobs(
        net,
        hidden,
        [
            (n, placed[n].row, placed[n].pos + len(placed[n].found_ids) + t - 1, tok)
            for n in live
            for t, tok in enumerate(placed[n].right_ids)
        ],
    )
    orig = {n: placed[n].site.found_word_logprob + right[n] for n in live}
    for n in live:
        placed[n].site.found_logprob = orig[n]
        placed[n].site.scored = True
    # ... and log P(candidate + right | prefix) by continuing each cached prefix.
    if not survivors:
        return
    suffixes = [c_ids + placed[n].right_ids for n, _, c_ids in survivors]
    _count(candidate_tokens=sum(len(s) for s in suffixes))
    # Token t of a continuation is predicted by its hidden state t - 1; the first one by the
    # hidden state before the site (already scored above).
    longer = [i for i, s in enumerate(suffixes) if len(s) > 1]
    ext = net.extend_many(
        cache,
        [
            (placed[survivors[i][0]].row, placed[survivors[i][0]].pos, suffixes[i][:-1])
            for i in longer
        ],
    )
    score = [first_lp[(n, c)] for n, c, _ in survivors]
    if longer:
        got = _gather_logprobs(
            net, torch.cat(ext), [[t] for i in longer for t in suffixes[i][1:]]
        )
        flat = iter(v for (v,) in got)
        for i in longer:
            score[i] += sum(next(flat) for _ in suffixes[i][1:])
    for (n, c, _), sc in zip(survivors, score):
        placed[n].site.deltas[c] = sc - orig[n]
