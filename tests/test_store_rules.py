"""Frames and rules through the provisioning store: saved, validated, read back as evaluated."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from switchboard.rules import AnsweringRule, Destination, active_rule_at
from switchboard.store import ProvisioningError
from switchboard.timeframes import DatePeriod, TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory

NY = "America/New_York"


def test_rules_round_trip_and_decide(directory: Directory) -> None:
    store = directory.store
    user = directory.users["101@acme.example"]
    store.save_frame(
        "acme.example",
        TimeFrame("Open Hours", NY, (WeeklyPeriod(frozenset(range(5)), time(9), time(17)),)),
    )
    store.save_frame(
        "acme.example",
        TimeFrame("Holidays", NY, (DatePeriod(date(2026, 12, 25), date(2026, 12, 25)),)),
    )
    store.save_rule(
        user,
        AnsweringRule(
            "Office",
            2,
            "Open Hours",
            ring_seconds=15,
            simultaneous=("102",),
            forward_busy=Destination("extension", "103"),
        ),
    )
    store.save_rule(
        user,
        AnsweringRule(
            "Holiday",
            1,
            "Holidays",
            dnd=True,
            block=("+1900*",),
            fallback=Destination("voicemail", "100"),
        ),
    )
    inputs = store.routing_inputs(user)
    assert [r.name for r in inputs.rules] == ["Holiday", "Office"]
    office = inputs.rules[1]
    assert office.simultaneous == ("102",) and office.forward_busy == Destination(
        "extension", "103"
    )
    tuesday = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert active_rule_at(inputs.rules, inputs.frames, tuesday).rule == office
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    holiday = active_rule_at(inputs.rules, inputs.frames, christmas).rule
    assert holiday is not None and holiday.dnd and holiday.block == ("+1900*",)


def test_invalid_edits_are_refused_and_lose_nothing(directory: Directory) -> None:
    store = directory.store
    user = directory.users["101@acme.example"]
    store.save_rule(user, AnsweringRule("Always", 1, ring_seconds=20))
    with pytest.raises(ProvisioningError, match="extension 555 does not exist"):
        store.save_rule(
            user, AnsweringRule("Bad", 2, forward_no_answer=Destination("extension", "555"))
        )
    with pytest.raises(ProvisioningError, match=r"ends .* before it starts"):
        store.save_frame(
            "acme.example",
            TimeFrame("Backwards", NY, (DatePeriod(date(2026, 2, 2), date(2026, 2, 1)),)),
        )
    # "until the end of the calendar": its day after (a boundary) overflowed the evaluator
    with pytest.raises(ProvisioningError, match="9999-12-31 is not between 1970-01-01 and"):
        store.save_frame(
            "acme.example",
            TimeFrame("Forever", NY, (DatePeriod(date(2026, 2, 2), date(9999, 12, 31)),)),
        )
    with pytest.raises(ProvisioningError, match="no time frame named 'Lunch'"):
        store.save_rule(user, AnsweringRule("Lunch", 3, "Lunch"))
    assert [r.name for r in store.routing_inputs(user).rules] == ["Always"]
    assert store.frames("acme.example") == {}


def test_forward_loops_are_refused(directory: Directory) -> None:
    store = directory.store
    a, b = directory.users["101@acme.example"], directory.users["102@acme.example"]
    store.save_rule(a, AnsweringRule("fwd", 1, forward_always=Destination("extension", "102")))
    with pytest.raises(ProvisioningError, match="forwarding loop: 102 → 101 → 102"):
        store.save_rule(b, AnsweringRule("fwd", 1, forward_always=Destination("extension", "101")))


def test_override_and_tenant_isolation(directory: Directory) -> None:
    store = directory.store
    user = directory.users["101@acme.example"]
    until = datetime(2026, 12, 22, 17, 0, tzinfo=UTC)
    store.set_override(
        user,
        AnsweringRule("Forward all", 0, forward_always=Destination("number", "+15550100")),
        until,
    )
    inputs = store.routing_inputs(user)
    assert inputs.override is not None and inputs.override.until == until
    assert (
        active_rule_at(inputs.rules, inputs.frames, until - timedelta(minutes=1)).overridden
        is False
    )
    assert active_rule_at(
        inputs.rules, inputs.frames, until - timedelta(minutes=1), inputs.override
    ).overridden
    store.save_frame("globex.example", TimeFrame("Open Hours", "Europe/Berlin", ()))
    assert "Open Hours" not in store.frames("acme.example")
    store.set_override(user, None, until)
    assert store.routing_inputs(user).override is None


def test_frames_belong_to_their_owner_and_names_stay_unique(directory: Directory) -> None:
    store = directory.store
    a, b = directory.users["101@acme.example"], directory.users["102@acme.example"]
    mine = store.save_frame("acme.example", TimeFrame("Lunch", NY, ()), a.id)
    with pytest.raises(ProvisioningError, match="not yours to edit"):
        store.save_frame("acme.example", TimeFrame("Lunch", NY, (), mine.id), b.id)
    with pytest.raises(ProvisioningError, match="already exists"):
        store.save_frame("acme.example", TimeFrame("Lunch", NY, ()))  # tenant-wide clash
    store.save_frame("acme.example", TimeFrame("Open", NY, ()))
    with pytest.raises(ProvisioningError, match="already exists"):
        store.save_frame("acme.example", TimeFrame("Open", NY, ()), b.id)
    assert store.save_frame("acme.example", TimeFrame("Lunch", NY, ()), b.id).name == "Lunch"


def test_main_number_routes_guard_their_frames_and_names(directory: Directory) -> None:
    store = directory.store
    closed = store.save_frame("acme.example", TimeFrame("Closed", NY, ()))
    did = store.add_did("acme.example", "+15551230000", "Main line")
    route = AnsweringRule("Night", 1, "Closed", forward_always=Destination("voicemail", "100"))
    saved = store.save_did_rule(did, route)
    with pytest.raises(ProvisioningError, match="a route named 'Night' already exists"):
        store.save_did_rule(did, route)
    with pytest.raises(ProvisioningError, match="used by main number route 'Night'"):
        store.delete_frame("acme.example", closed.id)  # type: ignore[arg-type]
    store.delete_did_rule(did, saved.id)  # type: ignore[arg-type]
    store.delete_frame("acme.example", closed.id)  # type: ignore[arg-type]
    assert store.did_routing_inputs(did).rules == []


def test_overrides_are_validated_like_rules(directory: Directory) -> None:
    store = directory.store
    a, b = directory.users["101@acme.example"], directory.users["102@acme.example"]
    until = datetime(2026, 12, 22, 17, 0, tzinfo=UTC)
    to = AnsweringRule
    with pytest.raises(ProvisioningError, match="does not exist"):
        store.set_override(a, to("o", 0, forward_always=Destination("extension", "555")), until)
    with pytest.raises(ProvisioningError, match="to yourself"):
        store.set_override(a, to("o", 0, forward_always=Destination("extension", "101")), until)
    store.save_rule(b, to("fwd", 1, forward_always=Destination("extension", "101")))
    with pytest.raises(ProvisioningError, match="forwarding loop: 101 → 102 → 101"):
        store.set_override(a, to("o", 0, forward_always=Destination("extension", "102")), until)
    assert store.routing_inputs(a).override is None


def test_duplicate_rules_and_main_numbers_are_refused_by_name(directory: Directory) -> None:
    store = directory.store
    user = directory.users["101@acme.example"]
    store.save_rule(user, AnsweringRule("Office", 1, ring_seconds=15))
    with pytest.raises(ProvisioningError, match="a rule named 'Office' already exists"):
        store.save_rule(user, AnsweringRule("Office", 2, ring_seconds=20))
    store.add_did("acme.example", "+15551230000", "Main line")
    with pytest.raises(ProvisioningError, match=r"number \+15551230000 is already in use"):
        store.add_did("globex.example", "+15551230000", "Taken")
    assert [r.name for r in store.routing_inputs(user).rules] == ["Office"]
    assert store.dids("globex.example") == []
