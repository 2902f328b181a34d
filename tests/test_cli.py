"""The `mtfix` command, in process (`mtfix.cli.main` returns the exit code).

Runs use tests/data/core_rules.tsv without the built-in tables (hidden `--tables ''`), so
outputs do not move when the tables grow; the subprocess tests use the real defaults."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mtfix.edit import Edit, Result
from mtfix.io import ExitCode
from mtfix.ruletable import builtin_table_text

CORE_RULES = str(Path(__file__).resolve().parent / "data" / "core_rules.tsv")
RULES = ["--no-config", "--tables", "", "--rules", CORE_RULES]
SPUN = "In all probability the safety menace grew.\nOfficials mentioned it till not too long ago.\n"
SPUN_FIXED = "Probably the security threat grew.\nOfficials said it until recently.\n"
CLEAN = "Officials said the security threat grew.\n"


@pytest.fixture
def spun_file(tmp_path) -> Path:
    path = tmp_path / "spun.txt"
    path.write_bytes(SPUN.encode())
    return path


@pytest.fixture
def clean_file(tmp_path) -> Path:
    path = tmp_path / "clean.txt"
    path.write_bytes(CLEAN.encode())
    return path


def assert_one_error_line(run):
    assert len(run.err_lines) == 1, run.err
    assert run.err_lines[0].startswith("mtfix: error: "), run.err


# ---- exit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "diff"])
def test_exit_codes_clean_and_found(run_cli, command, spun_file, clean_file):
    assert run_cli([command, *RULES, clean_file]).code == ExitCode.OK
    assert run_cli([command, *RULES, spun_file]).code == ExitCode.FOUND


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bogus", "{spun}"],
        ["check", "--min-confidence", "2", "{spun}"],
        ["check", "--min-confidence", "high", "{spun}"],
        ["check"],
        ["diff", "--style", "sideways", "{spun}"],
        ["frobnicate", "{spun}"],
        ["check", "--rules", "{bad_rules}", "{spun}"],
        ["check", "--config", "{bad_config}", "{spun}"],
        ["check", "--config", "{missing}", "{spun}"],
        ["check", "--tables", "nope", "{spun}"],
        ["check", "--enable", "nosuch", "{spun}"],
        ["check", "--mode", "rules", "--enable", "restorer", "{spun}"],  # nothing would confirm it
        ["check", "--encoding", "no-such-codec", "{spun}"],
        ["eval", "--encoding", "rot13", "--damaged", "{spun}", "--reference", "{spun}"],  # not a text codec
        ["check", "--ignore-file", "{missing}", "{spun}"],
        ["fix", "--in-place", "-"],
        ["fix", "--backup", ".orig", "{spun}"],
        ["fix", "--in-place", "-o", "out.txt", "{spun}"],
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, tmp_path, spun_file, args):
    bad_rules = tmp_path / "bad.tsv"
    bad_rules.write_text(
        "found\treplacement\tpos\tkind\tapply\tcontext\tsource\tnote\nmenace\tthreat\tadj\tsynonym-swap\tauto\n"
    )
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("colour = 'blue'\n")
    names = {"spun": spun_file, "bad_rules": bad_rules, "bad_config": bad_config, "missing": tmp_path / "no.toml"}
    run = run_cli([a.format(**names) for a in args])
    assert run.code == ExitCode.USAGE
    assert_one_error_line(run)
    if "{bad_rules}" in args:
        assert f"{bad_rules}:2:" in run.err


def test_bad_config_found_from_the_working_directory_is_a_usage_error(run_cli, tmp_path, monkeypatch, spun_file):
    (tmp_path / ".mtfix.toml").write_text("min_confidence = [\n")
    monkeypatch.chdir(tmp_path)
    run = run_cli(["check", spun_file])
    assert run.code == ExitCode.USAGE
    assert_one_error_line(run)
    assert ".mtfix.toml" in run.err
    (tmp_path / ".mtfix.toml").write_bytes(b"# r\xe9gles\n")  # Latin-1, not UTF-8
    run = run_cli(["check", spun_file])
    assert run.code == ExitCode.USAGE
    assert_one_error_line(run)
    assert "not UTF-8" in run.err


def test_side_files_saved_with_a_byte_order_mark_read_as_without(run_cli, tmp_path, spun_file):
    words, rules = tmp_path / "words.txt", tmp_path / "house.tsv"
    words.write_bytes(b"\xef\xbb\xbfsafety menace\n")
    assert "safety menace" not in run_cli(["check", "--no-config", "--ignore-file", words, spun_file]).out
    header = next(line for line in builtin_table_text("news").splitlines() if line.startswith("found\t"))
    rules.write_bytes(("\ufeff" + header + "\n").encode("utf-8"))
    assert run_cli(["check", "--no-config", "--rules", rules, spun_file]).code == ExitCode.FOUND


def _input(tmp_path: Path, kind: str) -> list[str]:
    path = tmp_path / f"{kind}.txt"
    if kind == "missing":
        return [str(path)]
    if kind == "directory":
        return [str(tmp_path)]
    data = {
        "binary": b"safety menace\x00\x01\x02",
        "non_utf8": "Zo\u00eb safety menace".encode("latin-1"),
        "empty": b"",
        "whitespace": b" \r\n\t\n",
        "too_big": b"safety menace " * 20,
        "gzipped": gzip.compress(b"The safety menace grew.\n"),
        "utf16_unnamed": "The safety menace grew.\n".encode("utf-16"),
    }[kind]
    path.write_bytes(data)
    return ["--max-bytes", "100", str(path)] if kind == "too_big" else [str(path)]


INPUT_PROBLEMS = {
    "missing": "no such file",
    "directory": "is a directory",
    "binary": "binary",
    "non_utf8": "not valid utf-8",
    "empty": "empty",
    "whitespace": "whitespace",
    "too_big": "limit",
    "gzipped": "(gzip-compressed); decompress it first",
    "utf16_unnamed": "byte order mark: use --encoding utf-16",
}


@pytest.mark.parametrize("command", ["check", "fix", "diff"])
@pytest.mark.parametrize("kind", list(INPUT_PROBLEMS))
def test_input_errors_exit_3_with_one_line(run_cli, tmp_path, command, kind):
    run = run_cli([command, *RULES, *_input(tmp_path, kind)])
    assert run.code == ExitCode.INPUT
    assert_one_error_line(run)
    assert INPUT_PROBLEMS[kind] in run.err
    assert run.out == ""


def test_one_bad_file_among_good_ones_still_reports_the_good(run_cli, tmp_path, spun_file):
    run = run_cli(["check", *RULES, spun_file, tmp_path / "absent.txt"])
    assert run.code == ExitCode.INPUT
    assert_one_error_line(run)
    assert "safety menace" in run.out


@pytest.mark.parametrize("command", ["check", "diff"])
def test_an_empty_file_among_several_is_skipped_with_a_note(run_cli, tmp_path, command, spun_file, clean_file):
    # A pre-commit hook passes every staged file; an empty one is nothing wrong (black agrees).
    empty, blank = tmp_path / "empty.md", tmp_path / "blank.md"
    empty.write_bytes(b"")
    blank.write_bytes(b" \r\n\t\n")
    run = run_cli([command, *RULES, clean_file, empty, blank])
    assert run.code == ExitCode.OK
    assert run.err_lines == [
        f"mtfix: {empty}: empty input: skipped, nothing to check",
        f"mtfix: {blank}: empty input (only whitespace): skipped, nothing to check",
    ]
    assert run_cli([command, *RULES, empty, spun_file]).code == ExitCode.FOUND
    assert run_cli([command, *RULES, empty, blank]).code == ExitCode.OK


@pytest.mark.parametrize("command", ["check", "diff"])
def test_skip_empty_skips_a_lone_empty_file_too(run_cli, tmp_path, command, spun_file):
    # pre-commit passes one file when one is staged: a new empty notes.md is no input error.
    empty = tmp_path / "notes.md"
    empty.write_bytes(b"")
    run = run_cli([command, *RULES, "--skip-empty", empty])
    assert (run.code, run.out) == (ExitCode.OK, "")
    assert run.err_lines == [f"mtfix: {empty}: empty input: skipped, nothing to check"]
    run = run_cli([command, *RULES, "--skip-empty", "-"], stdin=" \n")
    assert (run.code, run.out) == (ExitCode.OK, "")
    assert run_cli([command, *RULES, "--skip-empty", empty, spun_file]).code == ExitCode.FOUND
    # Other input problems stay errors.
    assert run_cli([command, *RULES, "--skip-empty", tmp_path / "absent.md"]).code == ExitCode.INPUT


@pytest.mark.parametrize(
    "markdown",
    [
        "```python\nsafety_menace = 1\n```\n",
        "\n~~~\nThe safety menace.\n~~~\n\n",
        "`safety menace`\n",
        "---\ntitle: The safety menace\n---\n",
    ],
)
def test_markdown_with_code_and_no_prose_is_not_empty_input(run_cli, tmp_path, markdown):
    path = tmp_path / "code.md"
    path.write_text(markdown, encoding="utf-8")
    run = run_cli(["check", *RULES, path])
    assert (run.code, run.out, run.err) == (ExitCode.OK, "", "")


def test_keyboard_interrupt_exits_130(run_cli, monkeypatch, spun_file):
    import mtfix.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mtfix.pipeline, "run", interrupted)
    run = run_cli(["check", *RULES, spun_file])
    assert run.code == ExitCode.INTERRUPTED
    # click ends the ^C line first, so the message starts on a fresh line.
    assert [line for line in run.err_lines if line.strip()] == ["mtfix: interrupted"]


def test_version_and_help(run_cli):
    import mtfix

    assert run_cli(["--version"]).out.strip().endswith(mtfix.__version__)
    run = run_cli(["--help"])
    assert run.code == 0 and "check" in run.out and "fix" in run.out and "--tables" not in run.out


# ---- check ----------------------------------------------------------------------------------


def test_check_reports_one_line_per_edit(run_cli, spun_file):
    run = run_cli(["check", *RULES, spun_file])
    lines = run.out.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith(
        f"{spun_file}:1:24: safety menace \u2192 security threat (0.95, core_rules/safety-menace, fix: "
    )
    assert lines[2].startswith(f"{spun_file}:2:11: mentioned \u2192 said (")


def test_check_stdin(run_cli):
    run = run_cli(["check", *RULES, "-"], stdin=SPUN)
    assert run.code == ExitCode.FOUND
    assert run.out.startswith("<stdin>:1:1: In all probability \u2192 Probably")


def test_check_json(run_cli, spun_file, clean_file):
    run = run_cli(["check", "--format", "json", *RULES, spun_file, clean_file])
    data = json.loads(run.out)
    assert set(data) == {"files", "signature"}
    assert data["signature"].startswith("mtfix:") and "user:core_rules." in data["signature"]
    spun, clean = data["files"]
    assert spun["path"] == str(spun_file) and spun["changed"] is True
    assert clean == {"path": str(clean_file), "spin_score": 0.0, "changed": False, "edits": []}
    first = spun["edits"][0]
    assert first["found"] == "In all probability" and first["line"] == 1 and first["column"] == 1
    assert first["applied"] is True and first["replacement"] == "Probably"
    assert {"start", "end", "kind", "source", "confidence", "auto", "reason", "alternatives"} <= set(first)


def test_check_jsonl(run_cli, spun_file):
    run = run_cli(["check", "--format", "jsonl", *RULES, spun_file])
    records = [json.loads(line) for line in run.out.splitlines()]
    assert [r["found"] for r in records] == [
        "In all probability",
        "safety menace",
        "mentioned",
        "till not too long ago",
    ]
    assert all(r["path"] == str(spun_file) for r in records)


def test_config_file_in_working_directory_and_no_config(run_cli, tmp_path, monkeypatch, spun_file):
    (tmp_path / ".mtfix.toml").write_text('disable = ["core_rules"]\n')
    monkeypatch.chdir(tmp_path)
    args = ["check", "--tables", "", "--rules", CORE_RULES, spun_file]
    assert run_cli(args).code == ExitCode.OK
    assert run_cli(["check", "--no-config", *args[1:]]).code == ExitCode.FOUND


def test_no_all_overrides_the_config_all(run_cli, tmp_path, monkeypatch):
    (tmp_path / ".mtfix.toml").write_text("all = true\nmin_confidence = 0.0\nmode = 'rules'\n")
    (tmp_path / "a.txt").write_text("Experts mentioned it.\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["fix", "-q", "a.txt"]).out == "Experts said it.\n"  # a suggestion, applied by all
    assert run_cli(["fix", "-q", "--no-all", "a.txt"]).out == "Experts mentioned it.\n"


def test_enable_adds_a_proposer_to_the_mode_from_flags_and_config(run_cli, tmp_path, monkeypatch):
    glued = tmp_path / "glued.txt"
    glued.write_text("The envoy ofBeijing arrived on time.\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["check", "--no-config", glued]).code == ExitCode.OK  # rules mode skips mt-spacing
    run = run_cli(["check", "--no-config", "--enable", "mt-spacing", "--format", "json", glued])
    assert run.code == ExitCode.FOUND
    assert "enable:mt-spacing" in run.out and '"of Beijing"' in run.out
    (tmp_path / ".mtfix.toml").write_text('enable = ["mt-spacing"]\n')
    assert run_cli(["check", glued]).code == ExitCode.FOUND
    assert run_cli(["check", "--disable", "mt-spacing", glued]).code == ExitCode.OK


@pytest.mark.parametrize(
    "args, suggestion",
    [
        (["--disable", "core_rules/safety-menac"], "core_rules/safety-menace"),
        (["--disable", "news/mentoin"], "news/mention"),  # a built-in table, even when not loaded
        (["--disable", "mt-leftovers"], "mt-leftover"),
        (["--disable", "mt/doubled-words"], "mt/doubled-word"),
        (["--disable", "synonym-swaps"], "synonym-swap"),
        (["--enable", "mt-spacin"], "mt-spacing"),
    ],
)
def test_a_misspelt_disable_or_enable_name_is_a_usage_error_naming_the_closest(run_cli, spun_file, args, suggestion):
    run = run_cli(["check", *RULES, *args, spun_file])
    assert run.code == ExitCode.USAGE and run.out == ""
    assert_one_error_line(run)
    assert run.err.startswith(f"mtfix: error: {args[0]} {args[1]!r}: ")
    assert run.err.rstrip().endswith(f"(did you mean {suggestion!r}?)")


@pytest.mark.parametrize(
    "config, given, suggestion",
    [
        ('disable = ["news/mention", "mt-boundry"]', "disable 'mt-boundry'", "mt-boundary"),
        ('enable = ["mt-spacing", "restorr"]', "enable 'restorr'", "restorer"),
    ],
)
def test_a_misspelt_name_in_the_config_file_is_a_usage_error_naming_the_file(
    run_cli, tmp_path, monkeypatch, clean_file, config, given, suggestion
):
    (tmp_path / ".mtfix.toml").write_text(config + "\n")
    monkeypatch.chdir(tmp_path)
    run = run_cli(["check", clean_file])
    assert run.code == ExitCode.USAGE
    assert_one_error_line(run)
    assert f".mtfix.toml: {given}: " in run.err and f"(did you mean {suggestion!r}?)" in run.err


@pytest.mark.parametrize(
    "name",
    [
        "core_rules/safety-menace",  # a rule id
        "safety menace",  # a rule's found phrase
        "core_rules",  # a user table
        "news/mention",  # a built-in table's rule id
        "tortured",  # a built-in table
        "synonym-swap",  # a kind
        "mt-other",  # an MT check's kind
        "rules",  # a check
        "mt-pronoun",  # a check the mode does not run
        "mt/foreign-word",  # a check's rule id
    ],
)
def test_every_kind_of_name_disable_takes_is_accepted(run_cli, spun_file, name):
    run = run_cli(["check", *RULES, "--disable", name, spun_file])
    assert run.code in (ExitCode.OK, ExitCode.FOUND) and run.err == ""


def test_the_rule_ids_of_a_registered_proposer_can_be_disabled(run_cli, monkeypatch, spun_file):
    from mtfix import pipeline

    monkeypatch.setattr(pipeline, "PROPOSERS", dict(pipeline.PROPOSERS))
    monkeypatch.setattr(pipeline, "PROPOSER_RULE_IDS", dict(pipeline.PROPOSER_RULE_IDS))
    pipeline.register_proposer("house-style", lambda ctx: [], rule_ids=["house/serial-comma"])
    assert run_cli(["check", *RULES, "--disable", "house/serial-comma", spun_file]).code == ExitCode.FOUND
    run = run_cli(["check", *RULES, "--disable", "house/serial-coma", spun_file])
    assert run.code == ExitCode.USAGE and "(did you mean 'house/serial-comma'?)" in run.err


def test_ignored_phrases_are_never_changed_from_flags_files_and_config(run_cli, tmp_path, monkeypatch):
    text = tmp_path / "a.txt"
    text.write_text("Officials warned of a safety menace. It was quiet till not too long ago.\n")
    monkeypatch.chdir(tmp_path)
    assert "safety menace" in run_cli(["check", "--no-config", text]).out
    run = run_cli(["check", "--no-config", "--ignore", "Safety   MENACE", "--format", "json", text])
    assert "safety menace" not in run.out.lower() and "ignore:1." in run.out
    words = tmp_path / "words.txt"
    words.write_text("# house terms\n\nsafety menace  # a product name here\n")
    assert "safety menace" not in run_cli(["check", "--no-config", "--ignore-file", words, text]).out
    (tmp_path / ".mtfix.toml").write_text('ignore_file = "words.txt"\n')
    assert "safety menace" not in run_cli(["check", text]).out
    fixed = run_cli(["fix", "--no-config", "--ignore", "safety", text]).out
    assert "safety menace" in fixed and "until recently" in fixed  # only edits touching "safety" are dropped


# ---- fix ------------------------------------------------------------------------------------


def test_fix_to_stdout_and_stdin(run_cli, spun_file):
    run = run_cli(["fix", *RULES, spun_file])
    assert run.code == ExitCode.OK and run.out == SPUN_FIXED
    assert len(run.err_lines) == 1
    assert re.fullmatch(
        rf"mtfix: {re.escape(str(spun_file))}: 4 fixed, 0 suggested \(spin score 0\.\d\d\)", run.err_lines[0]
    )
    run = run_cli(["fix", "-q", *RULES, "-"], stdin=SPUN)
    assert run.out == SPUN_FIXED and run.err == ""


def test_fix_output_file(run_cli, tmp_path, spun_file):
    out = tmp_path / "out.txt"
    run = run_cli(["fix", *RULES, "-o", out, spun_file])
    assert run.code == ExitCode.OK and run.out == ""
    assert out.read_bytes() == SPUN_FIXED.encode()
    assert spun_file.read_bytes() == SPUN.encode()


def test_fix_unwritable_output_is_one_line(run_cli, tmp_path, spun_file):
    run = run_cli(["fix", *RULES, "-o", tmp_path / "no" / "such" / "dir.txt", spun_file])
    assert run.code == ExitCode.INPUT
    assert_one_error_line(run)


def test_fix_in_place_with_backup(run_cli, tmp_path, spun_file):
    os.chmod(spun_file, 0o640)
    run = run_cli(["fix", *RULES, "--in-place", "--backup", ".orig", spun_file])
    assert run.code == ExitCode.OK and run.out == ""
    assert spun_file.read_bytes() == SPUN_FIXED.encode()
    assert (tmp_path / "spun.txt.orig").read_bytes() == SPUN.encode()
    assert spun_file.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spun.txt", "spun.txt.orig"]


def test_fix_writes_through_a_link_and_into_a_pipe_and_new_files_follow_the_umask(run_cli, tmp_path, spun_file):
    link = tmp_path / "link.txt"
    link.symlink_to(spun_file.name)
    assert run_cli(["fix", *RULES, "-i", "--backup", ".orig", link]).code == ExitCode.OK
    assert link.is_symlink() and spun_file.read_bytes() == SPUN_FIXED.encode()
    assert (tmp_path / "spun.txt.orig").read_bytes() == SPUN.encode()
    old_umask = os.umask(0o022)
    try:
        assert run_cli(["fix", *RULES, "-o", tmp_path / "new.txt", spun_file]).code == ExitCode.OK
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert run_cli(["fix", *RULES, "-o", fifo, spun_file]).code == ExitCode.OK
    reader.join(10)
    assert received == [SPUN_FIXED.encode()] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_fix_keeps_the_byte_order_of_utf16_input(run_cli, tmp_path):
    src = tmp_path / "be.txt"
    src.write_bytes("\ufeffThe safety menace.\n".encode("utf-16-be"))
    run = run_cli(["fix", *RULES, "--encoding", "utf-16", "-i", src])
    assert run.code == ExitCode.OK
    assert src.read_bytes() == "\ufeffThe security threat.\n".encode("utf-16-be")
    no_mark = tmp_path / "native.txt"
    native = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"
    no_mark.write_bytes("The safety menace.\n".encode(native))
    assert run_cli(["fix", *RULES, "--encoding", "utf-16", "-i", no_mark]).code == ExitCode.OK
    assert no_mark.read_bytes() == "The security threat.\n".encode(native)  # no BOM added


@pytest.mark.parametrize(
    "args", [["-i", "--backup", "/tmp/x"], ["-i", "--backup", ""], ["--max-bytes", "-5"], ["-i", "--backup", ".orig"]]
)
def test_fix_refuses_a_backup_folder_and_a_negative_size_limit(run_cli, spun_file, args):
    (spun_file.parent / "spun.txt.orig").mkdir()
    run = run_cli(["fix", *RULES, *args, spun_file])
    assert run.code == ExitCode.USAGE
    assert spun_file.read_bytes() == SPUN.encode()


def test_fix_in_place_leaves_a_clean_file_alone(run_cli, clean_file):
    before = clean_file.stat()
    assert run_cli(["fix", *RULES, "-i", clean_file]).code == ExitCode.OK
    after = clean_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_fix_in_place_is_atomic_when_the_write_fails(run_cli, tmp_path, spun_file, monkeypatch):
    import mtfix.io

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mtfix.io.os, "replace", failing_replace)
    run = run_cli(["fix", *RULES, "--in-place", spun_file])
    assert run.code == ExitCode.INPUT
    assert_one_error_line(run)
    assert spun_file.read_bytes() == SPUN.encode()
    assert [p.name for p in tmp_path.iterdir()] == ["spun.txt"]


INTERACTIVE_TEXT = "Officials warned of a safety menace. It was quiet till not too long ago. Consultants said so.\n"


@pytest.mark.parametrize(
    "answers, expected",
    [
        ("\n\n\n", "Officials warned of a security threat. It was quiet until recently. Experts said so.\n"),
        ("n\ne\nuntil lately\nn\n", "Officials warned of a safety menace. It was quiet until lately. Consultants said so.\n"),
        ("n\na\n", "Officials warned of a safety menace. It was quiet until recently. Experts said so.\n"),
        ("y\nq\n", "Officials warned of a security threat. It was quiet till not too long ago. Consultants said so.\n"),
        ("maybe\nn\n", INTERACTIVE_TEXT),  # a bad answer is asked again; the end of input is q
    ],
)
def test_fix_interactive_applies_what_the_user_chooses(run_cli, tmp_path, answers, expected):
    src = tmp_path / "a.txt"
    src.write_text(INTERACTIVE_TEXT)
    run = run_cli(["fix", "--no-config", "--interactive", src], stdin=answers)
    assert run.code == ExitCode.OK and run.out == expected
    assert "apply? [y]es [n]o" in run.err and "a.txt:1:23: fix" in run.err
    assert src.read_text() == INTERACTIVE_TEXT


def test_fix_interactive_ignore_saves_the_phrase_and_stdin_input_is_refused(run_cli, tmp_path):
    src, words = tmp_path / "a.txt", tmp_path / "words.txt"
    src.write_text("A safety menace. Another safety menace. Quiet till not too long ago.\n")
    words.write_text("")
    run = run_cli(["fix", "--no-config", "--interactive", "--ignore-file", words, src], stdin="i\ny\n")
    assert run.out == "A safety menace. Another safety menace. Quiet until recently.\n"
    assert words.read_text() == "safety menace\n"
    words.write_text("Acme Corp")  # no final newline: the saved phrase starts a line of its own
    run_cli(["fix", "--no-config", "--interactive", "--ignore-file", words, src], stdin="i\n")
    assert words.read_text() == "Acme Corp\nsafety menace\n"
    assert run_cli(["check", "--no-config", "--ignore-file", words, src]).out.count("safety menace") == 0
    refused = run_cli(["fix", "--interactive", "-"], stdin="text")
    assert refused.code == ExitCode.USAGE
    assert_one_error_line(refused)


def test_fix_interactive_ignores_a_wrapped_phrase_as_one_line(run_cli, tmp_path):
    src, words = tmp_path / "a.txt", tmp_path / "words.txt"
    src.write_text("A safety\nmenace. Another safety menace.\n")
    words.write_text("")
    run = run_cli(["fix", "--no-config", "--interactive", "--ignore-file", words, src], stdin="i\n")
    assert "a.txt:1:3: fix" in run.err and "a.txt:2:" not in run.err  # asked once, at the wrapped one
    assert run.out == "A safety\nmenace. Another safety menace.\n"
    assert words.read_text() == "safety menace\n"


def test_fix_check_writes_nothing(run_cli, spun_file, clean_file):
    run = run_cli(["fix", "--check", *RULES, spun_file])
    assert run.code == ExitCode.FOUND and run.out == ""
    assert spun_file.read_bytes() == SPUN.encode()
    assert run_cli(["fix", "--check", *RULES, clean_file]).code == ExitCode.OK


def test_fix_reads_and_writes_latin_1(run_cli, tmp_path):
    src = tmp_path / "latin.txt"
    src.write_bytes("Zo\u00eb Ren\u00e9e faced a safety menace.\n".encode("latin-1"))
    out = tmp_path / "out.txt"
    assert run_cli(["fix", *RULES, src]).code == ExitCode.INPUT
    run = run_cli(["fix", *RULES, "--encoding", "latin-1", "-o", out, src])
    assert run.code == ExitCode.OK
    assert out.read_bytes() == "Zo\u00eb Ren\u00e9e faced a security threat.\n".encode("latin-1")


def test_fix_stdout_is_byte_exact(capsysbinary, tmp_path):
    from mtfix.cli import main

    data = "\ufeffZo\u00eb said \u201chi\u201d.\r\n\r\nA safety menace.\r\n".encode("utf-8")
    src = tmp_path / "crlf.txt"
    src.write_bytes(data)
    assert main(["fix", "-q", *RULES, str(src)]) == 0
    assert capsysbinary.readouterr().out == data.replace(b"safety menace", b"security threat")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Zo\u00eb.\r\n".encode("latin-1"))
    assert main(["fix", "-q", *RULES, "--encoding", "latin-1", str(latin)]) == 0
    assert capsysbinary.readouterr().out == "Zo\u00eb.\r\n".encode("latin-1")


# ---- diff -----------------------------------------------------------------------------------


def test_diff_unified(run_cli, spun_file):
    run = run_cli(["diff", "--style", "unified", *RULES, spun_file])
    rel = str(spun_file).lstrip("/")
    assert run.out.splitlines()[:3] == [f"--- a/{rel}", f"+++ b/{rel}", "@@ -1,2 +1,2 @@"]
    assert "-In all probability the safety menace grew.\n" in run.out
    assert "+Officials said it until recently.\n" in run.out


@pytest.mark.parametrize(
    "given, header",
    [("my file.txt", "a/my file.txt\t"), ("./sub/../sub/a.txt", "a/sub/a.txt"), ("ABS", "a/sub/a.txt")],
)
def test_diff_unified_names_the_file_as_patch_reads_it(run_cli, tmp_path, monkeypatch, given, header):
    # A name with a space ends at a tab (else `patch` stops at the space); "./" and ".." are
    # normalised (`git apply` refuses them); an absolute path inside the working folder is
    # made relative, so the patch applies from there.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name in ("my file.txt", "sub/a.txt"):
        (tmp_path / name).write_text("The safety menace grew.\n", encoding="utf-8")
    path = str(tmp_path / "sub" / "a.txt") if given == "ABS" else given
    run = run_cli(["diff", "--style", "unified", *RULES, path])
    assert run.out.splitlines()[0] == "--- " + header
    if shutil.which("patch"):
        proc = subprocess.run(["patch", "-p1", "--dry-run", "--batch"], input=run.out.encode(), capture_output=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_diff_inline_plain(run_cli, spun_file):
    run = run_cli(["diff", "--no-color", *RULES, spun_file])
    assert "\x1b[" not in run.out
    assert "[-safety menace-]{+security threat+}[2]" in run.out
    assert "[4] 2:24 till not too long ago \u2192 until recently" in run.out


def test_diff_side_by_side_and_html(run_cli, spun_file):
    run = run_cli(["diff", "--style", "side-by-side", "--no-color", *RULES, spun_file])
    assert run.code == ExitCode.FOUND and "{+security" in run.out and "\x1b[" not in run.out
    page = run_cli(["diff", "--style", "html", *RULES, spun_file]).out
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "<del" in page and "<ins" in page and "security threat" in page


class HtmlOutline(HTMLParser):
    """Checks that a page is one well-nested document and collects its headings as
    (tag, enclosing tag, text)."""

    VOID = {"meta", "br"}

    def __init__(self, page: str) -> None:
        super().__init__()
        self.declarations, self.roots, self.open, self.headings = [], 0, [], []
        self.feed(page)
        self.close()
        assert self.open == [], f"never closed: {self.open}"

    def handle_decl(self, decl):
        self.declarations.append(decl)

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.roots += not self.open
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open[-1:] == [tag], f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data):
        if self.open and self.open[-1] in ("h1", "h2"):
            self.headings.append((self.open[-1], self.open[-2], data))


def test_diff_html_of_several_files_is_one_document_with_a_section_each(run_cli, spun_file, clean_file):
    run = run_cli(["diff", "--style", "html", *RULES, spun_file, clean_file])
    assert run.code == ExitCode.FOUND
    page = HtmlOutline(run.out)
    assert page.declarations == ["doctype html"] and page.roots == 1
    assert page.headings == [
        ("h1", "body", "mtfix: 2 files"),
        ("h2", "section", str(spun_file)),
        ("h2", "section", str(clean_file)),
    ]
    assert "<title>mtfix: 2 files</title>" in run.out
    single = HtmlOutline(run_cli(["diff", "--style", "html", *RULES, spun_file]).out)
    assert single.headings == [("h1", "section", str(spun_file))]


def test_diff_html_keeps_an_edit_across_a_blank_line_whole():
    from mtfix.render import html_report

    text = "First line.\r\rjoined here.\r"
    joined = Edit(10, 14, ".\r\rj", ", j", "mt-boundary", "mt/boundary", 0.9, True, "test")
    result = Result(original=text, edits=[joined], repaired="First line, joined here.\r", applied=[joined])
    page = html_report([("doc.txt", result)])
    HtmlOutline(page)
    assert "<p>First line<del" in page and ">.<br><br>j</del><ins" in page and "\r" not in page
    assert ">1 edit, 1 applied;" in page


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_every_view_ends_lines_and_paragraphs_where_check_does(run_cli, tmp_path, end):
    path = tmp_path / "ends.txt"
    lines = ["The safety menace grew.", "Officials spoke.", "", "The safety menace waned.", ""]
    path.write_bytes(end.join(lines).encode())
    check = run_cli(["check", *RULES, path]).out
    assert [m.group(1) for m in re.finditer(r"ends\.txt:(\d+):", check)] == ["1", "4"]
    inline = run_cli(["diff", "--no-color", *RULES, path]).out
    assert "    1 | The [-safety menace-]{+security threat+}[1] grew.\n" in inline
    assert "    4 | The [-safety menace-]{+security threat+}[2] waned.\n" in inline
    page = run_cli(["diff", "--style", "html", *RULES, path]).out
    assert "</sup> grew.<br>Officials spoke.</p><p>The <del" in page and "</sup> waned.</p></div>" in page
    assert "\r" not in page


@pytest.mark.parametrize("sep", ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029"])
def test_diff_views_number_lines_as_check(run_cli, monkeypatch, tmp_path, sep):
    # str.splitlines breaks at these too; `check` does not, so the views must not either.
    monkeypatch.setenv("COLUMNS", "120")
    shown = "\\x%02x" % ord(sep) if ord(sep) < 0x100 else "\\u%04x" % ord(sep)
    path = tmp_path / "pages.txt"
    path.write_text(f"Page one.{sep}The safety menace.\nPage two.{sep}Fine.\nThe safety menace.\r\n", encoding="utf-8")
    check = run_cli(["check", *RULES, path]).out
    assert [m.group(1) for m in re.finditer(r"pages\.txt:(\d+):", check)] == ["1", "3"]
    inline = run_cli(["diff", "--no-color", *RULES, path]).out
    assert f"    1 | Page one.{shown}The [-safety menace-]{{+security threat+}}[1].\n" in inline
    assert "    3 | The [-safety menace-]{+security threat+}[2].\n" in inline
    assert sep not in inline and "\r" not in inline
    context = run_cli(["diff", "--no-color", "--context", "1", *RULES, path]).out
    assert f"    2 | Page two.{shown}Fine.\n" in context
    table = run_cli(["diff", "--style", "side-by-side", "--no-color", *RULES, path]).out
    rows = re.findall(r"^\W+(\d+) \W+(.*?) +\W+ (.*?) +\W+$", table, re.M)
    assert [row[0] for row in rows if "safety menace" in row[1]] == ["1", "3"]
    assert f"Page one.{shown}The [-safety menace-]." in table and sep not in table and "\r" not in table


def test_diff_context_zero_is_honoured_and_negative_refused(run_cli, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("a\nb\nc\nd\nThe safety menace.\ne\nf\n", encoding="utf-8")
    run = run_cli(["diff", "--style", "unified", "--context", "0", *RULES, path])
    assert run.out.splitlines()[2:] == ["@@ -5 +5 @@", "-The safety menace.", "+The security threat."]
    assert "@@ -2,6 +2,6 @@" in run_cli(["diff", "--style", "unified", *RULES, path]).out
    assert "    5 | " in run_cli(["diff", "--no-color", *RULES, path]).out.splitlines()[1]
    bad = run_cli(["diff", "--context", "-1", *RULES, path])
    assert bad.code == ExitCode.USAGE and bad.out == ""
    assert_one_error_line(bad)


@pytest.mark.parametrize("name", ["n[draft].txt", "[bold]x.txt", ":thumbs_up:.txt"])
def test_diff_side_by_side_title_is_the_file_name(run_cli, monkeypatch, tmp_path, name):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / name
    path.write_text("The safety menace.\n", encoding="utf-8")
    run = run_cli(["diff", "--style", "side-by-side", "--no-color", *RULES, path])
    assert run.out.splitlines()[0].strip() == str(path)


@pytest.mark.parametrize(
    "no_color,flag,escapes",
    [(None, None, True), ("1", None, False), ("1", "--color", True), (None, "--no-color", False)],
)
def test_colour_follows_tty_no_color_and_flags(run_cli, monkeypatch, spun_file, no_color, flag, escapes):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    run = run_cli(["diff", *([flag] if flag else []), *RULES, spun_file])
    assert ("\x1b[" in run.out) is escapes


# ---- start-up stays light -------------------------------------------------------------------

_PROBE = (
    "import sys, mtfix.cli\n"
    "code = mtfix.cli.main(sys.argv[1:])\n"
    "heavy = sorted(m for m in ('torch', 'transformers', 'spacy') if m in sys.modules)\n"
    "print('HEAVY:' + ','.join(heavy))\n"
    "print('CODE:' + str(code))\n"
)


@pytest.mark.parametrize(
    "args", [["--help"], ["check", "--no-config", "{file}"], ["fix", "--no-config", "-q", "{file}"]]
)
def test_help_and_rules_runs_do_not_import_heavy_libraries(tmp_path, args):
    target = tmp_path / "doc.txt"
    target.write_text(SPUN + "The the talks ensues. of the war.\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *[a.format(file=target) for a in args]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    lines = proc.stdout.splitlines()
    assert lines[-1] in ("CODE:0", "CODE:1"), proc.stdout + proc.stderr
    assert lines[-2] == "HEAVY:", proc.stdout + proc.stderr


def test_the_pre_commit_hook_runs_a_real_check_command(run_cli, tmp_path):
    import shlex

    hook = (Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    entry = next(line.split(":", 1)[1].strip() for line in hook.splitlines() if line.strip().startswith("entry:"))
    command = shlex.split(entry)
    assert command[0] == "mtfix"
    spun, clean = tmp_path / "spun.md", tmp_path / "clean.md"
    spun.write_text("Officials warned of a safety menace.\n")
    clean.write_text("Officials warned of a security threat.\n")
    # pre-commit appends the staged file names and fails the commit on a non-zero exit
    assert run_cli([*command[1:], "--no-config", clean]).code == ExitCode.OK
    assert run_cli([*command[1:], "--no-config", clean, spun]).code == ExitCode.FOUND
    # A commit staging one new empty file passes, whatever `args` the user gives the hook.
    empty = tmp_path / "notes.md"
    empty.write_bytes(b"")
    assert run_cli([*command[1:], "--no-config", "--min-confidence", "0.8", empty]).code == ExitCode.OK


def test_fix_into_dev_stdout_or_dash_writes_to_the_stream_and_keeps_a_redirected_log(tmp_path, spun_file):
    # /dev/stdout of `> log.txt` is log.txt itself: replacing it would lose what came before.
    log = tmp_path / "log.txt"
    fix = [sys.executable, "-m", "mtfix", "fix", *map(str, RULES), "-q"]
    script = f"echo before; {' '.join(map(shlex.quote, fix))} -o /dev/stdout {shlex.quote(str(spun_file))}; echo after"
    with open(log, "wb") as fh:
        subprocess.run(["bash", "-c", script], stdout=fh, check=True, timeout=120, cwd=tmp_path)
    assert log.read_text() == "before\n" + SPUN_FIXED + "after\n"
    dash = subprocess.run([*fix, "-o", "-", str(spun_file)], capture_output=True, timeout=120, cwd=tmp_path)
    assert dash.returncode == 0 and dash.stdout == SPUN_FIXED.encode() and not (tmp_path / "-").exists()


def test_inline_diff_goes_on_after_an_edit_across_a_line_break(run_cli, tmp_path):
    path = tmp_path / "wrapped.txt"
    path.write_text("We saw the\nthe house and the safety menace.\n", encoding="utf-8")
    lines = run_cli(["diff", "--no-color", *RULES, path]).out.splitlines()
    assert lines[1].startswith("    1 | We saw [-the\\nthe house-]")
    assert lines[2] == "    2 |  and the [-safety menace-]{+security threat+}[2]."  # "the house" not drawn twice


def test_control_characters_reach_no_terminal_raw(run_cli, tmp_path):
    path = tmp_path / "esc.txt"
    path.write_text("The safety\x1b[2J menace.\nThe safety menace \x1b]0;title\x07here.\n", encoding="utf-8")
    for args in (["check"], ["diff", "--no-color"], ["diff", "--style", "side-by-side", "--no-color"]):
        run = run_cli([*args, *RULES, path])
        assert run.code == ExitCode.FOUND and "\x1b" not in run.out and "\x07" not in run.out, args
        assert "\\x1b" in run.out or args == ["check"], args  # check shows no text around a finding


def test_unified_diff_is_written_in_the_file_encoding(tmp_path, capsysbinary, monkeypatch):
    from mtfix.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lat.txt").write_bytes("Café: the safety menace.\n".encode("latin-1"))
    assert main(["diff", "--style", "unified", "--encoding", "latin-1", *RULES, "lat.txt"]) == ExitCode.FOUND
    patch = capsysbinary.readouterr().out
    assert b"-Caf\xe9: the safety menace.\n+Caf\xe9: the security threat.\n" in patch
    if shutil.which("patch"):
        proc = subprocess.run(["patch", "-p1", "--batch"], input=patch, capture_output=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (tmp_path / "lat.txt").read_bytes() == "Café: the security threat.\n".encode("latin-1")


def test_a_terminal_without_colours_gets_the_plain_markers(run_cli, monkeypatch, spun_file):
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("NO_COLOR", raising=False)
    run = run_cli(["diff", "--color", *RULES, spun_file])
    assert "[-safety menace-]{+security threat+}" in run.out and "\x1b[" not in run.out


def test_side_by_side_numbers_each_changed_line(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "three.txt"
    path.write_text("The safety menace.\nA safety menace.\nFine.\nNo safety menace.\n", encoding="utf-8")
    table = run_cli(["diff", "--style", "side-by-side", "--no-color", *RULES, path]).out
    assert re.findall(r"^\W+(\d+) \W+", table, re.M) == ["1", "2", "4"]


def test_side_by_side_without_colour_marks_the_changed_words(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "one.txt"
    path.write_text("The safety menace was seen by consultants.\n", encoding="utf-8")
    table = run_cli(["diff", "--style", "side-by-side", "--no-color", *RULES, "--all", path]).out
    assert "The [-safety menace-] was seen by [-consultants-]." in table, table
    assert "The {+security threat+} was seen by {+experts+}." in table, table
    coloured = run_cli(["diff", "--style", "side-by-side", "--color", *RULES, "--all", path]).out
    assert "[-" not in coloured and "\x1b[" in coloured


def test_json_report_of_a_run_that_read_no_file_keeps_its_signature(run_cli, tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    run = run_cli(["check", "--format", "json", "--skip-empty", *RULES, tmp_path / "empty.txt"])
    report = json.loads(run.out)
    assert run.code == ExitCode.OK and report["files"] == [] and report["signature"].startswith("mtfix:")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "--format", "json"],
        ["diff", "--no-color"],
        ["diff", "--style", "unified"],
        ["diff", "--style", "html"],
        ["fix"],
    ],
)
def test_a_report_that_cannot_be_written_is_one_error_line_and_an_input_error(tmp_path, args):
    target = tmp_path / "doc.txt"
    target.write_text(SPUN, encoding="utf-8")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mtfix", *args, "--no-config", str(target)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert proc.returncode == ExitCode.INPUT, proc.stderr
    assert proc.stderr.startswith("mtfix: error:") and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_control_characters_in_a_file_name_are_escaped_in_text_output_and_kept_in_json(run_cli, tmp_path):
    name = "a\x1b[2Jb.txt"
    (tmp_path / name).write_text(SPUN, encoding="utf-8")
    path = str(tmp_path / name)
    shown = path.replace("\x1b", "\\x1b")
    check = run_cli(["check", "--no-config", path])
    assert check.out.splitlines()[0].startswith(shown + ":1:") and "\x1b" not in check.out
    assert json.loads(run_cli(["check", "--no-config", "--format", "json", path]).out)["files"][0]["path"] == path
    fix = run_cli(["fix", "--no-config", path])
    assert fix.err.startswith(f"mtfix: {shown}: ") and "\x1b" not in fix.err
    for style in ("side-by-side", "inline", "html"):
        assert "\x1b" not in run_cli(["diff", "--no-config", "--no-color", "--style", style, path]).out, style
    assert f"+++ b/{path.lstrip('/')}" in run_cli(["diff", "--no-config", "--style", "unified", path]).out
    missing = run_cli(["check", "--no-config", path + "\x07"])
    assert missing.err == f"mtfix: error: {shown}\\x07: no such file\n"
    bell = tmp_path / "bell.txt"
    bell.write_text("A safety menace \x1b[31mgrew\x07.\n", encoding="utf-8")
    page = run_cli(["diff", "--no-config", "--style", "html", str(bell)]).out
    assert "\x1b" not in page and "\x07" not in page and "grew\\x07" in page
