"""The calls' rollups: what compaction writes per closed tenant-day so that a page of a
long period reads a small file for each of its closed days instead of their calls.

**Concurrency** (:data:`QUARTERS`). ``concurrency.sql`` takes a bucket's peak from
quarter-hours (``concurrency_quarters.sql``: each one's peak and the level carried in at
its start). Sorting every start and end of a period was most of the page's cost (~0.4 s a
period at 10 M calls a year), and a closed day's quarter-hours never change, so compaction
writes them once per closed tenant-day (:func:`day_quarters`, from every call started from
the day before on: a call ends within :data:`LONGEST_CALL`). A page counts only its own
calls (a call still active at its start belongs to the period before; the ends after its
end are in buckets after it). The rollups count every call, so they serve only the
quarter-hours where the two agree: from a day after the period's start (every earlier call
has ended) to the first day without a rollup (the page's end at the latest: no later call
has started). The head before and the tail after are computed from the page's calls
(:func:`concurrency_parts`). A zone whose offset is not whole quarter-hours has bucket
edges inside quarter-hours: it computes the whole period.

**KPI cells** (:data:`CELLS`). ``kpi_cells.sql`` groups a period's calls into cells; a
closed UTC day's calls grouped by every column a cell is derived from
(``kpi_cells_day.sql``, :func:`day_cells`) are classified like the page's calls and summed
with them (:func:`cells_parts`): the period's whole UTC days up to the first without a
rollup from the files, the hours before and after them from the page's calls. Only for
cells by extension, main number and rule (not by time: a day has no hours) and at the
rollup's short-abandon threshold.

Both are read only by a tenant-wide connection for an unfiltered scope, whose calls are the
tenant's: a plain user's views or a filter count fewer calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from pipeline.fetch import fetch_table
from pipeline.filters import HANDLING_EXTENSION, CallFilter
from pipeline.lake_layout import CALLS, LONGEST_CALL
from pipeline.queries import sql_file
from pipeline.rollup_files import CELLS, QUARTERS, Rollup, rolled_files
from pipeline.warehouse import scope_of

# The short-abandon threshold the cells are rolled up at (named in CELLS.step).
SHORT_ABANDON = 5.0
assert CELLS.step == f"cells{SHORT_ABANDON:g}s"

_QUARTER = timedelta(minutes=15)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_INFINITY = "cast('infinity' as timestamptz)"


def _day_bounds(day: date) -> dict[str, Any]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"day": day, "day_start": start, "next": start + _DAY}


def quarters_sql(calls: str, calls_from: str, calls_to: str, keep_from: str, keep_to: str) -> str:
    """``concurrency_quarters.sql`` over ``calls`` (bounds: SQL expressions)."""
    sql = sql_file("metrics/concurrency_quarters").format(
        calls=calls, calls_from=calls_from, calls_to=calls_to, keep_from=keep_from, keep_to=keep_to
    )
    return "select * from (\n" + sql.strip() + "\n)"


def day_quarters(conn: duckdb.DuckDBPyConnection, day: date) -> pa.Table:
    """The quarter-hours of UTC ``day`` over every call of the (tenant-wide) connection:
    what compaction writes for it."""
    bounds = _day_bounds(day)
    calls = "(select started_at, ended_at from calls where date >= $first and date <= $day)"
    sql = quarters_sql(calls, "$calls_from", "$next", "$day_start", "$next")
    params = {
        **bounds,
        "first": (bounds["day_start"] - LONGEST_CALL).date(),
        "calls_from": bounds["day_start"] - LONGEST_CALL,
    }
    return fetch_table(conn, sql + "\norder by quarter_at", params)


def day_cells(conn: duckdb.DuckDBPyConnection, day: date) -> pa.Table:
    """The calls of UTC ``day`` of the (tenant-wide) connection by the cells' columns:
    what compaction writes for it."""
    sql = sql_file("metrics/kpi_cells_day").format(handling_extension=HANDLING_EXTENSION)
    return fetch_table(conn, sql, {**_day_bounds(day), "short_abandon_seconds": SHORT_ABANDON})


def _quarter_aligned(tz: str, start: datetime, end: datetime) -> bool:
    """Whether every offset of ``tz`` in [start, end) is whole quarter-hours (checked at
    each UTC hour: zones change offset on the hour or the half-hour)."""
    zone = ZoneInfo(tz)
    at = start
    while at < end:
        offset = at.astimezone(zone).utcoffset()
        if offset is None or offset % _QUARTER:
            return False
        at += _HOUR
    return True


def _rolled(
    conn: duckdb.DuckDBPyConnection,
    flt: CallFilter,
    rollup: Rollup,
    first: datetime,
    end: datetime,
) -> tuple[str, datetime] | None:
    """The rollup files (quoted, comma-separated) from ``first``'s day on that match the
    connection's calls, and the instant from which the page computes; None: no rollup
    serves the page (not tenant-wide, a filter, none written yet)."""
    scope = scope_of(conn)
    tenant_wide = scope is not None and scope.extension is None and scope.days is None
    if not flt.only_dates or scope is None or not tenant_wide:
        return None
    snaps = {snap.table: snap for snap in scope.snapshots}
    if CALLS.name not in snaps:
        return None
    files, day = rolled_files(
        scope.lake_dir, rollup, scope.tenant, snaps, first.date(), (end - _QUARTER).date()
    )
    live = min(end, datetime(day.year, day.month, day.day, tzinfo=UTC))
    if not files or live <= first or any("'" in str(f) for f in files):
        return None  # (a lake path with a quote cannot be named in the SQL)
    return ", ".join(f"'{f}'" for f in files), live


def concurrency_parts(
    conn: duckdb.DuckDBPyConnection | None, flt: CallFilter
) -> tuple[dict[str, str], dict[str, Any]]:
    """``concurrency.sql``'s head, tail and rolled quarter-hours for the scope of ``flt``
    over the page's calls (``scoped``), and their bound values."""
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    head_end = start + LONGEST_CALL
    rolled = None
    if conn is not None and _quarter_aligned(flt.timezone, start, end):
        rolled = _rolled(conn, flt, QUARTERS, head_end, end)
    if rolled is None:
        return {"quarters": quarters_sql("scoped", "$start", "$end", "$start", _INFINITY)}, {}
    files, live = rolled
    head = quarters_sql("scoped", "$start", "$head_end", "$start", "$head_end")
    tail = quarters_sql("scoped", "$tail_calls_from", "$end", "$live", _INFINITY)
    days = (
        f"select quarter_at, peak, level_in from read_parquet([{files}])"
        " where quarter_at >= $head_end and quarter_at < $live"
    )
    return {"quarters": f"{head}\nunion all\n{tail}\nunion all\n{days}"}, {
        "head_end": head_end,
        "live": live,
        "tail_calls_from": max(start, live - LONGEST_CALL),
    }


def parts(
    name: str,
    conn: duckdb.DuckDBPyConnection | None,
    flt: CallFilter,
    short_abandon_seconds: float,
    fragments: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, Any]]:
    """The placeholders and bound values of metric file ``name``'s rolled-up part, if it
    has one (``fragments``: the metric's own)."""
    if name == "concurrency":
        return concurrency_parts(conn, flt)
    if name == "kpi_cells":
        return cells_parts(conn, flt, short_abandon_seconds, fragments["cell_keys"])
    return {}, {}


def cells_parts(
    conn: duckdb.DuckDBPyConnection | None,
    flt: CallFilter,
    short_abandon_seconds: float,
    cell_keys: str,
) -> tuple[dict[str, str], dict[str, Any]]:
    """``kpi_cells.sql``'s rolled-up calls classified by ``scoped_calls.sql`` as the page's
    are (``handling``: the handling extension), and the instants they cover,
    [``$rolled_from``, ``$live``): the period's whole UTC days up to the first without a
    rollup. Cells keyed by time (``cell_keys`` reading an instant) have none."""
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    rolled_from = _next_midnight(start)
    rolled = None
    timeless = "started_at" not in cell_keys and "local_start" not in cell_keys
    if conn is not None and timeless and short_abandon_seconds == SHORT_ABANDON:
        last = _next_midnight(end)
        last = last if last == end else last - _DAY  # the last whole day's end
        rolled = _rolled(conn, flt, CELLS, rolled_from, last)
    if rolled is None:  # no rows, the page's columns
        return {"rolled_cells": "select * from scoped where false"}, {
            "rolled_from": start,
            "live": start,
        }
    files, live = rolled
    rows = (
        "(\n    select *, day_at as started_at, null::timestamp as local_start,"
        f" null::varchar as caller_digits\n    from read_parquet([{files}])\n"
        "    where day_at >= $rolled_from and day_at < $live\n)"
    )
    cells = sql_file("metrics/scoped_calls").format(base_calls=rows, handling_extension="handling")
    return {"rolled_cells": cells.strip().replace("\n", "\n    ")}, {
        "rolled_from": rolled_from,
        "live": live,
    }


def _next_midnight(at: datetime) -> datetime:
    """The first UTC midnight at or after ``at``."""
    midnight = datetime(at.year, at.month, at.day, tzinfo=UTC)
    return midnight if midnight == at else midnight + _DAY
