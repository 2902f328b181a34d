"""Which words can be verbs: a 70 KB word list shipped with mtfix (verbs.txt.gz).

The checks only ask "could this word be a verb?" and "could it also be a noun or adjective?".
lemminflect knows, but loading its lemma table takes about a second, more than the checks
themselves cost on a whole corpus; this list, extracted from that same table, loads in
milliseconds. Rebuild it after upgrading lemminflect:

    .venv/bin/python -m mtfix.mt.lexicon
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("verbs.txt.gz")
# A line is a verb or auxiliary form, with "\t+" when the same form is also a noun or adjective.
AMBIGUOUS_MARK = "\t+"


@lru_cache(maxsize=1)
def _verbs() -> dict[str, bool]:
    with gzip.open(PATH, "rt", encoding="utf-8") as fh:
        return {line.split("\t", 1)[0]: line.endswith(AMBIGUOUS_MARK) for line in fh.read().splitlines() if line}


def can_be_verb(word: str) -> bool:
    return word.lower() in _verbs()


def verb_only(word: str) -> bool:
    """A verb form with no noun or adjective reading: "won", "went", "ensued"."""
    return _verbs().get(word.lower()) is False


def build(out: Path = PATH) -> int:
    """Extract the list from lemminflect's lemma table (a development step, not a run-time one)."""
    from collections import defaultdict

    import lemminflect

    table = Path(lemminflect.__file__).with_name("resources") / "lemma_lu.csv.gz"
    tags: dict[str, set[str]] = defaultdict(set)
    with gzip.open(table, "rt", encoding="utf-8") as fh:
        for line in fh:
            word, upos, _ = line.rstrip("\n").split(",", 2)
            tags[word.lower()].add(upos.lower())
    lines = [
        w + (AMBIGUOUS_MARK if t & {"noun", "adj", "propn"} else "")
        for w, t in sorted(tags.items())
        if t & {"verb", "aux"}
    ]
    with gzip.GzipFile(out, "wb", mtime=0) as fh:  # mtime=0: the same table gives the same bytes
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)


if __name__ == "__main__":  # pragma: no cover
    print(f"{build()} verb forms written to {PATH}")
