"""Time frames and answering rules to and from the JSON kept in the provisioning DB.

One codec so that the store, the portal forms and the CLI read the same shape.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, time
from typing import Any

from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.rules import AnsweringRule, Destination
from switchboard.timeframes import DatePeriod, Period, TimeFrame, TimeFrameError, WeeklyPeriod


def periods_to_json(periods: tuple[Period, ...]) -> str:
    out: list[dict[str, Any]] = []
    for p in periods:
        if isinstance(p, WeeklyPeriod):
            out.append(
                {"weekly": sorted(p.days), "start": p.start.strftime("%H:%M"),
                 "end": p.end.strftime("%H:%M")}
            )  # fmt: skip
        else:
            item: dict[str, Any] = {"from": p.first.isoformat(), "to": p.last.isoformat()}
            if p.start is not None and p.end is not None:
                item |= {"start": p.start.strftime("%H:%M"), "end": p.end.strftime("%H:%M")}
            out.append(item)
    return json.dumps(out)


def parse_time(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise TimeFrameError(f"{value!r} is not a time (HH:MM)") from exc


def parse_date(value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise TimeFrameError(
            f"{value[:40]!r} is not a date (YYYY-MM-DD) between {FIRST_DAY} and {LAST_DAY}"
        ) from exc


def periods_from_json(text: str) -> tuple[Period, ...]:
    periods: list[Period] = []
    for item in json.loads(text):
        if "weekly" in item:
            days = frozenset(int(d) for d in item["weekly"])
            periods.append(WeeklyPeriod(days, parse_time(item["start"]), parse_time(item["end"])))
        else:
            start = parse_time(item["start"]) if item.get("start") else None
            end = parse_time(item["end"]) if item.get("end") else None
            # as stored (the store's validate bounded them on the way in)
            first, last = date.fromisoformat(item["from"]), date.fromisoformat(item["to"])
            periods.append(DatePeriod(first, last, start, end))
    return tuple(periods)


def frame_from_row(name: str, timezone: str, periods_json: str, id: int | None) -> TimeFrame:
    return TimeFrame(name, timezone, periods_from_json(periods_json), id)


_DEST_FIELDS = ("forward_always", "forward_busy", "forward_no_answer", "forward_offline")


def actions_to_json(rule: AnsweringRule) -> str:
    data = asdict(rule)
    for key in ("name", "priority", "frame", "enabled", "id"):
        data.pop(key)
    return json.dumps(data)


def rule_from_row(
    name: str, priority: int, frame: str | None, enabled: bool, actions_json: str, id: int | None
) -> AnsweringRule:
    data = json.loads(actions_json)
    for key in _DEST_FIELDS:
        data[key] = Destination(**data[key]) if data.get(key) else None
    data["fallback"] = Destination(**data.get("fallback") or {"kind": "voicemail"})
    data["simultaneous"] = tuple(data.get("simultaneous", ()))
    data["block"] = tuple(data.get("block", ()))
    return AnsweringRule(name=name, priority=priority, frame=frame, enabled=enabled, id=id, **data)
