"""Peak concurrency from quarter-hour rollups: a page's closed days read a file each.

``concurrency.sql`` takes a bucket's peak from quarter-hours
(``concurrency_quarters.sql``: each one's peak and the level carried in at its start).
Sorting every start and end of a period is most of the page's cost (~0.5 s a period at
10 M calls a year), and a closed day's quarter-hours never change, so compaction writes
them once per closed tenant-day (:data:`QUARTERS`, :func:`day_quarters`, from every call
started from the day before on: a call ends within :data:`LONGEST_CALL`).

A page counts only its own calls (a call still active at its start belongs to the
period before; the ends after its end are in buckets after it). The rollups count every
call, so they serve only the quarter-hours where the two agree: from a day after the
period's start (every earlier call has ended) to the first day without a rollup (the
page's end at the latest: no later call has started). The head before and the tail
after are computed from the page's calls (:func:`parts`). Rollups are read only by a
tenant-wide connection for an unfiltered scope, whose calls are the tenant's: a plain
user's views or a filter count fewer calls. A zone whose offset is not whole
quarter-hours has bucket edges inside quarter-hours: it computes the whole period.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from pipeline.fetch import fetch_table
from pipeline.filters import CallFilter
from pipeline.lake_layout import CALLS, LONGEST_CALL
from pipeline.queries import sql_file
from pipeline.rollup_files import QUARTERS, files_by_day, rolled_files
from pipeline.warehouse import scope_of

_QUARTER = timedelta(minutes=15)
_DAY = timedelta(days=1)
_INFINITY = "cast('infinity' as timestamptz)"
_NONE = (
    "select null::timestamptz as quarter_at, 0::bigint as peak, 0::bigint as level_in where false"
)


def quarters_sql(calls: str, calls_from: str, calls_to: str, keep_from: str, keep_to: str) -> str:
    """``concurrency_quarters.sql`` over ``calls`` (bounds: SQL expressions)."""
    sql = sql_file("metrics/concurrency_quarters").format(
        calls=calls, calls_from=calls_from, calls_to=calls_to, keep_from=keep_from, keep_to=keep_to
    )
    return "select * from (\n" + sql.strip() + "\n)"


def day_quarters(conn: duckdb.DuckDBPyConnection, day: date) -> pa.Table:
    """The quarter-hours of UTC ``day`` over every call of the (tenant-wide) connection:
    what compaction writes for it."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    calls = "(select started_at, ended_at from calls where date >= $first and date <= $day)"
    sql = quarters_sql(calls, "$calls_from", "$next", "$day_start", "$next")
    params = {
        "first": (start - LONGEST_CALL).date(),
        "day": day,
        "calls_from": start - LONGEST_CALL,
        "day_start": start,
        "next": start + _DAY,
    }
    return fetch_table(conn, sql + "\norder by quarter_at", params)


def _quarter_aligned(tz: str, start: datetime, end: datetime) -> bool:
    """Whether every offset of ``tz`` in [start, end) is whole quarter-hours (checked at
    each UTC hour: zones change offset on the hour or the half-hour)."""
    zone = ZoneInfo(tz)
    at = start
    while at < end:
        offset = at.astimezone(zone).utcoffset()
        if offset is None or offset % _QUARTER:
            return False
        at += timedelta(hours=1)
    return True


def _rolled(
    conn: duckdb.DuckDBPyConnection, head_end: datetime, end: datetime
) -> tuple[list[Path], datetime] | None:
    """The rollup files from ``head_end``'s day on that match the connection's calls, and
    the instant from which the page computes (None: no rollup serves the page)."""
    scope = scope_of(conn)
    if scope is None or scope.extension is not None or scope.days is not None:
        return None
    snaps = {snap.table: snap for snap in scope.snapshots}
    if CALLS.name not in snaps:
        return None
    files, day = rolled_files(
        scope.lake_dir, QUARTERS, scope.tenant, snaps, head_end.date(), (end - _QUARTER).date()
    )
    # A day without calls has no rollup, yet a call of the day before may end in it.
    driver = files_by_day(QUARTERS, snaps)[CALLS.name]
    at = head_end.date()
    while at < day:
        if at not in driver and at - _DAY in driver:
            day = at
            break
        at += _DAY
    live = min(end, datetime(day.year, day.month, day.day, tzinfo=UTC))
    files = [f for f in files if _file_day(f) < day]
    if any("'" in str(f) for f in files):  # named in the SQL: a lake path with a quote
        return None
    if not files or live <= head_end:
        return None
    return files, live


def _file_day(path: Path) -> date:
    return date.fromisoformat(path.parent.name.removeprefix("date="))


def parts(
    conn: duckdb.DuckDBPyConnection | None, flt: CallFilter
) -> tuple[dict[str, str], dict[str, Any]]:
    """``concurrency.sql``'s head, tail and rolled quarter-hours for the scope of ``flt``
    over the page's calls (``scoped``), and their bound values."""
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    head_end = start + LONGEST_CALL
    rolled = None
    unfiltered = replace(flt, date_from=None, date_to=None) == CallFilter(timezone=flt.timezone)
    if conn is not None and unfiltered and _quarter_aligned(flt.timezone, start, end):
        rolled = _rolled(conn, head_end, end)
    if rolled is None:
        whole = quarters_sql("scoped", "$start", "$end", "$start", _INFINITY)
        return {"head": whole, "tail": _NONE, "rolled": _NONE}, {}
    files, live = rolled
    listed = ", ".join(f"'{f}'" for f in files)
    return {
        "head": quarters_sql("scoped", "$start", "$head_end", "$start", "$head_end"),
        "tail": quarters_sql("scoped", "$tail_calls_from", "$end", "$live", _INFINITY),
        "rolled": f"select quarter_at, peak, level_in from read_parquet([{listed}])"
        " where quarter_at >= $head_end and quarter_at < $live",
    }, {"head_end": head_end, "live": live, "tail_calls_from": max(start, live - LONGEST_CALL)}
