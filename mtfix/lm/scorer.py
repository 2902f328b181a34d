"""The "lm" scorer: decide every candidate restoration with a language model and the document.

1. Sites: each span some proposer wants to change by a word-level restoration (thesaurus
   candidates, `spun`/`suggest`/ambiguous rule entries, and any future proposer's edits of the
   same kinds); candidates for the same span are pooled. Automatic rules and edits of other
   kinds (machine-translation checks) pass through untouched, as in rules mode.
2. Evidence: `measure.measure_sites` gives, per candidate, how many nats the model prefers it to
   the found phrase in its window.
3. Site odds: models calibrated on the synthetic dev set (bench/calibrate_lm.py,
   mtfix/lm/calibration.json) read the evidence plus word frequencies and give the chance
   that the site is a swap *and* its best candidate the original (a spun site whose original
   is not among the candidates must not be "restored" to something else). They also read
   whether the same word, found elsewhere in the document, gets the same best candidate
   every time (spinners map a word the same way throughout), where the found word stands in
   the best candidate's own thesaurus list, and how often the candidate occurs elsewhere in
   the document. The shipped calibration is a
   small ensemble of gradient-boosted trees (`trees`), monotone in the evidence that should
   only ever raise the odds; without it, two logistic models (swap, right candidate) multiply.
4. Document prior: spinners damage a whole document, clean prose has no swaps at all. The
   document's spin rate is the share of its sites with unambiguous evidence (sure rule hits,
   preferences above `strong_delta` nats), smoothed towards zero; each site's swap odds read
   it (leaving the site itself out), so "safety" stays in a clean report and becomes
   "security" in a heavily spun article. An edit is applied when P(swap) x P(right candidate)
   reaches the calibrated threshold. The document's spin score (0-1) is a calibrated
   function of its spin rate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..edit import Edit
from ..text import DocumentWords, one_line
from .function_words import SOURCE as FUNCTION_WORDS
from .measure import Site, measure_sites

SCORED_KINDS = frozenset(
    {"synonym-swap", "function-word", "tortured-phrase", "reordering"}
)
# A rule fix that rules mode applies is kept unless the model prefers the found text by this much.
REJECT_NATS = 3.0


@dataclass(frozen=True)
class Calibration:
    """bench/calibrate_lm.py fits these and writes calibration.json.

    - swap: log-odds that a site is a swap, from its own evidence and the document's;
    - candidate: log-odds that the best candidate is the original, given a swap;
    - document: log-odds that the whole document is spun, from its spin rate;
    - trees (optional; used instead of swap x candidate when present): log-odds that the site
      is a swap restored by its best candidate, as {"features": [...], "baseline": b,
      "trees": [[node, ...], ...]}, a node being [feature index, threshold, left, right]
      (go left when the feature is <= threshold) or [leaf value]."""

    swap: dict  # {"weights": {feature: w}, "bias": b}
    candidate: dict
    document: dict
    strong_delta: float  # nats of preference that count as unambiguous evidence
    prior_strong: float  # smoothing of the spin rate: (strong + prior_strong) / (sites + prior_sites)
    prior_sites: float
    auto_threshold: (
        float  # P(swap and restored) at which an edit is applied automatically
    )
    source: str = ""
    trees: dict | None = None

    @staticmethod
    def linear(model: dict, features: dict[str, float]) -> float:
        return model["bias"] + sum(
            w * features.get(k, 0.0) for k, w in model["weights"].items()
        )


def tree_logit(model: dict, features: dict[str, float]) -> float:
    x = [features.get(name, 0.0) for name in model["features"]]
    z = model["baseline"]
    for nodes in model["trees"]:
        node = nodes[0]
        while len(node) == 4:
            node = nodes[node[2] if x[node[0]] <= node[1] else node[3]]
        z += node[0]
    return z


DEFAULT_CALIBRATION = "calibration.json"
# Fitted on dev sites collected with the seq2seq restorer's candidates among the others
# (`bench/calibrate_lm.py collect --restorer`), read whenever the restorer runs: its proposals
# rank first at their sites like curated rules, which the default calibration never saw.
RESTORER_CALIBRATION = "calibration-restorer.json"
# Fitted with the function-word candidates (`collect --function-words`), whose sites its trees
# tell apart by `closed_class`; read when they run without the restorer (no calibration has
# been fitted with both: such a run reads the restorer's).
FUNCTION_WORDS_CALIBRATION = "calibration-function-words.json"


def calibration_for(options) -> str:
    """The calibration fitted with the candidates of the proposers these options run."""
    from ..pipeline import active_proposers

    names = set(active_proposers(options))
    if "restorer" in names:
        return RESTORER_CALIBRATION
    return FUNCTION_WORDS_CALIBRATION if FUNCTION_WORDS in names else DEFAULT_CALIBRATION


@lru_cache(maxsize=3)
def load_calibration(name: str = DEFAULT_CALIBRATION) -> Calibration:
    data = json.loads(
        resources.files("mtfix.lm")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    return Calibration(
        **{k: v for k, v in data.items() if k in Calibration.__dataclass_fields__}
    )


@dataclass
class _Candidate:
    text: str
    origins: list[Edit] = field(default_factory=list)


@dataclass
class SiteGroup:
    site: Site
    candidates: dict[str, _Candidate]
    rule_apply: str | None = None  # the strongest rule behind the site: spun > suggest
    closed_class: bool = False  # the function-word proposer found it ("moreover", "whilst")


def _rule_apply(ctx, edit: Edit) -> str | None:
    rule = ctx.ruleset.get(edit.source)
    if rule is None:
        return None
    return "suggest" if rule.ambiguous else rule.apply


def collect_sites(
    ctx, edits: list[Edit]
) -> tuple[dict[tuple[int, int], SiteGroup], list[Edit], list[Edit]]:
    """(sites by span, edits passed through unchanged, the sure rule hits among those)."""
    groups: dict[tuple[int, int], SiteGroup] = {}
    passthrough: list[Edit] = []
    sure: list[Edit] = []
    for e in edits:
        apply = _rule_apply(ctx, e)
        if apply == "auto" and e.auto:
            passthrough.append(e)
            sure.append(e)
            continue
        if not e.fixable or e.kind not in SCORED_KINDS:
            passthrough.append(e)
            continue
        g = groups.get((e.start, e.end))
        if g is None:
            g = groups[(e.start, e.end)] = SiteGroup(
                Site(e.start, e.end, e.found, []), {}
            )
        if apply is not None and g.rule_apply != "spun":
            g.rule_apply = apply
        if e.source == FUNCTION_WORDS:
            g.closed_class = True
        for text in (e.replacement, *e.alternatives):
            if text and text != e.found:
                g.candidates.setdefault(text, _Candidate(text)).origins.append(e)
    for g in groups.values():
        # Curated rule replacements and the restorer's contextual guesses are always scored
        # exactly, and rank before the thesaurus's frequency-ordered lists (the calibrated
        # models read the best candidate's rank); the prefilter only thins out those lists.
        g.site.forced = frozenset(
            c.text
            for c in g.candidates.values()
            if any(o.source != "thesaurus" for o in c.origins)
        )
        g.site.candidates = sorted(g.candidates, key=lambda c: c not in g.site.forced)
    return groups, passthrough, sure


def site_features(
    found: str,
    ranked: list[tuple[str, float]],
    found_logprob: float,
    rank: int,
    rule_apply: str | None,
    zipf,
    closed_class: bool = False,
) -> dict[str, float]:
    """What the calibrated models read for a site. `ranked`: (candidate, delta) best first;
    `rank`: the best candidate's position in its proposer's list; `zipf`: word -> frequency.
    """
    best, d = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else d - 5.0
    found, best = one_line(found), one_line(best)  # a hard-wrapped phrase is the same phrase
    z_found, z_best = zipf(found), zipf(best)
    return {
        "delta": d,
        "delta_pos": max(d, 0.0),
        "margin": min(d - second, 5.0),
        "surprisal": min(-found_logprob, 30.0),
        "zipf_found": z_found,
        "zipf_best": z_best,
        "zipf_gain": z_best - z_found,
        "rank": math.log1p(rank),
        "rule_spun": 1.0 if rule_apply == "spun" else 0.0,
        "rule_suggest": 1.0 if rule_apply == "suggest" else 0.0,
        "multiword": 1.0 if " " in best or " " in found else 0.0,
        "delta_sq": min(d, 15.0) ** 2 / 10,
        "scored": float(len(ranked)),
        "closed_class": 1.0 if closed_class else 0.0,
    }


def group_features(group: SiteGroup, zipf) -> dict[str, float] | None:
    if not group.site.deltas:
        return None
    ranked = sorted(group.site.deltas.items(), key=lambda kv: -kv[1])
    best = ranked[0][0]
    return site_features(
        group.site.found,
        ranked,
        group.site.found_word_logprob or 0.0,
        group.site.candidates.index(best),
        group.rule_apply,
        zipf,
        group.closed_class,
    )


def _phrase_key(phrase: str) -> str:
    """A phrase as the document-wide clues compare it: a hard-wrapped one is the same phrase."""
    return one_line(phrase).lower()


def add_repeat_agreement(items: list[tuple[str, str, float] | None], features: list[dict | None]) -> None:
    """A spinner maps a word the same way throughout a document, so a word found at several
    sites where the model prefers the same candidate every time is a likely swap (on the
    synthetic dev set: 58% of such sites are restorable swaps, against 7% of all sites).
    `items`: (found, best candidate, delta) per site, None where unscored."""
    keys = [None if item is None else (_phrase_key(item[0]), _phrase_key(item[1])) for item in items]
    seen: dict[str, list[tuple[str, float]]] = {}
    for key, item in zip(keys, items):
        if key is not None:
            seen.setdefault(key[0], []).append((key[1], item[2]))
    for key, f in zip(keys, features):
        if key is None or f is None:
            continue
        same = seen[key[0]]
        f["repeats"] = math.log(len(same))
        f["repeat_agree"] = float(len(same) > 1 and all(b == key[1] and delta > 0 for b, delta in same))
        f["agree_delta"] = f["repeat_agree"] * min(sum(delta for _, delta in same) / len(same), 10.0)


# Read as "not among the candidate's thesaurus entries" (log1p of MAX_ORIGINALS is 3.5).
NOT_RELATED_RANK = 4.0


def add_thesaurus_and_document_evidence(
    items: list[tuple[str, str, float] | None], features: list[dict | None], words: DocumentWords, originals
) -> None:
    """Two more clues per site, `items` being (found, best candidate, ...) as for
    `add_repeat_agreement`, None where unscored:
    - fwd_rank: where the found word stands in the best candidate's own thesaurus list
      (`originals`, best first). A spinner picks among a word's nearest synonyms, so a found
      word high in its candidate's list is a likelier swap than a distant relative (on the
      synthetic dev set, out of fold, this raised recall at precision 0.92 from 0.126 to 0.165);
    - cand_doc: how often the candidate itself occurs in the document (log1p)."""
    for item, f in zip(items, features):
        if item is None or f is None:
            continue
        found, best = _phrase_key(item[0]), _phrase_key(item[1])
        listed = originals(best)
        if found in listed:
            f["fwd_rank"] = math.log1p(listed.index(found))
        else:  # a function-word phrase is listed for its plain phrase by construction
            f["fwd_rank"] = 0.0 if f.get("closed_class") else NOT_RELATED_RANK
        f["cand_doc"] = math.log1p(words.count(best))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def spin_rate(strong: int, sites: int, cal: Calibration) -> float:
    """The document's share of sites with unambiguous evidence (sure rule hits, very large
    model preferences), smoothed towards zero: the prior for its ambiguous sites."""
    return (strong + cal.prior_strong) / (sites + cal.prior_sites)


def document_spin_score(rate: float, cal: Calibration) -> float:
    """0-1: the calibrated probability that the document is spun, from its spin rate."""
    return _sigmoid(Calibration.linear(cal.document, {"log_rate": math.log(rate)}))


def site_probability(features: dict[str, float], cal: Calibration) -> float:
    """P(the site is a swap and its best candidate restores it)."""
    if cal.trees is not None:
        return _sigmoid(tree_logit(cal.trees, features))
    p_swap = _sigmoid(Calibration.linear(cal.swap, features))
    return p_swap * _sigmoid(Calibration.linear(cal.candidate, features))


def decide(
    features: list[dict | None], sure: int, cal: Calibration
) -> tuple[float, list[float | None]]:
    """(document spin rate, P(swap and best candidate restores it) per site).

    Each site's swap odds read the document's evidence *without that site* (leave one out),
    so a single large preference cannot vouch for itself."""
    strong_flags = [
        1 if f is not None and f["delta"] > cal.strong_delta else 0 for f in features
    ]
    strong = sum(strong_flags) + sure
    n = sum(1 for f in features if f is not None) + sure
    probs: list[float | None] = []
    for f, own in zip(features, strong_flags):
        if f is None:
            probs.append(None)
            continue
        f = dict(f, doc_strong=math.log(spin_rate(strong - own, n - 1, cal)))
        probs.append(site_probability(f, cal))
    return spin_rate(strong, n, cal), probs


def _rules_mode_decisions(
    ctx, edits: list[Edit]
) -> tuple[float, dict[tuple[int, int, str], Edit]]:
    """What rules mode would apply (spun rules in documents with sure evidence), by span and
    replacement, and the rules-mode spin score. Full mode never applies less than that unless
    the model rejects the replacement."""
    from ..evidence import score_by_document_evidence

    rule_edits = [e for e in edits if ctx.ruleset.get(e.source) is not None]
    decided = score_by_document_evidence(ctx, rule_edits)
    applied = {
        (e.start, e.end, e.replacement): e for e in decided if e.auto and e.fixable
    }
    return ctx.spin_score, applied


def measure_in_repaired_context(lm, ctx, sites: list[Site], sure: list[Edit]) -> None:
    """Measure `sites` in the text with the sure rule fixes around them applied: "houses with
    out energy" reads "without energy" when "energy" is weighed. Read in the damaged text,
    a site next to a fix was judged on other evidence than a second repair sees, which then
    changed what the first left (fixing twice differed from fixing once). Fixes that overlap
    a site stay out: that site is weighed in its own words."""
    from ..pipeline import Regions, apply
    from ..text import Document, SpanSet

    taken = SpanSet([(s.start, s.end) for s in sites])
    fixes: list[Edit] = []
    for e in sorted((e for e in sure if e.fixable), key=lambda e: (e.start, e.start - e.end)):
        if taken.overlaps(e.start, e.end) or (fixes and e.start < fixes[-1].end):
            continue
        fixes.append(e)
    if not fixes or not sites:
        measure_sites(lm, ctx.doc, sites)
        return
    regions = Regions(fixes)
    spans = [(s.start, s.end) for s in sites]
    for s in sites:  # measured where they stand in the repaired text, then put back
        s.start, s.end = regions.to_repaired(s.start), regions.to_repaired(s.end)
    try:
        measure_sites(lm, Document(apply(ctx.doc.text, fixes)), sites)
    finally:
        for s, (start, end) in zip(sites, spans):
            s.start, s.end = start, end


def _reason(origin: Edit, best: str, found: str, delta: float, rate: float) -> str:
    reason = f"the language model prefers '{best}' to '{found}' here by {delta:.1f} nats; document spin rate {rate:.2f}"
    return f"{origin.reason}; {reason}" if origin.source != "thesaurus" else reason


def score_with_language_model(ctx, edits: list[Edit]) -> list[Edit]:
    from ..thesaurus import load_index
    from .backend import load_language_model

    lm = load_language_model(ctx.options.model, ctx.options.device)
    cal = load_calibration(calibration_for(ctx.options))
    rules_spin, rules_applied = _rules_mode_decisions(ctx, edits)
    groups, passthrough, sure = collect_sites(ctx, edits)
    measure_in_repaired_context(lm, ctx, [g.site for g in groups.values()], sure)
    index = load_index()
    zipf = index.zipf
    keys = list(groups)
    features = [group_features(groups[k], zipf) for k in keys]
    # (found, best candidate, its delta) per site: the document-wide clues read all of them.
    bests = [
        (groups[k].site.found, *max(groups[k].site.deltas.items(), key=lambda kv: kv[1]))
        if f is not None else None
        for k, f in zip(keys, features)
    ]
    add_repeat_agreement(bests, features)
    add_thesaurus_and_document_evidence(bests, features, ctx.doc.words, index.originals)
    rate, probs = decide(features, len(sure), cal)
    ctx.spin_score = max(document_spin_score(rate, cal), rules_spin)
    ctx.notes.update(spin_rate=rate, sure_hits=len(sure), sites=len(groups))
    out = list(passthrough)
    for key, feats, p in zip(keys, features, probs):
        g = groups[key]
        ruled = next(
            (
                rules_applied[(*key, c)]
                for c in g.candidates
                if (*key, c) in rules_applied
            ),
            None,
        )
        if ruled is not None:
            delta = g.site.deltas.get(ruled.replacement)
            if delta is None or delta >= -REJECT_NATS:
                note = (
                    ""
                    if delta is None
                    else f"; the language model agrees ({delta:+.1f} nats)"
                )
                out.append(
                    ruled.with_(
                        confidence=round(max(ruled.confidence, p or 0.0), 4),
                        reason=ruled.reason + note,
                    )
                )
                continue
        if feats is None:
            continue  # not scored (prefilter, or no context): the model saw no reason to change it
        ranked = sorted(g.site.deltas.items(), key=lambda kv: -kv[1])
        best = ranked[0][0]
        origins = g.candidates[best].origins
        origin = next((o for o in origins if o.source != "thesaurus"), origins[0])
        out.append(
            origin.with_(
                replacement=best,
                alternatives=tuple(c for c, _ in ranked[1:4]),
                confidence=round(p, 4),
                auto=p >= cal.auto_threshold,
                reason=_reason(origin, best, g.site.found, feats["delta"], rate),
            )
        )
    return out
