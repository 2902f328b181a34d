"""Golden files: each tests/golden/<case>/ holds input.txt, flags.txt (the command line, one
line, run from the case folder), expected.txt (stdout, byte for byte) and, when not 0,
expected_code.

Most cases use tests/data/golden_rules.tsv with the built-in tables off (`--tables ''`), so
they move only when the core or that file changes. The clean cases run the default tables:
their expectation (output == input, no report) is checked on top of the golden file, so
regenerating cannot bless a false positive.

Regenerate after an intended change, then review `git diff tests/golden`:

    MTFIX_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from mtfix.cli import main

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("MTFIX_REGEN_GOLDEN") == "1"
CASES = sorted(p.name for p in GOLDEN_DIR.iterdir() if (p / "flags.txt").is_file())

# Expectations that hold whatever the golden file says.
INVARIANTS = {
    "clean_unchanged": ("fix reproduces a clean input byte for byte", lambda inp, out, code: out == inp and code == 0),
    "check_clean": ("check finds nothing in a clean input", lambda inp, out, code: out == b"" and code == 0),
}


def test_golden_cases_are_present():
    assert {"fix_spun", "check_report", "check_json", "diff_unified", "diff_inline", "clean_unchanged"} <= set(CASES)
    for case in CASES:
        assert (GOLDEN_DIR / case / "input.txt").is_file(), case


def run_case(case_dir: Path, capsysbinary, monkeypatch) -> tuple[bytes, int]:
    flags = (case_dir / "flags.txt").read_text(encoding="utf-8").strip()
    assert "\n" not in flags, "flags.txt must be one line"
    monkeypatch.chdir(case_dir)
    monkeypatch.delenv("NO_COLOR", raising=False)
    capsysbinary.readouterr()
    code = main(shlex.split(flags))
    return capsysbinary.readouterr().out, code


@pytest.mark.parametrize("case", CASES)
def test_golden(case, capsysbinary, monkeypatch):
    case_dir = GOLDEN_DIR / case
    out, code = run_case(case_dir, capsysbinary, monkeypatch)
    expected_file, code_file = case_dir / "expected.txt", case_dir / "expected_code"
    if REGENERATE:
        expected_file.write_bytes(out)
        if code:
            code_file.write_text(f"{code}\n")
        elif code_file.exists():
            code_file.unlink()
    if case in INVARIANTS:
        what, holds = INVARIANTS[case]
        assert holds((case_dir / "input.txt").read_bytes(), out, code), f"{case}: {what}; got exit {code}:\n{out!r}"
    assert expected_file.is_file(), f"{case}: no expected.txt (run with MTFIX_REGEN_GOLDEN=1)"
    want_code = int(code_file.read_text()) if code_file.exists() else 0
    assert (code, out.decode("utf-8")) == (want_code, expected_file.read_bytes().decode("utf-8"))
