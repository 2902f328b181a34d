"""mtfix: find and repair article-spinner and machine-translation damage in English text.

    >>> import mtfix
    >>> mtfix.repair("Officials mentioned a safety menace.").repaired
    'Officials said a security threat.'

Heavy back-ends (torch, transformers, spaCy) are imported only by the stages that need them.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "check", "repair", "Edit", "Result", "Options"]


def __getattr__(name):
    if name in ("Edit", "Result"):
        from . import edit

        return getattr(edit, name)
    if name == "Options":
        from .options import Options

        return Options
    raise AttributeError(name)


def _options(options: dict):
    from .options import ConfigError, Options
    from .pipeline import switch_problem

    base = options.pop("base", None)
    opts = Options.from_kwargs(base, **options)
    problem = switch_problem(opts)
    if problem is not None:  # a misspelt name would silently turn nothing off
        key, name, why = problem
        raise ConfigError(f"{key} {name!r}: {why}")
    return opts


def repair(text: str, **options):
    """Repair `text`; returns a `Result` (original, edits, repaired text, spin score).

    Options: mode ('rules' | 'full'), min_confidence (0-1), apply_all (also apply
    suggestions), rules (extra TSV rule files), disable (rule ids, tables or kinds),
    proposers, scorer, model, device.
    """
    from .pipeline import run

    return run(text, _options(options))


def check(text: str, **options):
    """The edits `repair` would report for `text` (applied or not), in text order."""
    return repair(text, **options).edits
