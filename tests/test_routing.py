"""The compiled decision Kamailio receives and the simulator's sentences agree."""

import re
from datetime import UTC, datetime, time

from kamailio.launcher import config_text
from switchboard.routing import (
    DECISION_FIELDS,
    compile_decision,
    explain_route,
    no_rule_behaviour,
    read_decision,
)
from switchboard.rules import ActiveRule, AnsweringRule, Destination
from switchboard.timeframes import TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory


def _param(value: str, key: str) -> str:
    """Read a field the way Kamailio's route DECISION_LOAD does."""
    return read_decision(value)[key]


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
    assert _param(value, "rule") == "Office; main"  # kept as typed
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


def test_names_cannot_shift_fields(directory: Directory) -> None:
    """A "|" or "%" in a name is escaped, so every field stays at its index."""
    user = directory.users["101@acme.example"]
    rule = AnsweringRule("a|b %7C 100%", 1, block=("+1900*", "555", "*"), block_anonymous=True)
    value = compile_decision(user, ActiveRule(rule, None, None), default_ring_seconds=RING)
    assert value.count("|") == len(DECISION_FIELDS) - 1
    assert "a%7Cb %257C 100%25" in value  # what {s.unescape.param} turns back
    fields = read_decision(value)
    assert fields["rule"] == "a|b %7C 100%"
    # exact numbers for in_list; prefixes for in_list_prefix; "*" blocks every caller id
    assert (fields["block"], fields["block_prefix"], fields["block_anon"]) == ("555", "*", "1")
    rule = AnsweringRule("x", 1, block=("+1900*", "+1976*", "555", "556"))
    fields = read_decision(compile_decision(user, ActiveRule(rule, None, None),
                                            default_ring_seconds=RING))  # fmt: skip
    assert (fields["block"], fields["block_prefix"]) == ("555,556", "+1900,+1976")


def test_kamailio_reads_the_fields_at_their_indexes() -> None:
    """Every {s.select,N,|} of the decision in kamailio.cfg names field N of DECISION_FIELDS."""
    cfg = config_text()
    load = cfg[cfg.index("route[DECISION_LOAD]") :]
    load = load[: load.index("\n}")]
    read = re.findall(r"\$var\((\w+)\) = \$\(avp\(d\)\{s\.select,(\d+),\|\}", load)
    assert len(read) >= 10
    for name, index in read:
        assert DECISION_FIELDS[int(index)] == name

    def select(field: str) -> str:
        return f"$(avp(d){{s.select,{DECISION_FIELDS.index(field)},|}}"

    assert f"$avp(tenant) = {select('tenant')})" in cfg
    failure = cfg[cfg.index("failure_route[MANAGE_FAILURE]") :]
    busy, no_answer = failure.split('t_check_status("408|480")')
    assert select("fwd_busy") in busy
    assert no_answer.index(select("fwd_na")) < no_answer.index(select("fallback"))
    assert "re.subst" not in cfg[cfg.index("route[EXTENSION]") :]
