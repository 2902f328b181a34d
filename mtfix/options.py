"""Repair options, and project configuration (`[tool.mtfix]` in pyproject.toml or `.mtfix.toml`)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MODES = ("rules", "full")
DEFAULT_MIN_CONFIDENCE = 0.5


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Options:
    """Everything that changes what a repair does. Hashable, so stages can cache on it."""

    mode: str = "rules"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    apply_all: bool = False
    rules: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    # Proposers run on top of the mode's own (opt-in ones such as "restorer").
    enable: tuple[str, ...] = ()
    # Words and phrases never to touch (names, house terms): no edit may overlap them.
    ignore: tuple[str, ...] = ()
    proposers: tuple[str, ...] | None = None
    scorer: str | None = None
    model: str | None = None
    device: str = "auto"
    tables: tuple[str, ...] = ("news", "tortured")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1], got {self.min_confidence}")

    @classmethod
    def from_kwargs(cls, base: "Options | None" = None, **kwargs) -> "Options":
        base = base or cls()
        names = {f.name for f in fields(cls)}
        unknown = set(kwargs) - names
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        clean = {}
        for k, v in kwargs.items():
            if v is None and k not in ("proposers", "scorer", "model"):
                continue
            if k in ("rules", "disable", "enable", "ignore", "proposers", "tables") and v is not None:
                v = (v,) if isinstance(v, str) else tuple(str(x) for x in v)
            clean[k] = v
        return replace(base, **clean)

    def to_config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_CONFIG_KEYS = {
    "mode": str,
    "min_confidence": float,
    "min-confidence": float,
    "all": bool,
    "rules": list,
    "disable": list,
    "enable": list,
    "ignore": list,
    "ignore_file": str,
    "proposers": list,
    "model": str,
    "device": str,
}


def find_config(start: Path | None = None) -> Path | None:
    """The nearest `.mtfix.toml`, or pyproject.toml with a [tool.mtfix] table, walking upwards."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        dotfile = d / ".mtfix.toml"
        if dotfile.is_file():
            return dotfile
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8-sig"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                # Stop here, as ruff does: a broken file may hold this project's settings, and
                # a folder further up must not stand in for them unnoticed (load_config says why).
                return pyproject
            tool = data.get("tool")
            if isinstance(tool, dict) and "mtfix" in tool:
                return pyproject
    return None


def read_ignore_file(path: Path) -> list[str]:
    """One word or phrase per line; blank lines and '#' comments are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the ignore file ({exc.__class__.__name__})") from None
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def load_config(path: Path) -> Options:
    """Options from a config file; relative rule paths are relative to the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("mtfix", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool] mtfix must be a table ([tool.mtfix])")
    else:
        table = data
    kwargs = {}
    for key, value in table.items():
        if key not in _CONFIG_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(_CONFIG_KEYS))})")
        want = _CONFIG_KEYS[key]
        if want is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, want):
            raise ConfigError(f"{path}: {key} must be a {want.__name__}")
        name = {"all": "apply_all", "min-confidence": "min_confidence"}.get(key, key)
        if name == "rules":
            value = [str((path.parent / v).resolve()) for v in value]
        if name == "ignore_file":
            name, value = "ignore", [*kwargs.get("ignore", ()), *read_ignore_file(path.parent / value)]
        elif name == "ignore":
            value = [*kwargs.get("ignore", ()), *value]
        kwargs[name] = value
    try:
        return Options.from_kwargs(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
