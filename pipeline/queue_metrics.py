"""Queue metrics: SL, ASA, abandons, AHT per queue and interval, and agent time (issue 12).

The definitions are ``docs/metrics.md`` ("Queue metrics"); the SQL is
``pipeline/sql/queue_*.sql``, over the warehouse views ``queue_events`` and
``agent_events`` of a tenant-bound connection
(:func:`pipeline.viewer.open_for_viewer`). ``queue_stints.sql`` (one row per
caller's entry into a queue) is the staging every queue metric reads;
``queue_agent_states.sql`` the staging of agent time.

Each queue's service-level threshold T and short-abandon threshold come from
its settings in the provisioning store (:func:`queue_thresholds`), passed as a
small relation; every result row carries the thresholds it used. Every value
is a bound parameter; only the staging SQL text is formatted in.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.metric_catalogue import QUEUE_METRICS_VERSION
from pipeline.metric_engine import MetricError, Period

SQL_DIR = Path(__file__).resolve().parent / "sql"
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


@cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def _compose(name: str, events: tuple[str, str] = ("queue_events", "agent_events")) -> str:
    relations = {"queue_events": events[0], "agent_events": events[1]}
    return _sql(name).format(
        stints=_sql("queue_stints").format(**relations),
        agent_states=_sql("queue_agent_states").format(**relations),
        **relations,
    )


# A page runs four queue queries over one period: ``prepare`` reads the period's events
# from the lake once into temp tables, and each query reads those (the same SQL text).
_PREPARED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, tuple[Any, ...]] = (
    weakref.WeakKeyDictionary()
)
_PAGE_TABLES = ("queue_page_events", "queue_page_agent_events")


def prepare(conn: duckdb.DuckDBPyConnection, period: Period, tz: str) -> None:
    """Copy the events ``period`` needs into temp tables once (idempotent per period/zone)."""
    start, end = period.utc_bounds(tz)
    key = (start, end)
    if _PREPARED.get(conn) == key:
        return
    conn.execute(
        f"create or replace temp table {_PAGE_TABLES[0]} as select * from queue_events"
        ' where "date" between cast($f as date) and cast($t as date)'
        ' and "at" >= $f and "at" < $t',
        {"f": start - READ_MARGIN, "t": end + READ_MARGIN},
    ).fetchall()
    conn.execute(
        f"create or replace temp table {_PAGE_TABLES[1]} as select * from agent_events"
        ' where "at" < $t',
        {"t": end + READ_MARGIN},
    ).fetchall()
    _PREPARED[conn] = key


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
    conn.register("queue_thresholds", _thresholds_table(thresholds or {}))
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "tz": tz,
        "queue_id": queue_id,
        "read_from": start - READ_MARGIN,
        "read_to": end + READ_MARGIN,
        "default_sl": DEFAULT_SERVICE_LEVEL_SECONDS,
        "default_short": DEFAULT_SHORT_ABANDON_SECONDS,
        "agent_end": min(end, now or datetime.now(UTC)),
        **(extra or {}),
    }
    prepared = _PREPARED.get(conn) == (start, end)
    sql = _compose(name, _PAGE_TABLES) if prepared else _compose(name)
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    result = conn.sql(sql, params=used).to_arrow_table()
    conn.unregister("queue_thresholds")
    return result


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
