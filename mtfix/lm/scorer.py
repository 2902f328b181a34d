"""The "lm" scorer: decide every candidate restoration with a language model and the document.

1. Sites: each span some proposer wants to change by a word-level restoration (thesaurus
   candidates, `spun`/`suggest`/ambiguous rule entries, and any future proposer's edits of the
   same kinds); candidates for the same span are pooled. Automatic rules and edits of other
   kinds (machine-translation checks) pass through untouched, as in rules mode.
2. Evidence: `measure.measure_sites` gives, per candidate, how many nats the model prefers it to
   the found phrase in its window.
3. Site odds: two logistic models calibrated on the synthetic dev set (bench/calibrate_lm.py,
   mtfix/lm/calibration.json) read the evidence plus word frequencies: one gives the
   likelihood ratio "this site is a swap" versus "the text was right", the other the chance
   that the best candidate is the original (a spun site whose original is not among the
   candidates must not be "restored" to something else).
4. Document prior: spinners damage a whole document, clean prose has no swaps at all. The
   document's spin rate (share of sites that are swaps) is estimated by EM from all its sites,
   with sure rule hits counted as certain swaps and a Beta prior that keeps it near zero until
   the evidence is strong. Each site's swap posterior uses that rate as its prior, so "safety"
   stays in a clean report and becomes "security" in a heavily spun article. An edit is
   applied when P(swap) x P(right candidate) reaches the calibrated threshold.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..edit import Edit
from ..evidence import spin_score as rules_spin_score
from .measure import Site, measure_sites

SCORED_KINDS = frozenset({"synonym-swap", "function-word", "tortured-phrase", "reordering"})


@dataclass(frozen=True)
class Calibration:
    """Two logistic models and the document prior; bench/calibrate_lm.py writes them.

    - swap model: log-odds that a site is a swap at all (at the dev set's swap share
      `reference_rate`); its likelihood ratios drive the document's spin-rate estimate;
    - candidate model: log-odds that the best candidate is the original, given a swap."""

    swap: dict  # {"weights": {feature: w}, "bias": b}
    candidate: dict
    reference_rate: float
    prior_swaps: float  # Beta prior on a document's spin rate: pseudo-counts of swaps ...
    prior_sites: float  # ... among this many pseudo-sites
    auto_threshold: float  # P(swap and restored) at which an edit is applied automatically
    spun_rate: float  # spin rate at which a document counts as spun (spin score 0.5)
    source: str = ""

    @staticmethod
    def _linear(model: dict, features: dict[str, float]) -> float:
        return model["bias"] + sum(w * features.get(k, 0.0) for k, w in model["weights"].items())

    def swap_log_lr(self, features: dict[str, float]) -> float:
        """log P(features | swap) / P(features | no swap)."""
        return self._linear(self.swap, features) - _logit(self.reference_rate)

    def candidate_probability(self, features: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-self._linear(self.candidate, features)))


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    data = json.loads(resources.files("mtfix.lm").joinpath("calibration.json").read_text(encoding="utf-8"))
    return Calibration(**{k: v for k, v in data.items() if k in Calibration.__dataclass_fields__})


@dataclass
class _Candidate:
    text: str
    origins: list[Edit] = field(default_factory=list)


@dataclass
class SiteGroup:
    site: Site
    candidates: dict[str, _Candidate]
    rule_apply: str | None = None  # the strongest rule behind the site: spun > suggest


def _rule_apply(ctx, edit: Edit) -> str | None:
    rule = ctx.ruleset.get(edit.source)
    if rule is None:
        return None
    return "suggest" if rule.ambiguous else rule.apply


def collect_sites(ctx, edits: list[Edit]) -> tuple[dict[tuple[int, int], SiteGroup], list[Edit], int]:
    """(sites by span, edits passed through unchanged, number of sure rule hits)."""
    groups: dict[tuple[int, int], SiteGroup] = {}
    passthrough: list[Edit] = []
    sure = 0
    for e in edits:
        apply = _rule_apply(ctx, e)
        if apply == "auto" and e.auto:
            passthrough.append(e)
            sure += 1
            continue
        if not e.fixable or e.kind not in SCORED_KINDS:
            passthrough.append(e)
            continue
        g = groups.get((e.start, e.end))
        if g is None:
            g = groups[(e.start, e.end)] = SiteGroup(Site(e.start, e.end, e.found, []), {})
        if apply is not None and g.rule_apply != "spun":
            g.rule_apply = apply
        for text in (e.replacement, *e.alternatives):
            if text and text != e.found:
                g.candidates.setdefault(text, _Candidate(text)).origins.append(e)
    for g in groups.values():
        g.site.candidates = list(g.candidates)
        # Curated rule replacements are always scored exactly; the prefilter only thins out
        # the thesaurus's long candidate lists.
        g.site.forced = frozenset(c.text for c in g.candidates.values() if any(o.source != "thesaurus" for o in c.origins))
    return groups, passthrough, sure


def site_features(found: str, ranked: list[tuple[str, float]], found_logprob: float, rank: int,
                  rule_apply: str | None, zipf) -> dict[str, float]:
    """What the calibrated models read for a site. `ranked`: (candidate, delta) best first;
    `rank`: the best candidate's position in its proposer's list; `zipf`: word -> frequency."""
    best, d = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else d - 5.0
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
    }


def group_features(group: SiteGroup, zipf) -> dict[str, float] | None:
    if not group.site.deltas:
        return None
    ranked = sorted(group.site.deltas.items(), key=lambda kv: -kv[1])
    best = ranked[0][0]
    return site_features(group.site.found, ranked, group.site.found_word_logprob or 0.0,
                         group.site.candidates.index(best), group.rule_apply, zipf)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def estimate_spin_rate(log_lr: list[float], sure: int, cal: Calibration, iterations: int = 50) -> float:
    """MAP estimate of the share of sites that are swaps, by EM over the sites' likelihood
    ratios, with `sure` certain swaps and the calibrated Beta prior."""
    n = len(log_lr) + sure
    rate = (cal.prior_swaps + sure) / (cal.prior_sites + n) if n else 0.0
    for _ in range(iterations):
        expected = sure + sum(_posterior(x, rate) for x in log_lr)
        new = (cal.prior_swaps + expected) / (cal.prior_sites + n)
        if abs(new - rate) < 1e-6:
            return new
        rate = new
    return rate


def _posterior(log_lr: float, rate: float) -> float:
    z = log_lr + _logit(rate)
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def document_spin_score(rate: float, cal: Calibration) -> float:
    """0-1: how spun the document looks; 0.5 at the calibrated `spun_rate`."""
    if rate <= 0:
        return 0.0
    return 1.0 / (1.0 + (cal.spun_rate / rate) ** 2)


def decide(features: list[dict | None], sure: int, cal: Calibration) -> tuple[float, list[float | None]]:
    """(document spin rate, P(swap and best candidate restores it) per site)."""
    log_lrs = [cal.swap_log_lr(f) if f else None for f in features]
    rate = estimate_spin_rate([x for x in log_lrs if x is not None], sure, cal)
    probs = [
        None if f is None else _posterior(x, rate) * cal.candidate_probability(f) for f, x in zip(features, log_lrs)
    ]
    return rate, probs


def score_with_language_model(ctx, edits: list[Edit]) -> list[Edit]:
    from ..thesaurus import load_index
    from .backend import load_language_model

    lm = load_language_model(ctx.options.model, ctx.options.device)
    cal = load_calibration()
    groups, passthrough, sure = collect_sites(ctx, edits)
    measure_sites(lm, ctx.doc, [g.site for g in groups.values()])
    zipf = load_index().zipf
    keys = list(groups)
    features = [group_features(groups[k], zipf) for k in keys]
    rate, probs = decide(features, sure, cal)
    ctx.spin_score = max(document_spin_score(rate, cal), rules_spin_score(sure, ctx.doc.word_count))
    ctx.notes.update(spin_rate=rate, sure_hits=sure, sites=len(groups))
    out = list(passthrough)
    for key, feats, p in zip(keys, features, probs):
        if feats is None:
            continue  # not scored (prefilter, or no context): the model saw no reason to change it
        g = groups[key]
        ranked = sorted(g.site.deltas.items(), key=lambda kv: -kv[1])
        best = ranked[0][0]
        origins = g.candidates[best].origins
        origin = next((o for o in origins if o.source != "thesaurus"), origins[0])
        reason = (
            f"the language model prefers '{best}' to '{g.site.found}' here by {feats['delta']:.1f} nats; "
            f"document spin rate {rate:.2f}"
        )
        if origin.source != "thesaurus":
            reason = f"{origin.reason}; {reason}"
        out.append(
            origin.with_(
                replacement=best,
                alternatives=tuple(c for c, _ in ranked[1:4]),
                confidence=round(p, 4),
                auto=p >= cal.auto_threshold,
                reason=reason,
            )
        )
    return out
