"""Quality and cost of the machine-translation checks (mtfix/mt/): seed, real MT, clean text, speed.

    .venv/bin/python bench/mt_quality.py [--sections seed,dev,clean,ter,speed] [--json OUT]

seed   every `severity: error` entry of ../shared/seeds/002 key: flagged (an edit overlaps it)
       and fixed right (the applied fix gives the expected pronoun / joins the pieces); the
       unchanged phrases must not be touched.
dev    MLQE-PE dev, five pairs into English, each MT line a document: how often each check
       (rule id) fires and how often the post-edit agrees. A fix agrees when applying it alone
       lowers the sentence TER against the post-edit (raises: disagrees; same: neutral); a flag
       agrees when the post-editor changed the flagged text (it is not in the post-edit).
clean  the post-edited side of dev as clean English (>= 20,000 words): mt-* flags per 2,000
       words, each line a document and grouped into ~20-sentence documents (paragraphs of 5).
ter    MLQE-PE test (evaluation only): corpus TER of the MT and of the MT after the automatic
       fixes, per pair; the fixes must never raise it.
speed  in-process time of rules-only and of the default rules mode (rules + cheap MT checks)
       on ~250-word documents, and the cost of the spaCy check (full mode).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LANG_PAIRS, SEEDS, md_table, mlqe_detok, need_shared  # noqa: E402

import mtfix  # noqa: E402

CHEAP = ("mt-boundary", "mt-fragment", "mt-leftover")  # rules mode
REGEX = CHEAP + ("mt-spacing",)  # + full mode's regex check
ALL_MT = REGEX + ("mt-pronoun",)
SEED = "002_5579546ff0023047"
_PRONOUN_RE = re.compile(r"\b(he|she|it|him|his|her|hers|its|himself|herself|itself|they|their|them)\b", re.I)


SPACY_LOAD_SECONDS: list[float] = []


def spacy_available() -> bool:
    from mtfix.mt.nlp import load

    t = time.perf_counter()
    ok = load() is not None
    if not SPACY_LOAD_SECONDS:
        SPACY_LOAD_SECONDS.append(time.perf_counter() - t)
    return ok


def mt_proposers(with_pronoun: bool) -> tuple[str, ...]:
    return ALL_MT if with_pronoun else REGEX


# ---------------------------------------------------------------------------------------- seed
def seed_section(with_pronoun: bool) -> dict:
    text = (SEEDS / f"{SEED}.txt").read_text(encoding="utf-8")
    key = json.loads((SEEDS / f"{SEED}.key.json").read_text(encoding="utf-8"))
    result = mtfix.repair(text, proposers=("rules", *mt_proposers(with_pronoun)))
    rows, out = [], []
    for entry in key["keys"]:
        if entry.get("severity") != "error":
            continue
        s, e = entry["start"], entry["end"]
        hits = [x for x in result.edits if x.start < e and s < x.end]
        applied = [x for x in result.applied if x.start < e and s < x.end]
        right = _fixed_right(entry, text, applied, key) if applied else False
        rows.append([entry["kind"], entry["found"][:48], len(hits) > 0, right,
                     "; ".join(f"{x.found!r}->{x.replacement!r}" for x in hits)[:70]])  # fmt: skip
        out.append({"kind": entry["kind"], "found": entry["found"], "flagged": bool(hits), "fixed_right": right})
    touched = [u["phrase"] for u in key["unchanged_detail"]
               if any(x.start < u["end"] and u["start"] < x.end for x in result.edits)]  # fmt: skip
    print("## Seed 002: severity=error entries\n")
    print(md_table(["kind", "found", "flagged", "fixed right", "edits"], rows))
    mt_kinds = [r for r in out if r["kind"].startswith("mt-") and r["kind"] != "mt-other"]
    print(f"\nmt-pronoun/boundary/fragment entries: {sum(r['flagged'] for r in mt_kinds)}/{len(mt_kinds)} "
          f"flagged, {sum(r['fixed_right'] for r in mt_kinds)}/{len(mt_kinds)} fixed right; "
          f"unchanged phrases touched: {touched or 'none'}\n")  # fmt: skip
    return {"entries": out, "unchanged_touched": touched}


def _fixed_right(entry: dict, text: str, applied, key: dict) -> bool:
    s = min(entry["start"], *(x.start for x in applied))
    e = max(entry["end"], *(x.end for x in applied))
    span = mtfix.pipeline.apply(text[s:e], [x.with_(start=x.start - s, end=x.end - s) for x in applied])
    if entry["kind"] == "mt-pronoun":
        want = {p.lower() for p in _PRONOUN_RE.findall(entry["expected"])}
        got = {p.lower() for p in _PRONOUN_RE.findall(span)}
        return bool(want) and got == want
    if entry.get("group"):
        group = [k for k in key["keys"] if k.get("group") == entry["group"] and not k["expected"].startswith("[")]
        return all(k["expected"] in span and k["found"] not in span for k in group)
    return re.search(r"\.\s+[a-z]", span) is None


# ----------------------------------------------------------------------------------------- dev
def dev_section(with_pronoun: bool) -> dict:
    from sacrebleu.metrics import TER

    ter = TER()
    proposers = mt_proposers(with_pronoun)
    stats: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list] = defaultdict(list)
    lines = 0
    for pair in LANG_PAIRS:
        mts, pes = mlqe_detok("dev", pair, "mt"), mlqe_detok("dev", pair, "pe")
        for mt, pe in zip(mts, pes):
            lines += 1
            result = mtfix.repair(mt, proposers=proposers)
            for edit in result.edits:
                verdict = _verdict(ter, mt, pe, edit)
                key = edit.source + ("" if edit.replacement is None else (" (auto)" if edit.auto else " (suggest)"))
                stats[key][verdict] += 1
                stats[key][f"{pair}:{verdict}"] += 1
                if len(examples[key]) < 3:
                    examples[key].append({"pair": pair, "found": edit.found, "fix": edit.replacement,
                                          "verdict": verdict, "pe": pe[:160]})  # fmt: skip
    rows = []
    for key in sorted(stats):
        c = stats[key]
        fired = c["agree"] + c["disagree"] + c["neutral"]
        judged = c["agree"] + c["disagree"]
        rows.append([key, fired, c["agree"], c["disagree"], c["neutral"], c["agree"] / judged if judged else None])
    print(f"## MLQE-PE dev ({lines} MT lines, each a document): firings and post-edit agreement\n")
    print(md_table(["check (rule id)", "fired", "PE agrees", "PE disagrees", "neutral", "precision"], rows))
    print()
    for key, exs in sorted(examples.items()):
        for ex in exs:
            print(f"- {key} [{ex['pair']}] {ex['found']!r} -> {ex['fix']!r}: {ex['verdict']}")
    print()
    return {"lines": lines, "per_check": {k: dict(v) for k, v in stats.items()}, "examples": examples}


def _verdict(ter, mt: str, pe: str, edit) -> str:
    if edit.replacement is None:
        return "disagree" if edit.found in pe else "agree"
    fixed = mt[: edit.start] + edit.replacement + mt[edit.end :]
    before = ter.sentence_score(mt, [pe]).score
    after = ter.sentence_score(fixed, [pe]).score
    return "agree" if after < before else "disagree" if after > before else "neutral"


# --------------------------------------------------------------------------------------- clean
def group_documents(sentences, size: int = 20, paragraph: int = 5) -> list[str]:
    docs = []
    for i in range(0, len(sentences), size):
        chunk = sentences[i : i + size]
        docs.append("\n\n".join(" ".join(chunk[j : j + paragraph]) for j in range(0, len(chunk), paragraph)) + "\n")
    return docs


def clean_section(with_pronoun: bool) -> dict:
    from mtfix.text import count_words

    pes = [x for pair in LANG_PAIRS for x in mlqe_detok("dev", pair, "pe")]
    words = sum(count_words(x) for x in pes)
    # Grouping unrelated lines makes sentences follow each other that never did, so only lines
    # that are proper sentences (capital first) are grouped: a line starting in lower case (2% of
    # them, cut-off data) would otherwise make a lower-case sentence start that no text had.
    proper = [x for x in pes if x[:1].isupper() or x[:1].isdigit() or x[:1] in "\"\u201c'("]
    out = {"words": words}
    for view, docs in (("lines", pes), ("grouped", group_documents(proper))):
        flags: Counter = Counter()
        examples = []
        for doc in docs:
            for edit in mtfix.check(doc, proposers=mt_proposers(with_pronoun)):
                flags[edit.source] += 1
                if len(examples) < 12:
                    examples.append(f"{edit.source}: {edit.found[:70]!r} -> {edit.replacement!r}")
        total = sum(flags.values())
        n_words = sum(count_words(d) for d in docs)
        out[view] = {"words": n_words, "flags": dict(flags), "per_2000_words": 2000 * total / n_words}
        print(f"## Clean text: MLQE-PE dev post-edits, {n_words} words, {view} ({len(docs)} documents)\n")
        print(md_table(["rule id", "flags"], [[k, v] for k, v in flags.most_common()] + [["total", total]]))
        print(f"\nmt-* flags per 2,000 words: {2000 * total / n_words:.3f} (target <= 1)\n")
        for ex in examples:
            print(f"- {ex}")
        print()
    return out


# ----------------------------------------------------------------------------------------- ter
def ter_section(with_pronoun: bool) -> dict:
    from sacrebleu.metrics import TER

    rows, out = [], {}
    for pair in LANG_PAIRS:
        mts, pes = mlqe_detok("test", pair, "mt"), mlqe_detok("test", pair, "pe")
        mt_only = [mtfix.repair(x, proposers=mt_proposers(with_pronoun)) for x in mts]
        default = [mtfix.repair(x) for x in mts]
        base = TER().corpus_score(mts, [pes]).score
        fixed = TER().corpus_score([r.repaired for r in mt_only], [pes]).score
        rules_mode = TER().corpus_score([r.repaired for r in default], [pes]).score
        changed = sum(r.changed for r in mt_only)
        rows.append([pair, len(mts), changed, base, fixed, fixed - base, rules_mode, rules_mode - base])
        out[pair] = {"lines": len(mts), "changed": changed, "ter_mt": base, "ter_mt_checks": fixed,
                     "ter_rules_mode": rules_mode}  # fmt: skip
    print("## MLQE-PE test: corpus TER against the post-edit (detokenised), automatic fixes only\n")
    print(md_table(["pair", "lines", "lines changed", "TER MT", "TER + MT checks", "delta",
                    "TER default rules mode", "delta"], rows))  # fmt: skip
    worst = max(r[5] for r in rows)
    print(f"\nMT checks raise TER for a pair: {'YES' if worst > 0 else 'no'} (largest delta {worst:+.4f})\n")
    return out


# --------------------------------------------------------------------------------------- speed
def speed_section(repeats: int, with_pronoun: bool) -> dict:
    import random

    from mtfix.text import count_words

    pes = [x for pair in LANG_PAIRS for x in mlqe_detok("dev", pair, "pe")]
    mts = [x for pair in LANG_PAIRS for x in mlqe_detok("dev", pair, "mt")]
    # ~190-word documents, as bench/speed.py builds them: clean post-edits, and raw MT.
    corpora = {
        "clean (post-edits)": [" ".join(pes[i : i + 12]) for i in range(0, len(pes), 12)],
        "machine translation": [" ".join(mts[i : i + 12]) for i in range(0, len(mts), 12)],
    }
    configs = {"rules only": ("rules",), "rules + cheap MT checks (default)": ("rules", *CHEAP)}
    configs.update({f"rules + {name}": ("rules", name) for name in REGEX})
    for docs in corpora.values():  # warm every path (tables, lexicon) before timing
        for proposers in configs.values():
            mtfix.repair(
                docs[0] + " the the. in 2011. backed by it, he said. Ann Lee, an analyst.", proposers=proposers
            )

    def cpu(docs, proposers) -> float:
        t = time.process_time()  # CPU time: the machine is shared, wall time measures the neighbours
        for d in docs:
            mtfix.repair(d, proposers=proposers)
        return time.process_time() - t

    # Many short trials, configurations in shuffled order, then the median ratio to rules-only:
    # robust to the load swings of a shared machine, where whole-corpus timings are not.
    rng = random.Random(0)
    rows, out = [], {}
    for name, docs in corpora.items():
        words = sum(count_words(d) for d in docs)
        ratios: dict[str, list[float]] = {c: [] for c in configs}
        for _ in range(repeats):
            sample = rng.sample(docs, 30)
            order = list(configs)
            rng.shuffle(order)
            t = {c: cpu(sample, configs[c]) for c in order}
            for c in configs:
                ratios[c].append(t[c] / t["rules only"])
        base = cpu(docs, configs["rules only"])
        out[name] = {"documents": len(docs), "words": words, "rules_only_words_per_s": words / base}
        for c, rs in ratios.items():
            if c != "rules only":
                out[name][c] = sorted(rs)[len(rs) // 2] - 1
        rows.append([name, len(docs), words, f"{words / base:,.0f}"] + [f"{100 * out[name][c]:+.1f}%" for c in
                                                                       list(configs)[1:]])  # fmt: skip
    print(f"## Speed: CPU time over rules-only, median of {repeats} trials of 30 documents\n")
    print(md_table(["corpus", "documents", "words", "rules-only words/s", *list(configs)[1:]], rows))
    print("\n(default = rules mode; mt-spacing and mt-pronoun run in full mode; target: default <= +30%)")
    if with_pronoun:
        t1 = time.perf_counter()
        docs = corpora["machine translation"][:100]
        for doc in docs:
            mtfix.repair(doc, proposers=("rules",) + ALL_MT)
        per_doc = (time.perf_counter() - t1) / len(docs)
        load_s = SPACY_LOAD_SECONDS[0] if SPACY_LOAD_SECONDS else float("nan")
        out["pronoun"] = {"spacy_load_s": load_s, "seconds_per_document": per_doc}
        print(f"\nmt-pronoun (full mode or named): spaCy and its model load in {load_s:.1f} s (once per "
              f"process), then {1000 * per_doc:.0f} ms per ~190-word MT document (wall)")  # fmt: skip
    print()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default="seed,dev,clean,ter,speed")
    ap.add_argument("--no-pronoun", action="store_true", help="leave out the spaCy check")
    ap.add_argument("--repeats", type=int, default=200, help="speed trials per corpus")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    need_shared("bench/mt_quality.py")
    with_pronoun = not args.no_pronoun and spacy_available()
    print(f"mt-pronoun (spaCy): {'on' if with_pronoun else 'off'}\n")
    report = {}
    sections = {"seed": lambda: seed_section(with_pronoun), "dev": lambda: dev_section(with_pronoun),
                "clean": lambda: clean_section(with_pronoun), "ter": lambda: ter_section(with_pronoun),
                "speed": lambda: speed_section(args.repeats, with_pronoun)}  # fmt: skip
    for name in args.sections.split(","):
        report[name] = sections[name.strip()]()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
