"""`mtfix batch`: end-to-end runs on a generated mixed corpus with planted bad documents,
resume after a real SIGKILL, Ctrl-C, worker death, and the JSONL/Parquet field contract."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mtfix
from mtfix.batch.plan import STATE_DIR, _scan_jsonl, _scan_parquet

SPUN = [
    "Officials mentioned a safety menace near the border. Consultants said the risk could also be higher "
    "than it was till not too long ago.",
    "The company mentioned that the safety menace had grown. Consultants expected it could also be worse.",
]
CLEAN = [
    "The council approved the new budget on Tuesday after a long debate.",
    "Rainfall in the region was close to the average for the season.",
]
PLANTED = {  # reason -> documents planted with it (see make_corpus)
    "binary": 1,
    "empty": 2,
    "undecodable": 2,
    "malformed-json": 1,
    "not-an-object": 1,
    "missing-text": 3,
    "text-not-string": 1,
    "too-long": 1,
}
MAX_CHARS = 2000


def make_corpus(root: Path, jsonl_rows: int = 20, parquet_rows: int = 20) -> Path:
    """Text files, a JSONL file and a Parquet file, with every kind of bad document planted."""
    corpus = root / "corpus"
    drafts = corpus / "drafts"
    drafts.mkdir(parents=True)
    (drafts / "spun.txt").write_text(SPUN[0] + "\n", encoding="utf-8")
    (drafts / "clean.md").write_text(CLEAN[0] + "\n", encoding="utf-8")
    (drafts / "bom-crlf.txt").write_bytes(("\ufeff" + SPUN[1] + "\r\nSecond line.\r\n").encode("utf-8"))
    (drafts / "image.bin").write_bytes(b"\x89PNG\x00\x00\x01binary")  # binary
    (drafts / "empty.txt").write_bytes(b"")  # empty
    (drafts / "latin1.txt").write_bytes("\u00c9lodie mentioned a safety menace.".encode("latin-1"))  # undecodable
    lines = []
    for i in range(jsonl_rows):
        lines.append(
            json.dumps(
                {
                    "id": f"j{i}",
                    "text": (SPUN + CLEAN)[i % 4],
                    "lang": "en",
                    "meta": {"n": i, "tags": ["a", "\u00e9"]},
                    "score": 0.5 + i,
                }
            )
        )
    lines[3:3] = [
        '{"id": "bad-json", "text": ',  # malformed-json
        "",  # a blank line: not a document, copied through
        '["an", "array"]',  # not-an-object
        json.dumps({"id": "no-text", "body": "x"}),  # missing-text
        json.dumps({"id": "null-text", "text": None}),  # missing-text
        json.dumps({"id": "num-text", "text": 42}),  # text-not-string
        json.dumps({"id": "blank-text", "text": "   "}),  # empty
        json.dumps({"id": "long", "text": "word " * (MAX_CHARS // 4)}),  # too-long
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    data = data.replace(b'"id": "j7"', b'"id": "j7", "bad": "\xff"', 1)  # undecodable
    (corpus / "rows.jsonl").write_bytes(data)
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [(SPUN + CLEAN)[i % 4] for i in range(parquet_rows)]
    texts[5] = None  # missing-text (null)
    table = pa.table(
        {
            "doc_id": [f"p{i}" for i in range(parquet_rows)],
            "text": texts,
            "year": list(range(2000, 2000 + parquet_rows)),
        }
    )
    pq.write_table(table, corpus / "table.parquet", row_group_size=4)
    return corpus


def batch(run_cli, corpus, out, *extra):
    return run_cli(
        [
            "batch",
            corpus,
            "--out",
            out,
            "--shard-rows",
            "8",
            "--max-chars",
            MAX_CHARS,
            "--workers",
            "0",
            "--id-field",
            "doc_id",
            "-q",
            *extra,
        ]
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def snapshot(out: Path) -> dict[str, bytes]:
    """Every output file (not the job's own state), with summary.json's per-run part removed."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and not rel.startswith("_mtfix/"):
            data = path.read_bytes()
            if rel == "summary.json":
                summary = json.loads(data)
                summary.pop("run")
                data = json.dumps(summary, sort_keys=True).encode()
            files[rel] = data
    return files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    pytest.importorskip("pyarrow")
    return make_corpus(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """One uninterrupted run (in this process, via the CLI entry point) to compare others with."""
    from mtfix.cli import main

    out = tmp_path_factory.mktemp("ref") / "out"
    code = main(
        [
            "batch",
            str(corpus),
            "--out",
            str(out),
            "--shard-rows",
            "8",
            "--max-chars",
            str(MAX_CHARS),
            "--workers",
            "0",
            "--id-field",
            "doc_id",
            "-q",
        ]
    )
    return code, out


def test_end_to_end_mixed_corpus(corpus, reference):
    import pyarrow.parquet as pq

    code, out = reference
    assert code == 4  # finished, with skipped documents
    errors = read_jsonl(out / "errors.jsonl")
    reasons = {}
    for e in errors:
        reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
    assert reasons == PLANTED
    summary = json.loads((out / "summary.json").read_text())
    assert summary["documents"]["skipped"] == sum(PLANTED.values())
    assert summary["documents"]["skipped_by_reason"] == dict(sorted(PLANTED.items()))
    assert summary["complete"] is True and summary["shards"]["failed"] == 0

    # Text files: repaired exactly as `mtfix.repair` does; BOM and CRLF kept; skipped files copied as they are.
    assert (out / "drafts/spun.txt").read_text() == mtfix.repair(SPUN[0] + "\n").repaired
    assert (out / "drafts/spun.txt").read_text() != SPUN[0] + "\n"
    bom = (corpus / "drafts/bom-crlf.txt").read_bytes().decode("utf-8")
    assert (out / "drafts/bom-crlf.txt").read_bytes() == mtfix.repair(bom).repaired.encode("utf-8")
    assert (out / "drafts/bom-crlf.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    for name in ("image.bin", "empty.txt", "latin1.txt", "clean.md"):
        assert (out / "drafts" / name).read_bytes() == (corpus / "drafts" / name).read_bytes()

    # JSONL: one output line per input line, in order; bad lines kept byte for byte.
    in_lines = (corpus / "rows.jsonl").read_bytes().splitlines()
    out_lines = (out / "rows.jsonl").read_bytes().splitlines()
    assert len(out_lines) == len(in_lines)
    assert out_lines[3] == in_lines[3] and out_lines[4] == b"" and out_lines[5] == in_lines[5]
    # Parquet: same rows and columns, plus mtfix; the null text stays null.
    table = pq.read_table(out / "table.parquet")
    assert table.column_names == ["doc_id", "text", "year", "mtfix"]
    assert table.column("year").to_pylist() == list(range(2000, 2020))
    assert table.column("text")[5].as_py() is None
    assert table.column("mtfix")[5].as_py()["skipped"] == "missing-text"

    # edits.jsonl: every readable document exactly once, with its spin score.
    edits = read_jsonl(out / "edits.jsonl")
    ids = [e["id"] for e in edits]
    assert len(ids) == len(set(ids)) == summary["documents"]["repaired"]
    assert {f"p{i}" for i in range(20) if i != 5} <= set(ids)
    bad_line = next(i for i, line in enumerate(in_lines, 1) if b"\xff" in line)
    assert "j7" not in ids and f"rows.jsonl:{bad_line}" in {e["id"] for e in errors}  # no id known
    spun = next(e for e in edits if e["id"] == "drafts/spun.txt")
    assert spun["spin_score"] >= 0.7 and spun["changed"] and any(e["applied"] for e in spun["edits"])
    assert summary["spin_score"]["over_threshold"] == sum(e["spin_score"] >= 0.7 for e in edits)
    assert summary["edits"]["reported"] == sum(len(e["edits"]) for e in edits)
    assert summary["words"] == sum(e["words"] for e in edits)
    assert summary["documents"]["read"] == len(edits) + len(errors)


def test_jsonl_rows_keep_every_other_field(corpus, reference):
    _, out = reference
    in_rows = {
        r["id"]: r
        for r in (
            json.loads(line)
            for line in (corpus / "rows.jsonl").read_bytes().splitlines()
            if line.startswith(b'{"id": "j') and b"\xff" not in line
        )
    }
    out_rows = {}
    for line in (out / "rows.jsonl").read_bytes().splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # the planted bad lines, kept as they were
            continue
        if isinstance(row, dict):
            out_rows[row["id"]] = row
    for key, row in in_rows.items():
        got = out_rows[key]
        assert list(got)[:-1] == list(row) and list(got)[-1] == "mtfix"  # same keys, same order, mtfix last
        assert {k: v for k, v in got.items() if k not in ("text", "mtfix")} == {
            k: v for k, v in row.items() if k != "text"
        }
        assert got["text"] == mtfix.repair(row["text"]).repaired
        assert set(got["mtfix"]) == {"changed", "spin_score", "edits"}
    assert out_rows["no-text"]["mtfix"] == {"skipped": "missing-text", "message": "field 'text' is missing or null"}
    assert out_rows["no-text"]["body"] == "x"


def test_rerun_skips_finished_shards_and_changes_nothing(corpus, reference, tmp_path, run_cli):
    out = tmp_path / "out"
    assert batch(run_cli, corpus, out).code == 4
    first = snapshot(out)
    assert first == snapshot(reference[1])
    assert batch(run_cli, corpus, out).code == 4
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["run"]["shards_processed"] == 0 and summary["run"]["shards_already_done"] == summary["shards"]["total"]
    )
    assert snapshot(out) == first


def test_changed_input_or_option_reprocesses_only_what_changed(corpus, tmp_path, run_cli):
    import shutil

    local = tmp_path / "corpus"
    shutil.copytree(corpus, local)
    out = tmp_path / "out"
    batch(run_cli, local, out)
    (local / "drafts/clean.md").write_text(SPUN[1] + "\n")
    dry = batch(run_cli, local, out, "--dry-run")
    assert "todo  drafts/clean.md (input changed)" in dry.out.splitlines()
    assert sum(line.startswith("todo") for line in dry.out.splitlines()) == 1
    batch(run_cli, local, out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["shards_processed"] == 1
    assert (out / "drafts/clean.md").read_text() == mtfix.repair(SPUN[1] + "\n").repaired
    dry = batch(run_cli, local, out, "--dry-run", "--min-confidence", "0.9")
    todo = [line for line in dry.out.splitlines() if line.startswith("todo")]
    assert todo and all(line.endswith("(options changed)") for line in todo)
    assert not any(line.startswith("done") for line in dry.out.splitlines())


def test_an_input_cut_at_a_shard_boundary_loses_its_cut_rows_in_the_output(tmp_path, run_cli):
    # Every remaining shard is done, so nothing is reprocessed; the joined output must still
    # be rebuilt from the remaining parts, not kept with the rows that were cut off.
    local = tmp_path / "corpus"
    local.mkdir()
    rows = [json.dumps({"id": i, "text": SPUN[i % len(SPUN)]}) + "\n" for i in range(12)]
    (local / "rows.jsonl").write_text("".join(rows))
    out = tmp_path / "out"
    batch(run_cli, local, out, "--shard-rows", "4")
    (local / "rows.jsonl").write_text("".join(rows[:8]))
    again = batch(run_cli, local, out, "--shard-rows", "4")
    assert again.code == 0
    assert [json.loads(x)["id"] for x in (out / "rows.jsonl").read_text().splitlines()] == list(range(8))
    assert json.loads((out / "summary.json").read_text())["run"]["shards_processed"] == 0


def test_edits_jsonl_keeps_ids_as_given_and_places_edits_as_check_does(tmp_path, run_cli):
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = tmp_path / "corpus"
    local.mkdir()
    text = "A quiet start.\n" + SPUN[0]
    (local / "doc.txt").write_text(text)
    (local / "rows.jsonl").write_text(json.dumps({"doc_id": 7, "text": text}) + "\n")
    pq.write_table(pa.table({"doc_id": [7], "text": [text]}), local / "table.parquet")
    out = tmp_path / "out"
    assert batch(run_cli, local, out).code == 0
    by_path = {doc["path"]: doc for doc in read_jsonl(out / "edits.jsonl")}
    assert by_path["rows.jsonl"]["id"] == 7 and by_path["rows.jsonl"]["line"] == 1
    checked = json.loads(run_cli(["check", "--mode", "rules", "--format", "json", local / "doc.txt"]).out)
    want = [{k: v for k, v in e.items() if k != "path"} for e in checked["files"][0]["edits"]]
    assert want and all(e["line"] == 2 for e in want)
    assert by_path["doc.txt"]["edits"] == by_path["rows.jsonl"]["edits"] == by_path["table.parquet"]["edits"] == want
    in_table = pq.read_table(out / "table.parquet").column("mtfix")[0].as_py()["edits"]
    assert [{k: v for k, v in e.items() if v is not None} for e in in_table] == want


def _rows(n: int) -> str:
    return "".join(json.dumps({"doc_id": i, "text": SPUN[i % len(SPUN)]}) + "\n" for i in range(n))


def test_a_file_that_grows_or_shrinks_across_a_shard_boundary_is_rejoined(tmp_path, run_cli):
    local = tmp_path / "corpus"
    local.mkdir()
    out = tmp_path / "out"
    for n in (8, 12, 8, 12):  # one shard (written in place), two (joined from parts), and back
        (local / "rows.jsonl").write_text(_rows(n))
        assert batch(run_cli, local, out).code == 0
        assert [json.loads(x)["doc_id"] for x in (out / "rows.jsonl").read_text().splitlines()] == list(range(n))
        assert [e["id"] for e in read_jsonl(out / "edits.jsonl")] == list(range(n))


def test_a_damaged_joined_output_is_rebuilt(tmp_path, run_cli):
    local = tmp_path / "corpus"
    local.mkdir()
    (local / "rows.jsonl").write_text(_rows(12))
    out = tmp_path / "out"
    assert batch(run_cli, local, out).code == 0
    whole = (out / "rows.jsonl").read_bytes()
    (out / "rows.jsonl").write_bytes(whole[:100])
    assert batch(run_cli, local, out).code == 0
    assert (out / "rows.jsonl").read_bytes() == whole


def test_outputs_of_inputs_no_longer_in_the_job_are_removed(tmp_path, run_cli):
    local = tmp_path / "corpus"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text(SPUN[0])
    (local / "sub" / "b.jsonl").write_text(_rows(12))
    out = tmp_path / "out"
    assert batch(run_cli, local, out).code == 0
    (local / "sub" / "b.jsonl").rename(local / "c.jsonl")
    again = batch(run_cli, local, out)
    assert again.code == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if STATE_DIR not in p.parts and p.is_file())
    assert files == ["a.txt", "c.jsonl", "edits.jsonl", "errors.jsonl", "summary.json"]
    assert len(read_jsonl(out / "edits.jsonl")) == 13


def test_refuses_an_out_folder_it_did_not_write(tmp_path, run_cli, corpus):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.json").write_text("precious")
    assert batch(run_cli, corpus, out).code == 3
    assert (out / "summary.json").read_text() == "precious" and sorted(out.iterdir()) == [out / "summary.json"]


def test_dry_run_writes_nothing(corpus, tmp_path, run_cli):
    out = tmp_path / "out"
    result = batch(run_cli, corpus, out, "--dry-run")
    assert result.code == 0
    assert not out.exists()
    assert "todo  rows.jsonl lines 1-8 (new)" in result.out


def test_suggest_only_writes_edits_but_no_changes(corpus, tmp_path, run_cli):
    out = tmp_path / "out"
    assert batch(run_cli, corpus, out, "--suggest-only").code == 4
    assert (out / "drafts/spun.txt").read_bytes() == (corpus / "drafts/spun.txt").read_bytes()
    edits = read_jsonl(out / "edits.jsonl")
    assert not any(e["changed"] for e in edits)
    assert any(e["applied"] for doc in edits for e in doc["edits"])  # what `fix` would apply
    for row in map(json.loads, (out / "rows.jsonl").read_bytes().splitlines()[:3]):
        assert row["mtfix"]["changed"] is False and row["text"] in SPUN + CLEAN


def test_jsonl_output_changes_only_the_text_and_adds_mtfix(tmp_path, run_cli):
    """Numbers, escapes, spacing and duplicate keys survive; json.dumps(json.loads()) loses all four."""
    lines = [
        '{"id": 1, "text": "old", "score": 1e400, "x": 1.50, "u": "\\u00e9", '
        '"text": "Officials warned of a safety menace."}',
        '{ "text" : "Nothing to fix here." , "mtfix": 7 }',
        '{"text": 5}',
        "{}",
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in/rows.jsonl").write_text("\r\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli(["batch", tmp_path / "in", "--out", tmp_path / "out", "--mode", "rules", "-q"])
    assert result.code == 4  # two rows skipped
    out = (tmp_path / "out/rows.jsonl").read_bytes().decode("utf-8").split("\r\n")
    assert out[0].startswith(
        '{"id": 1, "text": "old", "score": 1e400, "x": 1.50, "u": "\\u00e9", '
        '"text": "Officials warned of a security threat.","mtfix":{"changed":true,'
    )
    assert out[1].startswith('{ "text" : "Nothing to fix here." , "mtfix": {"changed":false,')
    assert out[2].startswith('{"text": 5,"mtfix":{"skipped":"text-not-string"')
    assert out[3].startswith('{"mtfix":{"skipped":"missing-text"') and out[3].endswith("}\n")


def test_jsonl_rewrite_keeps_a_lone_surrogate_escaped():
    from mtfix.batch.jsonline import member_spans, rewrite_bytes

    line = '{"a": [1, {"b": "}"}], "text": "x\\ud800"}'
    assert [key for key, _, _ in member_spans(line)] == ["a", "text"]
    assert json.loads(rewrite_bytes(line, {"text": "y\ud800"})) == {"a": [1, {"b": "}"}], "text": "y\ud800"}


def test_jsonl_in_an_encoding_without_ascii_newlines_is_refused(tmp_path, run_cli):
    (tmp_path / "rows.jsonl").write_text('{"text": "Officials mentioned it."}\n', encoding="utf-16")
    result = run_cli(["batch", tmp_path / "rows.jsonl", "--out", tmp_path / "out", "--mode", "rules", "--encoding", "utf-16"])
    assert result.code == 3 and "JSONL must be in UTF-8" in result.err and not (tmp_path / "out").exists()


def test_refuses_to_start(corpus, tmp_path, run_cli):
    assert batch(run_cli, corpus, corpus / "out").code == 3  # --out inside the input tree
    assert not (corpus / "out").exists()
    assert batch(run_cli, tmp_path / "missing", tmp_path / "out").code == 3
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    assert batch(run_cli, nothing, tmp_path / "out").code == 3
    assert batch(run_cli, corpus, tmp_path / "out", "--encoding", "no-such-codec").code == 2
    if sys.platform != "win32":  # a second job on the same --out waits its turn
        import fcntl

        (tmp_path / "busy/_mtfix").mkdir(parents=True)
        with open(tmp_path / "busy/_mtfix/lock", "a+") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            result = batch(run_cli, corpus, tmp_path / "busy")
        assert result.code == 3 and "another mtfix batch is writing to" in result.err
        assert batch(run_cli, corpus, tmp_path / "busy").code == 4


def test_clean_folder_exits_zero_and_globs(tmp_path, run_cli):
    folder = tmp_path / "drafts"
    folder.mkdir()
    (folder / "a.txt").write_text(SPUN[0])
    (folder / "b.txt").write_text(CLEAN[1])
    (folder / "notes.log").write_bytes(b"\x00binary")
    (folder / ".hidden.txt").write_text(SPUN[1])
    result = run_cli(["batch", folder, "--out", tmp_path / "out", "--glob", "*.txt", "--workers", "0"])
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "_mtfix",
        "a.txt",
        "b.txt",
        "edits.jsonl",
        "errors.jsonl",
        "summary.json",
    ]
    assert "2 documents read, 1 changed, 0 skipped" in result.err
    (folder / "sub").mkdir()
    (folder / "sub" / "c.txt").write_text(CLEAN[0])
    again = run_cli(["batch", folder, "--out", tmp_path / "out", "--glob", "**/*.txt", "--workers", "0"])
    assert again.code == 0 and "3 documents read" in again.err  # '**/' matches the top folder too


def test_repair_records_is_pure_and_passes_bad_records_through():
    from mtfix.batch import repair_records
    from mtfix.options import Options

    records = [{"id": "a", "text": SPUN[0], "error": None}, {"id": "b", "text": None, "error": ["empty", "x"]}]
    before = json.dumps(records)
    out = repair_records(records, Options())
    assert json.dumps(records) == before
    assert out[1] is records[1]
    assert out[0]["repaired"] == mtfix.repair(SPUN[0]).repaired and out[0]["changed"]
    assert out[0]["words"] == len(SPUN[0].split())


def test_local_pool_matches_in_process_run(corpus, reference, tmp_path, run_cli):
    out = tmp_path / "out"
    result = run_cli(
        [
            "batch",
            corpus,
            "--out",
            out,
            "--shard-rows",
            "8",
            "--max-chars",
            MAX_CHARS,
            "--workers",
            "2",
            "--id-field",
            "doc_id",
            "--progress-interval",
            "0",
        ]
    )
    assert result.code == 4
    assert "mtfix batch: " in result.err and "documents" in result.err
    assert snapshot(out) == snapshot(reference[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the patch reaches workers by fork")
def test_a_dying_worker_fails_only_its_shard(tmp_path, monkeypatch, run_cli):
    """A worker killed mid-shard (here: os._exit on a poisoned document) costs that shard only."""
    import mtfix.batch.local as local

    real = local.repair_records

    def poisoned(records, options, suggest_only=False):
        if any("POISON" in (r.get("text") or "") for r in records):
            os._exit(9)
        return real(records, options, suggest_only)

    monkeypatch.setattr(local, "repair_records", poisoned)
    monkeypatch.setattr(local, "_mp_context", lambda: multiprocessing.get_context("fork"))  # carries the patch
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        (folder / f"d{i}.txt").write_text("POISON here." if i == 2 else CLEAN[i % 2])
    result = run_cli(["batch", folder, "--out", tmp_path / "out", "--workers", "2", "-q"])
    assert result.code == 4
    errors = read_jsonl(tmp_path / "out/errors.jsonl")
    assert [(e["path"], e["reason"]) for e in errors] == [("d2.txt", "shard-failed")]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["shards"] == {"total": 6, "done": 5, "failed": 1, "files_skipped": 0}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the patch reaches workers by fork")
def test_workers_that_cannot_load_the_pipeline_stop_the_job(tmp_path, monkeypatch, run_cli):
    import mtfix.batch.local as local

    def broken(options):
        raise ImportError("no model at /models/x")

    monkeypatch.setattr(local, "warm_up", broken)
    monkeypatch.setattr(local, "_mp_context", lambda: multiprocessing.get_context("fork"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(SPUN[0])
    result = run_cli(["batch", folder, "--out", tmp_path / "out", "--workers", "1", "-q"])
    assert result.code == 3
    assert "could not load the repair pipeline: ImportError: no model at /models/x" in result.err
    assert not (tmp_path / "out/a.txt").exists() and not (tmp_path / "out/summary.json").exists()


# ---- a real SIGKILL and a real Ctrl-C -----------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _start(corpus: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, MTFIX_BATCH_SLOWDOWN="0.05", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtfix",
            "batch",
            str(corpus),
            "--out",
            str(out),
            "--shard-rows",
            "10",
            "--workers",
            "1",
            "--no-config",
            "--progress-interval",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for_markers(proc: subprocess.Popen, out: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(list(out.glob("_mtfix/shards/*.done.json"))) < count:
        if proc.poll() is not None:
            pytest.fail(f"batch ended early ({proc.returncode}): {proc.stdout.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no shard finished in time")
        time.sleep(0.02)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_resume_after_sigkill_and_ctrl_c_loses_and_duplicates_nothing(tmp_path, run_cli):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [{"id": f"r{i}", "text": (SPUN + CLEAN)[i % 4], "n": i} for i in range(80)]
    (corpus / "big.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"

    proc = _start(corpus, out)  # 8 shards of 10 rows, 0.5 s each
    _wait_for_markers(proc, out, 1)
    time.sleep(0.2)  # mid-way through the next shard
    assert proc.poll() is None
    workers = _children(proc.pid)
    if Path(f"/proc/{proc.pid}/task/{proc.pid}/children").exists():
        assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("_mtfix/shards/*.done.json")))
    assert 1 <= done < 8
    for pid in workers:  # the workers die with their driver instead of writing on
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
            if "State:\tZ" in status:
                break
            time.sleep(0.05)
        assert not Path(f"/proc/{pid}").exists() or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    assert not (out / "big.jsonl").exists()  # nothing half-done looks finished

    proc = _start(corpus, out)  # resumes; interrupted again, this time by Ctrl-C
    _wait_for_markers(proc, out, done + 1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    log = proc.stdout.read().decode()
    assert f"{8 - done} shards ({(8 - done) * 10} documents) to process, {done} already done" in log
    assert "run the same command again to resume" in log
    assert not list(out.rglob("*.mtfix-tmp"))

    result = run_cli(["batch", corpus, "--out", out, "--shard-rows", "10", "--workers", "0", "--no-config"])
    assert result.code == 0, result.err
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["run"]["shards_processed"] < 8
    assert [r["id"] for r in read_jsonl(out / "big.jsonl")] == [f"r{i}" for i in range(80)]
    assert [e["id"] for e in read_jsonl(out / "edits.jsonl")] == [f"big.jsonl:{i + 1}" for i in range(80)]
    fresh = tmp_path / "fresh"
    run_cli(["batch", corpus, "--out", fresh, "--shard-rows", "10", "--workers", "0", "--no-config"])
    assert snapshot(out) == snapshot(fresh)


# ---- shard planning -----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    trailing_newline=st.booleans(),
    shard_rows=st.integers(1, 7),
)
def test_jsonl_shards_cover_the_file_exactly(tmp_path_factory, lines, trailing_newline, shard_rows):
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = tmp_path_factory.mktemp("scan") / "f.jsonl"
    path.write_bytes(data)
    shards = _scan_jsonl(str(path), shard_rows)
    assert shards[0][0] == 0 and shards[0][2] == 0 and shards[-1][3] == len(data)
    for (s0, s1, a0, a1, digest), nxt in zip(shards, shards[1:] + [None]):
        assert digest == hashlib.sha256(data[a0:a1]).hexdigest()
        assert (
            data[a0:a1].count(b"\n") + (1 if a1 == len(data) and data[a0:a1] and not data.endswith(b"\n") else 0)
            == s1 - s0
        )
        if nxt is not None:
            assert (nxt[0], nxt[2]) == (s1, a1) and s1 - s0 == shard_rows
    assert shards[-1][1] == data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(st.integers(0, 9), min_size=1, max_size=6), shard_rows=st.integers(1, 5))
def test_parquet_shards_cover_every_row_once_and_cut_only_groups_bigger_than_a_shard(
    tmp_path_factory, groups, shard_rows
):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    path = tmp_path_factory.mktemp("scan") / "t.parquet"
    schema = pa.schema([("text", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for n in groups:
            writer.write_table(pa.table({"text": [f"r{i}" for i in range(n)]}, schema=schema))
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    starts = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
    shards = _scan_parquet(str(path), shard_rows)
    assert shards[0][0] == 0 and shards[-1][1] == starts[-1]
    for (s0, s1, g0, g1, _), nxt in zip(shards, shards[1:] + [None]):
        assert g0 < g1 or sizes == [] and (s0, s1) == (0, 0)
        if g1 == g0 + 1 and sizes[g0] > shard_rows:  # a piece of a cut group
            assert starts[g0] <= s0 < s1 <= starts[g1] and s1 - s0 <= shard_rows
            assert s1 - s0 >= sizes[g0] // -(-sizes[g0] // shard_rows)  # near-equal pieces
        else:  # whole groups, none bigger than a shard
            assert (s0, s1) == (starts[g0], starts[g1]) and max(sizes[g0:g1]) <= shard_rows
        if nxt is not None:
            assert nxt[0] == s1


@pytest.mark.parametrize("read_rows", [1024, 3])
def test_a_parquet_file_in_one_row_group_is_cut_into_shards_with_the_same_output(
    tmp_path, run_cli, monkeypatch, read_rows
):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    # Read in batches smaller than a shard too, so a shard starts and ends inside a batch.
    monkeypatch.setattr("mtfix.batch.records._PARQUET_READ_ROWS", read_rows)

    corpus = tmp_path / "in"
    corpus.mkdir()
    texts = [(SPUN + CLEAN)[i % 4] for i in range(25)]
    texts[7] = None
    table = pa.table({"doc_id": [f"p{i}" for i in range(25)], "text": texts, "n": list(range(25))})
    pq.write_table(table, corpus / "one.parquet")  # one row group of 25 rows
    pq.write_table(table, corpus / "mixed.parquet", row_group_size=11)  # 11 + 11 + 3
    outs = {}
    for shard_rows in ("4", "100"):
        out = tmp_path / f"out{shard_rows}"
        result = run_cli(["batch", corpus, "--out", out, "--shard-rows", shard_rows, "--workers", "0",
                          "--id-field", "doc_id", "--no-config", "-q"])
        assert result.code == 4  # the null text is skipped
        outs[shard_rows] = out
    summary = json.loads((outs["4"] / "summary.json").read_text())
    assert summary["shards"]["total"] == 7 + 7  # 25 rows in 7 pieces; 11 + 11 + 3 in 3 + 3 + 1
    assert json.loads((outs["100"] / "summary.json").read_text())["shards"]["total"] == 2
    for name in ("edits.jsonl", "errors.jsonl"):
        assert (outs["4"] / name).read_bytes() == (outs["100"] / name).read_bytes()
    for name in ("one.parquet", "mixed.parquet"):
        got = pq.read_table(outs["4"] / name)  # row groups differ: one per shard
        assert got.equals(pq.read_table(outs["100"] / name))
        assert got.column("n").to_pylist() == list(range(25))
        want = [None if t is None else mtfix.repair(t).repaired for t in texts]
        assert got.column("text").to_pylist() == want
    edits = read_jsonl(outs["4"] / "edits.jsonl")
    assert [e["id"] for e in edits] == [f"p{i}" for i in range(25) if i != 7] * 2


def test_workers_share_the_cores_for_torch_unless_the_user_chose(monkeypatch):
    from mtfix.batch.local import share_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("MTFIX_THREADS", raising=False)
    share_cores(2)
    assert os.environ["MTFIX_THREADS"] == "4"
    monkeypatch.delenv("MTFIX_THREADS")
    share_cores(16)
    assert os.environ["MTFIX_THREADS"] == "1"
    monkeypatch.setenv("MTFIX_THREADS", "3")
    share_cores(2)
    assert os.environ["MTFIX_THREADS"] == "3"


def _worker_that_reports_progress(queue, parent_pid: int) -> None:
    import mtfix.batch.local as local

    local._init_worker(None, queue, parent_pid)
    queue.put((1, 10))  # its queue thread now waits for a write lock nobody will release


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_a_worker_exits_even_when_a_dead_worker_holds_the_progress_queue_lock():
    """A worker killed while its queue thread held the progress queue's shared write lock
    (here: the lock taken and never given back) must not keep the others from exiting."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    queue._wlock.acquire()  # as a worker that died mid-write left it
    worker = ctx.Process(target=_worker_that_reports_progress, args=(queue, os.getpid()))
    worker.start()
    worker.join(timeout=20)
    stuck = worker.exitcode is None
    if stuck:
        worker.kill()
        worker.join()
    queue._wlock.release()
    assert not stuck, "the worker hung at exit, waiting to flush its progress"


def test_jsonl_lines_kept_as_they_are_join_the_output_in_utf8_and_deep_nesting_is_one_bad_line(tmp_path, run_cli):
    (tmp_path / "in").mkdir()
    deep = '{"a":' + "[" * 100_000 + "]" * 100_000 + ',"text":"x"}'
    lines = ['{"text":"Officials warned of a safety menace.","who":"Jos\xe9"}', '["Jos\xe9"]', deep, '{"text":"Fine."}']
    (tmp_path / "in/rows.jsonl").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    result = run_cli(["batch", tmp_path / "in", "--out", tmp_path / "out", "--mode", "rules", "--encoding", "latin-1", "-q"])
    assert result.code == 4  # the array and the deep line are skipped; nothing else is lost
    out = (tmp_path / "out/rows.jsonl").read_bytes().decode("utf-8").splitlines()
    assert len(out) == 4 and out[1] == '["Jos\xe9"]' and json.loads(out[3])["text"] == "Fine."


@pytest.mark.parametrize("encoding,bom", [("utf-8-sig", b"\xef\xbb\xbf"), ("utf-16", b"\xff\xfe")])
def test_a_text_file_with_a_byte_order_mark_keeps_exactly_one(tmp_path, run_cli, encoding, bom):
    (tmp_path / "in").mkdir()
    body = "Officials warned of a safety menace.\n"
    data = bom + body.encode("utf-8" if encoding == "utf-8-sig" else "utf-16-le")
    (tmp_path / "in/doc.txt").write_bytes(data)
    result = run_cli(["batch", tmp_path / "in", "--out", tmp_path / "out", "--mode", "rules", "--encoding", encoding, "-q"])
    assert result.code == 0, result.err
    out = (tmp_path / "out/doc.txt").read_bytes()
    assert out.startswith(bom) and not out[len(bom):].startswith(bom), out[:8]
    assert out[len(bom):].decode("utf-8" if encoding == "utf-8-sig" else "utf-16-le") == body.replace(
        "safety menace", "security threat"
    )
