"""Time frames, answering rules and "until when" in the words a portal user reads.

Shared by Time Frames, Answering Rules, Main Numbers and Home so a frame or a
rule is described the same way on every page (with the ``data-*`` tags that
name it for tests and styles). Pure: the caller passes the instant and the zone.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from switchboard.rules import AnsweringRule
from switchboard.timeframes import WEEKDAYS, DatePeriod, Period, TimeFrame, WeeklyPeriod


def data_attrs(**values: str) -> dict[str, Any]:
    """``data-*`` attributes for tests and styling (typed loosely: Dash's stubs omit them)."""
    return {f"data-{k.replace('_', '-')}": v for k, v in values.items()}


DAY_NAMES: tuple[str, ...] = tuple(d.capitalize() for d in WEEKDAYS)


def describe_days(days: frozenset[int]) -> str:
    """``Mon–Fri``, ``Sat, Sun``, ``Mon–Wed, Fri``: runs of three or more become a range."""
    if len(days) == 7:
        return "Every day"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
    return ", ".join(parts)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def _day(value: date) -> str:
    return value.strftime("%a %b %-d, %Y")


def describe_period(period: Period) -> str:
    """One period as a line: ``Mon–Fri 09:00–17:00``, ``Thu Dec 25, 2026 (all day)``."""
    if isinstance(period, WeeklyPeriod):
        days = describe_days(period.days)
        if period.start == period.end:
            return f"{days}, all day"
        hours = f"{_hhmm(period.start)}–{_hhmm(period.end)}"
        if period.end < period.start:
            hours += " (ends next day)"
        return f"{days} {hours}"
    assert isinstance(period, DatePeriod)
    span = (
        _day(period.first)
        if period.first == period.last
        else f"{_day(period.first)} – {_day(period.last)}"
    )
    if period.start is None or period.end is None:
        return f"{span} (all day)"
    return f"{span}, {_hhmm(period.start)}–{_hhmm(period.end)}"


def describe_frame(frame: TimeFrame) -> list[str]:
    """The frame's periods, one line each; ``["Always"]`` for a frame without periods."""
    if frame.always:
        return ["Always"]
    return [describe_period(p) for p in frame.periods]


def describe_rule(rule: AnsweringRule) -> list[str]:
    """What the rule does, in the order the call experiences it."""
    lines: list[str] = []
    if rule.block or rule.block_anonymous:
        blocked = list(rule.block) + (["anonymous"] if rule.block_anonymous else [])
        lines.append("Blocks " + ", ".join(blocked))
    if rule.dnd:
        lines.append(f"Do not disturb, then {rule.fallback.describe()}")
        return lines
    if rule.forward_always is not None:
        lines.append(f"Forward all calls to {rule.forward_always.describe()}")
        return lines
    ring = f"Ring my phones {rule.ring_seconds} s"
    if rule.simultaneous:
        ring += " and " + ", ".join(rule.simultaneous)
    lines.append(ring)
    if rule.forward_offline is not None:
        lines.append(f"No phone registered → {rule.forward_offline.describe()}")
    if rule.forward_busy is not None:
        lines.append(f"Busy → {rule.forward_busy.describe()}")
    no_answer = rule.forward_no_answer or rule.fallback
    lines.append(f"No answer → {no_answer.describe()}")
    return lines


def format_until(until: datetime | None, timezone: str, now: datetime) -> str:
    """``until 17:00 today``, ``until Thu Dec 25, 09:00`` in ``timezone``; never a UTC stamp."""
    if until is None:
        return "with no change planned within a year"
    zone = ZoneInfo(timezone)
    local, today = until.astimezone(zone), now.astimezone(zone).date()
    if local.date() == today:
        return f"until {local:%H:%M} today"
    if (local.date() - today).days == 1:
        return f"until {local:%H:%M} tomorrow"
    return f"until {local:%a %b %-d, %H:%M}"
