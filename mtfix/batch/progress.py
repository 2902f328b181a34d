"""Progress on stderr: a bar (documents, words/s, ETA) on a terminal, a plain line every
`interval` seconds otherwise (logs, CI), nothing with --quiet."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total_documents: int, quiet: bool = False, interval: float = 10.0, stream=None):
        self.total = total_documents
        self.quiet = quiet
        self.interval = interval
        self.stream = stream or sys.stderr
        self.documents = 0
        self.words = 0
        self.started = time.monotonic()
        self.last_line = self.started
        self.bar = None
        if not quiet and total_documents and getattr(self.stream, "isatty", lambda: False)():
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # no monitor thread: the local engine forks workers
            self.bar = tqdm.tqdm(
                total=total_documents,
                unit="doc",
                file=self.stream,
                dynamic_ncols=True,
                smoothing=0.1,
                desc="mtfix batch",
            )

    def advance(self, documents: int, words: int) -> None:
        self.documents += documents
        self.words += words
        if self.bar is not None:
            self.bar.update(documents)
            self.bar.set_postfix_str(f"{self.words_per_second():,.0f} words/s", refresh=False)
        elif not self.quiet and time.monotonic() - self.last_line >= self.interval:
            self.last_line = time.monotonic()
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def words_per_second(self) -> float:
        return self.words / max(self.elapsed(), 1e-9)

    def line(self) -> str:
        elapsed = self.elapsed()
        rate = self.documents / max(elapsed, 1e-9)
        share = f" ({100 * self.documents / self.total:.1f}%)" if self.total else ""
        eta = f", ETA {_clock((self.total - self.documents) / rate)}" if rate and self.total > self.documents else ""
        return (
            f"mtfix batch: {self.documents:,}/{self.total:,} documents{share}, "
            f"{self.words_per_second():,.0f} words/s{eta}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
