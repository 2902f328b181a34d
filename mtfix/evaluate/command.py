"""The `mtfix eval` command: read pairs, repair them, score them, print the report."""

from __future__ import annotations

import json
import sys

import click

from ..cli import build_options, fail, pop_io, repair_options, run_repair
from ..io import ExitCode, InputError, atomic_write, cannot_write, read_input, write_problem
from ..text import split_lines
from .metrics import (
    REPORT_COLUMNS,
    TOKENISATION,
    PairScore,
    _ratio,
    clean_report,
    evaluate_pairs,
    metric_signature,
    summarise,
    word_diff,
)


# ---------------------------------------------------------------- input
def _lines(text: str) -> list[str]:
    """Lines as editors count them (str.splitlines also breaks at U+2028, form feeds and
    others, which would shift every later pair), without a byte-order mark."""
    return split_lines(text.removeprefix("\ufeff"))


def _without_extra_blank_lines(lines: list[str], length: int) -> list[str]:
    """`lines` cut to `length` where only blank lines are over: one file's trailing blank
    line is no missing pair (an empty last segment on both sides is a pair, and kept)."""
    n = len(lines)
    while n > length and not lines[n - 1].strip():
        n -= 1
    return lines[:n]


def _read_jsonl(path: str, encoding: str, max_bytes: int, need: tuple[str, ...]) -> list[dict]:
    src = read_input(path, encoding, max_bytes)
    rows = []
    for lineno, line in enumerate(_lines(src.text), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{src.name}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{src.name}:{lineno}: expected a JSON object")
        missing = [k for k in need if not isinstance(row.get(k), str)]
        if missing:
            raise InputError(f"{src.name}:{lineno}: missing string field(s) {', '.join(missing)}")
        rows.append(row)
    return rows


def read_pairs(pairs_file, damaged, reference, encoding, max_bytes) -> list[dict]:
    if pairs_file:
        return _read_jsonl(pairs_file, encoding, max_bytes, ("damaged", "reference"))
    d_lines = _lines(read_input(damaged, encoding, max_bytes).text)
    r_lines = _lines(read_input(reference, encoding, max_bytes).text)
    d_lines, r_lines = _without_extra_blank_lines(d_lines, len(r_lines)), _without_extra_blank_lines(r_lines, len(d_lines))
    if len(d_lines) != len(r_lines):
        raise InputError(f"{damaged} has {len(d_lines)} lines but {reference} has {len(r_lines)}")
    return [
        {"id": n, "damaged": d, "reference": r}
        for n, (d, r) in enumerate(zip(d_lines, r_lines), 1)
        if d.strip() or r.strip()
    ]


def read_clean(path: str, encoding: str, max_bytes: int) -> list[tuple[str, str]]:
    """A JSONL file (field text, clean or reference, one document a line) or one text document."""
    if not path.endswith(".jsonl"):
        src = read_input(path, encoding, max_bytes)
        return [(src.name, src.text.removeprefix("\ufeff"))]
    out = []
    for n, row in enumerate(_read_jsonl(path, encoding, max_bytes, ()), 1):
        text = next((row[k] for k in ("text", "clean", "reference") if isinstance(row.get(k), str)), None)
        if text is None:
            raise InputError(f"{path}: record {n}: no text, clean or reference field")
        out.append((str(row.get("id", n)), text))
    return out


# ---------------------------------------------------------------- output
def _fmt(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def render_text(report: dict) -> str:
    lines = []
    if "pairs" in report:
        lines.append(f"pairs {report['pairs']}, sentences {report['sentences']}, words {report['words']}")
        lines.append(f"tokenisation for WER: {TOKENISATION}")
        verdicts = ["wrong_edits", "partial_edits", "neutral_edits"]
        head = ["kind", *REPORT_COLUMNS[:10], *verdicts, *REPORT_COLUMNS[10:]]
        rows = [["all"] + [_fmt(report.get(k)) for k in head[1:]]]
        rows += [[k] + [_fmt(v.get(k2)) for k2 in head[1:]] for k, v in report["by_kind"].items()]
        widths = [max(len(r[c]) for r in rows + [head]) for c in range(len(head))]
        for r in [head] + rows:
            lines.append("  ".join(x.rjust(w) if c else x.ljust(w) for c, (x, w) in enumerate(zip(r, widths))))
        lines.append(f"suggestions (reported, not applied): {report['suggestions']}")
    if "clean" in report:
        c = report["clean"]
        lines.append(
            f"clean text: {c['edits']} edits in {c['words']} words "
            f"({_fmt(c['edits_per_1000_words'])} per 1,000 words), {c['suggestions']} suggestions"
        )
        for e in c["edit_list"]:
            lines.append(
                f"  {e['document']}: {e['found']!r} -> {e['replacement']!r} [{e['kind']}, {e['source']}] "
                f"...{e['context']}..."
            )
    for title in ("worst", "best"):
        for p in report.get(title, []):
            lines.append(f"--- {title}: {p['id']}  WER {p['wer_before']} -> {p['wer_after']}")
            for e in p["edits"]:
                lines.append(
                    f"  {e['verdict']:8} {e['found']!r} -> {e['replacement']!r} "
                    f"(reference: {e['reference_words']!r}) [{e['kind']}]"
                )
            lines.extend("  " + d for d in p["diff"])
    lines.append(f"signature: {report['signature']}")
    return "\n".join(lines) + "\n"


def pair_record(s: PairScore, full: bool = False) -> dict:
    d = dict(s.extra)
    d.update(
        id=s.name,
        words=s.words,
        wer_before=_ratio(s.errors_before, s.words),
        wer_after=_ratio(s.errors_after, s.words),
        sentences_improved=s.improved,
        sentences_worsened=s.worsened,
        edits=[j.to_dict() for j in s.judged],
    )
    if full:
        d.update(damaged=s.damaged, reference=s.reference, repaired=s.repaired)
    return d


def best_and_worst(scores: list[PairScore], n: int) -> dict:
    def gain(s):  # errors removed; ties broken by position so the order is stable
        return s.errors_before - s.errors_after

    def bad(s):
        return sum(j.verdict in ("wrong", "harmful") for j in s.judged)

    worst = sorted((s for s in scores if gain(s) < 0 or bad(s)), key=lambda s: (gain(s), -bad(s), s.index))[:n]
    best = sorted((s for s in scores if gain(s) > 0), key=lambda s: (-gain(s), bad(s), s.index))[:n]
    return {
        title: [dict(pair_record(s), diff=word_diff(s.reference, s.repaired)) for s in group]
        for title, group in (("worst", worst), ("best", best))
    }


@click.command("eval")
@click.argument("pairs_file", required=False)
@click.option("--damaged", type=click.Path(dir_okay=False), help="Damaged text, one segment a line.")
@click.option("--reference", type=click.Path(dir_okay=False), help="Reference text, one segment a line.")
@click.option("--clean", "clean_file", help="Clean text (or JSONL with a text field): count false positives.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--show", type=int, default=0, metavar="N", help="Also print the N worst and N best pairs with diffs.")
@click.option("--pairs-out", type=click.Path(dir_okay=False), help="Write per-pair results (JSONL) here.")
@click.option("--no-ter", is_flag=True, help="Skip TER and chrF (faster on long documents).")
@repair_options
def eval_command(pairs_file, damaged, reference, clean_file, fmt, show, pairs_out, no_ter, **kw):
    """Repair damaged texts and score them against references.

    PAIRS_FILE is JSONL, one {"damaged": ..., "reference": ...} object a line (other fields,
    e.g. id, are carried into --pairs-out); or give --damaged A --reference B (parallel lines).
    Each pair is repaired as one document, as `mtfix fix` would.
    """
    encoding, max_bytes = pop_io(kw)
    if pairs_file and (damaged or reference):
        raise fail("give either PAIRS_FILE or --damaged/--reference, not both", ExitCode.USAGE)
    if bool(damaged) != bool(reference):
        raise fail("--damaged and --reference go together", ExitCode.USAGE)
    if not (pairs_file or damaged or clean_file):
        raise fail("nothing to evaluate: give PAIRS_FILE, --damaged/--reference or --clean", ExitCode.USAGE)
    if show < 0:
        raise fail("--show must be 0 or more", ExitCode.USAGE)
    try:
        import jiwer  # noqa: F401
        import sacrebleu  # noqa: F401
    except ImportError as exc:
        raise fail(f"{exc.name} is needed for eval: pip install 'mtfix[eval]'", ExitCode.USAGE) from None
    if pairs_out:
        problem = write_problem(pairs_out)  # before the repairs, which can take long, not after
        if problem is not None:
            raise fail(f"{pairs_out}: cannot write ({problem})", ExitCode.INPUT)
    options = build_options(kw)
    report: dict = {}
    try:
        pairs = read_pairs(pairs_file, damaged, reference, encoding, max_bytes) if (pairs_file or damaged) else None
        clean = read_clean(clean_file, encoding, max_bytes) if clean_file else None
    except InputError as exc:
        raise fail(str(exc), ExitCode.INPUT) from None
    signature = run_repair("", options).signature
    if pairs is not None:
        from tqdm import tqdm

        with tqdm(total=len(pairs), unit="pair", disable=not sys.stderr.isatty(), leave=False) as bar:
            scores = evaluate_pairs(pairs, options, repair=run_repair, progress=bar)
        report.update(summarise(scores, with_ter=not no_ter))
        report["tokenisation"] = TOKENISATION
        if show:
            report.update(best_and_worst(scores, show))
        if pairs_out:
            try:
                atomic_write(
                    pairs_out, "".join(json.dumps(pair_record(s, True), ensure_ascii=False) + "\n" for s in scores)
                )
            except OSError as exc:
                raise fail(f"{pairs_out}: {cannot_write(exc)}", ExitCode.INPUT) from None
    if clean is not None:
        report["clean"] = clean_report(clean, options, repair=run_repair)
    report["signature"] = signature
    if not no_ter and pairs:
        report["metric_signature"] = metric_signature()
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        click.echo(render_text(report), nl=False)
