"""Time Frames, Answering Rules, Main Numbers and Home's override without a browser.

The form-to-model functions are pure and tested as such; the callbacks are
called directly inside a signed-in request (and, where they read which
button was clicked, a faked Dash callback context), which is how their
server-side permission checks are pinned down.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from types import ModuleType
from typing import Any

import dash
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict, stringify_id
from dash.exceptions import PreventUpdate
from flask_login import login_user

from dash_app.auth import PortalUser
from dash_app.describe import describe_days, describe_period, describe_rule, format_until
from dash_app.destinations import destination_from_form
from dash_app.timeframes_form import frame_from_form, periods_from_form, rows_of_frame
from switchboard.attendants import Attendant
from switchboard.rules import AnsweringRule, Destination, RuleError
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, User
from switchboard.timeframes import DatePeriod, TimeFrame, TimeFrameError, WeeklyPeriod
from tests.fixtures.core import make_settings, seed

NY = "America/New_York"


def _page(name: str) -> ModuleType:
    return sys.modules[f"dash_app.pages.{name}"]


# -- pure: forms to models ------------------------------------------------------------------
def _rows(*rows: tuple[Any, ...]) -> tuple[list[Any], ...]:
    """Aligned per-field lists from (kind, days, dates, range, start, end) rows."""
    return tuple(list(column) for column in zip(*rows, strict=True))


def test_weekly_hours_may_cross_midnight_and_blank_times_mean_all_day(portal_app: Any) -> None:
    periods = periods_from_form(
        *_rows(
            ("weekly", ["4"], None, None, "22:00", "06:00"),
            ("weekly", ["5", "6"], None, None, "", ""),
            ("removed", ["0"], None, None, "bogus", ""),  # a removed row is ignored
        )
    )
    assert periods == (
        WeeklyPeriod(frozenset({4}), time(22), time(6)),
        WeeklyPeriod(frozenset({5, 6}), time(0), time(0)),
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("dates", None, ["2026-12-24"], None, "12:00", "09:00"), "end time 09:00 is before"),
        (("range", None, None, ["2026-12-24", None], "", ""), "pick the first and the last day"),
        (("range", None, None, ["2026-12-26", "2026-12-24"], "", ""), "ends (2026-12-24) before"),
        (("weekly", [], None, None, "09:00", "17:00"), "pick at least one day"),
        (("weekly", ["0"], None, None, "09:00", ""), "both a start and an end time"),
        (("dates", None, [], None, "", ""), "pick at least one date"),
        (("removed", None, None, None, "", ""), "add at least one period"),
    ],
)
def test_impossible_periods_are_refused_with_the_reason(
    portal_app: Any, row: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(TimeFrameError) as refused:
        periods_from_form(*_rows(row))
    assert message in str(refused.value)


def test_a_saved_frame_reopens_in_the_editor_as_it_was_entered(portal_app: Any) -> None:
    frame = TimeFrame(
        "Holidays",
        NY,
        (
            WeeklyPeriod(frozenset({0, 1, 2, 3, 4}), time(9), time(17)),
            DatePeriod(date(2026, 12, 25), date(2026, 12, 25)),
            DatePeriod(date(2027, 1, 1), date(2027, 1, 1)),
            DatePeriod(date(2026, 8, 3), date(2026, 8, 14), time(9), time(12)),
        ),
    )
    rows = rows_of_frame(frame)
    assert [r.kind for r in rows] == ["weekly", "dates", "range"]  # the two holidays share a row
    columns = _rows(*[(r.kind, r.days, r.dates, r.range, r.start, r.end) for r in rows])
    again = frame_from_form(None, "Holidays", NY, False, columns)
    assert set(again.periods) == set(frame.periods)
    assert frame_from_form(None, "All", NY, True, columns).always  # "Always" drops periods
    with pytest.raises(TimeFrameError, match="name"):
        frame_from_form(None, "  ", NY, True, columns)


def test_rule_form_builds_the_rule_and_refuses_malformed_entries(portal_app: Any) -> None:
    rules = _page("rules")
    values: dict[str, Any] = {
        "rule_id": None,
        "priority": 10,
        "name": " Office ",
        "frame": "Open Hours",
        "enabled": True,
        "ring_seconds": "15",
        "simultaneous": ["102", " +1 555 0100 "],
        "dnd": False,
        "block": ["+1900*", "anonymous-not-a-number"],
        "block_anonymous": True,
        "dest_kinds": ["off", "extension", "off", "number", "voicemail"],
        "dest_targets": ["", "103", "", "+15550100", ""],
    }
    with pytest.raises(RuleError, match="Block list: 'anonymous-not-a-number'"):
        rules.rule_from_form(**values)
    values["block"] = ["+1900*"]
    rule = rules.rule_from_form(**values)
    assert rule == AnsweringRule(
        "Office",
        10,
        "Open Hours",
        ring_seconds=15,
        simultaneous=("102", "+15550100"),
        forward_busy=Destination("extension", "103"),
        forward_offline=Destination("number", "+15550100"),
        block=("+1900*",),
        block_anonymous=True,
    )
    values["dest_kinds"][0], values["frame"] = "number", rules.ALWAYS
    with pytest.raises(RuleError, match="Forward all calls: enter the phone number"):
        rules.rule_from_form(**values)
    assert destination_from_form("x", "busy", "stale") == Destination("busy")
    assert destination_from_form("x", "off", "103") is None


def test_moving_a_rule_renumbers_only_what_changed(portal_app: Any) -> None:
    rules = _page("rules")
    a, b, c = (AnsweringRule(n, p, id=i) for n, p, i in (("a", 10, 1), ("b", 20, 2), ("c", 30, 3)))
    assert [(r.name, r.priority) for r in rules.reordered([a, b, c], 3, -1)] == [
        ("c", 20),
        ("b", 30),
    ]
    assert rules.reordered([a, b, c], 1, -1) == []  # already first


def test_frames_rules_and_times_read_like_sentences() -> None:
    assert describe_days(frozenset({0, 1, 2, 3, 4})) == "Mon–Fri"
    assert describe_days(frozenset({5, 6})) == "Sat, Sun"
    assert describe_period(WeeklyPeriod(frozenset({4}), time(22), time(6))) == (
        "Fri 22:00–06:00 (ends next day)"
    )
    assert describe_period(DatePeriod(date(2026, 12, 25), date(2026, 12, 25))) == (
        "Fri Dec 25, 2026 (all day)"
    )
    rule = AnsweringRule("x", 1, dnd=True, fallback=Destination("voicemail", "100"))
    assert describe_rule(rule) == ["Do not disturb, then voicemail of 100"]
    now = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert format_until(now + timedelta(hours=7), NY, now) == "until 17:00 today"
    assert format_until(now + timedelta(days=3), NY, now) == "until Fri Dec 25, 10:00"
    assert format_until(None, NY, now).startswith("with no change")


# -- callbacks, in a signed-in request ---------------------------------------------------------
@pytest.fixture(scope="module")
def portal_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dash.Dash, Settings]]:
    """An in-process app (never served): callbacks are called directly."""
    from dash_app.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("rules-units") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    store.save_frame(
        "acme.example",
        TimeFrame("Open Hours", NY, (WeeklyPeriod(frozenset(range(5)), time(9), time(17)),)),
    )
    store.allocate_did("acme.example", "+15551230000")  # the operator's, for the manager to add
    store.close()
    yield create_app(settings), settings


def _store(app: dash.Dash) -> ProvisioningStore:
    return app.server.extensions["switchboard_portal"].store  # type: ignore[no-any-return]


def _user(app: dash.Dash, login: str) -> User:
    extension, _, tenant = login.partition("@")
    return _store(app).user(tenant, extension)


@contextmanager
def signed_in(app: dash.Dash, login: str) -> Iterator[User]:
    """A request in which ``login`` is signed in."""
    with app.server.test_request_context("/"):
        user = _user(app, login)
        login_user(PortalUser(user))
        yield user


@contextmanager
def clicked(component_id: Any, prop: str = "n_clicks", value: Any = 1) -> Iterator[None]:
    """A Dash callback context in which ``component_id`` was just clicked."""
    prop_id = f"{stringify_id(component_id)}.{prop}"
    token = context_value.set(
        AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": value}])
    )
    try:
        yield
    finally:
        context_value.reset(token)


def said(component: Any) -> str:
    """The text of an alert, lower-cased (alerts capitalise the store's messages)."""
    return str(component.children).lower()


def _save_rule(rules: ModuleType, editing: dict[str, Any], extension: str, **form: Any) -> Any:
    values: dict[str, Any] = {
        "name": "Rule",
        "frame": rules.ALWAYS,
        "enabled": True,
        "ring": 20,
        "simultaneous": [],
        "dnd": False,
        "block": [],
        "block_anonymous": False,
        "dest_kinds": ["off", "off", "off", "off", "voicemail"],
        "dest_targets": ["", "", "", "", ""],
    } | form
    return rules.save_rule(
        1,
        editing,
        extension,
        values["name"],
        values["frame"],
        values["enabled"],
        values["ring"],
        values["simultaneous"],
        values["dnd"],
        values["block"],
        values["block_anonymous"],
        values["dest_kinds"],
        values["dest_targets"],
        0,
    )


def test_layouts_render_for_every_role(portal_app: Any) -> None:
    app, _ = portal_app
    for login in ("100@acme.example", "101@acme.example", "103@acme.example"):
        with signed_in(app, login):
            for name in ("rules", "timeframes", "numbers", "home"):
                assert _page(name).layout() is not None
            assert _page("rules").layout(user="102", at="not a time") is not None
            nav = str(app.layout().to_plotly_json())
            assert ("shell-nav-numbers" in nav) == login.startswith("100@")


def test_a_plain_user_cannot_touch_another_users_rules(portal_app: Any) -> None:
    app, _ = portal_app
    rules = _page("rules")
    bob = _user(app, "102@acme.example")
    _store(app).save_rule(bob, AnsweringRule("Bob's", 10))
    bob_rule = _store(app).routing_inputs(bob).rules[0]
    with signed_in(app, "101@acme.example"):
        # Saving with the picker (or the editor's target) set to 102 is refused.
        error, opened, *_ = _save_rule(
            rules, {"id": None, "priority": 20, "user": "102"}, "102", name="Hijack"
        )
        assert "only see and edit your own" in said(error) and opened is dash.no_update
        with clicked({"type": "rules-delete", "rule": bob_rule.id}):
            _, alert = rules.change_order_or_delete([], [], [1], "102", 0)
        assert "only see and edit your own" in said(alert)
        # Naming one's own extension with another user's rule id changes nothing either.
        with clicked({"type": "rules-delete", "rule": bob_rule.id}):
            _, alert = rules.change_order_or_delete([], [], [1], "101", 0)
        assert "no longer exists" in said(alert)
        listed, subtitle, _ = rules.refresh_rules(0, "102")
        assert "only see and edit your own" in said(listed) and subtitle == ""
    assert [r.name for r in _store(app).routing_inputs(bob).rules] == ["Bob's"]
    with signed_in(app, "103@acme.example"):  # a supervisor may
        _, subtitle, _ = rules.refresh_rules(0, "102")
        assert subtitle == "Rules of Bob Builder, extension 102"
    with signed_in(app, "100@globex.example"):  # a manager of another tenant may not
        listed, _, _ = rules.refresh_rules(0, "102")
        assert listed.children == "No extension 102 in globex.example"


def test_an_invalid_rule_is_refused_and_the_saved_ones_stay(portal_app: Any) -> None:
    app, _ = portal_app
    rules = _page("rules")
    with signed_in(app, "101@acme.example") as user:
        *_, banner = _save_rule(
            rules, {"id": None, "priority": 10, "user": "101"}, "101", name="Office",
            frame="Open Hours", ring=15,
        )  # fmt: skip
        assert banner.id == "rules-saved"
        error, *unchanged = _save_rule(
            rules, {"id": None, "priority": 20, "user": "101"}, "101", name="Bad",
            dest_kinds=["extension", "off", "off", "off", "voicemail"],
            dest_targets=["555", "", "", "", ""],
        )  # fmt: skip
        assert "extension 555 does not exist" in said(error)
        assert all(v is dash.no_update for v in unchanged)
        assert [r.name for r in _store(app).routing_inputs(user).rules] == ["Office"]
        result = rules.simulate(_store(app), user, "+15551234567", "2026-12-22", "10:00",
                                ring_seconds=30)  # fmt: skip
        assert "ring 15 s, then voicemail" in str(result.to_plotly_json())
        # without a rule (out of Open Hours): the default, ring timeout then voicemail
        result = rules.simulate(_store(app), user, "+15551234567", "2026-12-22", "20:00",
                                ring_seconds=30)  # fmt: skip
        assert "ring 30 s, then voicemail" in str(result.to_plotly_json())


def test_company_frames_are_for_managers_and_personal_ones_for_their_owner(
    portal_app: Any,
) -> None:
    app, _ = portal_app
    tf = _page("timeframes")
    weekly = _rows(("weekly", ["0"], None, None, "12:00", "13:00"))
    with signed_in(app, "102@acme.example") as bob:
        error, *_ = tf.save_frame(1, {"id": None, "scope": "tenant"}, "tenant", "X", NY, False,
                                  *weekly, 0)  # fmt: skip
        assert "only managers" in said(error)
        open_hours = _store(app).frames("acme.example")["Open Hours"]
        error, *_ = tf.save_frame(1, {"id": open_hours.id, "scope": "personal"}, "personal",
                                  "Mine now", NY, False, *weekly, 0)  # fmt: skip
        assert "cannot edit" in said(error)
        *_, banner = tf.save_frame(1, {"id": None, "scope": "personal"}, "personal", "Lunch",
                                   NY, False, *weekly, 0)  # fmt: skip
        assert banner.id == "timeframes-saved"
        lunch = _store(app).frames("acme.example", bob.id)["Lunch"]
    with signed_in(app, "101@acme.example"):  # not Bob's frame: refused, still there
        with clicked({"type": "timeframes-delete", "frame": lunch.id}):
            _, alert = tf.delete_frame([1], 0)
        assert "cannot delete" in said(alert)
        with clicked({"type": "timeframes-edit", "frame": lunch.id}), pytest.raises(PreventUpdate):
            tf.open_editor(None, [1])
    assert "Lunch" in _store(app).frames("acme.example", bob.id)
    with signed_in(app, "100@acme.example"):
        with clicked({"type": "timeframes-delete", "frame": open_hours.id}):
            _, alert = tf.delete_frame([1], 0)
        assert "used by rule 'office'" in said(alert)  # 101's rule needs it


def test_main_numbers_are_for_managers_only(portal_app: Any) -> None:
    app, _ = portal_app
    numbers = _page("numbers")
    with signed_in(app, "101@acme.example"):
        assert numbers.layout().id == "numbers-denied"
        _, alert, *_ = numbers.add_number(1, "+15551230000", "Main", 0)
        assert "only managers" in said(alert)
    with signed_in(app, "100@acme.example"):
        version, banner, *_ = numbers.add_number(1, "+1 555 123 0000", "Main line", 0)
        assert version == 1 and banner.id == "numbers-added"
        did = _store(app).did("+15551230000")
        menu = _store(app).save_attendant(
            Attendant("acme.example", "Main menu", greeting_text="Hi")
        )
        assert menu.id == 1
        editing = {"did": did.id, "id": None}
        *_, banner = numbers.save_route(1, editing, "Open", "Open Hours", 10, True,
                                        ["auto_attendant"], ["1"], 0)  # fmt: skip
        assert banner.id == "numbers-saved"
        error, *_ = numbers.save_route(1, editing, "Closed", numbers.ALWAYS, 20, True,
                                       ["extension"], ["999"], 0)  # fmt: skip
        assert "extension 999 does not exist" in said(error)
        listed = str(numbers.refresh_numbers(0).to_plotly_json())
        assert "+15551230000" in listed and "auto attendant 1" in listed
    with signed_in(app, "100@globex.example"):  # another tenant's manager cannot route it
        error, *_ = numbers.save_route(1, editing, "Steal", numbers.ALWAYS, 5, True,
                                       ["number"], ["+4930123456"], 0)  # fmt: skip
        assert "no such main number" in said(error)
    assert [r.name for r in _store(app).did_routing_inputs(did).rules] == ["Open"]


def test_the_override_switch_changes_the_active_rule_and_cancels(portal_app: Any) -> None:
    app, _ = portal_app
    home = _page("home")
    with signed_in(app, "103@acme.example") as sue:
        body, _ = home.active_rule_summary(_store(app), sue, datetime.now(UTC), ring_seconds=30)
        assert "ring your phones for 30 s, then go to your voicemail" in str(body.to_plotly_json())
        _store(app).save_rule(sue, AnsweringRule("Desk", 10))
        body, overridden = home.active_rule_summary(
            _store(app), sue, datetime.now(UTC), ring_seconds=30
        )
        assert "Desk" in str(body.to_plotly_json()) and not overridden
        with clicked("home-override-on"):
            error, version = home.set_override(1, None, "forward", "extension", "103", 2, 0)
        assert "to yourself would loop" in said(error) and version is dash.no_update
        with clicked("home-override-on"):
            done, version = home.set_override(1, None, "forward", "number", "+15550100", 2, 0)
        assert done.id == "home-override-done" and version == 1
        body, overridden = home.active_rule_summary(
            _store(app), sue, datetime.now(UTC), ring_seconds=30
        )
        shown = str(body.to_plotly_json())
        assert overridden and "Manual override" in shown and "number +15550100" in shown
        with clicked("home-override-cancel"):
            home.set_override(1, 1, "forward", "number", "+15550100", 2, 1)
        _, overridden = home.active_rule_summary(
            _store(app), sue, datetime.now(UTC), ring_seconds=30
        )
        assert not overridden
