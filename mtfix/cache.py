"""The user cache directory (MTFIX_CACHE overrides it) and atomic pickle caching."""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("MTFIX_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mtfix"))


# Entries of one family ("ruleset-<key>.pickle") kept: every new rule file, --disable set or
# mtfix version makes a new key, and a cache that only grows would fill a user's disk.
KEEP_PER_FAMILY = 8


def load_pickle(name: str):
    """The cached object, or None when absent or unreadable (a stale or partial cache is
    never an error: the caller rebuilds)."""
    path = cache_dir() / name
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)
    except Exception:
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return obj


def save_pickle(name: str, obj) -> None:
    """Best effort: a read-only or full cache directory only costs speed."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, directory / name)
    except OSError:
        return
    _prune(directory, name.split("-", 1)[0] + "-")


def _prune(directory: Path, family: str) -> None:
    """Delete all but the KEEP_PER_FAMILY most recently used entries of a family."""
    try:
        entries = sorted(directory.glob(f"{family}*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_PER_FAMILY:]:
            old.unlink()
    except OSError:
        pass  # another process pruned first, or a read-only cache
