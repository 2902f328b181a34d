"""Shared fixtures: paths, an in-process CLI runner, and readers for ../shared data.

The shared folder (seeds, MLQE-PE) sits beside the repository on developer machines and CI
only; every fixture that needs it skips with the reason when it is absent.
"""

from __future__ import annotations

import io
import sys
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
DATA_DIR = TESTS_DIR / "data"
EXAMPLES_DIR = REPO_DIR / "examples"
SHARED_DIR = TESTS_DIR.parents[1] / "shared"
MLQE_PAIRS = ("et", "ne", "ro", "ru", "si")


def _require_shared(*parts: str) -> Path:
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path} (../shared is only on developer machines and CI)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require_shared()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return _require_shared("seeds")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES_DIR


# ---- MLQE-PE ------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def read_tar_member(tar_path: str, suffix: str) -> tuple[str, ...]:
    """Lines of the one member of `tar_path` whose name ends with `suffix` (e.g. '.pe')."""
    with tarfile.open(tar_path) as tf:
        members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(suffix)]
        if len(members) != 1:
            raise FileNotFoundError(f"{tar_path}: expected one member ending {suffix!r}, found {len(members)}")
        data = tf.extractfile(members[0]).read()
    return tuple(data.decode("utf-8").splitlines())


@lru_cache(maxsize=None)
def _detokenizer():
    sacremoses = pytest.importorskip("sacremoses", reason="sacremoses (extra 'eval'/'dev') detokenises MLQE-PE")
    return sacremoses.MosesDetokenizer(lang="en")


@lru_cache(maxsize=None)
def detokenize_lines(lines: tuple[str, ...]) -> tuple[str, ...]:
    md = _detokenizer()
    return tuple(md.detokenize(line.split()) for line in lines)


@dataclass(frozen=True)
class MLQEPE:
    """Reader for ../shared/data/mlqe-pe: `lines('dev', 'ru', 'pe')` gives natural text.

    side is 'src', 'mt', 'pe', 'hter', ...; English sides ('mt', 'pe') are detokenised unless
    `detokenize=False`. The `test` split is for evaluation only: never tune on it."""

    root: Path

    def tarball(self, split: str, pair: str) -> Path:
        path = self.root / split / f"{pair}-en-{split}.tar.gz"
        if not path.is_file():
            pytest.skip(f"MLQE-PE tarball not available: {path}")
        return path

    def lines(self, split: str, pair: str, side: str, detokenize: bool = True) -> tuple[str, ...]:
        raw = read_tar_member(str(self.tarball(split, pair)), f".{side}")
        if detokenize and side in ("mt", "pe"):
            return detokenize_lines(raw)
        return raw


@pytest.fixture(scope="session")
def mlqe_pe() -> MLQEPE:
    return MLQEPE(_require_shared("data", "mlqe-pe"))


def _join_sentences(sentences) -> str:
    # A segment starting in lower case is a piece of the data set's own sentence split;
    # gluing it after a full stop would fake a broken MT boundary, so it starts a new line.
    out = ""
    for s in sentences:
        if out:
            out += "\n" if s[:1].islower() else " "
        out += s
    return out


def group_documents(sentences, size: int = 20, paragraph: int = 5) -> list[str]:
    """Consecutive sentences joined into documents of `size`, a blank line every `paragraph`."""
    docs = []
    for i in range(0, len(sentences), size):
        chunk = sentences[i : i + size]
        paras = [_join_sentences(chunk[j : j + paragraph]) for j in range(0, len(chunk), paragraph)]
        docs.append("\n\n".join(paras) + "\n")
    return docs


@pytest.fixture(scope="session")
def clean_pe_documents(mlqe_pe) -> list[tuple[str, str]]:
    """(pair, document): the post-edited English of every MLQE-PE dev pair, ~20 sentences each."""
    return [(pair, doc) for pair in MLQE_PAIRS for doc in group_documents(mlqe_pe.lines("dev", pair, "pe"))]


# ---- in-process CLI -----------------------------------------------------------------------


@dataclass
class CliRun:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Call `mtfix.cli.main(args)` and capture its exit code, stdout and stderr.

    `stdin` (bytes or str) feeds '-' inputs."""
    from mtfix.cli import main

    def run(args, stdin: bytes | str | None = None) -> CliRun:
        if stdin is not None:
            data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
