"""False positives on clean technical writing: the documentation installed on this machine.

READMEs, package long descriptions (METADATA), licences and Debian changelogs are human-written
English full of code, paths, command lines and lists: what users clean when they run mtfix
over a repository or a scraped corpus. None of it was spun, so every applied edit is a
candidate false positive; the report lists them by rule with their contexts to read.

    .venv/bin/python bench/clean_docs.py                 # rules mode -> bench/out/clean_docs.{json,md}
    .venv/bin/python bench/clean_docs.py --mode full     # slow: about 30 min per million words

The corpus depends on what is installed, so compare runs on one machine only (the report
records its size and a digest of its file list).
"""

from __future__ import annotations

import argparse
import collections
import email
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, md_table  # noqa: E402

TEXT_SUFFIXES = (".md", ".rst", ".txt")
SKIP_INNER = (".html", ".pdf", ".json", ".xml", ".db", ".png", ".svg", ".ps", ".tar", ".log", "status")
WORD_CAP, CHANGELOG_CAP = 40_000, 4_000  # words a file; one long changelog must not dominate


def _candidates() -> list[Path]:
    roots = [Path(sys.prefix) / "lib", Path("/usr/share/doc"), Path("/usr/share/common-licenses")]
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            name = p.name.lower()
            if not p.is_file() or p.is_symlink() or "mtfix" in str(p).lower():
                continue  # mtfix's own README quotes spun phrases on purpose
            if p.name == "METADATA" or name.endswith(TEXT_SUFFIXES) or name.endswith(".gz") and "doc" in str(p):
                found.append(p)
            elif name.startswith(("readme", "license", "licence", "copying")) or name == "copyright":
                found.append(p)
    return sorted(found)


def _text_of(p: Path) -> str | None:
    name = p.name.lower()
    try:
        if name.endswith(".gz"):
            if any(x in name[:-3] for x in SKIP_INNER):
                return None
            with gzip.open(p) as fh:
                data = fh.read()
        else:
            data = p.read_bytes()
        if b"\0" in data:
            return None
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    if p.name == "METADATA":
        text = email.message_from_string(text).get_payload()
        if not isinstance(text, str):
            return None
    return text.replace("\r\n", "\n")


def corpus() -> list[tuple[str, str]]:
    docs, seen = [], set()
    for p in _candidates():
        text = _text_of(p)
        if text is None:
            continue
        cap = CHANGELOG_CAP if "changelog" in p.name.lower() else WORD_CAP
        lines, words = [], 0
        for line in text.split("\n"):
            lines.append(line)
            words += len(line.split())
            if words > cap:
                break
        text = "\n".join(lines) + "\n"
        key = hashlib.sha1(" ".join(text.split()[:300]).encode()).hexdigest()
        if words < 20 or key in seen:
            continue
        seen.add(key)
        docs.append((str(p), text))
    return docs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["rules", "full"], default="rules")
    ap.add_argument("--name", default="clean_docs", help="stem of the report files in bench/out")
    ap.add_argument("--examples", type=int, default=3, help="contexts shown per rule")
    args = ap.parse_args(argv)
    import mtfix
    from mtfix.text import count_words

    docs = corpus()
    words = sum(count_words(t) for _, t in docs)
    by_rule: dict[str, list] = collections.defaultdict(list)
    started = time.perf_counter()
    signature = ""
    for path, text in docs:
        result = mtfix.repair(text, mode=args.mode)
        signature = result.signature
        for e in result.applied:
            context = text[max(0, e.start - 40) : e.start] + f"[[{e.found} => {e.replacement}]]" + text[e.end : e.end + 40]
            by_rule[e.source].append({"path": path, "context": context.replace("\n", "\u23ce")})
    seconds = time.perf_counter() - started
    applied = sum(len(v) for v in by_rule.values())
    digest = hashlib.sha256("\n".join(p for p, _ in docs).encode()).hexdigest()[:12]
    report = {
        "files": len(docs),
        "words": words,
        "file_list_digest": digest,
        "applied": applied,
        "applied_per_1000_words": round(1000 * applied / max(words, 1), 4),
        "seconds": round(seconds, 1),
        "signature": signature,
        "by_rule": {k: {"applied": len(v), "examples": v[: args.examples]} for k, v in sorted(by_rule.items(), key=lambda kv: -len(kv[1]))},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md = [
        f"Clean documentation: {len(docs):,} files, {words:,} words (file list {digest}); "
        f"{applied} applied edits, {report['applied_per_1000_words']} per 1,000 words; {seconds:.0f} s; `{signature}`",
        "",
        md_table(
            ["rule", "applied", "example"],
            [
                [rule, info["applied"], info["examples"][0]["context"].replace("|", "\\|") if info["examples"] else ""]
                for rule, info in report["by_rule"].items()
            ],
        ),
    ]
    (OUT / f"{args.name}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
