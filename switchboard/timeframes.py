"""Time frames: when is "Open Hours", "Closed", "Holidays", in the frame's own zone.

Pure: nothing here reads a clock or a database. A frame is a set of periods
(weekly windows, date spans, or always); an instant is inside the frame when
its wall-clock time *in the frame's time zone* falls in any period. Comparing
wall-clock times makes DST transitions come out right by construction: a
09:00–17:00 frame is 09:00–17:00 on the 23-hour and the 25-hour day alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from switchboard.days import check_day
from switchboard.zones import require_zone

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeFrameError(ValueError):
    """A time frame that cannot be saved; the message says why."""


@dataclass(frozen=True)
class WeeklyPeriod:
    """Every week on ``days`` (0 = Monday) from ``start`` to ``end``.

    ``end <= start`` means the window crosses midnight into the next day
    (22:00–06:00 on Friday covers Friday night and Saturday morning);
    ``start == end`` means the whole day.
    """

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        t, day = local.time(), local.weekday()
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= t < self.end
        return (day in self.days and t >= self.start) or (
            (day - 1) % 7 in self.days and t < self.end
        )

    def boundaries(self, first: date, last: date) -> Iterator[datetime]:
        d = first
        while d <= last:
            if d.weekday() in self.days:
                yield datetime.combine(d, self.start)
                end_day = d if self.start < self.end else d + timedelta(days=1)
                yield datetime.combine(end_day, self.end)
            d += timedelta(days=1)


@dataclass(frozen=True)
class DatePeriod:
    """From ``first`` to ``last`` (inclusive dates), all day or between two times each day.

    A single holiday is ``first == last``; a vacation is a range.
    """

    first: date
    last: date
    start: time | None = None
    end: time | None = None

    def contains(self, local: datetime) -> bool:
        if not self.first <= local.date() <= self.last:
            return False
        if self.start is None or self.end is None:
            return True
        return self.start <= local.time() < self.end

    def boundaries(self, first: date, last: date) -> Iterator[datetime]:
        if self.start is None or self.end is None:
            yield datetime.combine(self.first, time(0))
            yield datetime.combine(self.last + timedelta(days=1), time(0))
            return
        d = max(first, self.first)
        while d <= min(last, self.last):
            yield datetime.combine(d, self.start)
            yield datetime.combine(d, self.end)
            d += timedelta(days=1)


Period = WeeklyPeriod | DatePeriod


@dataclass(frozen=True)
class TimeFrame:
    """A named set of periods in one IANA zone; no periods means "always"."""

    name: str
    timezone: str
    periods: tuple[Period, ...] = field(default_factory=tuple)
    id: int | None = None

    @property
    def always(self) -> bool:
        return not self.periods

    def contains(self, instant: datetime) -> bool:
        if self.always:
            return True
        local = instant.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        return any(p.contains(local) for p in self.periods)

    def boundaries(self, after: datetime, days: int) -> list[datetime]:
        """UTC instants within ``days`` after ``after`` where membership may change."""
        if self.always:
            return []
        zone = ZoneInfo(self.timezone)
        local_after = after.astimezone(zone)
        first = local_after.date() - timedelta(days=1)
        last = first + timedelta(days=days + 1)
        out = set()
        for period in self.periods:
            for local in period.boundaries(first, last):
                instant = local.replace(tzinfo=zone).astimezone(UTC)
                if instant > after:
                    out.add(instant)
        return sorted(out)


def validate(frame: TimeFrame) -> TimeFrame:
    """Refuse frames that could never mean what the user meant."""
    if not frame.name.strip():
        raise TimeFrameError("a time frame needs a name")
    require_zone(frame.timezone, TimeFrameError)
    for p in frame.periods:
        if isinstance(p, WeeklyPeriod):
            if not p.days:
                raise TimeFrameError(f"{frame.name}: a weekly period needs at least one day")
            if not all(0 <= d <= 6 for d in p.days):
                raise TimeFrameError(f"{frame.name}: weekdays are 0 (Monday) to 6 (Sunday)")
        else:
            for day in (p.first, p.last):  # the day after each is a boundary
                try:
                    check_day(day)
                except ValueError as exc:
                    raise TimeFrameError(f"{frame.name}: {exc}") from exc
            if p.last < p.first:
                raise TimeFrameError(
                    f"{frame.name}: the range ends ({p.last}) before it starts ({p.first})"
                )
            if (p.start is None) != (p.end is None):
                raise TimeFrameError(f"{frame.name}: give both a start and an end time, or none")
            if p.start is not None and p.end is not None and p.end <= p.start:
                raise TimeFrameError(
                    f"{frame.name}: the end time {p.end:%H:%M} is not after {p.start:%H:%M}"
                )
    return frame
