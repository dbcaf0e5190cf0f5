"""Call history pages for the portal grid (AG Grid's infinite row model).

Rows come from the warehouse's ``call_history`` view: the calls plus ``path``,
their way through the media server in words (``pipeline/sql/warehouse/``). The
menus in a path are named from the provisioning store: :func:`name_menus` hands
them to a connection (bound values), and a menu it does not name reads "menu <id>".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import duckdb

from pipeline import queries
from pipeline.fetch import fetch_rows, fetch_table
from pipeline.filters import CallFilter, FilterError
from pipeline.lake_layout import CALLS, LEGS, parse_partition_name, snapshots_of_days
from pipeline.metrics_cache import RESULTS
from pipeline.schema import CALLS_SCHEMA
from pipeline.warehouse import narrowed, scope_of
from switchboard.store import ProvisioningError, ProvisioningStore

MAX_PAGE = 1000
PAGE_COLUMNS: tuple[str, ...] = (*CALLS_SCHEMA.names, "path")
# Newest-first pages try the newest 3, then 30 days with calls before all the filter's days.
NEWEST_WINDOWS: tuple[int, ...] = (3, 30)


def menu_names(store: ProvisioningStore, tenant: str) -> dict[int, str]:
    """Attendant id → name of a tenant's menus (what a path calls them); none for a
    tenant the store does not know (its paths then say "menu <id>")."""
    try:
        menus = store.attendants(tenant)
    except ProvisioningError:
        return {}
    return {a.id: a.name for a in menus if a.id is not None}


def name_menus(conn: duckdb.DuckDBPyConnection, names: Mapping[int, str]) -> None:
    """Give a warehouse connection the menus' names for its paths (replaces earlier ones)."""
    conn.execute("delete from attendant_names")
    if names:
        conn.executemany(
            "insert into attendant_names values (?, ?)", [[i, n] for i, n in names.items()]
        )


def order_by(sort: list[tuple[str, str]] | None) -> str:
    """An ORDER BY from whitelisted (column, asc|desc) pairs, ties broken by acc_id."""
    terms: list[str] = []
    for column, direction in sort or queries.DEFAULT_ORDER:
        if column not in queries.SORTABLE_COLUMNS:
            raise FilterError(f"cannot sort by {column!r}")
        if direction.lower() not in ("asc", "desc"):
            raise FilterError(f"sort direction must be asc or desc, not {direction!r}")
        # nulls last both ways: an unanswered call is not "first" by answered_at.
        terms.append(f"{column} {direction.lower()} nulls last")
    terms.append(queries.TIE_BREAKER)
    return ", ".join(terms)


def call_page(
    conn: duckdb.DuckDBPyConnection,
    flt: CallFilter,
    *,
    offset: int,
    limit: int,
    sort: list[tuple[str, str]] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of calls (UTC-aware datetimes) and how many calls match in total."""
    rows = page_rows(conn, flt, offset=offset, limit=limit, sort=sort)
    return rows, count_matching(conn, flt)


def recent_calls(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, *, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` calls, newest first: Home's list, which never shows a total."""
    return page_rows(conn, flt, offset=0, limit=limit, sort=list(queries.DEFAULT_ORDER))


def page_rows(
    conn: duckdb.DuckDBPyConnection,
    flt: CallFilter,
    *,
    offset: int,
    limit: int,
    sort: list[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The rows of one page (the same rows as ``select_calls`` sliced), without the total.

    Every query names the partition days the filter can match
    (``call_history_of_days``), so it reads those days' calls and call paths only.
    Newest first (the default order) a page only needs the newest of them: it is
    asked of the newest partitions first (:data:`NEWEST_WINDOWS`), and of all of
    them only when those hold too few rows. Exact, because ``date`` is the UTC day
    of ``started_at``: every call of a day at or after the cutoff sorts before every
    call of an earlier day, so a window that fills the page holds its rows.
    Measured on 1 M calls over 365 daily files: 380 ms of CPU -> 65 ms. A quarter's
    page reads its last days, not the year's.
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise FilterError(f"a page is 1 to {MAX_PAGE} rows from offset 0 or more")
    where_sql, params = flt.where()
    order = order_by(sort)
    columns = ", ".join(PAGE_COLUMNS)
    # The partition days the filter can match, newest first (none: not known, read all):
    # a query names them so that it reads those days' calls and paths only.
    every_day = _partition_days(conn)
    days = _days_in_range(every_day, flt)
    if days and list(sort or queries.DEFAULT_ORDER) == list(queries.DEFAULT_ORDER):
        sql = queries.select_call_window(columns, where_sql, order)
        firsts = [days[min(window, len(days)) - 1] for window in NEWEST_WINDOWS]
        # A plain user's few calls often need the widest window: every window reads one
        # narrowed connection over it (built once, then kept). A tenant's newest days
        # fill a page: each window reads its own few days.
        scope = scope_of(conn)
        plain_user = scope is not None and scope.extension is not None
        for window, first in zip(NEWEST_WINDOWS, firsts, strict=True):
            narrow_from = firsts[-1] if plain_user else first
            with _reading_days(conn, every_day, narrow_from, days[0]) as reader:
                rows = fetch_rows(reader, sql, [first, days[0], *params, limit, offset])
            if len(rows) == limit or window >= len(days):  # full, or every day was asked
                return rows
    first, last = (days[-1], days[0]) if days else (queries.FIRST_DAY, queries.LAST_DAY)
    sql = queries.select_call_page(columns, where_sql, order)
    with _reading_days(conn, every_day, first, last) as reader:
        return fetch_rows(reader, sql, [*params, limit, offset, first, last])


def count_matching(conn: duckdb.DuckDBPyConnection, flt: CallFilter) -> int:
    """How many calls ``flt`` matches (the grid's row count), counted once per lake snapshot.

    The grid asks for it with every block of 100 rows; the answer depends only on
    the connection's scope (tenant, extension, contact names and the exact files
    its views read) and the filter, so it is kept in the metric result cache
    under that key (:mod:`pipeline.metrics_cache`): shared by the portal's worker
    processes, so a user's next block or visit served by another worker does not
    count a year of calls again.

    Counted in two parts, each under the files it reads: the filter's newest day, and
    the days before it. A live office's ingest adds a file to today's partition every
    few seconds; then only today is counted again, not the year (measured with 50 users
    browsing 1 M calls while calls were ingested: counting was 22 % of the portal's CPU).
    """
    where_sql, params = flt.where()
    days = _days_in_range(_partition_days(conn), flt)
    if not days:
        return _count_days(conn, where_sql, params, queries.FIRST_DAY, queries.LAST_DAY)
    older = _count_days(conn, where_sql, params, days[-1], days[1]) if len(days) > 1 else 0
    return older + _count_days(conn, where_sql, params, days[0], days[0])


def _count_days(
    conn: duckdb.DuckDBPyConnection, where_sql: str, params: list[Any], first: date, last: date
) -> int:
    """The count of the UTC days ``first..last``, kept under what it reads: the files of
    those days' calls (:func:`pipeline.lake_layout.snapshots_of_days`), with the viewer."""
    scope = scope_of(conn)
    key = None
    if scope is not None:
        read = snapshots_of_days(scope.snapshots, first, last, (CALLS.name, LEGS.name))
        key = ("call_history_count", replace(scope, snapshots=read, rolled_paths=""),
               where_sql, tuple(params), first, last)  # fmt: skip
        kept = RESULTS.get(key)
        if kept is not None:
            return int(kept.column(0)[0].as_py())
    # the whole connection: counted once per snapshot, a narrowed one would be built for it
    total = fetch_table(conn, queries.count_calls(where_sql), [*params, first, last])
    if key is not None:
        RESULTS.put(key, total)
    return int(total.column(0)[0].as_py())


@contextmanager
def _reading_days(
    conn: duckdb.DuckDBPyConnection, every_day: list[date], first: date, last: date
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``conn``, or while the block runs one narrowed to ``first..last``
    (:func:`pipeline.warehouse.narrowed`) when those are not all the days it has:
    a page of a few days then names only their files. Measured on 1 M calls over a year
    of daily files (benchmarks/history.py's pages, p50): 87-99 -> 25-32 ms; building a
    narrowed connection costs ~80 ms, so it is for what a user asks again (a grid's
    blocks, Home and the Call History), not for a count asked once per snapshot."""
    ranged = None
    if every_day and (first > every_day[-1] or last < every_day[0]):
        ranged = narrowed(conn, first, last)
    if ranged is None:
        yield conn
        return
    try:
        yield ranged
    finally:
        ranged.close()


def _days_in_range(days: list[date], flt: CallFilter) -> list[date]:
    """The partition days (newest first) that can hold calls of ``flt``'s dates."""
    start, end = flt.utc_bounds()
    first = start.date() if start is not None else date.min
    last = (end - timedelta(microseconds=1)).date() if end is not None else date.max
    return [d for d in days if first <= d <= last]


def _partition_days(conn: duckdb.DuckDBPyConnection) -> list[date]:
    """The days the connection's ``calls`` files are in, newest first (none: not known)."""
    scope = scope_of(conn)
    if scope is None or not scope.snapshots or scope.snapshots[0].table != "calls":
        return []
    days = {parse_partition_name(f.partition) for f in scope.snapshots[0].files}
    return sorted((d for d in days if d is not None), reverse=True)
