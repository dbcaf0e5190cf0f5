"""What Kamailio holds is what the simulator computes: pushes, transitions, properties.

The property test draws random instants (DST weeks, holidays, overrides in
force or expired), pushes everyone for that instant, then reads the values
back from the running Kamailio over JSON-RPC: each must equal
``compile_decision(active_rule_at(...))``, the function the routing
simulator uses.
"""

from __future__ import annotations

import time as wallclock
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamailio.launcher import KamailioProcess
from kamailio.rpc import KamailioRPC
from kamailio.rules_push import (
    RulesClock,
    decision_for_user,
    did_key,
    push_all,
    push_user,
    user_key,
)
from switchboard.attendants import Attendant
from switchboard.routing import compile_decision, read_decision
from switchboard.rules import AnsweringRule, Destination, active_rule_at
from switchboard.store import ProvisioningStore
from switchboard.timeframes import DatePeriod, TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory

pytestmark = pytest.mark.kamailio

ACME, GLOBEX = "acme.example", "globex.example"


def _held(rpc: KamailioRPC, key: str) -> str | None:
    """The value Kamailio's htable `rules` holds for ``key`` (None: absent)."""
    result = rpc.call("htable.get", "rules", key)
    item = result.get("item") if isinstance(result, dict) else None
    return None if item is None else str(item["value"])


def _seed_rules(store: ProvisioningStore, directory: Directory) -> None:
    """Frames in two zones, rules with priorities, an override, a main number."""
    weekdays = WeeklyPeriod(frozenset(range(5)), time(9), time(17))
    store.save_frame(ACME, TimeFrame("Open Hours", "America/New_York", (weekdays,)))
    holidays = (DatePeriod(date(2026, 12, 24), date(2026, 12, 26)),)
    store.save_frame(ACME, TimeFrame("Holidays", "America/New_York", holidays))
    night = WeeklyPeriod(frozenset(range(7)), time(22), time(6))  # across midnight
    store.save_frame(GLOBEX, TimeFrame("Night", "Europe/Berlin", (night,)))

    u101, u102 = directory.users[f"101@{ACME}"], directory.users[f"102@{ACME}"]
    store.save_rule(u101, AnsweringRule("Holiday", 1, "Holidays", dnd=True))
    store.save_rule(
        u101,
        AnsweringRule("Office", 2, "Open Hours", ring_seconds=15, simultaneous=("102", "103"),
                      forward_busy=Destination("extension", "103"), block=("+1900*", "555")),
    )  # fmt: skip
    store.save_rule(u101, AnsweringRule("After hours", 3, None, fallback=Destination("busy")))
    store.save_rule(u102, AnsweringRule("Office", 1, "Open Hours", ring_seconds=10))
    forward = AnsweringRule("Away", 0, forward_always=Destination("number", "+15557654321"))
    store.set_override(u102, forward, datetime(2026, 12, 23, 12, 0, tzinfo=UTC))
    g101 = directory.users[f"101@{GLOBEX}"]
    store.save_rule(g101, AnsweringRule("Night", 1, "Night", block_anonymous=True))

    did = store.add_did(ACME, "+15550001000", "Main line")
    main_menu = store.save_attendant(Attendant(ACME, "Main menu", greeting_text="Welcome"))
    menu = Destination("auto_attendant", str(main_menu.id))
    mailbox = Destination("voicemail", "100")
    store.save_did_rule(did, AnsweringRule("Holiday", 1, "Holidays", forward_always=mailbox))
    store.save_did_rule(did, AnsweringRule("Open", 2, "Open Hours", forward_always=menu))
    store.save_did_rule(did, AnsweringRule("Closed", 3, None, forward_always=mailbox))


def _expected(store: ProvisioningStore, instant: datetime, ring: int) -> dict[str, str]:
    """What the simulator's function says every key should hold at ``instant``.

    ``ring`` is the setting ``ring_timeout``: the default decision's ring time.
    """
    out = {}
    for tenant in (ACME, GLOBEX):
        for user in store.users(tenant):
            i = store.routing_inputs(user)
            active = active_rule_at(i.rules, i.frames, instant, i.override)
            out[user_key(user)] = compile_decision(user, active, default_ring_seconds=ring)
        for did in store.dids(tenant):
            i = store.did_routing_inputs(did)
            active = active_rule_at(i.rules, i.frames, instant)
            out[did_key(did)] = compile_decision(did, active, default_ring_seconds=ring)
    return out


# 2026-03-01 .. 2027-02-01 covers both DST changes of New York and Berlin and the holidays.
INSTANTS = st.datetimes(
    min_value=datetime(2026, 3, 1),
    max_value=datetime(2027, 2, 1),
    timezones=st.just(UTC),
)


def test_kamailio_holds_what_the_simulator_computes(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    store = directory.store
    _seed_rules(store, directory)
    rpc = KamailioRPC(kamailio.settings.rpc_url)

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(instant=INSTANTS)
    def agree(instant: datetime) -> None:
        rules_clock.pin(instant)
        push_all(kamailio.settings, store, now=instant)
        expected = _expected(store, instant, kamailio.settings.ring_timeout)
        assert {key: _held(rpc, key) for key in expected} == expected
        assert store.decisions() == expected  # and the DB Kamailio reloads from

    agree()
    # 103 has no rule: the default decision rings for the setting ring_timeout, then voicemail
    default = read_decision(_held(rpc, f"{ACME}:103") or "")
    ring = str(kamailio.settings.ring_timeout)
    assert (default["rule"], default["frame"], default["ring"]) == ("", "", ring)
    assert default["fallback"] == "voicemail:103"
    rpc.close()


def test_push_user_writes_db_then_kamailio_and_survives_reload(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    store, s = directory.store, kamailio.settings
    user = directory.users[f"102@{ACME}"]
    at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    rules_clock.pin(at)
    store.save_rule(user, AnsweringRule("Always", 1, ring_seconds=12))
    push_user(s, store, user, now=at)
    key, value, until = decision_for_user(store, user, at, s.ring_timeout)
    assert (key, until) == ("acme.example:102", None)
    with KamailioRPC(s.rpc_url) as rpc:
        assert _held(rpc, key) == value
        rpc.call("htable.reload", "rules")  # what a reload does: the DB holds it too
        assert _held(rpc, key) == value
    assert (read_decision(value)["ring"], read_decision(value)["rule"]) == ("12", "Always")


def _rule_held(rpc: KamailioRPC, key: str) -> str | None:
    held = _held(rpc, key)
    return None if held is None else read_decision(held)["rule"]


def test_scheduler_pushes_at_the_transition(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    """Open Hours end at 17:00 New York: the scheduler switches 101 to its evening rule."""
    store, s = directory.store, kamailio.settings
    weekdays = WeeklyPeriod(frozenset(range(5)), time(9), time(17))
    store.save_frame(ACME, TimeFrame("Open Hours", "America/New_York", (weekdays,)))
    user = directory.users[f"101@{ACME}"]
    store.save_rule(user, AnsweringRule("Office", 1, "Open Hours"))
    store.save_rule(user, AnsweringRule("Evening", 2, None, dnd=True))
    five_pm = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)  # 17:00 in New York
    rules_clock.shift_to(five_pm - timedelta(seconds=1.5))  # time runs on from here
    with KamailioRPC(s.rpc_url) as rpc:
        deadline = wallclock.monotonic() + 1.2
        while _rule_held(rpc, user_key(user)) != "Office":
            assert wallclock.monotonic() < deadline, "start-up push missing"
            wallclock.sleep(0.05)
        deadline = wallclock.monotonic() + 4
        while _rule_held(rpc, user_key(user)) != "Evening":
            assert wallclock.monotonic() < deadline, "transition push missing"
            wallclock.sleep(0.05)
    assert rules_clock() >= five_pm
