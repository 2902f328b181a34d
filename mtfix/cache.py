"""The user cache directory (MTFIX_CACHE overrides it) and atomic pickle caching."""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("MTFIX_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mtfix"))


def load_pickle(name: str):
    """The cached object, or None when absent or unreadable (a stale or partial cache is
    never an error: the caller rebuilds)."""
    path = cache_dir() / name
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except Exception:
        return None


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
        pass
