"""Portal pieces tested without a browser: pure helpers and callbacks called directly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import pytest
from flask_login import login_user

from dash_app.auth import PortalUser, load_secret_key, safe_next
from dash_app.layout import call_view, format_duration, format_local, party_label
from switchboard.settings import Settings
from switchboard.store import User
from tests.fixtures.core import make_settings, seeded_settings
from tests.fixtures.portal import ACME_CALLS, CALLS_OF_101, PORTAL_CALLS, build_lake


# -- who sees a call how ---------------------------------------------------------
def _row(direction: str, caller: str, callee: str, disposition: str, answered_by: str = "") -> Any:
    return {
        "direction": direction,
        "caller": caller,
        "callee": callee,
        "disposition": disposition,
        "answered_by": answered_by or None,
    }


@pytest.mark.parametrize(
    ("row", "viewer", "view"),
    [
        (_row("internal", "101", "102", "answered", "102"), "101", "outgoing"),
        (_row("internal", "101", "102", "answered", "102"), "102", "incoming"),
        (_row("internal", "101", "102", "cancelled"), "102", "missed"),
        (_row("internal", "101", "102", "busy"), "101", "outgoing"),  # my own failed call
        (_row("internal", "100", "101", "voicemail"), "101", "missed"),
        (_row("inbound", "+1555", "101", "answered", "101"), "101", "incoming"),
        (_row("inbound", "+1555", "101", "missed"), "101", "missed"),
        (_row("outbound", "101", "+1555", "answered", "+1555"), "101", "outgoing"),
        # picked up by a colleague (e.g. forwarded) still rang here: received, not missed
        (_row("inbound", "+1555", "101", "answered", "103"), "101", "incoming"),
        # a manager looking at calls they took no part in
        (_row("inbound", "+1555", "102", "busy"), "100", "missed"),
        (_row("internal", "102", "103", "answered", "103"), "100", "internal"),
        (_row("outbound", "102", "+1555", "failed"), "100", "outgoing"),
    ],
)
def test_call_view_is_relative_to_the_viewer(row: Any, viewer: str, view: str) -> None:
    assert call_view(row, viewer) == view


def test_times_and_durations_are_shown_the_way_people_read_them() -> None:
    instant = datetime(2025, 3, 12, 2, 30, tzinfo=UTC)
    assert format_local(instant, "America/New_York") == "2025-03-11 22:30:00"
    assert format_local(instant.replace(tzinfo=None), "Europe/Berlin") == "2025-03-12 03:30:00"
    assert format_local(None, "UTC") == ""
    assert format_duration(125.4) == "2:05"
    assert format_duration(3725) == "1:02:05"
    assert party_label("Jane", "+1555") == "Jane (+1555)"
    assert party_label(None, "102") == "102"
    assert party_label("", None) == "unknown"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/calls?direction=inbound", "/calls?direction=inbound"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
    ],
)
def test_next_after_login_stays_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    first = load_secret_key(settings)
    assert len(first) >= 32
    assert load_secret_key(settings) == first
    assert (settings.data_dir / "secret_key").stat().st_mode & 0o077 == 0
    explicit = make_settings(tmp_path / "other", secret_key="from-the-environment")
    assert load_secret_key(explicit) == "from-the-environment"


# -- callbacks, called directly in a signed-in request -----------------------------
@pytest.fixture(scope="module")
def portal_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dash.Dash, Settings]]:
    """An in-process app over PORTAL_CALLS (never served: callbacks are called directly)."""
    from dash_app.app import create_app

    settings = seeded_settings(tmp_path_factory.mktemp("units") / "data")
    build_lake(settings, PORTAL_CALLS)
    yield create_app(settings), settings


def _page(name: str) -> ModuleType:
    return sys.modules[f"dash_app.pages.{name}"]


def _user(app: dash.Dash, login: str) -> User:
    extension, _, tenant = login.partition("@")
    store = app.server.extensions["switchboard_portal"].store
    return store.user(tenant, extension)


def _signed_in(app: dash.Dash, login: str) -> Any:
    """A request context in which ``login`` is the signed-in user."""
    ctx = app.server.test_request_context("/")
    ctx.push()
    login_user(PortalUser(_user(app, login)))
    return ctx


def _grid_request(**overrides: Any) -> dict[str, Any]:
    return {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}, **overrides}


def test_every_page_layout_renders_for_a_signed_in_user(portal_app: Any) -> None:
    app, _ = portal_app
    ctx = _signed_in(app, "100@acme.example")
    try:
        for name in ("home", "calls"):
            assert _page(name).layout() is not None
        assert _page("calls").layout(direction="bogus") is not None  # a bad URL is not a crash
        assert app.layout() is not None
    finally:
        ctx.pop()


def test_grid_rows_are_scoped_to_the_viewer(portal_app: Any) -> None:
    app, _ = portal_app
    calls = _page("calls")
    ctx = _signed_in(app, "101@acme.example")
    try:
        response, count = calls.load_rows(_grid_request(), {"extension": "102"})
        assert {r["call_id"] for r in response["rowData"]} == {"c01", "c02", "c03"}
        assert count == "3 calls"
        response, _ = calls.load_rows(_grid_request(), {})
        assert response["rowCount"] == len(CALLS_OF_101)
    finally:
        ctx.pop()
    ctx = _signed_in(app, "103@acme.example")  # a supervisor sees the tenant
    try:
        response, _ = calls.load_rows(_grid_request(), {})
        assert {r["call_id"] for r in response["rowData"]} == ACME_CALLS
    finally:
        ctx.pop()


def test_grid_sorting_uses_only_known_columns(portal_app: Any) -> None:
    app, _ = portal_app
    calls = _page("calls")
    assert calls.sort_from_model([{"colId": "talk_seconds", "sort": "asc"}]) == [
        ("talk_seconds", "asc")
    ]
    assert calls.sort_from_model([{"colId": "1; drop table calls", "sort": "asc"}]) == [
        ("started_at", "desc")
    ]
    ctx = _signed_in(app, "101@acme.example")
    try:
        sort = [{"colId": "talk_seconds", "sort": "desc"}]
        response, _ = calls.load_rows(_grid_request(sortModel=sort), {})
        assert response["rowData"][0]["call_id"] == "c07"  # 3:20, the longest talk
        assert response["rowData"][0]["talk_seconds"] == "3:20"
        assert response["rowData"][0]["view"] == "Incoming"
    finally:
        ctx.pop()


def test_filter_controls_become_the_url_and_bad_values_are_explained(portal_app: Any) -> None:
    app, _ = portal_app
    calls = _page("calls")
    ctx = _signed_in(app, "101@acme.example")
    try:
        search, data, summary, href, error = calls.apply_filters(
            ["2025-03-11", None], "internal", None, " 102 ", "", {}
        )
        assert search == "?from=2025-03-11&direction=internal&extension=102"
        assert data == {"from": "2025-03-11", "direction": "internal", "extension": "102"}
        assert summary.startswith("Internal calls involving extension 102")
        assert href == "/download/calls.csv" + search
        assert error is None
        *unchanged, alert = calls.apply_filters(None, None, None, "10x", None, {})
        assert all(v is dash.no_update for v in unchanged)
        assert "extension must be digits" in str(alert.children)
    finally:
        ctx.pop()


def test_home_sections_fill_from_their_sources(portal_app: Any) -> None:
    app, _ = portal_app
    home = _page("home")
    ctx = _signed_in(app, "101@acme.example")
    try:
        # Nothing listens on the RPC port of the test settings: Kamailio is down.
        phones = home.refresh_phones(0)
        assert phones.id == "home-phones-unavailable"
        recent = home.refresh_recent_calls(0)
        ids = [li.to_plotly_json()["props"]["data-call-id"] for li in recent.children]
        assert ids == ["c08", "c07", "c05", "c03", "c02", "c01"]
        colleagues = home.refresh_colleagues(0)
        shown = str(colleagues.to_plotly_json())
        assert "Bob Builder" in shown and "Globex" not in shown and "Front Desk" not in shown
        saved = home.save_status(1, None, "  At the front desk  ")
        assert saved.id == "home-status-saved"
        assert _user(app, "101@acme.example").status_message == "At the front desk"
        refused = home.save_status(2, None, "x" * 141)
        assert "140 characters" in str(refused.children)
    finally:
        ctx.pop()


def test_phone_list_shows_each_registered_device(portal_app: Any) -> None:
    from kamailio.rpc import Registration

    home = _page("home")
    phones = home.phone_items(
        [Registration("sip:101@192.0.2.7:5060", "Polycom VVX 450", 120, None)]
    )
    assert "Polycom VVX 450" in str(phones.to_plotly_json())
    assert home.phone_items([]).id == "home-phones-none"


# -- the big analytics tables ----------------------------------------------------------


def test_big_analytics_tables_show_their_head_and_download_every_row(tmp_path: Path) -> None:
    """The page shows the first rows of the repeat-caller and callback tables; the
    download (the same loader without a limit) has them all, in the same order."""
    from datetime import date

    from dash_app.analytics_tables import TABLES, AnalyticsQuery
    from pipeline import metrics
    from pipeline.warehouse import connect
    from tests.fixtures.analytics import ACME, random_acc_rows, write_lake

    settings = make_settings(tmp_path)
    write_lake(settings, random_acc_rows())
    period = metrics.Period(date(2025, 10, 20), date(2025, 11, 9))
    q = AnalyticsQuery(period, "America/New_York")
    conn = connect(settings, ACME)
    try:
        metrics.prepare(conn, period, tz=q.tz)
        summary = metrics.summary(conn, period, tz=q.tz)
        for name, total in (
            ("repeat", summary["repeat_callers"]),
            ("callbacks", summary["callbacks_pending"]),
        ):
            everything = TABLES[name].load(conn, q, {})
            head = TABLES[name].load(conn, q, {}, limit=5)
            assert len(everything) == total > 5
            assert head == everything[:5]
    finally:
        conn.close()
