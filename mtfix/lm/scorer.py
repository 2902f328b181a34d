"""The "lm" scorer: decide every candidate restoration with a language model and the document.

1. Sites: each span some proposer wants to change by a word-level restoration (thesaurus
   candidates, `spun`/`suggest`/ambiguous rule entries, and any future proposer's edits of the
   same kinds); candidates for the same span are pooled. Automatic rules and edits of other
   kinds (machine-translation checks) pass through untouched, as in rules mode.
2. Evidence: `measure.measure_sites` gives, per candidate, how many nats the model prefers it to
   the found phrase in its window.
3. Site odds: a logistic model calibrated on the synthetic dev set (bench/calibrate_lm.py,
   mtfix/lm/calibration.json) turns the best candidate's evidence into a likelihood ratio
   "swap restored by this candidate" versus "the text was right".
4. Document prior: spinners damage a whole document, clean prose has no swaps at all. The
   document's spin rate (share of sites that are swaps) is estimated by EM from all its sites,
   with sure rule hits counted as certain swaps and a prior that keeps it near zero until the
   evidence is strong. The posterior of each site uses that rate as its prior, so "safety"
   stays in a clean report and becomes "security" in a heavily spun article.
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
    """See bench/calibrate_lm.py, which writes calibration.json."""

    weights: dict  # feature -> weight of the site log-odds
    bias: float
    reference_rate: float  # the dev set's share of swaps among sites, built into `bias`
    prior_swaps: float  # Beta prior on a document's spin rate: pseudo-counts of swaps ...
    prior_sites: float  # ... among this many pseudo-sites
    auto_threshold: float  # posterior at which an edit is applied automatically
    spun_rate: float  # spin rate at which a document counts as spun (spin score 0.5)
    source: str = ""

    def site_log_odds(self, features: dict[str, float]) -> float:
        return self.bias + sum(self.weights.get(k, 0.0) * v for k, v in features.items())


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


def site_features(group: SiteGroup, best: str, ranked: list[float]) -> dict[str, float]:
    """What the calibrated model reads for a site whose best candidate is `best`."""
    d = ranked[0]
    second = ranked[1] if len(ranked) > 1 else d - 5.0
    return {
        "delta": d,
        "delta_pos": max(d, 0.0),
        "margin": min(d - second, 5.0),
        "rule_spun": 1.0 if group.rule_apply == "spun" else 0.0,
        "rule_suggest": 1.0 if group.rule_apply == "suggest" else 0.0,
        "multiword": 1.0 if " " in best or " " in group.site.found else 0.0,
    }


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def estimate_spin_rate(log_lr: list[float], sure: int, cal: Calibration, iterations: int = 30) -> float:
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


def evaluate_sites(groups, cal: Calibration):
    """Per site: (best candidate, features, log-likelihood ratio); None when unscored."""
    out = {}
    for key, g in groups.items():
        if not g.site.deltas:
            out[key] = None
            continue
        ranked = sorted(g.site.deltas.items(), key=lambda kv: -kv[1])
        best = ranked[0][0]
        feats = site_features(g, best, [d for _, d in ranked])
        log_lr = cal.site_log_odds(feats) - _logit(cal.reference_rate)
        out[key] = (best, feats, log_lr, [c for c, _ in ranked])
    return out


def score_with_language_model(ctx, edits: list[Edit]) -> list[Edit]:
    from .backend import load_language_model

    lm = load_language_model(ctx.options.model, ctx.options.device)
    cal = load_calibration()
    groups, passthrough, sure = collect_sites(ctx, edits)
    measure_sites(lm, ctx.doc, [g.site for g in groups.values()])
    judged = evaluate_sites(groups, cal)
    rate = estimate_spin_rate([j[2] for j in judged.values() if j], sure, cal)
    words = ctx.doc.word_count
    ctx.spin_score = max(document_spin_score(rate, cal), rules_spin_score(sure, words))
    ctx.notes.update(spin_rate=rate, sure_hits=sure, sites=len(groups))
    out = list(passthrough)
    for key, g in groups.items():
        j = judged[key]
        if j is None:
            continue  # unscorable (e.g. crosses a sentence end): rules mode would not apply it either
        best, feats, log_lr, order = j
        p = _posterior(log_lr, rate)
        origin = g.candidates[best].origins[0]
        rule_edit = next((o for o in g.candidates[best].origins if o.source != "thesaurus"), origin)
        alternatives = tuple(c for c in order[1:4])
        reason = (
            f"the language model prefers '{best}' to '{g.site.found}' here by {feats['delta']:.1f} nats; "
            f"document spin rate {rate:.2f}"
        )
        if rule_edit is not origin or rule_edit.source != "thesaurus":
            reason = f"{rule_edit.reason}; {reason}"
        out.append(
            rule_edit.with_(
                replacement=best,
                alternatives=alternatives,
                confidence=round(p, 4),
                auto=p >= cal.auto_threshold,
                reason=reason,
            )
        )
    return out
