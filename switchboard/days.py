"""The days a person may name (a URL, a form, a CLI option): ``YYYY-MM-DD`` within a bound.

A phone system's calls, rules and reports fall between 1970 and 3000; a day outside is a
typo or a crafted value. The bound also keeps every day far below ``date.max``, so the day
arithmetic each period does (the day after its end, the previous period, a zone's offset, a
rule's next boundary) cannot overflow: ``to=9999-12-31`` answered 500 on every page that
took a date before this bound existed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)
# The same bound for an instant a producer writes (epoch seconds: the media server's
# events, Kamailio's accounting): past it, the row's UTC day overflowed as it was built.
LATEST_EPOCH = datetime.combine(LAST_DAY, time.max, tzinfo=UTC).timestamp()


def check_day(day: date) -> date:
    """``day`` when it lies within :data:`FIRST_DAY`..:data:`LAST_DAY`; ValueError otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day.isoformat()} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def parse_day(text: str) -> date:
    """The day ``text`` names (ISO ``YYYY-MM-DD``) within the bound; ValueError says why."""
    return check_day(date.fromisoformat(text))
