"""Build mtfix's reverse-thesaurus index (mtfix/thesaurus/index.data) from WordNet and the
LibreOffice English thesaurus.

Spinners replace a word by one of its thesaurus neighbours, so the original of a spun word w is
usually a word o whose entry lists w (or one that w's own entry lists: the relation is close to
symmetric). For every lemma w and part of speech this script collects such neighbours o, weighs
the relation (same synset > similar adjective > broader / narrower term), keeps common words only
and ranks them by frequency (wordfreq), so the run-time proposer reads a short list of likely
originals per word and inflects them to the form it found.

Inputs (Debian packages, needed only to rebuild the index, never at run time):
    apt-get install wordnet-base mythes-en-us
        /usr/share/wordnet/data.{noun,verb,adj,adv}   WordNet 3.0 (Princeton, WordNet licence)
        /usr/share/mythes/th_en_US_v2.dat             LibreOffice thesaurus (WordNet-derived)

Usage:
    python bench/build_thesaurus.py [--wordnet DIR] [--mythes FILE] [--out FILE] [--top N]

Output: gzip'd UTF-8 TSV, one line per lemma: `lemma<TAB>z:ZIPF10<TAB>pos:cand|cand|...<TAB>...`
(ZIPF10: wordfreq Zipf frequency x 10; pos is n, v, a or r; candidates best first; candidate
lemmas without entries of their own get a line with the frequency only). The header comment
credits the sources.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from collections import defaultdict
from pathlib import Path

from wordfreq import zipf_frequency

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "mtfix" / "thesaurus" / "index.data"

# How strongly a relation suggests "a spinner swapped o for w", used only for ranking.
RELATION_WEIGHT = {"synonym": 1.0, "similar": 0.6, "broader": 0.5, "narrower": 0.2}
MIN_CANDIDATE_ZIPF = (
    3.0  # originals are common words: spinners spin everyday news prose
)
MIN_FOUND_ZIPF = (
    1.0  # keep the index small: a spinner's output word is a real, attested word
)
MAX_WORDS = 4
_WORD_OK = re.compile(r"^[a-z][a-z' -]*[a-z]$")
_REVERSE = {
    "synonym": "synonym",
    "similar": "similar",
    "broader": "narrower",
    "narrower": "broader",
}
_WN_POS = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}
_MYTHES_POS = {"(noun)": "n", "(verb)": "v", "(adj)": "a", "(adv)": "r"}


def _clean(lemma: str) -> str | None:
    lemma = re.sub(r"\((?:a|p|ip)\)$", "", lemma).replace("_", " ").strip()
    if (
        lemma != lemma.lower()
        or not _WORD_OK.match(lemma)
        or len(lemma.split()) > MAX_WORDS
    ):
        return None
    return lemma


def read_sense_order(wordnet_dir: Path) -> dict[tuple[str, str], list[str]]:
    """(lemma, pos) -> synset offsets, most frequent sense first (WordNet index files)."""
    order: dict[tuple[str, str], list[str]] = {}
    for name, pos in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        for line in (
            (wordnet_dir / f"index.{name}").read_text(encoding="latin-1").splitlines()
        ):
            if line.startswith(" "):
                continue
            fields = line.split()
            n_synsets = int(fields[2])
            order[(fields[0].replace("_", " "), pos)] = fields[-n_synsets:]
    return order


def _sense_weight(order, lemma: str, pos: str, offset: str | None) -> float:
    """1 for a lemma's commonest sense, 1/2 for the next... (0.3 when unknown)."""
    senses = order.get((lemma, pos))
    if offset is None or not senses or offset not in senses:
        return 0.3
    return 1.0 / (1 + senses.index(offset))


def read_wordnet(wordnet_dir: Path, add) -> None:
    """Synonyms within a synset, similar-to adjectives, direct hypernyms/hyponyms."""
    order = read_sense_order(wordnet_dir)
    synsets: dict[
        tuple[str, str], tuple[str, list[str], list[tuple[str, str, str]]]
    ] = {}
    for name in ("noun", "verb", "adj", "adv"):
        for line in (
            (wordnet_dir / f"data.{name}").read_text(encoding="latin-1").splitlines()
        ):
            if line.startswith(" "):
                continue
            fields = line.split(" | ")[0].split()
            offset, pos, count = fields[0], _WN_POS[fields[2]], int(fields[3], 16)
            words = [fields[4 + 2 * i] for i in range(count)]
            i = 4 + 2 * count
            n_ptr = int(fields[i])
            ptrs = []
            for j in range(n_ptr):
                sym, target, tpos = fields[i + 1 + 4 * j : i + 4 + 4 * j]
                ptrs.append((sym, target, _WN_POS[tpos]))
            synsets[(offset, pos)] = (pos, [w for w in map(_clean, words) if w], ptrs)
    for (offset, pos), (_, words, ptrs) in synsets.items():
        for w in words:
            for o in words:
                add(
                    w,
                    pos,
                    o,
                    "synonym",
                    _sense_weight(order, w, pos, offset)
                    + _sense_weight(order, o, pos, offset),
                )
        for sym, target, tpos in ptrs:
            other = synsets.get((target, tpos))
            if other is None or tpos != pos:
                continue
            relation = {"&": "similar", "@": "broader", "~": "narrower"}.get(sym)
            if relation is None:
                continue
            for w in words:
                for o in other[1]:
                    sense = _sense_weight(order, w, pos, offset) + _sense_weight(
                        order, o, pos, target
                    )
                    add(w, pos, o, relation, sense)


def read_mythes(path: Path, add) -> None:
    """Each entry `word|n` is followed by n lines `(pos)|syn|syn (generic term)|...`."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
    i = 0
    while i < len(lines):
        head, _, count = lines[i].rpartition("|")
        i += 1
        w = _clean(head)
        for rank, line in enumerate(lines[i : i + int(count)]):
            parts = line.split("|")
            pos = _MYTHES_POS.get(parts[0])
            if pos is None or w is None:
                continue
            for item in parts[1:]:
                relation = "synonym"
                m = re.match(r"^(.*) \((generic|similar|related|antonym) term\)$", item)
                if m:
                    item, kind = m.groups()
                    if kind == "antonym":
                        continue
                    relation = {
                        "generic": "broader",
                        "similar": "similar",
                        "related": "narrower",
                    }[kind]
                o = _clean(item)
                if o:
                    add(w, pos, o, relation, 1.0 / (1 + rank) + 0.3)
                    # A spinner that looks up w may put in any o of w's entry: o -> w too.
                    add(o, pos, w, _REVERSE[relation], 1.0 / (1 + rank) + 0.3)
        i += int(count)


def build(
    wordnet_dir: Path, mythes_path: Path, top: int
) -> dict[tuple[str, str], list[str]]:
    relations: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)

    def add(w: str, pos: str, o: str, relation: str, sense: float) -> None:
        """`sense` (0-2) is high when the shared sense is a common one for both words."""
        if w == o or f" {w} " in f" {o} ":
            return  # "new" -> "brand new" is not a restoration
        weight = RELATION_WEIGHT[relation] * (0.5 + sense)
        best = relations[(w, pos)]
        if weight > best.get(o, 0.0):
            best[o] = weight

    read_wordnet(wordnet_dir, add)
    read_mythes(mythes_path, add)
    zipf_cache: dict[str, float] = {}

    def zipf(word: str) -> float:
        if word not in zipf_cache:
            zipf_cache[word] = zipf_frequency(word, "en")
        return zipf_cache[word]

    index: dict[tuple[str, str], list[str]] = {}
    for (w, pos), cands in relations.items():
        if zipf(w) < MIN_FOUND_ZIPF:
            continue
        ranked = sorted(
            (
                (zipf(o) + 1.5 * weight, o)
                for o, weight in cands.items()
                if zipf(o) >= MIN_CANDIDATE_ZIPF
            ),
            key=lambda t: (-t[0], t[1]),
        )
        if ranked:
            index[(w, pos)] = [o for _, o in ranked[:top]]
    return index


HEADER = """\
# mtfix reverse-thesaurus index: found lemma, then per part of speech (n v a r) likely originals.
# Built by bench/build_thesaurus.py from
#   WordNet 3.0, Princeton University (WordNet 3.0 licence, see models/README.md), and
#   the LibreOffice English (US) thesaurus th_en_US_v2 (mythes-en-us; derived from WordNet),
# ranked with word frequencies from wordfreq (Robyn Speer; data CC BY-SA 4.0).
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    ap.add_argument(
        "--mythes", type=Path, default=Path("/usr/share/mythes/th_en_US_v2.dat")
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--top",
        type=int,
        default=24,
        help="candidates kept per lemma and part of speech",
    )
    args = ap.parse_args(argv)
    for p in (args.wordnet / "data.noun", args.mythes):
        if not p.exists():
            print(
                f"build_thesaurus: {p} missing: apt-get install wordnet-base mythes-en-us",
                file=sys.stderr,
            )
            return 2
    index = build(args.wordnet, args.mythes, args.top)
    by_lemma: dict[str, list[str]] = defaultdict(list)
    for (w, pos), c in sorted(index.items()):
        by_lemma[w].append(f"{pos}:{'|'.join(c)}")
    for cands in list(index.values()):
        for o in cands:
            by_lemma.setdefault(o, [])  # every candidate gets a line for its frequency
    # z: Zipf frequency x 10 (wordfreq), which the scorer weighs: spinners put rarer words
    # in place of common ones.
    body = "".join(
        f"{w}\tz:{round(10 * zipf_frequency(w, 'en'))}{''.join(chr(9) + p for p in parts)}\n"
        for w, parts in sorted(by_lemma.items())
    )
    # mtime=0: the same inputs give byte-identical output.
    with (
        open(args.out, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz,
    ):
        gz.write((HEADER + body).encode("utf-8"))
    print(
        f"{len(index)} entries -> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
