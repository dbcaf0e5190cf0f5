"""The call-history filter shared by the portal grid, the CSV export and the CLI.

One ``CallFilter`` comes from a URL query string (``from_query``), goes back
into one (``to_query``, so every view is a shareable link), compiles to
parameterised SQL and to a sentence for people (``describe``). The SQL comes
with named parameters (``where_named``: ``$f_direction`` …, for queries that
bind named values of their own, like the metrics) or positional ones
(``where``: ``?``, for the call history and exports); both are one compilation.
Dates are calendar days in the viewer's time zone; :func:`day_start_utc` (the
one owner of that conversion) turns them into UTC instants, so "the 1st in New
York" means the New York day, DST included.

The analytics drill-down keys (``caller``, ``callee``, ``handled_by``,
``rule``, ``frame``, ``hour``, ``weekday``) select exactly the calls a metric
row counted: ``handled_by`` and the local hour/weekday use the same SQL
expressions as ``pipeline/sql/metrics/base_calls.sql`` (``HANDLING_EXTENSION``);
``menu`` (``<menu id>:<outcome>[:<key>]``) selects the calls a row of the menu funnel
counted, from the ``call_steps`` view as ``menu_funnel.sql`` does; ``queue``
(``<queue id>:<outcome>``) the calls behind a row of the queue metrics, from the
``queue_events`` view (the caller's Call-ID).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipeline.schema import DIRECTIONS, DISPOSITIONS
from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.zones import require_zone

# An extension or a phone number as it appears in caller/callee.
_PARTY_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
MAX_SEARCH = 100
MAX_NAME = 100
# The menu funnel's outcomes (docs/metrics.md "Menu funnel") and the step kind of each.
MENU_OUTCOMES: dict[str, str] = {
    "entered": "menu_entered",
    "key": "menu_key",
    "timeout": "menu_timeout",
    "invalid": "menu_invalid",
    "hangup": "menu_hangup",
}
_MENU_WORDS = {
    "entered": "entered",
    "key": "pressed a key",
    "timeout": "timed out",
    "invalid": "pressed an invalid key",
    "hangup": "hung up",
}
_MENU_RE = re.compile(r"[0-9]{1,9}:(?:(?:entered|timeout|invalid|hangup)|key(?::[0-9*#]{1,16})?)")
# The queue metrics' outcomes (docs/metrics.md "Queue metrics") and the event that marks each.
QUEUE_OUTCOMES = {
    "offered": "enter",
    "answered": "connect",
    "abandoned": "abandon",
    "overflowed": "overflow",
    "exit_key": "exit_key",
}
_QUEUE_RE = re.compile(r"^[0-9]{1,12}:(" + "|".join(QUEUE_OUTCOMES) + r")$")

# The value of ``rule``/``frame`` that selects calls no rule (or no frame) decided.
NONE_VALUE = "(none)"

# The extension a call is attributed to in the metrics (one per call): the
# caller of an outbound call, else whoever answered, else the extension rung
# for an internal call. Unanswered inbound calls to a main number have none.
# Shared with the metric SQL so a drill-down selects exactly the counted calls.
HANDLING_EXTENSION = (
    "case when direction = 'outbound' then caller"
    " when answered_by is not null then answered_by"
    " when direction = 'internal' then callee end"
)
# A phone number as digits only: "+1 (555) 123-4567" and "15551234567" match.
CALLER_DIGITS = "regexp_replace(coalesce(caller, ''), '[^0-9]', '', 'g')"
CALLEE_DIGITS = "regexp_replace(coalesce(callee, ''), '[^0-9]', '', 'g')"


class FilterError(ValueError):
    """A filter value was refused; the message can be shown to the user as-is."""


_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _zone(name: str) -> ZoneInfo:
    return require_zone(name, FilterError)


def day_start_utc(day: date, timezone: str) -> datetime:
    """The UTC instant at which local ``day`` begins in ``timezone`` (DST included)."""
    return datetime.combine(day, time(), _zone(timezone)).astimezone(UTC)


# Puts one value into the SQL: records it, returns its placeholder (``?`` or ``$f_<name>``).
Bind = Callable[[str, object], str]


def _parse_date(key: str, value: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise FilterError(
            f"'{key}' must be a date like 2024-03-31 between {FIRST_DAY} and {LAST_DAY},"
            f" not {value[:40]!r}"
        ) from exc


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
    # Analytics drill-down keys (None: no condition).
    caller: str | None = None  # the caller's number, compared digits only
    callee: str | None = None  # exact callee (an extension or a main number)
    handled_by: str | None = None  # the extension the metrics attribute the call to
    rule: str | None = None  # the answering rule that decided ("(none)": no rule)
    frame: str | None = None  # the time frame of that rule ("(none)": no frame)
    hour: int | None = None  # local hour of day of started_at, 0-23
    weekday: int | None = None  # local ISO weekday of started_at, 1 = Monday … 7
    # The menu funnel's drill-down: "<attendant id>:<outcome>[:<key>]" (MENU_OUTCOMES).
    menu: str | None = None
    # The queue metrics' drill-down: "<queue id>:<outcome>" (QUEUE_OUTCOMES).
    queue: str | None = None

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
        for key, party in (("caller", self.caller), ("callee", self.callee)):
            if party is not None and not _PARTY_RE.match(party):
                raise FilterError(f"{key} must be a number or extension, not {party!r}")
        if self.handled_by is not None and not re.fullmatch(
            r"[0-9A-Za-z.@_-]{1,64}", self.handled_by
        ):
            raise FilterError(f"handled_by must be an extension, not {self.handled_by!r}")
        for key, name in (("rule", self.rule), ("frame", self.frame)):
            if name is not None and len(name) > MAX_NAME:
                raise FilterError(f"{key} is limited to {MAX_NAME} characters")
        if self.hour is not None and not 0 <= self.hour <= 23:
            raise FilterError(f"hour must be 0 to 23, not {self.hour!r}")
        if self.weekday is not None and not 1 <= self.weekday <= 7:
            raise FilterError(f"weekday must be 1 (Monday) to 7 (Sunday), not {self.weekday!r}")
        if self.menu is not None and not _MENU_RE.fullmatch(self.menu):
            raise FilterError(
                "menu must be <menu id>:<entered|key|timeout|invalid|hangup>[:<key>],"
                f" not {self.menu[:80]!r}"
            )
        if self.queue is not None and not _QUEUE_RE.fullmatch(self.queue):
            raise FilterError(
                f"queue must be <queue id>:<{'|'.join(QUEUE_OUTCOMES)}>, not {self.queue[:80]!r}"
            )

    @classmethod
    def from_query(cls, params: Mapping[str, str], timezone: str) -> CallFilter:
        """Parse URL query values (from, to, direction, disposition, extension, q)."""

        def value(key: str) -> str | None:
            raw = params.get(key)
            text = "" if raw is None else str(raw).strip()
            return text or None

        def number(key: str) -> int | None:
            text = value(key)
            if text is None:
                return None
            # ASCII digits only: "²".isdigit() is true, yet int("²") fails.
            if not (text.isascii() and text.isdigit()) or len(text) > 9:
                raise FilterError(f"{key!r} must be a whole number, not {text!r}")
            return int(text)

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
            caller=value("caller"),
            callee=value("callee"),
            handled_by=value("handled_by"),
            rule=value("rule"),
            frame=value("frame"),
            hour=number("hour"),
            weekday=number("weekday"),
            menu=value("menu"),
            queue=value("queue"),
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
            "caller": self.caller,
            "callee": self.callee,
            "handled_by": self.handled_by,
            "rule": self.rule,
            "frame": self.frame,
            "hour": None if self.hour is None else str(self.hour),
            "weekday": None if self.weekday is None else str(self.weekday),
            "menu": self.menu,
            "queue": self.queue,
        }
        return {k: v for k, v in pairs.items() if v}

    @property
    def only_dates(self) -> bool:
        """Whether it filters by nothing but its days: every call of the viewer's days."""
        return replace(self, date_from=None, date_to=None) == CallFilter(timezone=self.timezone)

    def utc_bounds(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in UTC of the local days ``date_from`` .. ``date_to``."""
        start = end = None
        if self.date_from:
            start = day_start_utc(self.date_from, self.timezone)
        if self.date_to:
            end = day_start_utc(self.date_to + timedelta(days=1), self.timezone)
        return start, end

    def where(self) -> tuple[str, list[object]]:
        """SQL over the ``calls`` view with positional ``?`` parameters, and their values."""
        params: list[object] = []

        def bind(_name: str, value: object) -> str:
            params.append(value)
            return "?"

        return self._compile(bind), params

    def where_named(self) -> tuple[str, dict[str, object]]:
        """SQL over the ``calls`` view with named parameters ``$f_<name>``, and their values.

        The ``f_`` prefix keeps them apart from the named values of the query around it.
        """
        params: dict[str, object] = {}

        def bind(name: str, value: object) -> str:
            params[f"f_{name}"] = value
            return f"$f_{name}"

        return self._compile(bind), params

    def _compile(self, bind: Bind) -> str:
        """The conditions, each value put in by ``bind`` (once per occurrence, in order)."""
        clauses: list[str] = []
        start, end = self.utc_bounds()
        if start is not None:
            # The `date` partition (UTC day of started_at) repeats the bound so
            # DuckDB skips whole folders; started_at makes it exact.
            clauses.append(f"date >= {bind('first_date', start.date())}")
            clauses.append(f"started_at >= {bind('start', start)}")
        if end is not None:
            clauses.append(f"date <= {bind('last_date', (end - timedelta(microseconds=1)).date())}")
            clauses.append(f"started_at < {bind('end', end)}")
        if self.direction:
            clauses.append(f"direction = {bind('direction', self.direction)}")
        if self.disposition:
            clauses.append(f"disposition = {bind('disposition', self.disposition)}")
        if self.extension:
            parties = ("caller", "callee", "answered_by")
            matches = [f"{c} = {bind('extension', self.extension)}" for c in parties]
            clauses.append("(" + " or ".join(matches) + ")")
        if self.search:
            columns = ("caller", "callee", "caller_name", "callee_name")
            pattern = _like_pattern(self.search)
            likes = [f"lower({c}) like {bind('search', pattern)} escape '\\'" for c in columns]
            clauses.append("(" + " or ".join(likes) + ")")
        if self.caller:
            clauses.append(
                f"{CALLER_DIGITS} = {bind('caller', re.sub(r'[^0-9]', '', self.caller))}"
            )
        if self.callee:
            clauses.append(f"callee = {bind('callee', self.callee)}")
        if self.handled_by:
            clauses.append(f"({HANDLING_EXTENSION}) = {bind('handled_by', self.handled_by)}")
        for column, name in (("rule", self.rule), ("frame", self.frame)):
            if name == NONE_VALUE:
                clauses.append(f"{column} is null")
            elif name:
                clauses.append(f"{column} = {bind(column, name)}")
        if self.hour is not None:
            local = f"timezone({bind('tz', self.timezone)}, started_at)"
            clauses.append(f"hour({local}) = {bind('hour', self.hour)}")
        if self.weekday is not None:
            local = f"timezone({bind('tz', self.timezone)}, started_at)"
            clauses.append(f"isodow({local}) = {bind('weekday', self.weekday)}")
        if self.menu:
            # the calls a row of the menu funnel counted (pipeline/sql/metrics/menu_funnel.sql)
            menu_id, outcome, *key = self.menu.split(":", 2)
            step = (
                "select call_id from call_steps"
                f" where attendant_id = {bind('menu_id', int(menu_id))}"
                f" and kind = {bind('menu_kind', MENU_OUTCOMES[outcome])}"
            )
            if key:
                step += f" and key = {bind('menu_key', key[0])}"
            clauses.append(f"call_id in ({step})")
        if self.queue:
            # the callers a row of the queue metrics counted (pipeline/sql/queue_stints.sql)
            queue_id, outcome = self.queue.split(":", 1)
            clauses.append(
                "call_id in (select call_id from queue_events"
                f" where queue_id = {bind('queue_id', int(queue_id))}"
                f" and kind = {bind('queue_kind', QUEUE_OUTCOMES[outcome])})"
            )
        return " and ".join(clauses) or "true"

    def describe(self) -> str:
        """A sentence for people, e.g. 'Inbound missed calls involving extension 101'."""
        words = [w for w in (self.direction, self.disposition) if w]
        text = " ".join([*words, "calls"]) if words else "All calls"
        text = text[0].upper() + text[1:]
        if self.extension:
            text += f" involving extension {self.extension}"
        if self.search:
            text += f" matching “{self.search}”"
        if self.caller:
            text += f" from {self.caller}"
        if self.callee:
            text += f" to {self.callee}"
        if self.handled_by:
            text += f" handled by {self.handled_by}"
        if self.rule:
            text += " decided by no rule" if self.rule == NONE_VALUE else f" by rule “{self.rule}”"
        if self.frame:
            text += " outside any time frame" if self.frame == NONE_VALUE else f" in “{self.frame}”"
        if self.weekday is not None:
            text += f" on {_WEEKDAY_NAMES[self.weekday - 1]}s"
        if self.hour is not None:
            text += f" at {self.hour:02d}:00–{self.hour:02d}:59"
        if self.menu:
            menu_id, outcome, *key = self.menu.split(":", 2)
            what = f"pressed {key[0]}" if key else _MENU_WORDS[outcome]
            text += f" that {what} in menu {menu_id}"
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
