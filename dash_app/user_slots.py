"""How many of something one user may hold at once in this portal process: the counter
behind the download slots (:mod:`dash_app.download_slots`) and the query slots
(:mod:`dash_app.query_slots`), which differ only in their number, whether one more waits,
and what the refused user is told."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable


class UserSlots:
    """At most ``per_user`` held at once by each user; one more waits up to ``wait`` s for
    one of that user's to come back (never for another user's), else is refused."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._held: Counter[int] = Counter()
        self._changed = threading.Condition()

    def take(self, user_id: int, wait: float = 0.0) -> Callable[[], None] | None:
        """A slot's release (idempotent), or None when none came back within ``wait`` s."""
        deadline = time.monotonic() + wait
        with self._changed:
            while self._held[user_id] >= self.per_user:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            self._held[user_id] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._changed:
                self._held[user_id] -= 1
                if self._held[user_id] <= 0:
                    del self._held[user_id]
                self._changed.notify_all()

        return release

    def held(self, user_id: int) -> int:
        """Slots ``user_id`` holds now (for tests and diagnostics)."""
        with self._changed:
            return self._held[user_id]
