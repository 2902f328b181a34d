"""Answer keys of spun texts (the seeds' `*.key.json`): which key sites a repair restored.

One judge for bench/quality.py, bench/check_rules.py and the acceptance tests, so that the
figures they report are the same figure. For each key, every applied edit that touches it is
spliced in over the union of their spans and the key's span:

- restored: that union now reads the key's `expected` words with the rest of the union
  unchanged (an edit may match a word of context; a directly preceding a/an may change with
  it: "a consultant" -> "an expert"). Case, typographic apostrophes and spacing are ignored;
- improved: not exact, but fewer words away from the expected text than before;
- wrong: edits there, no better;
- missed: no applied edit touches the key.

Edits that together restore one key ("had been" -> "were" and "dedicated" -> "committed" on
the key "had been dedicated" -> "were committed") restore it; one edit spanning two keys
restores each only if each reads right with the other key's text left as it was.
"""

from __future__ import annotations

import re

from ..text import fold_for_search
from .metrics import _distance, tokenize

VERDICTS = ("restored", "improved", "wrong", "missed")


def is_sure(key: dict) -> bool:
    """The keys the targets count: the original was seen, or inferred with high certainty,
    and the damage is an error rather than a matter of style."""
    sure = key.get("confidence") == "original-seen" or key.get("certainty") == "high"
    return sure and key.get("severity", "error") == "error"


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", fold_for_search(s)).strip()


def _same_but_article(got: str, want: str) -> bool:
    """Equal once a leading indefinite article is allowed to agree with the next word."""
    article = re.compile(r"^an?\b")
    return bool(article.match(got) and article.match(want)) and article.sub("a", got) == article.sub("a", want)


def _words_apart(a: str, b: str) -> int:
    return _distance(tokenize(b)[0], tokenize(a)[0])


def _splice(text: str, a: int, b: int, edits) -> str:
    out, pos = [], a
    for e in sorted(edits, key=lambda e: e.start):
        out += [text[pos : e.start], e.replacement]
        pos = e.end
    out.append(text[pos:b])
    return "".join(out)


def touching(key: dict, edits) -> list:
    return [e for e in edits if e.start < key["end"] and key["start"] < e.end]


def judge_key(text: str, key: dict, applied) -> str:
    """One of VERDICTS for `key` in `text` after the `applied` edits (fixable ones, with
    offsets into `text`)."""
    hits = touching(key, applied)
    if not hits:
        return "missed"
    a = min([key["start"]] + [e.start for e in hits])
    b = max([key["end"]] + [e.end for e in hits])
    got = _norm(_splice(text, a, b, hits))
    want = _norm(text[a : key["start"]] + key["expected"] + text[key["end"] : b])
    if got == want or _same_but_article(got, want):
        return "restored"
    if _words_apart(got, want) < _words_apart(text[a:b], want):
        return "improved"
    return "wrong"
