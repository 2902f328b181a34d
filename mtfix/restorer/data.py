"""Training pairs for the restorer: "damaged sentence (+ preceding context) -> restored sentence".

    .venv/bin/python -m mtfix.restorer.data [--mlqe DIR] [--out bench/out/restorer] [--limit N]

Writes `train.jsonl` and `valid.jsonl` (2% of the rows, chosen by a hash of the target) and
`stats.json` into --out. Each row: `input` (the damaged sentence), `context` (preceding text,
`prompt.context_window`), `target` (the restored sentence), `source` (where the pair comes
from). Three kinds of pair:

- `spin/<pair>`: MLQE-PE **train** post-edits (`.pe`, detokenised as bench/build_devdata.py
  does), grouped into pseudo-documents of `DOC_SENTENCES` sentences and damaged sentence by
  sentence by the spinner simulator (`mtfix.devdata`) with training-only profiles (seeds none
  of the dev/test profiles use); only sentences the spinner changed;
- `mt/<pair>`: real MLQE-PE train machine translations (`.mt` -> `.pe`) whose post-edit is
  small (and a tidy sentence): 1 to `MT_MAX_EDITS` word edits and at most `MT_MAX_SHARE` of the words, all of them
  edits the proposer could make (`align`: no names, numbers or quotations touched);
- `identity/<pair>`: clean sentences (with clean context) that must come back unchanged,
  `IDENTITY_SHARE` of all rows.

Only the train split of MLQE-PE is ever read (never its dev or test, never bench/data, never
../shared/seeds). Deterministic: every choice is a hash of (seed, what is decided).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tarfile
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .prompt import context_window

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MLQE = REPO.parent / "shared" / "data" / "mlqe-pe"
DEFAULT_OUT = REPO / "bench" / "out" / "restorer"
LANG_PAIRS = ("et-en", "ne-en", "ro-en", "ru-en", "si-en")
SPLIT = "train"  # the only MLQE-PE split this module reads
DOC_SENTENCES = 6
IDENTITY_SHARE = 0.3
MT_MAX_EDITS = 3
MT_MAX_SHARE = 0.2
VALID_SHARE = 0.02


def _training_profiles():
    from ..devdata import SpinnerProfile

    # Seeds disjoint from bench/build_devdata.py's dev (11-53) and test (101-181) profiles;
    # rates spread around theirs so the model sees light and heavy spinning.
    rates = [(0.30, 0.6, 0.5), (0.20, 0.8, 0.7), (0.40, 0.4, 0.3), (0.25, 0.7, 0.5),
             (0.35, 0.5, 0.6), (0.15, 0.9, 0.5), (0.45, 0.3, 0.4), (0.30, 0.7, 0.3)]
    return [
        SpinnerProfile(seed=1009 + 97 * k, content_rate=c, function_rate=f, first_sense=s)
        for k, (c, f, s) in enumerate(rates)
    ]


def _unit(*keys) -> float:
    digest = hashlib.blake2b("\x1f".join(map(str, keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def mlqe_train_lines(root: Path, pair: str, side: str) -> list[str]:
    """One side (src, mt, pe) of MLQE-PE *train*, Moses-tokenised as shipped."""
    path = Path(root) / SPLIT / f"{pair}-{SPLIT}.tar.gz"
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.name.endswith(f".{side}"))
        return tar.extractfile(member).read().decode("utf-8").splitlines()


@lru_cache(maxsize=1)
def _detokenizer():
    from sacremoses import MosesDetokenizer

    return MosesDetokenizer(lang="en")


_CONTRACTION = re.compile(r"(\w) (n't|'(?:s|t|re|ve|ll|d|m))\b", re.IGNORECASE)


def detokenize(line: str) -> str:
    """Moses-tokenised English back to natural text ("hadn 't" -> "hadn't", "( a )" -> "(a)")."""
    text = _detokenizer().detokenize(line.split())
    return _CONTRACTION.sub(r"\1\2", text).replace("n 't", "n't")


_DOUBLED = re.compile(r"\b(\w+) \1\b|(?<!\.)([,;:.])\2(?!\.)", re.IGNORECASE)


def standalone(sentence: str) -> bool:
    """A whole, tidy sentence (bench/build_devdata.py's filter): capital start, final stop,
    no doubled words or punctuation."""
    s = sentence.strip()
    return (
        bool(re.match(r"[\"'\u201c(]?[A-Z0-9]", s))
        and bool(re.search(r"[.!?][\"'\u201d)]?$", s))
        and not _DOUBLED.search(s)
    )


def word_edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def small_mt_edit(mt: str, pe: str) -> bool:
    """A post-edit worth learning from: a few words changed, none of them a name, a number or
    inside a quotation (the proposer would drop such an edit, so the model need not learn it)."""
    a, b = mt.split(), pe.split()
    d = word_edit_distance(a, b)
    if not (1 <= d <= MT_MAX_EDITS and d <= MT_MAX_SHARE * max(len(b), 1)):
        return False
    from .align import align_edits

    out, pos = [], 0
    for e in align_edits(mt, pe):
        out += [mt[pos : e.start], e.replacement]
        pos = e.end
    return " ".join("".join(out + [mt[pos:]]).split()) == " ".join(pe.split())


def _row(input_: str, context: str, target: str, source: str) -> dict:
    return {"input": input_, "context": context, "target": target, "source": source}


def pairs_from_sentences(sentences: list[str], name: str, spinners, seed: int):
    """(damaged rows, identity candidates) for clean sentences grouped into pseudo-documents."""
    damaged, identity = [], []
    for d in range(0, len(sentences), DOC_SENTENCES):
        doc = sentences[d : d + DOC_SENTENCES]
        spinner = spinners[int(_unit(seed, "profile", name, d) * len(spinners))]
        spun_before: list[str] = []
        for j, sentence in enumerate(doc):
            spun = spinner.spin(sentence, key=f"{name}-{d + j}")
            if spun.spins:
                damaged.append(_row(spun.damaged, context_window(" ".join(spun_before)), sentence, f"spin/{name}"))
            identity.append(_row(sentence, context_window(" ".join(doc[:j])), sentence, f"identity/{name}"))
            spun_before.append(spun.damaged)
    return damaged, identity


def build_pairs(mlqe: Path, thesaurus, pairs=LANG_PAIRS, limit: int | None = None, seed: int = 0,
                clean_files=()) -> tuple[list[dict], dict]:
    """All rows, in a seeded order, and counts."""
    from ..devdata import Spinner

    spinners = [Spinner(thesaurus, p) for p in _training_profiles()]
    damaged, identity, counts = [], [], Counter()
    for pair in pairs:
        pe = [detokenize(x) for x in mlqe_train_lines(mlqe, pair, "pe")[:limit]]
        mt = [detokenize(x) for x in mlqe_train_lines(mlqe, pair, "mt")[:limit]]
        counts[f"mlqe_train_lines/{pair}"] = len(pe)
        sentences = [s for s in pe if standalone(s)]
        d, i = pairs_from_sentences(sentences, pair, spinners, seed)
        damaged += d
        identity += i
        damaged += [_row(m, "", p, f"mt/{pair}") for m, p in zip(mt, pe) if standalone(p) and small_mt_edit(m, p)]
    for path in clean_files:
        text = Path(path).read_text(encoding="utf-8")
        from ..text import split_sentences

        name = Path(path).stem
        for n, block in enumerate(re.split(r"\n\s*\n", text)):
            sentences = [block[s.start : s.end] for s in split_sentences(block)]
            d, i = pairs_from_sentences(sentences, f"{name}-{n}", spinners, seed)
            damaged += [dict(r, source=f"spin/{name}") for r in d]
            identity += [dict(r, source=f"identity/{name}") for r in i]
    want = round(IDENTITY_SHARE / (1 - IDENTITY_SHARE) * len(damaged))
    identity.sort(key=lambda r: _unit(seed, "identity", r["context"], r["target"]))
    rows = damaged + identity[:want]
    rows.sort(key=lambda r: _unit(seed, "order", r["source"], r["context"], r["input"], r["target"]))
    counts.update(r["source"].split("/")[0] for r in rows)
    counts["rows"] = len(rows)
    return rows, dict(sorted(counts.items()))


def split_valid(rows: list[dict], seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, valid): a target goes wholly to one side."""
    train, valid = [], []
    for r in rows:
        (valid if _unit(seed, "valid", r["target"]) < VALID_SHARE else train).append(r)
    return train, valid


def write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def _forbidden(path: Path) -> bool:
    """Evaluation data never becomes training data."""
    p = path.resolve()
    return any(
        p == f or f in p.parents
        for f in (REPO / "bench" / "data", REPO.parent / "shared" / "seeds", REPO.parent / "shared" / "data")
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mlqe", default=str(DEFAULT_MLQE), help="MLQE-PE folder (its train/ split is read)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    ap.add_argument("--pairs", default=",".join(LANG_PAIRS), help="language pairs, comma-separated")
    ap.add_argument("--limit", type=int, default=None, help="first N lines of each pair only (smoke runs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clean", action="append", default=[], help="extra clean English text file (repeatable)")
    ap.add_argument("--thesaurus", default=None, help="MyThes .dat file (default: mythes-en-us)")
    args = ap.parse_args(argv)
    from ..devdata import DEFAULT_THESAURUS, Thesaurus

    for f in args.clean:
        if _forbidden(Path(f)):
            ap.error(f"{f}: evaluation data (bench/data, ../shared) is never used for training")
    thesaurus_path = Path(args.thesaurus or DEFAULT_THESAURUS)
    if not thesaurus_path.is_file():
        ap.error(f"{thesaurus_path}: not found (apt-get install mythes-en-us)")
    if not (Path(args.mlqe) / SPLIT).is_dir():
        ap.error(f"{args.mlqe}/{SPLIT}: not found (MLQE-PE lives in ../shared/data/mlqe-pe)")
    rows, counts = build_pairs(
        Path(args.mlqe), Thesaurus.load(thesaurus_path), tuple(args.pairs.split(",")), args.limit, args.seed,
        args.clean,
    )
    train, valid = split_valid(rows, args.seed)
    out = Path(args.out)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "valid.jsonl", valid)
    stats = dict(counts, train=len(train), valid=len(valid), seed=args.seed, limit=args.limit,
                 pairs=args.pairs, command="python -m mtfix.restorer.data " + " ".join(argv or sys.argv[1:]))
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
