"""The call-history filter shared by the portal grid, the CSV export and the CLI.

One ``CallFilter`` comes from a URL query string (``from_query``), goes back
into one (``to_query``, so every view is a shareable link), compiles to
parameterised SQL (``where``) and to a sentence for people (``describe``).
Dates are calendar days in the viewer's time zone; ``where`` turns them into
UTC instants, so "the 1st in New York" means the New York day, DST included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.schema import DIRECTIONS, DISPOSITIONS

# An extension or a phone number as it appears in caller/callee.
_PARTY_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
MAX_SEARCH = 100


class FilterError(ValueError):
    """A filter value was refused; the message can be shown to the user as-is."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FilterError(f"unknown time zone {name!r}") from exc


def _parse_date(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(f"'{key}' must be a date like 2024-03-31, not {value!r}") from exc


def _like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards escaped, so "50%" means those characters."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class CallFilter:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    direction: str | None = None
    disposition: str | None = None
    extension: str | None = None  # matches caller, callee or answered_by
    search: str | None = None  # case-insensitive substring of caller/callee and their names
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError(
                f"'from' ({self.date_from.isoformat()}) is after 'to' ({self.date_to.isoformat()})"
            )
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise FilterError(
                f"direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}"
            )
        if self.disposition is not None and self.disposition not in DISPOSITIONS:
            raise FilterError(
                f"disposition must be one of {', '.join(DISPOSITIONS)}, not {self.disposition!r}"
            )
        if self.extension is not None and not _PARTY_RE.match(self.extension):
            raise FilterError(
                f"extension must be digits (an extension or number), not {self.extension!r}"
            )
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise FilterError(f"search text is limited to {MAX_SEARCH} characters")

    @classmethod
    def from_query(cls, params: Mapping[str, str], timezone: str) -> CallFilter:
        """Parse URL query values (from, to, direction, disposition, extension, q)."""

        def value(key: str) -> str | None:
            raw = params.get(key)
            text = "" if raw is None else str(raw).strip()
            return text or None

        date_from = value("from")
        date_to = value("to")
        return cls(
            date_from=_parse_date("from", date_from) if date_from else None,
            date_to=_parse_date("to", date_to) if date_to else None,
            direction=value("direction"),
            disposition=value("disposition"),
            extension=value("extension"),
            search=value("q"),
            timezone=timezone,
        )

    def to_query(self) -> dict[str, str]:
        """The URL query that ``from_query`` turns back into this filter."""
        pairs = {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "direction": self.direction,
            "disposition": self.disposition,
            "extension": self.extension,
            "q": self.search,
        }
        return {k: v for k, v in pairs.items() if v}

    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC of the local days ``date_from`` .. ``date_to``."""
        zone = _zone(self.timezone)
        start = end = None
        if self.date_from:
            start = datetime.combine(self.date_from, time(), zone).astimezone(UTC)
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), zone).astimezone(UTC)
        return start, end

    def where(self) -> tuple[str, list[object]]:
        """Parameterised SQL over the ``calls`` view, and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        start, end = self.utc_bounds()
        if start is not None:
            # The `date` partition (UTC day of started_at) repeats the bound so
            # DuckDB skips whole folders; started_at makes it exact.
            clauses += ["date >= ?", "started_at >= ?"]
            params += [start.date(), start]
        if end is not None:
            clauses += ["date <= ?", "started_at < ?"]
            params += [(end - timedelta(microseconds=1)).date(), end]
        if self.direction:
            clauses.append("direction = ?")
            params.append(self.direction)
        if self.disposition:
            clauses.append("disposition = ?")
            params.append(self.disposition)
        if self.extension:
            clauses.append("(caller = ? or callee = ? or answered_by = ?)")
            params += [self.extension] * 3
        if self.search:
            columns = ("caller", "callee", "caller_name", "callee_name")
            clauses.append(
                "(" + " or ".join(f"lower({c}) like ? escape '\\'" for c in columns) + ")"
            )
            params += [_like_pattern(self.search)] * len(columns)
        return (" and ".join(clauses) or "true"), params

    def describe(self) -> str:
        """A sentence for people, e.g. 'Inbound missed calls involving extension 101'."""
        words = [w for w in (self.direction, self.disposition) if w]
        text = " ".join([*words, "calls"]) if words else "All calls"
        text = text[0].upper() + text[1:]
        if self.extension:
            text += f" involving extension {self.extension}"
        if self.search:
            text += f" matching “{self.search}”"
        f, t = self.date_from, self.date_to
        if f and t:
            text += (
                f" on {f.isoformat()}" if f == t else f" from {f.isoformat()} to {t.isoformat()}"
            )
        elif f:
            text += f" since {f.isoformat()}"
        elif t:
            text += f" until {t.isoformat()}"
        if f or t:
            text += f" ({self.timezone})"
        return text
