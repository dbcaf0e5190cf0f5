"""The pure rule evaluator: frames in their own zones, DST, priorities, transitions."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.rules import (
    AnsweringRule,
    Destination,
    Override,
    RuleError,
    active_rule_at,
    forward_chain_loop,
    is_blocked,
    validate_rule,
)
from switchboard.timeframes import DatePeriod, TimeFrame, TimeFrameError, WeeklyPeriod, validate

NY = "America/New_York"
BERLIN = "Europe/Berlin"
WEEKDAYS = frozenset(range(5))


def at(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


OPEN = TimeFrame("Open Hours", NY, (WeeklyPeriod(WEEKDAYS, time(9), time(17)),))
HOLIDAYS = TimeFrame(
    "Holidays",
    NY,
    (
        DatePeriod(date(2026, 12, 24), date(2026, 12, 26)),
        DatePeriod(date(2027, 1, 1), date(2027, 1, 1)),
    ),
)
NIGHT = TimeFrame("Night shift", NY, (WeeklyPeriod(frozenset({4}), time(22), time(6)),))
FRAMES = {f.name: f for f in (OPEN, HOLIDAYS, NIGHT)}

HOLIDAY_RULE = AnsweringRule("Holiday", 1, "Holidays", fallback=Destination("voicemail", "100"))
OPEN_RULE = AnsweringRule("Office", 2, "Open Hours", ring_seconds=20)
CLOSED_RULE = AnsweringRule("After hours", 9, None, forward_always=Destination("voicemail"))
RULES = [CLOSED_RULE, OPEN_RULE, HOLIDAY_RULE]  # stored order must not matter


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (at(NY, 2026, 12, 22, 10, 0), "Office"),  # a Tuesday morning
        (at(NY, 2026, 12, 22, 8, 59), "After hours"),
        (at(NY, 2026, 12, 22, 17, 0), "After hours"),  # end is exclusive
        (at(NY, 2026, 12, 24, 10, 0), "Holiday"),  # holiday beats open hours by priority
        (at(NY, 2026, 12, 26, 23, 59), "Holiday"),  # last day of the range, inclusive
        (at(NY, 2026, 12, 27, 0, 0), "After hours"),  # a Sunday
        (at(NY, 2027, 1, 1, 12, 0), "Holiday"),
        (at(NY, 2026, 12, 23, 3, 0), "After hours"),  # 08:00 UTC is still night in New York
    ],
)
def test_active_rule_in_tenant_zone(instant: datetime, expected: str) -> None:
    active = active_rule_at(RULES, FRAMES, instant)
    assert active.rule is not None and active.rule.name == expected


def test_weekly_frame_across_midnight() -> None:
    assert NIGHT.contains(at(NY, 2026, 12, 25, 23, 30))  # Friday night
    assert NIGHT.contains(at(NY, 2026, 12, 26, 5, 59))  # Saturday early morning
    assert not NIGHT.contains(at(NY, 2026, 12, 26, 6, 0))
    assert not NIGHT.contains(at(NY, 2026, 12, 24, 23, 30))  # Thursday night


def test_until_names_the_next_transition() -> None:
    active = active_rule_at(RULES, FRAMES, at(NY, 2026, 12, 22, 10, 0))
    assert active.until == at(NY, 2026, 12, 22, 17, 0)
    overnight = active_rule_at(RULES, FRAMES, at(NY, 2026, 12, 22, 18, 0))
    assert overnight.until == at(NY, 2026, 12, 23, 9, 0)
    friday_evening = active_rule_at(RULES, FRAMES, at(NY, 2026, 12, 18, 18, 0))
    assert friday_evening.until == at(NY, 2026, 12, 21, 9, 0)  # across the weekend
    before_holiday = active_rule_at(RULES, FRAMES, at(NY, 2026, 12, 23, 18, 0))
    assert before_holiday.until == at(NY, 2026, 12, 24, 0, 0)
    assert before_holiday.describe().startswith("rule 'After hours' (always) until")


@pytest.mark.parametrize(
    ("tz", "day"),
    [(NY, date(2026, 3, 9)), (NY, date(2026, 11, 2)), (BERLIN, date(2026, 3, 30)),
     (BERLIN, date(2026, 10, 26))],
)  # fmt: skip
def test_dst_days_keep_wall_clock_hours(tz: str, day: date) -> None:
    """The Mondays after each DST change: 09:00 local opens, whatever the UTC offset."""
    frame = TimeFrame("Open", tz, (WeeklyPeriod(WEEKDAYS, time(9), time(17)),))
    rules = [AnsweringRule("Office", 1, "Open"), AnsweringRule("Closed", 2)]
    opening = datetime.combine(day, time(9), ZoneInfo(tz)).astimezone(UTC)
    assert active_rule_at(rules, {"Open": frame}, opening).rule.name == "Office"  # type: ignore[union-attr]
    before = opening - timedelta(minutes=1)
    closed = active_rule_at(rules, {"Open": frame}, before)
    assert closed.rule is not None and closed.rule.name == "Closed"
    assert closed.until == opening


def test_transition_on_the_dst_night_itself() -> None:
    """A frame ending at 02:30 on the night 02:00–03:00 does not exist in New York."""
    frame = TimeFrame("Late", NY, (WeeklyPeriod(frozenset({6}), time(1), time(2, 30)),))
    rules = [AnsweringRule("Late", 1, "Late"), AnsweringRule("Other", 2)]
    start = at(NY, 2026, 3, 8, 1, 30)  # Sunday 8 March 2026, clocks jump at 02:00
    active = active_rule_at(rules, {"Late": frame}, start)
    assert active.rule is not None and active.rule.name == "Late"
    assert active.until is not None
    assert active.until.astimezone(ZoneInfo(NY)).hour == 3  # ends when 02:00 becomes 03:00


def test_frame_in_a_zone_other_than_the_tenant() -> None:
    berlin_office = TimeFrame("Berlin office", BERLIN, (WeeklyPeriod(WEEKDAYS, time(9), time(17)),))
    instant = at(NY, 2026, 12, 22, 4, 0)  # 10:00 in Berlin
    rules = [AnsweringRule("Berlin", 1, "Berlin office"), AnsweringRule("Closed", 2)]
    assert active_rule_at(rules, {"Berlin office": berlin_office}, instant).rule.name == "Berlin"  # type: ignore[union-attr]


def test_override_wins_until_it_expires() -> None:
    forward = AnsweringRule("Forward all", 0, forward_always=Destination("number", "+15550100"))
    now = at(NY, 2026, 12, 22, 10, 0)
    override = Override(forward, now + timedelta(hours=2))
    active = active_rule_at(RULES, FRAMES, now, override)
    assert active.overridden and active.rule == forward and active.until == override.until
    later = active_rule_at(RULES, FRAMES, now + timedelta(hours=2), override)
    assert later.rule == OPEN_RULE and not later.overridden


def test_disabled_rules_and_no_rules() -> None:
    disabled = AnsweringRule("Office", 1, "Open Hours", enabled=False)
    active = active_rule_at([disabled], FRAMES, at(NY, 2026, 12, 22, 10, 0))
    assert active.rule is None and active.until is None
    assert "no answering rule applies" in active.describe()


def test_block_list() -> None:
    rule = AnsweringRule("b", 1, block=("+1900*", "+15551234567"), block_anonymous=True)
    assert is_blocked(rule, "+19005550000")
    assert is_blocked(rule, "+15551234567")
    assert not is_blocked(rule, "+15551234568")
    assert is_blocked(rule, None) and is_blocked(rule, "anonymous")
    assert not is_blocked(AnsweringRule("open", 1), "anonymous")


def test_invalid_frames_and_rules_are_refused_with_reasons() -> None:
    with pytest.raises(TimeFrameError, match=r"ends \(2026-01-01\) before it starts"):
        validate(TimeFrame("Bad", NY, (DatePeriod(date(2026, 1, 2), date(2026, 1, 1)),)))
    with pytest.raises(TimeFrameError, match="end time 08:00 is not after 09:00"):
        validate(
            TimeFrame(
                "Bad", NY, (DatePeriod(date(2026, 1, 2), date(2026, 1, 2), time(9), time(8)),)
            )
        )
    with pytest.raises(TimeFrameError, match="unknown time zone"):
        validate(TimeFrame("Bad", "Mars/Base", ()))
    with pytest.raises(RuleError, match="extension 999 does not exist"):
        validate_rule(
            AnsweringRule("x", 1, forward_busy=Destination("extension", "999")), FRAMES, {"101"}
        )
    with pytest.raises(RuleError, match="no time frame named 'Lunch'"):
        validate_rule(AnsweringRule("x", 1, "Lunch"), FRAMES, {"101"})


def test_forwarding_loops_are_found() -> None:
    assert forward_chain_loop("101", {"101": "102", "102": "103", "103": "101"}) == [
        "101", "102", "103", "101"
    ]  # fmt: skip
    assert forward_chain_loop("101", {"101": "102", "102": None}) is None
    chain = {str(100 + i): str(101 + i) for i in range(10)}
    assert forward_chain_loop("100", chain) is not None  # too many hops


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_decision_holds_until_the_announced_transition(naive: datetime, fraction: float) -> None:
    """What `until` promises is what evaluating any instant in between returns."""
    instant = naive.replace(tzinfo=UTC)
    active = active_rule_at(RULES, FRAMES, instant)
    assert active.until is not None and active.until > instant
    between = instant + (active.until - instant) * fraction
    if between < active.until:
        assert active_rule_at(RULES, FRAMES, between).rule == active.rule
    assert active_rule_at(RULES, FRAMES, active.until).rule != active.rule
