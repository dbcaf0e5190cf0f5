"""The Analytics page's view state and tables, shared by the page and its downloads.

``AnalyticsQuery`` is the URL of the page (period, zone, comparison, filters):
parsing it in one place means a table on screen and its CSV/XLSX/Parquet
download run the very same :mod:`pipeline.metrics` call in the same scope,
so "the download equals the table" holds by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import duckdb

from dash_app.analytics_queues import QUEUE_TABLE_SPECS
from pipeline import metrics
from pipeline.filters import NONE_VALUE, CallFilter, FilterError
from pipeline.metric_catalogue import INTERVALS
from switchboard.days import check_day, parse_day
from switchboard.zones import require_zone

# URL keys of the page: its own, then the CallFilter keys it passes on.
PAGE_KEYS = ("from", "to", "tz", "compare", "interval")
FILTER_KEYS = ("direction", "disposition", "extension")
DEFAULT_DAYS = 7
# Rows a table shows on the page (its first ones in its order); downloads have them all.
PREVIEW_ROWS = 200


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


# The longest period drawn by the hour (a year of hours cost a plain user's request ~1 s of
# a core and 1.5 MB; a longer period by the hour is drawn by the day instead).
MAX_HOURLY_DAYS = 31


@dataclass(frozen=True)
class AnalyticsQuery:
    """What the page shows: period, zone, comparison, interval and call filters."""

    period: metrics.Period
    tz: str
    compare: bool = True
    interval: str = "day"
    filters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_url(
        cls, query: Mapping[str, Any], default_tz: str, today: date | None = None
    ) -> tuple[AnalyticsQuery, str]:
        """(query, error); a bad URL gives the default view and says why."""
        raw = {k: _first(query.get(k)) for k in (*PAGE_KEYS, *FILTER_KEYS)}
        tz = raw["tz"] or default_tz
        try:
            zone = require_zone(tz)
            end_day = today or datetime.now(zone).date()
            start = parse_day(raw["from"]) if raw["from"] else None
            end = parse_day(raw["to"]) if raw["to"] else None
            end = end or (start + timedelta(days=DEFAULT_DAYS - 1) if start else end_day)
            start = start or end - timedelta(days=DEFAULT_DAYS - 1)
            period = metrics.Period(check_day(start), check_day(end))
            if period.days > 366:
                raise metrics.MetricError("the period is limited to 366 days")
            filters = {k: raw[k] for k in FILTER_KEYS if raw[k]}
            CallFilter.from_query(filters, tz)
        except (ValueError, FilterError) as exc:
            return cls.default(default_tz, today), str(exc)
        interval = raw["interval"] if raw["interval"] in INTERVALS else ""
        if interval == "hour" and period.days > MAX_HOURLY_DAYS:  # 8,800 points a chart
            interval = ""
        if not interval:
            interval = "hour" if period.days <= 2 else "day" if period.days <= 62 else "week"
        return cls(period, tz, raw["compare"] != "0", interval, filters), ""

    @classmethod
    def default(cls, tz: str, today: date | None = None) -> AnalyticsQuery:
        end = today or datetime.now(ZoneInfo(tz)).date()
        return cls(metrics.Period(end - timedelta(days=DEFAULT_DAYS - 1), end), tz)

    def to_url(self) -> dict[str, str]:
        out = {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "tz": self.tz,
            "interval": self.interval,
        }
        if not self.compare:
            out["compare"] = "0"
        out.update(self.filters)
        return out

    def call_filter(self) -> CallFilter:
        return CallFilter.from_query(self.filters, self.tz)

    def drill(self, **keys: Any) -> str:
        """The Call History URL of the calls behind one number (dates default to the period)."""
        params: dict[str, str] = {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            **self.filters,
        }
        for key, value in keys.items():
            if value is None:
                continue
            params[key] = value.isoformat() if isinstance(value, date) else str(value)
        return "/calls?" + urlencode(params)


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _link(text: str, url: str) -> str:
    """A markdown link: the grid's ``markdown`` cell renderer shows it as an anchor."""
    return f"[{text}]({url})"


def _key(value: Any) -> str:
    return NONE_VALUE if value is None else str(value)


class Loader(Protocol):
    """Rows of a table (``limit``: the first ones only; None: all, as downloads)."""

    def __call__(
        self,
        conn: duckdb.DuckDBPyConnection,
        q: AnalyticsQuery,
        marks: Mapping[str, datetime],
        limit: int | None = None,
    ) -> list[dict[str, Any]]: ...


# The page's own choice of KPI columns (the CLI shows metric_catalogue.KPI_COLUMNS).
KPI_TABLE_COLUMNS = (
    "calls",
    "offered",
    "answered",
    "missed",
    "answer_rate",
    "avg_ring_answered",
    "total_talk",
    "avg_talk",
    "inbound",
    "outbound",
    "internal",
)


def _grouped(group_by: str, drill_key: str) -> Loader:
    def load(
        conn: duckdb.DuckDBPyConnection,
        q: AnalyticsQuery,
        marks: Mapping[str, datetime],
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        rows = metrics.kpis(conn, q.period, group_by=group_by, tz=q.tz, filters=q.call_filter())
        rows = rows if limit is None else rows[:limit]
        out = []
        for r in rows:
            row = {group_by: _key(r["grp"]), **{c: _round(r[c]) for c in KPI_TABLE_COLUMNS}}
            if drill_key == "callee":
                link = q.drill(direction="inbound", callee=r["grp"]) if r["grp"] else None
            else:
                link = q.drill(**{drill_key: _key(r["grp"])}) if r["grp"] else None
            if group_by == "rule" and r["grp"] is None:
                link = q.drill(rule=NONE_VALUE)
            row["calls_link"] = f"[{r['calls']} calls]({link})" if link else ""
            out.append(row)
        return out

    return load


def _repeat(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    rows = metrics.repeat_callers(conn, q.period, tz=q.tz, filters=q.call_filter(), limit=limit)
    return [
        {
            "caller": r["caller"],
            "caller_name": r["caller_name"] or "",
            "calls": r["calls"],
            "answered": r["answered"],
            "not_answered": r["not_answered"],
            "first_call_at": r["first_call_at"],
            "last_call_at": r["last_call_at"],
            "calls_link": _link(
                f"{r['calls']} calls", q.drill(caller=r["number"], direction="inbound")
            ),
        }
        for r in rows
    ]


def _callbacks(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    rows = metrics.callback_worklist(
        conn, q.period, tz=q.tz, filters=q.call_filter(), handled=marks, limit=limit
    )
    return [
        {
            "number": r["number"],
            "caller": r["caller"],
            "caller_name": r["caller_name"] or "",
            "missed_calls": r["missed_calls"],
            "last_missed_at": r["last_missed_at"],
            "last_disposition": r["last_disposition"],
            "last_callee": r["last_callee"],
            "calls_link": _link(
                f"{r['missed_calls']} missed", q.drill(caller=r["number"], direction="inbound")
            ),
        }
        for r in rows
    ]


def _menus(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The menu funnel: per auto attendant, what its callers did (docs/metrics.md)."""
    rows = metrics.menu_funnel(conn, q.period, tz=q.tz, filters=q.call_filter())
    rows = rows if limit is None else rows[:limit]
    return [
        {
            "menu": r["attendant"],
            "menu_id": r["attendant_id"],
            "outcome": r["outcome"],
            "key": r["key"] or "",
            "callers": r["calls"],
            "share": _round(r["share"]),
            # the calls the row counted (pipeline.filters: the `menu` drill-down key)
            "calls_link": _link(f"{r['calls']} calls", q.drill(menu=r["menu"]))
            if r["calls"]
            else "",
        }
        for r in rows
    ]


@dataclass(frozen=True)
class Table:
    """One downloadable table of the page: a title, its loader and its columns."""

    title: str
    load: Loader
    columns: tuple[str, ...]


TABLES: dict[str, Table] = {
    "extensions": Table(
        "Per extension", _grouped("extension", "handled_by"), ("extension", *KPI_TABLE_COLUMNS)
    ),
    "dids": Table("Per main number", _grouped("did", "callee"), ("did", *KPI_TABLE_COLUMNS)),
    "rules": Table("Per answering rule", _grouped("rule", "rule"), ("rule", *KPI_TABLE_COLUMNS)),
    "repeat": Table(
        "Repeat callers",
        _repeat,
        (
            "caller",
            "caller_name",
            "calls",
            "answered",
            "not_answered",
            "first_call_at",
            "last_call_at",
        ),
    ),
    "menus": Table(
        "Menu funnel", _menus, ("menu", "menu_id", "outcome", "key", "callers", "share")
    ),
    "callbacks": Table(
        "Callback worklist",
        _callbacks,
        (
            "number",
            "caller",
            "caller_name",
            "missed_calls",
            "last_missed_at",
            "last_disposition",
            "last_callee",
        ),
    ),
}


# The Queues section's tables (dash_app.analytics_queues): same grid, route and loader rule.
TABLES.update({name: Table(*spec) for name, spec in QUEUE_TABLE_SPECS.items()})


def download_url(table: str, fmt: str, q: AnalyticsQuery) -> str:
    return f"/download/analytics/{table}.{fmt}?" + urlencode(q.to_url())
