"""Queue metrics: SL, ASA, abandons, AHT per queue and interval, and agent time (issue 12).

The definitions are ``docs/metrics.md`` ("Queue metrics"); the SQL is
``pipeline/sql/queue_*.sql``, over the warehouse views ``queue_events`` and
``agent_events`` of a tenant-bound connection
(:func:`pipeline.viewer.open_for_viewer`). ``queue_stints.sql`` (one row per
caller's entry into a queue) is the staging every queue metric reads;
``queue_agent_states.sql`` the staging of agent time.

Stints of closed days are not recomputed per page: compaction writes each closed
UTC day's stints once (:func:`day_stints`, into the rollup ``queue_stints``:
:mod:`pipeline.compaction`, one file named by the fingerprint of the event files
it was computed from), and a tenant-wide connection
reads those files for the window's first days whose fingerprint still matches,
computing only the rest (``queue_stints_rolled.sql``). A day whose events changed
after its rollup (a late batch, a deletion) no longer matches and is computed.

Each queue's service-level threshold T and short-abandon threshold come from
its settings in the provisioning store (:func:`queue_thresholds`), passed as a
small relation; every result row carries the thresholds it used. Every value
is a bound parameter; only the staging SQL text is formatted in.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Hashable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.fetch import fetch_table
from pipeline.lake_layout import QUEUE_EVENTS
from pipeline.metric_catalogue import QUEUE_METRICS_VERSION
from pipeline.metric_engine import MetricError, Period
from pipeline.metrics_cache import RESULTS, widened
from pipeline.queries import sql_file
from pipeline.rollup_files import STINTS, rolled_files
from pipeline.warehouse import ConnectionScope, scope_of

BUCKET_MINUTES: tuple[int, ...] = (0, 15, 30, 60)  # 0: one row per queue for the period
STINT_OUTCOMES: tuple[str, ...] = (
    "answered", "abandoned", "overflowed", "exit_key", "lost", "waiting",
)  # fmt: skip
# The store's defaults (switchboard.store.queues.CallQueue), for a queue it no longer has.
DEFAULT_SERVICE_LEVEL_SECONDS = 20
DEFAULT_SHORT_ABANDON_SECONDS = 5
# A stint is read whole when it crosses the period's edge (max wait is at most 2 h).
READ_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Thresholds:
    """A queue's service-level threshold T and short-abandon threshold, in seconds."""

    service_level_seconds: int = DEFAULT_SERVICE_LEVEL_SECONDS
    short_abandon_seconds: int = DEFAULT_SHORT_ABANDON_SECONDS


def queue_thresholds(store: Any, tenant: str) -> dict[int, Thresholds]:
    """Each queue's thresholds from the provisioning store (``store.queues``)."""
    return {
        q.id: Thresholds(q.service_level_seconds, q.short_abandon_seconds)
        for q in store.queues(tenant)
        if q.id is not None
    }


def queue_names(store: Any, tenant: str) -> dict[int, str]:
    return {q.id: q.name for q in store.queues(tenant) if q.id is not None}


# The staging each query's SQL names by placeholder: {stints}, {agent_states}.
_PLACEHOLDERS = {"queue_stints": "stints", "queue_agent_states": "agent_states"}
_RELATIONS = {"queue_events": "queue_events", "agent_events": "agent_events"}
# Characters that would change the meaning of a formatted file path (quotes, globs).
_UNSAFE_PATH = re.compile(r"['\"*?\[\]{}\\]")
Rolled = tuple[Path, ...]  # the rollup files a query reads (empty: none)


def _stint_rows(rolled: Rolled = ()) -> str:
    """The stint rows: computed over the window, or the rollup files then the rest computed."""
    live = sql_file("queue_stint_rows").format(**_RELATIONS)
    if not rolled:
        return live
    if any(_UNSAFE_PATH.search(str(f)) for f in rolled):
        raise MetricError("the lake's path cannot be read safely")
    files = ", ".join(f"'{f}'" for f in rolled)
    return sql_file("queue_stints_rolled").format(
        live=live, rollup=f"read_parquet([{files}], hive_partitioning = false)"
    )


def _compose(name: str, staged: Mapping[str, str] | None = None, rolled: Rolled = ()) -> str:
    """Query ``name`` with its staging inlined, or read from the temp tables in ``staged``."""
    parts = {
        holder: f"select * from {staged[staging]}"
        if staged and staging in staged
        else sql_file(staging).format(stint_rows=_stint_rows(rolled), **_RELATIONS)
        for staging, holder in _PLACEHOLDERS.items()
    }
    if name in _PLACEHOLDERS:
        return sql_file(name).format(stint_rows=_stint_rows(rolled), **_RELATIONS)
    return sql_file(name).format(**parts, **_RELATIONS)


# -- the rollup of closed days (pipeline.compaction writes it) -------------------------
def day_stints(conn: duckdb.DuckDBPyConnection, day: date) -> pa.Table:
    """The stints entered on UTC ``day`` (no thresholds): what compaction writes for it,
    from the events of the day before to the day after, as a page's window reads a day
    beyond each edge of its period."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    read = READ_MARGIN
    sql = f"select * from (\n{_stint_rows()}\n) where entered_at >= $day and entered_at < $next"
    params = {"stints_from": start - read, "read_to": start + timedelta(days=1) + read,
              "queue_id": None, "day": start, "next": start + timedelta(days=1)}  # fmt: skip
    return fetch_table(conn, sql, params)


def _rolled_days(
    scope: ConnectionScope | None, read_from: datetime, read_to: datetime
) -> tuple[list[Path], datetime] | None:
    """The rollup files of the window's first days that match the connection's event files,
    and from when on the stints are computed (a tenant-wide connection only: a plain
    user's views see fewer events, so other stints)."""
    if scope is None or scope.extension is not None:
        return None
    snaps = {snap.table: snap for snap in scope.snapshots}
    if not all(table in snaps for table in STINTS.sources):
        return None
    lake_dir = snaps[QUEUE_EVENTS.name].folder.parent.parent  # <lake>/<table>/tenant=<t>
    files, day = rolled_files(
        lake_dir, STINTS, scope.tenant, snaps, read_from.date(), read_to.date()
    )
    if not files:
        return None
    return files, datetime(day.year, day.month, day.day, tzinfo=UTC)


# A page runs four queue queries over one period, and three of them read the same
# staging: ``prepare`` marks the connection's page, and the first query that needs
# ``queue_stints`` or ``queue_agent_states`` computes it once into a temp table that the
# others read (the same SQL text around it). Measured over a year (200,000 callers):
# the stints were 3 of each query's 4 s, computed three times a page.
@dataclass
class _Page:
    bounds: tuple[datetime, datetime]
    built: dict[str, tuple[Any, ...]]  # staging temp table -> the parameters it holds


_PREPARED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _Page] = weakref.WeakKeyDictionary()
# staging SQL name -> its temp table, and the parameters its rows depend on
_STAGING: dict[str, tuple[str, tuple[str, ...]]] = {
    "queue_stints": (
        "queue_page_stints",
        ("queue_id", "read_from", "read_to", "default_sl", "default_short", "live_from"),
    ),
    "queue_agent_states": ("queue_page_agent_states", ("queue_id", "start", "agent_end")),
}


def prepare(conn: duckdb.DuckDBPyConnection, period: Period, tz: str) -> None:
    """Let the queries of ``period`` on ``conn`` share their staging (idempotent per period)."""
    bounds = period.utc_bounds(tz)
    page = _PREPARED.get(conn)
    if page is None or page.bounds != bounds:
        _PREPARED[conn] = _Page(bounds, {})


def _thresholds_table(thresholds: Mapping[int, Thresholds]) -> pa.Table:
    items = sorted(thresholds.items())
    return pa.table(
        {
            "queue_id": pa.array([k for k, _ in items], pa.int64()),
            "service_level_seconds": pa.array(
                [t.service_level_seconds for _, t in items], pa.int64()
            ),
            "short_abandon_seconds": pa.array(
                [t.short_abandon_seconds for _, t in items], pa.int64()
            ),
        }
    )


def _run(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    period: Period,
    tz: str,
    thresholds: Mapping[int, Thresholds] | None,
    queue_id: int | None,
    extra: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> pa.Table:
    start, end = period.utc_bounds(tz)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "tz": tz,
        "queue_id": queue_id,
        "read_from": start - READ_MARGIN,
        "stints_from": start - READ_MARGIN,
        "read_to": end + READ_MARGIN,
        "default_sl": DEFAULT_SERVICE_LEVEL_SECONDS,
        "default_short": DEFAULT_SHORT_ABANDON_SECONDS,
        "agent_end": min(end, now or datetime.now(UTC)),
        **(extra or {}),
    }
    limits = tuple((k, t.service_level_seconds, t.short_abandon_seconds)
                   for k, t in sorted((thresholds or {}).items()))  # fmt: skip
    sql = _compose(name)
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    key = _cache_key(conn, name, params, used, limits)
    cached = RESULTS.get(key) if key is not None else None
    if cached is not None:
        return cached
    # The result does not depend on which days are rolled up (the same rows either way):
    # the key above is the events', and the rollup is looked at only to compute it.
    rolled = _rolled_days(scope_of(conn), params["read_from"], params["read_to"])
    if rolled is not None:
        live_from = rolled[1]
        params["live_from"] = max(params["read_from"], live_from)
        params["stints_from"] = max(params["read_from"], live_from - READ_MARGIN)
    conn.register("queue_thresholds", _thresholds_table(thresholds or {}))
    try:
        files = tuple(rolled[0]) if rolled is not None else ()
        staged = _stage(conn, name, (start, end), params, limits, files)
        sql = _compose(name, staged, files)
        table = fetch_table(conn, sql, {k: v for k, v in params.items() if f"${k}" in sql})
    finally:
        conn.unregister("queue_thresholds")
    if key is not None:
        RESULTS.put(key, table)
    return table


def _stage(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    bounds: tuple[datetime, datetime],
    params: Mapping[str, Any],
    limits: tuple[Any, ...],
    rolled: Rolled,
) -> dict[str, str]:
    """The temp tables query ``name`` reads its staging from on a prepared page (built once
    per set of parameters); none when the page is not prepared for these bounds."""
    page = _PREPARED.get(conn)
    if page is None or page.bounds != bounds:
        return {}
    staged: dict[str, str] = {}
    for staging, holder in _PLACEHOLDERS.items():
        if "{" + holder + "}" not in sql_file(name):
            continue
        table, depends = _STAGING[staging]
        want = (*(params.get(k) for k in depends), limits if staging == "queue_stints" else ())
        if page.built.get(table) != want:
            sql = _compose(staging, rolled=rolled)
            bound = {k: v for k, v in params.items() if f"${k}" in sql}
            conn.execute(f"create or replace temp table {table} as\n{sql}", bound)
            page.built[table] = want
        staged[staging] = table
    return staged


def _cache_key(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any],
    used: Mapping[str, Any],
    limits: tuple[Any, ...],
) -> Hashable | None:
    """Everything query ``name``'s result depends on (like ``pipeline.metric_engine``'s
    keys); None: do not keep it (no scope, or agent time still running to now).

    Which data: the files of the partitions it reads. Queue events within the read
    margin; agent events from the first (a login before the period counts) to the end;
    calls and legs whole, for the drill-down's join and a plain user's view scope.
    """
    scope = scope_of(conn)
    if scope is None or ("agent_end" in used and params["agent_end"] < params["end"]):
        return None
    whole = name == "queue_calls" or scope.extension is not None
    read_from, read_to = widened(params["read_from"].date(), params["read_to"].date())
    ranges: dict[str, tuple[date, date | None]] = {
        "queue_events": (read_from, read_to),
        "agent_events": (date.min, read_to),
        **({"calls": (date.min, None), "legs": (date.min, None)} if whole else {}),
    }
    listing = tuple(
        sorted(
            f
            for snap in scope.snapshots
            if snap.table in ranges
            for f in snap.listing(*ranges[snap.table])
        )
    )
    viewer = (scope.folders, scope.tenant, scope.extension, scope.forwarded_message_ids)
    return (QUEUE_METRICS_VERSION, "queues", name, viewer, tuple(sorted(used.items())),
            limits, listing)  # fmt: skip


def queue_kpis(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    tz: str,
    *,
    bucket_minutes: int = 0,
    queue_id: int | None = None,
    thresholds: Mapping[int, Thresholds] | None = None,
) -> pa.Table:
    """One row per queue (and interval of ``bucket_minutes`` in ``tz``; 0: the whole period)."""
    if bucket_minutes not in BUCKET_MINUTES:
        raise MetricError(f"intervals are {', '.join(map(str, BUCKET_MINUTES[1:]))} minutes")
    return _run(
        conn, "queue_kpis", period, tz, thresholds, queue_id, {"bucket_minutes": bucket_minutes}
    )


def agent_kpis(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    tz: str,
    *,
    queue_id: int | None = None,
    thresholds: Mapping[int, Thresholds] | None = None,
    now: datetime | None = None,
) -> pa.Table:
    """One row per agent: calls, talk, wrap-up, logged-in, paused, occupancy."""
    return _run(conn, "queue_agents", period, tz, thresholds, queue_id, now=now)


def agent_pauses(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    tz: str,
    *,
    queue_id: int | None = None,
    now: datetime | None = None,
) -> pa.Table:
    """Paused time while logged in, per agent and reason."""
    return _run(conn, "queue_pauses", period, tz, None, queue_id, now=now)


def queue_calls(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    tz: str,
    *,
    queue_id: int | None = None,
    outcome: str | None = None,
    thresholds: Mapping[int, Thresholds] | None = None,
    limit: int = 5000,
) -> pa.Table:
    """The stints behind the numbers (drill-down), each with its call's Call-ID."""
    if outcome is not None and outcome not in STINT_OUTCOMES:
        raise MetricError(f"unknown queue outcome {outcome!r}")
    return _run(
        conn, "queue_calls", period, tz, thresholds, queue_id, {"outcome": outcome, "limit": limit}
    )


def stints(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    tz: str,
    *,
    queue_id: int | None = None,
    thresholds: Mapping[int, Thresholds] | None = None,
) -> pa.Table:
    """Every stint read for the period (the staging rows; the notebook and tests use them)."""
    return _run(conn, "queue_stints", period, tz, thresholds, queue_id)


__all__ = [
    "BUCKET_MINUTES",
    "QUEUE_METRICS_VERSION",
    "Thresholds",
    "agent_kpis",
    "agent_pauses",
    "queue_calls",
    "queue_kpis",
    "queue_thresholds",
    "stints",
]


@dataclass(frozen=True)
class QueueReport:
    """Everything the Queues section, ``kpis --queue`` and the notebook show for a period."""

    tenant: str
    timezone: str
    period: Period
    bucket_minutes: int
    names: dict[int, str]  # queue id → name (the store's)
    thresholds: dict[int, Thresholds]
    queues: list[dict[str, Any]]  # queue_kpis rows
    agents: list[dict[str, Any]]
    pauses: list[dict[str, Any]]
    version: str = QUEUE_METRICS_VERSION


def queue_report(
    settings: Any,
    viewer: Any,
    period: Period,
    *,
    queue_id: int | None = None,
    bucket_minutes: int = 0,
    timezone: str | None = None,
    borrow_store: Any = None,
    now: datetime | None = None,
) -> QueueReport:
    """Open the viewer's warehouse, read the queues' settings, run the queue family."""
    from pipeline.viewer import open_for_viewer
    from switchboard.store import ProvisioningStore

    own = lambda: closing(ProvisioningStore(settings.provisioning_db))  # noqa: E731
    with (borrow_store or own)() as store:
        tenant = viewer if isinstance(viewer, str) else viewer.tenant_domain
        thresholds = queue_thresholds(store, tenant)
        names = queue_names(store, tenant)
    with open_for_viewer(settings, viewer, timezone=timezone, borrow_store=borrow_store) as vc:
        kw: dict[str, Any] = {"queue_id": queue_id}
        prepare(vc.conn, period, vc.timezone)
        queues = queue_kpis(
            vc.conn, period, vc.timezone, bucket_minutes=bucket_minutes,
            thresholds=thresholds, **kw,
        ).to_pylist()  # fmt: skip
        agents = agent_kpis(vc.conn, period, vc.timezone, thresholds=thresholds, now=now, **kw)
        pauses = agent_pauses(vc.conn, period, vc.timezone, now=now, **kw)
        return QueueReport(
            vc.tenant, vc.timezone, period, bucket_minutes, names, thresholds, queues,
            agents.to_pylist(), pauses.to_pylist(),
        )  # fmt: skip
