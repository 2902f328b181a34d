"""Quality benchmark: seeds against their keys, synthetic dev/test, clean-text false positives,
and do-no-harm on real machine translation.

    .venv/bin/python bench/quality.py [--mode rules|full] [--update-benchmarks]

Writes bench/out/quality.json and bench/out/quality.md, prints the tables, and with
--update-benchmarks replaces the quality section of BENCHMARKS.md. Exits 1 when the repair
raises TER on any MLQE-PE test language pair (a repair must never do that).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DATA,
    LANG_PAIRS,
    OUT,
    REPO,
    SEEDS,
    SHARED,
    git_revision,
    machine,
    md_table,
    mlqe_detok,
    read_jsonl,
)

from mtfix.evaluate.keys import is_sure, judge_key  # noqa: E402
from mtfix.evaluate.metrics import REPORT_COLUMNS  # noqa: E402
from mtfix.options import Options  # noqa: E402
from mtfix.pipeline import run  # noqa: E402

SEED_NAMES = ("000_82abaa1a0cd5630b", "002_5579546ff0023047")


def score_seed(name: str, options: Options) -> dict:
    """Each sure key: restored exactly, wrong (an edit there, not the expected words) or missed.
    Applied edits on no key at all are listed as possible false positives; edits inside the
    key's unchanged_detail spans (names, numbers, quotations) are counted as harm."""
    text = (SEEDS / f"{name}.txt").read_text(encoding="utf-8")
    key = json.loads((SEEDS / f"{name}.key.json").read_text(encoding="utf-8"))
    result = run(text, options)
    applied = [e for e in result.applied if e.fixable]
    keys = key["keys"]
    spans = [(k["start"], k["end"]) for k in keys]
    for u in key.get("uncertain", []):
        at = text.find(u.get("found", "")) if u.get("found") else -1
        if at >= 0:
            spans.append((at, at + len(u["found"])))
    verdicts, by_kind = Counter(), {}
    edit_verdict: dict[int, str] = {}
    for k in keys:
        hits = [i for i, e in enumerate(applied) if e.start < k["end"] and k["start"] < e.end]
        verdict = judge_key(text, k, applied)
        if is_sure(k):
            verdicts[verdict] += 1
            by_kind.setdefault(k["kind"], Counter())[verdict] += 1
            for i in hits:  # an edit helps when some sure key it touches is restored or improved
                if verdict != "wrong" or edit_verdict.get(i) != "correct":
                    edit_verdict[i] = "wrong" if verdict == "wrong" else "correct"
        else:
            for i in hits:
                edit_verdict.setdefault(i, "acceptable")
    unkeyed = [e for e in applied if not any(e.start < b and a < e.end for a, b in spans)]
    detail = key.get("unchanged_detail", [])
    touched = [e for e in applied if any(e.start < d["end"] and d["start"] < e.end for d in detail)]
    counts = Counter(edit_verdict.values())
    judged = counts["correct"] + counts["wrong"] + len(unkeyed)
    sure = sum(verdicts.values())
    return {
        "seed": name,
        "sure_keys": sure,
        "restored": verdicts["restored"],
        "improved": verdicts["improved"],
        "wrong": verdicts["wrong"],
        "missed": verdicts["missed"],
        "recall": round(verdicts["restored"] / sure, 4) if sure else None,
        "edits_applied": len(applied),
        "edit_precision": round(counts["correct"] / judged, 4) if judged else None,
        "unkeyed_edits": [f"{e.found!r} -> {e.replacement!r} ({e.source})" for e in unkeyed],
        "unchanged_detail_touched": [f"{e.found!r} -> {e.replacement!r}" for e in touched],
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "spin_score": round(result.spin_score, 3),
    }


def rule_overlap(rows: list[dict]) -> dict:
    """How many simulated swaps (found, original) are also news.tsv rules (any inflection)."""
    from mtfix.ruletable import load_rules

    pairs, founds = set(), set()
    for rule in load_rules(("news",)).rules:
        for form, by_tag in rule.forms().items():
            founds.add(form.lower())
            for reps in by_tag.values():
                pairs.update((form.lower(), r.lower()) for r in reps)
    total, exact, found_only = Counter(), Counter(), Counter()
    for row in rows:
        for s in row["spins"]:
            f, o = s["found"].lower(), s["original"].lower()
            total[s["kind"]] += 1
            exact[s["kind"]] += (f, o) in pairs
            found_only[s["kind"]] += f in founds
    out = {}
    for kind in sorted(total) + ["all"]:
        n = sum(total.values()) if kind == "all" else total[kind]
        e = sum(exact.values()) if kind == "all" else exact[kind]
        by_found = sum(found_only.values()) if kind == "all" else found_only[kind]
        out[kind] = {
            "spins": n,
            "pair_is_a_rule": round(e / n, 4) if n else None,
            "found_is_a_rule": round(by_found / n, 4) if n else None,
        }
    return out


def synthetic(split: str, options: Options, with_ter: bool, docs: int | None = None) -> dict:
    from mtfix.evaluate import evaluate_pairs, summarise

    rows = read_jsonl(DATA / f"{split}.jsonl")[:docs]
    pairs = [{"id": r["id"], "damaged": r["damaged"], "reference": r["reference"]} for r in rows]
    t = time.perf_counter()
    report = summarise(evaluate_pairs(pairs, options), with_ter=with_ter)
    report["seconds"] = round(time.perf_counter() - t, 1)
    report["rule_overlap"] = rule_overlap(rows)
    return report


def clean(options: Options, docs: int | None = None) -> dict:
    from mtfix.evaluate import clean_report

    texts = {}
    for split in ("dev", "test"):
        for r in read_jsonl(DATA / f"{split}.jsonl")[:docs]:
            texts.setdefault(r["reference"], r["id"])
    report = clean_report([(i, t) for t, i in texts.items()], options)
    report["documents"] = len(texts)
    top = Counter(f"{e['found'].lower()} -> {e['replacement']}" for e in report["edit_list"])
    report["most_common"] = top.most_common(15)
    return report


def do_no_harm(options: Options, limit: int | None) -> list[dict]:
    """TER(repaired MT, post-edit) vs TER(MT, post-edit) on each MLQE-PE test pair."""
    from sacrebleu.metrics import TER

    rows = []
    for pair in LANG_PAIRS:
        mt = mlqe_detok("test", pair, "mt")[:limit]
        pe = mlqe_detok("test", pair, "pe")[:limit]
        repaired = [run(m, options).repaired for m in mt]
        before = TER().corpus_score(mt, [pe]).score
        after = TER().corpus_score(repaired, [pe]).score
        changed = [(m, r, p) for m, r, p in zip(mt, repaired, pe) if m != r]
        worse = sum(TER().sentence_score(r, [p]).score > TER().sentence_score(m, [p]).score for m, r, p in changed)
        better = sum(TER().sentence_score(r, [p]).score < TER().sentence_score(m, [p]).score for m, r, p in changed)
        rows.append(
            {
                "pair": pair,
                "sentences": len(mt),
                "ter_mt": round(before, 2),
                "ter_repaired": round(after, 2),
                "delta": round(after - before, 3),
                "sentences_changed": len(changed),
                "sentences_ter_up": worse,
                "sentences_ter_down": better,
                "status": "ok" if after <= before + 1e-9 else "RAISED",
            }
        )
    return rows


def to_markdown(r: dict) -> str:
    out = [f"Command: `{r['command']}`. Options: `{r['signature']}`; revision {r['revision']}; {r['date']}.", ""]
    if r.get("seeds"):
        out += ["### Seeds against their keys (sure entries)", ""]
        out.append(
            md_table(
                [
                    "seed",
                    "sure keys",
                    "restored",
                    "improved",
                    "wrong",
                    "missed",
                    "recall",
                    "edits applied",
                    "edit precision",
                    "unkeyed edits",
                    "unchanged_detail touched",
                ],
                [
                    [
                        s["seed"][:3],
                        s["sure_keys"],
                        s["restored"],
                        s["improved"],
                        s["wrong"],
                        s["missed"],
                        s["recall"],
                        s["edits_applied"],
                        s["edit_precision"],
                        len(s["unkeyed_edits"]),
                        len(s["unchanged_detail_touched"]),
                    ]
                    for s in r["seeds"]
                ],
            )
        )
        out += [
            "",
            "restored: the key's expected words exactly; improved: not exactly, but fewer words from them "
            "(most 002 keys are whole-phrase rewrites); recall counts restored only. Edit precision = edits "
            "that restore or improve a sure key / (those + edits that make a key no better + edits on no key); "
            "edits on medium-certainty or style keys are not judged.",
            "",
        ]
    for split, s in r.get("synthetic", {}).items():
        out += [f"### Synthetic {split} ({s['pairs']} documents, {s['sentences']} sentences, {s['words']} words)", ""]
        cols = list(REPORT_COLUMNS)
        rows = [["all"] + [s.get(c) for c in cols]] + [[k] + [v.get(c) for c in cols] for k, v in s["by_kind"].items()]
        out += [md_table(["kind"] + cols, rows), ""]
        ov = s["rule_overlap"]
        out += [
            f"Simulated swaps that are also news.tsv rules: {ov['all']['pair_is_a_rule']:.1%} as (found, original) "
            f"pairs, {ov['all']['found_is_a_rule']:.1%} by found phrase; by kind: "
            + ", ".join(f"{k} {v['pair_is_a_rule']:.1%} of {v['spins']}" for k, v in ov.items() if k != "all"),
            "",
        ]
    if r.get("clean"):
        c = r["clean"]
        out += ["### Clean text (references of dev + test): false positives", ""]
        out.append(
            md_table(
                ["documents", "words", "edits", "edits per 1,000 words", "suggestions", "by kind"],
                [
                    [
                        c["documents"],
                        c["words"],
                        c["edits"],
                        c["edits_per_1000_words"],
                        c["suggestions"],
                        ", ".join(f"{k} {v}" for k, v in c["edits_by_kind"].items()) or "-",
                    ]
                ],
            )
        )
        if c["most_common"]:
            out += ["", "Most frequent: " + "; ".join(f"`{p}` x{n}" for p, n in c["most_common"])]
        out.append("")
    if r.get("mt"):
        out += ["### Do no harm on machine translation (MLQE-PE test, TER against the post-edit)", ""]
        cols = [
            "pair",
            "sentences",
            "ter_mt",
            "ter_repaired",
            "delta",
            "sentences_changed",
            "sentences_ter_up",
            "sentences_ter_down",
            "status",
        ]
        out += [md_table(cols, [[m[c] for c in cols] for m in r["mt"]]), ""]
    return "\n".join(out)


def update_benchmarks(section: str, body: str) -> None:
    path = REPO / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    if begin not in text or end not in text:
        sys.exit(f"BENCHMARKS.md has no {begin} ... {end} markers")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", default="rules", choices=("rules", "full"))
    ap.add_argument("--min-confidence", type=float, default=None)
    ap.add_argument("--rules", action="append", default=[], help="extra rule file (repeatable)")
    ap.add_argument("--disable", action="append", default=[], help="rule id, table, kind or proposer (repeatable)")
    ap.add_argument("--model", default=None)
    ap.add_argument("--enable", action="append", default=[], help="check the mode leaves out, e.g. restorer (repeatable)")
    ap.add_argument("--docs", type=int, default=None,
                    help="first N documents of each synthetic split (and of each split's clean references)")
    ap.add_argument("--name", default="quality", help="stem of the report files in bench/out (default quality)")
    ap.add_argument("--only", default="seeds,dev,test,clean,mt", help="comma-separated parts to run")
    ap.add_argument("--mt-limit", type=int, default=None, help="first N sentences of each MT pair (default all)")
    ap.add_argument("--no-ter", action="store_true", help="skip TER/chrF on the synthetic sets")
    ap.add_argument("--update-benchmarks", action="store_true", help="rewrite the quality section of BENCHMARKS.md")
    args = ap.parse_args(argv)
    parts = set(args.only.split(","))
    kw = {"mode": args.mode, "rules": tuple(args.rules), "disable": tuple(args.disable), "model": args.model,
          "enable": tuple(args.enable)}
    if args.min_confidence is not None:
        kw["min_confidence"] = args.min_confidence
    options = Options.from_kwargs(**kw)
    report = {
        "signature": run("x", options).signature,
        "revision": git_revision(),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": " ".join([".venv/bin/python", "bench/quality.py", *sys.argv[1:]]),
    }
    have_shared = SHARED.is_dir()
    if "seeds" in parts and have_shared:
        report["seeds"] = [score_seed(n, options) for n in SEED_NAMES]
    report["synthetic"] = {s: synthetic(s, options, not args.no_ter, args.docs) for s in ("dev", "test") if s in parts}
    if "clean" in parts:
        report["clean"] = clean(options, args.docs)
    if "mt" in parts and have_shared:
        report["mt"] = do_no_harm(options, args.mt_limit)
    if not have_shared:
        print(f"note: {SHARED} not found: seeds and MT do-no-harm skipped", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md = to_markdown(report)
    (OUT / f"{args.name}.md").write_text(md + "\n", encoding="utf-8")
    print(md)
    if args.update_benchmarks:
        update_benchmarks("-".join(["quality", args.mode, *args.enable]), md)
    raised = [m["pair"] for m in report.get("mt", []) if m["status"] != "ok"]
    if raised:
        print(f"FAIL: the repair raised TER on {', '.join(raised)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
