"""A progress bar for long CLI work that shows on a terminal and stays quiet when piped.

The bar goes to stderr and only when stderr is a terminal, so a script
reading stdout (``--json``, an export to ``-``) or a log file never sees it.
``Progress`` counts steps the caller reports; ``Progress.timed`` fills by
elapsed time for work of a known duration that reports nothing until it ends
(demo traffic); ``Progress.ticking`` counts seconds when even that is unknown.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from cli.output import unguarded

WIDTH = 30


class Progress:
    """``with Progress(total, "importing") as bar: bar.advance()``."""

    def __init__(
        self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self.unit = ""  # after the count when there is no total (" s": seconds)
        # past the guard: the bar's \r is ours, and its label a constant of the command
        self.stream = stream or unguarded(sys.stderr)
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self.done = min(self.done + steps, self.total) if self.total else self.done + steps
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        if self.total:
            filled = WIDTH * self.done // self.total
            bar = "#" * filled + "-" * (WIDTH - filled)
            text = f"\r{self.label} [{bar}] {self.done}/{self.total}"
        else:
            text = f"\r{self.label} {self.done}{self.unit}"
        self.stream.write(text)
        self.stream.flush()

    @classmethod
    def timed(cls, seconds: float, label: str, **kwargs: object) -> Progress:
        """A bar that fills over ``seconds`` (in 1% steps) until the ``with`` block ends."""
        bar = cls(100, label, **kwargs)  # type: ignore[arg-type]
        if bar.enabled:

            def tick() -> None:
                start = time.monotonic()
                while not bar._stop.wait(0.2):
                    share = min(99, int(100 * (time.monotonic() - start) / max(seconds, 0.1)))
                    bar.advance(share - bar.done)

            bar._ticker = threading.Thread(target=tick, daemon=True)
        return bar

    @classmethod
    def ticking(cls, label: str, **kwargs: object) -> Progress:
        """Seconds elapsed, for work whose size is unknown until it ends (a calls export)."""
        bar = cls(0, label, **kwargs)  # type: ignore[arg-type]
        bar.unit = " s"
        if bar.enabled:

            def tick() -> None:
                while not bar._stop.wait(1.0):
                    bar.advance()

            bar._ticker = threading.Thread(target=tick, daemon=True)
        return bar

    def __enter__(self) -> Progress:
        if self._ticker is not None:
            self._ticker.start()
        with self._lock:
            self._draw()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.enabled:
            if exc_type is None and self.total:
                with self._lock:
                    self.done = self.total
                    self._draw()
            self.stream.write("\n")
            self.stream.flush()
