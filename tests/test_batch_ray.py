"""`mtfix batch --engine ray` writes the same bytes as the local engine (on a local Ray instance)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # Ray internals

SPUN = "Officials mentioned a safety menace. Consultants said it could also be worse than till not too long ago."
CLEAN = "The council approved the new budget on Tuesday after a long debate."


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="Ray is an extra: pip install 'mtfix[ray]'")
    pytest.importorskip("ray.data", reason="needs ray[data]")
    pytest.importorskip("pyarrow")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def _corpus(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus = root / "corpus"
    (corpus / "drafts").mkdir(parents=True)
    (corpus / "drafts/spun.txt").write_text(SPUN + "\n")
    (corpus / "drafts/clean.txt").write_text(CLEAN + "\n")
    (corpus / "drafts/binary.dat").write_bytes(b"\x00\x01binary")
    rows = [json.dumps({"id": f"j{i}", "text": SPUN if i % 2 else CLEAN, "extra": {"i": i}}) for i in range(12)]
    rows[4] = "{broken"
    rows[7] = json.dumps({"id": "j7", "text": ""})
    (corpus / "rows.jsonl").write_text("\n".join(rows) + "\n")
    texts = [SPUN if i % 3 else CLEAN for i in range(10)]
    texts[2] = None
    pq.write_table(
        pa.table({"id": [f"p{i}" for i in range(10)], "text": texts}), corpus / "table.parquet", row_group_size=3
    )
    return corpus


def _snapshot(out: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if not path.is_file() or "mtfix-tmp" in rel or rel.startswith("_mtfix/plans/"):
            continue
        data = path.read_bytes()
        if rel == "summary.json":
            summary = json.loads(data)
            assert summary.pop("run")["engine"] in ("local", "ray")
            data = json.dumps(summary, sort_keys=True).encode()
        files[rel] = data
    return files


def test_ray_engine_writes_the_same_bytes_as_local(ray_instance, tmp_path, run_cli):
    corpus = _corpus(tmp_path)
    args = ["batch", corpus, "--shard-rows", "5", "--batch-size", "4", "-q", "--no-config"]
    local = run_cli([*args, "--out", tmp_path / "local", "--workers", "0"])
    ray = run_cli([*args, "--out", tmp_path / "ray", "--engine", "ray", "--workers", "1"])
    assert local.code == ray.code == 4, ray.err
    ray_files, local_files = _snapshot(tmp_path / "ray"), _snapshot(tmp_path / "local")
    assert sorted(ray_files) == sorted(local_files)
    assert [name for name in local_files if ray_files[name] != local_files[name]] == []
    # Markers included: a rerun with either engine resumes the other's work.
    again = run_cli([*args, "--out", tmp_path / "ray", "--workers", "0"])
    summary = json.loads((tmp_path / "ray/summary.json").read_text())
    assert again.code == 4 and summary["run"]["shards_processed"] == 0
    assert summary["documents"]["skipped"] == 4 and summary["documents"]["changed"] > 0
