"""The Time Frames editor as data: its period rows to a ``TimeFrame``, and a frame back to rows.

Pure: no store, no request. The editor sends one aligned list per field
(kind, days, dates, range, start, end: one item per row, removed rows marked
``"removed"``); :func:`periods_from_form` refuses what cannot be a period and
says which row and why. :func:`rows_of_frame` is its inverse for a saved frame.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any, NamedTuple

from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.timeframes import DatePeriod, Period, TimeFrame, TimeFrameError, WeeklyPeriod

PERIOD_KINDS: dict[str, str] = {
    "weekly": "Weekly hours",
    "dates": "Specific dates",
    "range": "Date range",
}
TENANT, PERSONAL = "tenant", "personal"  # the scope of a frame: company-wide or one user's


def _time(value: str | None, label: str) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(value[:5])
    except ValueError as exc:
        raise TimeFrameError(f"{label}: {value!r} is not a time (HH:MM)") from exc


def _date(value: str | None, label: str) -> date:
    try:
        return parse_day(str(value)[:10])
    except ValueError as exc:
        raise TimeFrameError(
            f"{label}: {str(value)[:40]!r} is not a date between {FIRST_DAY} and {LAST_DAY}"
        ) from exc


def periods_from_form(
    kinds: list[str],
    days: list[list[str] | None],
    dates: list[list[str] | None],
    ranges: list[list[str | None] | None],
    starts: list[str | None],
    ends: list[str | None],
) -> tuple[Period, ...]:
    """The periods of the editor's rows (aligned lists, one item per row), in order.

    Weekly hours may cross midnight (22:00–06:00); blank times mean all day.
    Dates and ranges take both times or none, and the end must be after the start.
    """
    periods: list[Period] = []
    shown = 0
    for kind, row_days, row_dates, row_range, start_text, end_text in zip(
        kinds, days, dates, ranges, starts, ends, strict=True
    ):
        if kind not in PERIOD_KINDS:
            continue  # a removed row
        shown += 1
        label = f"Period {shown} ({PERIOD_KINDS[kind].lower()})"
        start, end = _time(start_text, label), _time(end_text, label)
        if (start is None) != (end is None):
            raise TimeFrameError(f"{label}: give both a start and an end time, or neither")
        if kind == "weekly":
            if not row_days:
                raise TimeFrameError(f"{label}: pick at least one day")
            chosen = frozenset(int(d) for d in row_days)
            if start is None or end is None:
                start = end = time(0)  # start == end: the whole day
            periods.append(WeeklyPeriod(chosen, start, end))
            continue
        if start is not None and end is not None and end <= start:
            raise TimeFrameError(
                f"{label}: the end time {end:%H:%M} is before the start {start:%H:%M}"
            )
        if kind == "dates":
            if not row_dates:
                raise TimeFrameError(f"{label}: pick at least one date")
            for day in sorted({_date(d, label) for d in row_dates}):
                periods.append(DatePeriod(day, day, start, end))
        else:
            first, last = ((row_range or []) + [None, None])[:2]
            if not first or not last:
                raise TimeFrameError(f"{label}: pick the first and the last day")
            first_day, last_day = _date(first, label), _date(last, label)
            if last_day < first_day:
                raise TimeFrameError(
                    f"{label}: the range ends ({last_day}) before it starts ({first_day})"
                )
            periods.append(DatePeriod(first_day, last_day, start, end))
    if not periods:
        raise TimeFrameError("add at least one period, or switch on “Always”")
    return tuple(periods)


def frame_from_form(
    frame_id: int | None,
    name: str | None,
    timezone: str | None,
    always: bool,
    rows: tuple[list[Any], ...],
) -> TimeFrame:
    """A frame from the editor; ``rows`` are the aligned lists of ``periods_from_form``."""
    name = (name or "").strip()
    if not name:
        raise TimeFrameError("give the time frame a name")
    if not timezone:
        raise TimeFrameError("pick a time zone")
    periods = () if always else periods_from_form(*rows)
    return TimeFrame(name, timezone, periods, frame_id)


class RowValues(NamedTuple):
    """What one editor row starts with."""

    kind: str
    days: list[str]
    dates: list[str]
    range: list[str | None]
    start: str | None
    end: str | None


def rows_of_frame(frame: TimeFrame) -> list[RowValues]:
    """Editor rows for a saved frame; single days with the same hours share one row."""
    rows: list[RowValues] = []
    for p in frame.periods:
        if isinstance(p, WeeklyPeriod):
            whole_day = p.start == p.end
            rows.append(
                RowValues(
                    "weekly",
                    [str(d) for d in sorted(p.days)],
                    [],
                    [None, None],
                    None if whole_day else f"{p.start:%H:%M}",
                    None if whole_day else f"{p.end:%H:%M}",
                )
            )
            continue
        start = f"{p.start:%H:%M}" if p.start else None
        end = f"{p.end:%H:%M}" if p.end else None
        if p.first == p.last:
            last = rows[-1] if rows else None
            if last and last.kind == "dates" and (last.start, last.end) == (start, end):
                last.dates.append(p.first.isoformat())
                continue
            rows.append(RowValues("dates", [], [p.first.isoformat()], [None, None], start, end))
        else:
            rows.append(
                RowValues("range", [], [], [p.first.isoformat(), p.last.isoformat()], start, end)
            )
    return rows


def empty_row(kind: str) -> RowValues:
    """A new row of ``kind``: weekly hours start as Mon–Fri 09:00–17:00, others blank."""
    weekly = kind == "weekly"
    days = ["0", "1", "2", "3", "4"] if weekly else []
    return RowValues(
        kind, days, [], [None, None], "09:00" if weekly else None, "17:00" if weekly else None
    )
