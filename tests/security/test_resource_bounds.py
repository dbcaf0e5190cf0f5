"""What one client can make the server spend, bounded (an audit of resource exhaustion,
2026-12; each test failed before its fix)."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pytest

from dash_app.analytics_tables import MAX_HOURLY_DAYS, AnalyticsQuery
from switchboard.store import ProvisioningError, ProvisioningStore, passwords
from tests.fixtures.core import Directory
from tests.fixtures.portal import client_session

ACME = "acme.example"


def _sign_in(store: ProvisioningStore, login: str, password: str = "wrong") -> None:
    store.authenticate(login, password, "192.0.2.7", 5, 300, per_account=50, per_address=20)


def _attempts(store: ProvisioningStore) -> list[tuple[str, float]]:
    return list(store._db.execute("select login, at from login_attempt"))


def test_a_login_no_account_could_have_is_neither_stored_nor_hashed(
    directory: Directory,
) -> None:
    """60 sign-ins with a 490 KB login grew the store by 56 MB, and nothing emptied it."""
    store = directory.store
    with pytest.raises(ProvisioningError, match="wrong extension@domain or password"):
        _sign_in(store, "x" * 490_000 + "@acme.example")
    assert _attempts(store) == []
    store._db.execute(
        "insert into login_attempt (login, address, at) values ('old@acme.example', 'a', ?)",
        (time.time() - 3600,),
    )
    with pytest.raises(ProvisioningError):
        _sign_in(store, f"101@{ACME}")
    assert [login for login, _ in _attempts(store)] == [f"101@{ACME}"]  # the old one pruned


class _SlowHasher:
    """Counts how many verifications run at once (each takes 50 ms)."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def verify(self, stored: str, secret: str) -> bool:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        return False

    def hash(self, secret: str) -> str:
        return "$argon2id$fake"


def test_password_checks_run_a_few_at_a_time_and_the_rest_are_told_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """32 sign-ins in flight took a worker from 0.7 to 1.3 GB (64 MiB of Argon2 each)."""
    slow = _SlowHasher()
    monkeypatch.setattr(passwords, "_hasher", slow)
    outcomes: list[Any] = []

    def check() -> None:
        try:
            outcomes.append(passwords.secret_matches("$argon2id$stored", "guess"))
        except passwords.SecretCheckBusy as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=check) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert slow.most == passwords.CONCURRENT_CHECKS
    assert outcomes == [False] * 12  # all waited their turn (12 x 50 ms / 2 < 5 s)
    monkeypatch.setattr(passwords, "CHECK_WAIT_SECONDS", 0.01)
    for _ in range(passwords.CONCURRENT_CHECKS):
        passwords._checks.acquire()
    try:
        with pytest.raises(ProvisioningError, match="too many sign-ins at once"):
            passwords.secret_matches("$argon2id$stored", "guess")
    finally:
        for _ in range(passwords.CONCURRENT_CHECKS):
            passwords._checks.release()


def test_a_year_is_not_drawn_by_the_hour() -> None:
    """A year by the hour: ~8,800 points a chart, ~1 s of a core per request."""
    year, _ = AnalyticsQuery.from_url(
        {"from": "2025-01-01", "to": "2025-12-31", "interval": "hour"}, "UTC", date(2026, 1, 1)
    )
    assert year.interval == "week"
    month, _ = AnalyticsQuery.from_url(
        {"from": "2025-01-01", "to": "2025-01-31", "interval": "hour"}, "UTC", date(2026, 1, 1)
    )
    assert month.period.days == MAX_HOURLY_DAYS and month.interval == "hour"


def test_a_user_has_a_few_downloads_on_the_wire_at_once(client_portal: Any) -> None:
    """48 downloads a client never read held every thread of a worker (another user's
    sign-in waited past 60 s). Open ones count until their response is closed."""
    from flask import Response

    from dash_app.download_slots import SLOTS_PER_USER, in_slot

    with client_session(client_portal, f"101@{ACME}") as client:
        open_ones = [
            client.get("/download/calls.csv", buffered=False) for _ in range(SLOTS_PER_USER)
        ]
        assert [r.status_code for r in open_ones] == [200] * SLOTS_PER_USER
        refused = client.get("/download/calls.csv")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
        assert "Too many downloads at once" in refused.get_data(as_text=True)
        assert in_slot(999_999, lambda: Response("ok")).status_code == 200  # per user
        # finished: its slot comes back (closed last-first: in one thread, the test client's
        # streamed responses hold request contexts that must be popped in that order)
        open_ones.pop().close()
        again = client.get("/download/calls.csv")
        assert again.status_code == 200 and '"caller"' in again.get_data(as_text=True)
        for response in reversed(open_ones):
            response.close()
