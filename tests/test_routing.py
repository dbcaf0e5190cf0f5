"""The compiled decision Kamailio receives and the simulator's sentences agree."""

from datetime import UTC, datetime, time

from switchboard.routing import compile_decision, explain_route
from switchboard.rules import AnsweringRule, Destination
from switchboard.timeframes import TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory


def _param(value: str, key: str) -> str:
    """Read a field the way Kamailio's {param.value,KEY} does."""
    return dict(item.split("=", 1) for item in value.split(";"))[key]


def test_decision_and_explanation(directory: Directory) -> None:
    store = directory.store
    user = directory.users["101@acme.example"]
    store.save_frame(
        "acme.example",
        TimeFrame(
            "Open Hours",
            "America/New_York",
            (WeeklyPeriod(frozenset(range(5)), time(9), time(17)),),
        ),
    )
    store.save_rule(
        user,
        AnsweringRule("Office; main", 1, "Open Hours", ring_seconds=15, simultaneous=("102",),
                      forward_busy=Destination("extension", "103"), block=("+1900*",)),
    )  # fmt: skip
    store.save_rule(user, AnsweringRule("Closed", 2, dnd=True))
    inputs = store.routing_inputs(user)
    open_time = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)

    from switchboard.rules import active_rule_at

    value = compile_decision(user, active_rule_at(inputs.rules, inputs.frames, open_time))
    assert _param(value, "rule") == "Office, main"
    assert _param(value, "frame") == "Open Hours"
    assert (_param(value, "ring"), _param(value, "sim"), _param(value, "fwd_busy")) == (
        "15", "102", "extension:103"
    )  # fmt: skip
    assert _param(value, "fallback") == "voicemail:101"
    assert _param(value, "until") == str(int(datetime(2026, 12, 22, 22, 0, tzinfo=UTC).timestamp()))

    explained = explain_route(user, inputs, "+15551234567", open_time)
    assert explained.outcome == "ring 15 s, then voicemail"
    assert "Ring registered phones for 15 s, and at the same time 102." in explained.steps
    assert "If busy: extension 103." in explained.steps
    assert explain_route(user, inputs, "+19005550000", open_time).outcome == "blocked"
    night = explain_route(user, inputs, "+15551234567", datetime(2026, 12, 23, 3, 0, tzinfo=UTC))
    assert night.outcome == "voicemail"
    assert "Do not disturb is on: phones do not ring." in night.steps
