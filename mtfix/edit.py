"""The one data type that flows through every stage: an `Edit` into the original text."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Iterable

from .text import has_line_break, one_line

KINDS = (
    "synonym-swap",
    "function-word",
    "tortured-phrase",
    "reordering",
    "mt-pronoun",
    "mt-boundary",
    "mt-fragment",
    "mt-other",
)


@dataclass(frozen=True)
class Edit:
    """A proposed change to ``original[start:end]``.

    Offsets are character offsets (Python ``str`` indices) into the ORIGINAL text,
    end exclusive, so an edit stays meaningful whatever other edits are applied.
    ``replacement`` may be ``None`` for a flag without a fix (e.g. a verbless
    fragment the tool cannot rewrite safely).
    """

    start: int
    end: int
    found: str
    replacement: str | None
    kind: str
    source: str
    confidence: float
    auto: bool
    reason: str
    alternatives: tuple[str, ...] = field(default=())

    @property
    def phrase_start(self) -> int:
        """Where a report places the edit: its start, or for a phrase whose line break moved
        before it, where its first word starts (past the spaces the edit took in there, see
        `text.widen_over_moved_break`)."""
        if (self.replacement or "")[:1] in ("\r", "\n"):
            return self.start + len(self.found) - len(self.found.lstrip(" \t"))
        return self.start

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad edit span {self.start}:{self.end}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")
        if has_line_break(self.reason):
            # A reason is one report line, whatever a proposer quoted from hard-wrapped text.
            object.__setattr__(self, "reason", one_line(self.reason))

    @property
    def fixable(self) -> bool:
        return self.replacement is not None and self.replacement != self.found

    def overlaps(self, other: "Edit") -> bool:
        if self.start == self.end or other.start == other.end:
            # Pure insertions collide only when at the same point or strictly inside.
            return other.start < self.start < other.end or self.start < other.start < self.end or (
                self.start == other.start
            )
        return self.start < other.end and other.start < self.end

    def with_(self, **changes) -> "Edit":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["alternatives"] = list(self.alternatives)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Edit":
        d = dict(d)
        d["alternatives"] = tuple(d.get("alternatives") or ())
        return cls(**d)


@dataclass
class Result:
    """The outcome of a repair: the original, every edit found, and the repaired text."""

    original: str
    edits: list[Edit]
    repaired: str
    applied: list[Edit]
    spin_score: float = 0.0
    signature: str = ""

    @property
    def changed(self) -> bool:
        return self.repaired != self.original

    def to_dict(self) -> dict:
        return {
            "spin_score": round(self.spin_score, 4),
            "changed": self.changed,
            "edits": [dict(e.to_dict(), applied=e in self.applied) for e in self.edits],
            "signature": self.signature,
        }


def sort_edits(edits: Iterable[Edit]) -> list[Edit]:
    return sorted(edits, key=lambda e: (e.start, e.end, e.source))
