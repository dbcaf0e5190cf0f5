"""The compiled decision Kamailio receives and the simulator's sentences agree."""

from datetime import UTC, datetime, time

from switchboard.routing import compile_decision, explain_route, no_rule_behaviour
from switchboard.rules import AnsweringRule, Destination
from switchboard.timeframes import TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory


def _param(value: str, key: str) -> str:
    """Read a field the way Kamailio's {param.value,KEY} does."""
    return dict(item.split("=", 1) for item in value.split(";"))[key]


RING = 30  # the setting ring_timeout


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

    active = active_rule_at(inputs.rules, inputs.frames, open_time)
    value = compile_decision(user, active, default_ring_seconds=RING)
    assert _param(value, "rule") == "Office, main"
    assert _param(value, "frame") == "Open Hours"
    assert (_param(value, "ring"), _param(value, "sim"), _param(value, "fwd_busy")) == (
        "15", "102", "extension:103"
    )  # fmt: skip
    assert _param(value, "fallback") == "voicemail:101"
    assert _param(value, "until") == str(int(datetime(2026, 12, 22, 22, 0, tzinfo=UTC).timestamp()))

    explained = explain_route(user, inputs, "+15551234567", open_time, default_ring_seconds=RING)
    assert explained.outcome == "ring 15 s, then voicemail"
    assert "Ring registered phones for 15 s, and at the same time 102." in explained.steps
    assert "If busy: extension 103." in explained.steps
    blocked = explain_route(user, inputs, "+19005550000", open_time, default_ring_seconds=RING)
    assert blocked.outcome == "blocked"
    night_time = datetime(2026, 12, 23, 3, 0, tzinfo=UTC)
    night = explain_route(user, inputs, "+15551234567", night_time, default_ring_seconds=RING)
    assert night.outcome == "voicemail"
    assert "Do not disturb is on: phones do not ring." in night.steps


def test_without_a_rule_calls_ring_for_the_ring_timeout_then_go_to_voicemail(
    directory: Directory,
) -> None:
    """The default decision: ring for the setting ``ring_timeout``, then the owner's mailbox."""
    from switchboard.rules import active_rule_at

    user = directory.users["102@acme.example"]
    inputs = directory.store.routing_inputs(user)
    at = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
    value = compile_decision(user, active_rule_at(inputs.rules, inputs.frames, at),
                             default_ring_seconds=12)  # fmt: skip
    # rule= empty: Kamailio applies it but records no rule for the call
    assert (_param(value, "rule"), _param(value, "frame")) == ("", "")
    assert (_param(value, "ring"), _param(value, "fallback")) == ("12", "voicemail:102")
    assert _param(value, "fwd_na") == _param(value, "fwd_off") == ""
    assert _param(value, "dnd") == "0"

    explained = explain_route(user, inputs, "+15551234567", at, default_ring_seconds=12)
    assert explained.outcome == "ring 12 s, then voicemail"
    assert explained.steps[2:] == [
        "Ring registered phones for 12 s.",
        "If no phone is registered: voicemail.",
        "If nobody answers: voicemail.",
    ]
    assert "ring your phones for 12 s, then go to your voicemail" in no_rule_behaviour(12)
