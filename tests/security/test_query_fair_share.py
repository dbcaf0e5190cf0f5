"""One user's share of the portal's query work (an audit of resource exhaustion, 2026-12:
16 concurrent year-long Analytics loops of one plain user took 1.8 of 2 cores and another
user's Call History went from 0.03 to 3.8 s median). Failed before dash_app.query_slots."""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.fixtures.portal import client_session, page_layout
from tests.security.test_portal_crafted_params import grid_request

ACME = "acme.example"
YEAR = "/analytics?from=2025-01-01&to=2025-12-31"
SESSION_COOKIE = "switchboard_session"


class _HeldQueries:
    """Stands in for the Analytics page's first query: counts who is in it at once and keeps
    each caller there until ``go`` is set (so the test, not the clock, decides overlap)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.go = threading.Event()

    def __call__(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        from pipeline.warehouse import scope_of

        scope = scope_of(conn)
        who = str(scope.extension if scope is not None else None)
        with self.lock:
            self.now[who] += 1
            self.most[who] = max(self.most[who], self.now[who])
        try:
            self.go.wait(30)
            return self.real(conn, *args, **kwargs)
        finally:
            with self.lock:
                self.now[who] -= 1


def _same_session(app: Any, signed_in: Any) -> Any:
    """Another test client (one per thread) carrying ``signed_in``'s session."""
    client = app.server.test_client()
    client.open = functools.partial(client.open, buffered=True)
    cookie = signed_in.get_cookie(SESSION_COOKIE)
    client.set_cookie(SESSION_COOKIE, cookie.value)
    return client


def test_one_user_s_concurrent_queries_are_held_to_their_slots_while_others_are_served(
    client_portal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight Analytics pages of one plain user at once: two query, the others are told busy
    in the page; another user's Call History is answered meanwhile."""
    from dash_app import query_slots
    from pipeline import metrics

    held = _HeldQueries(metrics.prepare)
    monkeypatch.setattr(metrics, "prepare", held)
    monkeypatch.setattr(query_slots, "WAIT_SECONDS", 0.3)
    slots = query_slots.SLOTS.per_user
    flood = 8
    answers: list[tuple[int, str]] = []

    with (
        client_session(client_portal, f"101@{ACME}") as user,
        client_session(client_portal, f"102@{ACME}") as other,
    ):
        week = grid_request("calls", {"startRow": 0, "endRow": 100}, {"from": "2025-03-10"})
        assert other.post("/_dash-update-component", json=week).status_code == 200  # warm

        def load_page() -> None:
            response = page_layout(_same_session(client_portal, user), YEAR)
            answers.append((response.status_code, response.get_data(as_text=True)))

        threads = [threading.Thread(target=load_page) for _ in range(flood)]
        for t in threads:
            t.start()
        # Every request is either in the query or answered (a generous bound: a loaded box).
        deadline = time.monotonic() + 30
        while held.now["101"] + len(answers) < flood and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            assert held.most["101"] == slots  # the bound: never more of them at once
            busy = [text for status, text in answers if status == 200 and "Busy" in text]
            assert len(busy) == flood - slots and "try again in a moment" in busy[0]
            # Meanwhile another user is served, without waiting for the first one's slots.
            started = time.monotonic()
            served = other.post("/_dash-update-component", json=week)
            assert served.status_code == 200 and "c01" in served.get_data(as_text=True)
            assert time.monotonic() - started < 5.0
            # A callback that is not a page is refused plainly: 429, try again later.
            refused = user.post("/_dash-update-component", json=week)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
        finally:
            held.go.set()
            for t in threads:
                t.join(30)
        assert sorted(status for status, _ in answers) == [200] * flood  # no 500
        assert sum("analytics-tiles" in text for _, text in answers) == slots
        # The slots came back: the next page of that user queries again.
        again = page_layout(user, YEAR)
        assert again.status_code == 200 and "analytics-tiles" in again.get_data(as_text=True)
        assert query_slots.SLOTS.held(_user_id(client_portal, "101")) == 0


def test_a_download_of_a_busy_user_is_refused_plainly(
    client_portal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route (here the Call History's CSV) of a user with every slot in use: 429, no 500."""
    from dash_app import query_slots

    monkeypatch.setattr(query_slots, "WAIT_SECONDS", 0.05)
    with client_session(client_portal, f"101@{ACME}") as user:
        assert user.get("/download/calls.csv").status_code == 200
        releases = []
        user_id = _user_id(client_portal, "101")
        for _ in range(query_slots.SLOTS.per_user):
            releases.append(query_slots.SLOTS.take(user_id, 0))
        try:
            refused = user.get("/download/calls.csv")
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
            assert "try again in a moment" in refused.get_data(as_text=True)
        finally:
            for release in releases:
                release()
        assert user.get("/download/calls.csv").status_code == 200


def _user_id(app: Any, extension: str) -> int:
    from dash_app.auth import portal

    with app.server.app_context():
        state = portal()
        with state.store_lock:
            return int(state.store.user(ACME, extension).id)


def test_a_home_card_of_a_busy_user_says_busy_not_broken(
    client_portal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home's recent calls with every slot of the user in use (Home open in more tabs): the
    busy notice in the card, not "unavailable" and a traceback in the log."""
    from dash_app import query_slots

    monkeypatch.setattr(query_slots, "WAIT_SECONDS", 0.05)
    recent = {
        "output": "home-recent-calls.children",
        "outputs": {"id": "home-recent-calls", "property": "children"},
        "inputs": [{"id": "home-refresh", "property": "n_intervals", "value": 1}],
        "changedPropIds": ["home-refresh.n_intervals"],
    }
    with client_session(client_portal, f"101@{ACME}") as user:
        user_id = _user_id(client_portal, "101")
        releases = [query_slots.SLOTS.take(user_id, 0) for _ in range(query_slots.SLOTS.per_user)]
        try:
            answer = user.post("/_dash-update-component", json=recent)
        finally:
            for release in releases:
                release()
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        assert "try again in a moment" in text and "unavailable" not in text
        served = user.post("/_dash-update-component", json=recent).get_data(as_text=True)
        assert "try again in a moment" not in served and "unavailable" not in served
