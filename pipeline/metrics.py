"""The metric layer: every number the portal, CLI, notebooks and exports show.

All metrics are SQL files under ``pipeline/sql/metrics/`` (definitions in
``docs/metrics.md``), run on a tenant-bound warehouse connection
(:func:`pipeline.viewer.open_for_viewer`). Nobody else holds metric SQL, so a
tile, a CLI line, a notebook cell and a scheduled report cannot disagree.

The layer is cut by concern, and this module is its front door (``from
pipeline import metrics; metrics.kpis(...)`` reads everything):

* :mod:`pipeline.metric_catalogue` — what the metrics are (names, labels,
  group-bys, version, formatting; no DuckDB);
* :mod:`pipeline.metric_engine` — periods, parameters, and how a metric file
  is compiled, prepared for a page (:func:`prepare`), cached and run;
* this module — the call KPIs, volume, busy hours, concurrency, the summary
  of the tiles and its comparison with the previous period;
* :mod:`pipeline.metric_callers` — repeat callers and the callback worklist;
* :mod:`pipeline.metric_menus` — the auto attendants' menu funnel.

Metric families: ``calls`` (version :data:`METRICS_VERSION`). Queue metrics
slot in as another family: their own SQL files over a ``queue_events`` view,
a module beside this one, and rows merged into :func:`summary` when the view
exists — the same way :func:`voicemails_left` reads the optional
``voicemails`` view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb

from pipeline.filters import CallFilter
from pipeline.metric_callers import callback_worklist as callback_worklist
from pipeline.metric_callers import callbacks_pending as callbacks_pending
from pipeline.metric_callers import repeat_callers as repeat_callers
from pipeline.metric_callers import repeat_summary as repeat_summary

# The catalogue owns what the metrics are; re-exported so `metrics.DEFINITIONS` etc. still read.
from pipeline.metric_catalogue import DEFINITION_BY_NAME as DEFINITION_BY_NAME
from pipeline.metric_catalogue import DEFINITIONS as DEFINITIONS
from pipeline.metric_catalogue import GROUP_BYS as GROUP_BYS
from pipeline.metric_catalogue import INTERVALS as INTERVALS
from pipeline.metric_catalogue import METRICS_VERSION as METRICS_VERSION
from pipeline.metric_catalogue import MetricDefinition as MetricDefinition
from pipeline.metric_catalogue import format_value as format_value

# The engine's vocabulary, re-exported so `metrics.Period`, `metrics.prepare` etc. still read.
from pipeline.metric_engine import DEFAULT_PARAMS as DEFAULT_PARAMS
from pipeline.metric_engine import LOCAL_TIME, rows_of, run_metric, run_staged
from pipeline.metric_engine import MetricError as MetricError
from pipeline.metric_engine import MetricParams as MetricParams
from pipeline.metric_engine import Period as Period
from pipeline.metric_engine import prepare as prepare
from pipeline.metric_engine import release as release
from pipeline.metric_engine import scope_filter as scope_filter
from pipeline.metric_engine import sql_text as sql_text

# The menu funnel lives beside the callers' metrics; re-exported like them.
from pipeline.metric_menus import menu_funnel as menu_funnel

# Hour buckets are instants: the UTC instant at which the local hour began. On
# a 25-hour day the repeated 01:00 is two buckets; zones with :30 offsets work.
# {local} is the instant's wall-clock time in $tz: local_start in the staging
# rows (converted once per row there), else through the instant's zone_hours row.
_HOUR_OF = "{ts} - ({local} - date_trunc('hour', {local}))"
_DAY_OF = "cast({local} as date)"
_WEEK_OF = "cast(date_trunc('week', {local}) as date)"
_START = {"ts": "started_at", "local": "local_start"}
_EVENT = {"ts": "event_at", "local": LOCAL_TIME.format(ts="event_at")}

_GROUP_KEYS: dict[str | None, str] = {
    None: "'all'",
    "hour": _HOUR_OF.format(**_START),
    "day": _DAY_OF.format(**_START),
    "week": _WEEK_OF.format(**_START),
    "extension": "extension",
    "did": "did",
    "rule": "rule",
}
# The groupings whose KPIs come from cells keyed by these columns (kpi_cells.sql).
_BY_CELL = (None, "extension", "did", "rule")
_ENTITY_CELLS = "extension, did, rule"
_BUCKET_AT: dict[str | None, tuple[str, str]] = {
    # (bucket of an instant `at`, the instant the bucket starts)
    None: ("'all'", "cast('-infinity' as timestamptz)"),
    "hour": (_HOUR_OF.format(**_EVENT), "bucket"),
    "day": (_DAY_OF.format(**_EVENT), "timezone($tz, cast(bucket as timestamp))"),
    "week": (_WEEK_OF.format(**_EVENT), "timezone($tz, cast(bucket as timestamp))"),
}


def kpis(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    group_by: str | None = None,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
) -> list[dict[str, Any]]:
    """The call KPIs of the period, one row per group (``grp``; 'all' when ungrouped)."""
    if group_by not in _GROUP_KEYS:
        raise MetricError(f"group by one of {', '.join(GROUP_BYS)}, not {group_by!r}")
    flt = scope_filter(period, tz, filters)
    if group_by in _BY_CELL:  # one cached result of cells per period serves all four
        cell_keys, group_key = _ENTITY_CELLS, _GROUP_KEYS[group_by]
    else:
        cell_keys, group_key = f"{_GROUP_KEYS[group_by]} as grp", "grp"
    cells = ("kpi_cells", flt, params, {"cell_keys": cell_keys})
    rows = rows_of(run_staged(conn, cells, then="kpis", relation="kpi_cells", group_key=group_key))
    if group_by is None and not rows:
        return [_empty_kpis()]
    return rows


def _empty_kpis() -> dict[str, Any]:
    """The ungrouped KPIs of no calls: counts 0, averages and rates undefined."""
    undefined = {"answer_rate", "avg_ring_answered", "max_ring_answered", "avg_talk"}
    names = [m.name for m in DEFINITIONS if m.family == "kpis"]
    row: dict[str, Any] = {"grp": "all"}
    row.update({n: (None if n in undefined else 0) for n in names})
    return row


def voicemails_left(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
) -> int:
    """Messages left in the period, from the ``voicemails`` view; 0 while it does not exist."""
    columns = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_name = 'voicemails'"
        ).fetchall()
    }
    time_column = next((c for c in ("started_at", "left_at", "created_at") if c in columns), None)
    if time_column is None:
        return 0
    start, end = period.utc_bounds(tz)
    conditions = [f"{time_column} >= $start", f"{time_column} < $end"]
    bound: dict[str, Any] = {"start": start, "end": end}
    if "discarded" in columns:
        conditions.append("not coalesce(discarded, false)")
    if filters is not None and filters.extension and "mailbox" in columns:
        conditions.append("mailbox = $mailbox")
        bound["mailbox"] = filters.extension
    sql = sql_text("voicemails_left").format(conditions=" and ".join(conditions))
    ((count,),) = conn.execute(sql, bound).fetchall()
    return int(count)


def volume(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    interval: str = "day",
    tz: str = "UTC",
    filters: CallFilter | None = None,
) -> list[dict[str, Any]]:
    """Calls per (bucket, direction, disposition); hour buckets are instants, others dates."""
    if interval not in INTERVALS:
        raise MetricError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    flt = scope_filter(period, tz, filters)
    return rows_of(run_metric(conn, "volume", flt, DEFAULT_PARAMS, bucket=_GROUP_KEYS[interval]))


def heatmap(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
) -> list[dict[str, Any]]:
    """Calls, offered and missed per local (ISO weekday, hour of day)."""
    flt = scope_filter(period, tz, filters)
    return rows_of(run_metric(conn, "heatmap", flt, DEFAULT_PARAMS))


def concurrency(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    interval: str | None = "hour",
    tz: str = "UTC",
    filters: CallFilter | None = None,
) -> list[dict[str, Any]]:
    """Peak active calls per bucket (``interval`` None: one row for the whole period)."""
    if interval not in _BUCKET_AT:
        raise MetricError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    bucket_at, bucket_start = _BUCKET_AT[interval]
    flt = scope_filter(period, tz, filters)
    table = run_metric(
        conn, "concurrency", flt, DEFAULT_PARAMS, bucket_at=bucket_at, bucket_start=bucket_start
    )
    return rows_of(table)


def peak_concurrent(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
) -> int:
    """The most calls active at one instant of the period (0 without calls).

    The highest of the daily peaks: every level of the period is seen in some
    day, and the page's default chart asks for the daily peaks anyway (cached).
    """
    rows = concurrency(conn, period, interval="day", tz=tz, filters=filters)
    return max((int(r["peak_active"]) for r in rows), default=0)


def summary(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
    handled: Mapping[str, datetime] | None = None,
) -> dict[str, Any]:
    """Every headline metric of the period in one flat dict (the tiles, the CLI, reports)."""
    (row,) = kpis(conn, period, tz=tz, filters=filters, params=params)
    result = {k: v for k, v in row.items() if k != "grp"}
    result["voicemails_left"] = voicemails_left(conn, period, tz=tz, filters=filters)
    result["peak_concurrent"] = peak_concurrent(conn, period, tz=tz, filters=filters)
    result.update(repeat_summary(conn, period, tz=tz, filters=filters, params=params))
    result["callbacks_pending"] = callbacks_pending(
        conn, period, tz=tz, filters=filters, handled=handled
    )
    return result


def compare(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
    handled: Mapping[str, datetime] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each summary metric now, in the previous period of the same length, and the change."""
    now = summary(conn, period, tz=tz, filters=filters, params=params, handled=handled)
    before = summary(
        conn, period.previous(), tz=tz, filters=filters, params=params, handled=handled
    )
    out: dict[str, dict[str, Any]] = {}
    for name, value in now.items():
        prev = before.get(name)
        change = (
            value - prev
            if isinstance(value, int | float) and isinstance(prev, int | float)
            else None
        )
        out[name] = {"current": value, "previous": prev, "change": change}
    return out


def envelope(
    tenant: str, period: Period, tz: str, params: MetricParams, scope: str
) -> dict[str, Any]:
    """What every exported result carries so that it can be read later (versions, variants)."""
    return {
        "tenant": tenant,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "timezone": tz,
        "scope": scope,
        "metrics_version": METRICS_VERSION,
        "params": params.as_dict(),
    }
