"""How a metric query is compiled, prepared, cached and run (the metric SQL's engine).

:mod:`pipeline.metrics` (and :mod:`pipeline.metric_callers`) say *which*
metric file runs with which group/bucket expression; this module turns that
into SQL over a tenant-bound warehouse connection
(:func:`pipeline.viewer.open_for_viewer`) and runs it through the result cache.

How a query is put together: ``base_calls.sql`` (staging: the calls of the
filters with the derived columns: local time, normalised number, extension …)
cut to the period by ``scoped_calls.sql`` is the first CTE of each metric file.
Only three kinds of text are formatted in: that staging SQL, a compiled
:class:`~pipeline.filters.CallFilter` (``where_named``: its values bound as
``$f_…``), and group/bucket expressions picked from whitelists. Every value is
a bound named parameter (``$tz``, ``$open_frames`` …).

A page that shows many metrics calls :func:`prepare` first: the base rows of
the period and the previous one are computed once into a temp table
(``page_calls``) and every metric of the same scope reads it instead of the
lake. The metric SQL is the same text either way (only the relation in
``{base_calls}`` differs), so a prepared page and an unprepared CLI call cannot
disagree; a request the prepared table does not cover (another zone, filter or
period) reads the lake.

The callback worklist is the one metric that reads calls after its period (a
callback made later counts). It runs in two stages so that a closed period's
part stays cached while calls come in: its missed callers and the contacts of
each span are cached metrics of their own, and only the contacts after the
page's end are read again (:func:`pipeline.metric_callers.worklist`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from pipeline import call_rollups
from pipeline.fetch import fetch_table
from pipeline.filters import (
    CALLEE_DIGITS,
    CALLER_DIGITS,
    HANDLING_EXTENSION,
    CallFilter,
    FilterError,
    day_start_utc,
)
from pipeline.metric_catalogue import METRICS_VERSION
from pipeline.metrics_cache import RESULTS, Listing, lake_listing, widened
from pipeline.queries import sql_file
from pipeline.warehouse import scope_of


class MetricError(ValueError):
    """A metric request was refused; the message is for the user."""


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` .. ``end`` (inclusive) in the viewer's time zone."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise MetricError(f"the period starts ({self.start}) after it ends ({self.end})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (the comparison)."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def utc_bounds(self, tz: str) -> tuple[datetime, datetime]:
        """[start, end) instants of the local days."""
        return day_start_utc(self.start, tz), day_start_utc(self.end + timedelta(days=1), tz)


@dataclass(frozen=True)
class MetricParams:
    """The variants a number depends on; shown beside every result (see docs/metrics.md)."""

    # Time frames whose rules mean "we are open"; any other rule is after hours.
    open_frames: tuple[str, ...] = ("Open Hours",)
    # Abandons shorter than this (seconds of ringing) are "short abandons".
    short_abandon_seconds: float = 5.0
    # A caller calling again within this many hours is a repeat caller.
    repeat_window_hours: float = 24.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "open_frames": list(self.open_frames),
            "short_abandon_seconds": self.short_abandon_seconds,
            "repeat_window_hours": self.repeat_window_hours,
        }


DEFAULT_PARAMS = MetricParams()


def sql_text(name: str) -> str:
    """The text of ``pipeline/sql/metrics/<name>.sql`` (read once per process)."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise MetricError(f"no metric query {name!r}")
    return sql_file(f"metrics/{name}")


def scope_filter(period: Period, tz: str, filters: CallFilter | None = None) -> CallFilter:
    """The filter of a metric query: ``filters`` with the period's days and zone."""
    base = filters or CallFilter()
    try:
        return replace(base, date_from=period.start, date_to=period.end, timezone=tz)
    except FilterError as exc:
        raise MetricError(str(exc)) from exc


@dataclass(frozen=True)
class _Rows:
    """One period's base rows: ``base_calls.sql`` over the lake for its instants."""

    flt: CallFilter  # the period's scope filter
    sql: str
    bound: dict[str, Any]

    @property
    def start(self) -> datetime:
        return self.bound["zone_from"]  # type: ignore[no-any-return]


@dataclass
class _Prepared:
    """What :func:`prepare` stored on a connection: the scope and the instants it covers.

    The tables are built on first use (a page whose every result is cached never
    builds them), and only as far back as a query needs: the period's rows first, the
    previous period's when a query of it is not cached. In a live office only today's
    files change, so the previous period's results are cached and its rows (half the
    page's) are never read. The lake listings the cache keys use are taken once per page.
    """

    scope: tuple[Any, ...]  # (zone, filter SQL without dates, its values)
    start: datetime
    end: datetime
    parts: tuple[_Rows, ...]  # newest first: the period, then (compared) the previous one
    unfiltered: bool  # page_calls holds every call of the scope in its instants
    built: int = 0  # how many of ``parts`` page_calls holds
    listings: dict[tuple[datetime, datetime | None], Listing] = field(default_factory=dict)

    def covers(self, flt: CallFilter, start: datetime, end: datetime) -> bool:
        return self.scope == _scope_key(flt) and self.start <= start and end <= self.end


# The prepared tables of each open connection; an entry goes with its connection.
_PREPARED: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, _Prepared] = (
    weakref.WeakKeyDictionary()
)


def _scope_key(flt: CallFilter) -> tuple[Any, ...]:
    """The part of a scope the base rows depend on: zone and filters, not the dates."""
    where_sql, named = replace(flt, date_from=None, date_to=None).where_named()
    return (flt.timezone, where_sql, tuple(sorted(named.items())))


# An instant's wall-clock time in $tz through its UTC hour's row ``z`` of zone_hours.sql
# (joined on utc_hour = epoch_us(instant) // 3600000000); an instant whose hour is
# missing or not constant is converted on its own.
LOCAL_TIME = (
    "case when z.is_constant then make_timestamp(epoch_us({ts}) + z.offset_us)"
    " else timezone($tz, {ts}) end"
)


def _zone_hours() -> str:
    return _indent(sql_text("zone_hours"))


def _base_sql(flt: CallFilter) -> tuple[str, dict[str, Any]]:
    """``base_calls.sql`` over the lake for the scope of ``flt``, and its parameters."""
    where_sql, bound = flt.where_named()
    sql = sql_text("base_calls").format(
        where=where_sql,
        caller_digits=CALLER_DIGITS,
        zone_hours=_zone_hours(),
        local_start=LOCAL_TIME.format(ts="started_at"),
    )
    zone_from, zone_to = flt.utc_bounds()
    if zone_from is None or zone_to is None:
        raise MetricError("a metric needs a period")
    return sql, {**bound, "zone_from": zone_from, "zone_to": zone_to}


# The calls contacts.sql looks in for "contacts_after": the lake's from a period's end on
# (a call is in the partition of its UTC day).
_CONTACTS_AFTER = (
    "select direction, disposition, callee, started_at,"
    f" case when direction = 'inbound' then {CALLER_DIGITS} end as caller_digits"
    " from calls where date >= $end_date and started_at >= $end"
)
# Metrics whose result depends on calls after their period: keyed by the lake from its end.
_OPEN_ENDED = frozenset({"contacts_after"})


def compile_metric(
    name: str,
    flt: CallFilter,
    params: MetricParams,
    conn: duckdb.DuckDBPyConnection | None = None,
    **fragments: str,
) -> tuple[str, dict[str, Any]]:
    """SQL for metric file ``name`` over the scope of ``flt``, and its named parameters.

    With ``conn`` prepared (:func:`prepare`) for this scope and period, the base
    rows and contacts come from its temp tables; otherwise from the lake.
    """
    start, end = flt.utc_bounds()
    if start is None or end is None:
        raise MetricError("a metric needs a period")
    prepared = _PREPARED.get(conn) if conn is not None else None
    bound: dict[str, Any] = {}
    if name in _OPEN_ENDED:  # the lake's calls from the end on, not the period's
        sql = sql_text("contacts").format(
            callee_digits=CALLEE_DIGITS, contact_calls=f"(\n    {_CONTACTS_AFTER}\n)"
        )
    else:
        if prepared is not None and conn is not None and prepared.covers(flt, start, end):
            _build(conn, prepared, start)
            base = "page_calls"
        else:
            base_sql, bound = _base_sql(flt)
            base = f"(\n{_indent(base_sql)}\n)"
        scoped = _indent(
            sql_text("scoped_calls").format(base_calls=base, handling_extension=HANDLING_EXTENSION)
        )
        # the closed days' parts of the metrics compaction rolls up
        rolled, rolled_bound = call_rollups.parts(
            name, conn, flt, params.short_abandon_seconds, fragments
        )
        fragments = {**fragments, **rolled}
        bound.update(rolled_bound)
        values = {
            "scoped_calls": scoped,
            "zone_hours": _zone_hours(),
            "callee_digits": CALLEE_DIGITS,
            "contact_calls": f"(\n    {scoped}\n)",
            **fragments,
        }
        sql = sql_text(name).format(**values)
    candidates: dict[str, Any] = {
        "tz": flt.timezone,
        "start": start,
        "end": end,
        "open_frames": list(params.open_frames),
        "short_abandon_seconds": float(params.short_abandon_seconds),
        "window_seconds": float(params.repeat_window_hours) * 3600.0,
        "end_date": end.date(),
        # zone_hours.sql: the hours of the period (an instant after them converts itself)
        "zone_from": start,
        "zone_to": end,
    }
    for key, value in candidates.items():
        if f"${key}" in sql:
            bound[key] = value
    return sql, bound


def prepare(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    compare: bool = True,
) -> None:
    """Compute the base rows of a page once: ``period`` (and the previous one with
    ``compare``) in this zone and filter scope.

    A page runs ~20 metric queries over the same calls; without this each one
    reads the lake and redoes the per-row work (time zone, number digits). The
    temp tables are a snapshot: the metrics of one page agree with each other.
    Call again for another scope; :func:`release` frees the memory early.
    The tables are built when the first metric not in the result cache needs them.
    """
    periods = (period, period.previous()) if compare else (period,)
    parts = []
    for part in periods:
        part_filter = scope_filter(part, tz, filters)
        sql, bound = _base_sql(part_filter)
        if "$tz" in sql:
            bound["tz"] = tz
        parts.append(_Rows(part_filter, sql, bound))
    flt = scope_filter(Period(periods[-1].start, period.end), tz, filters)
    start, end = flt.utc_bounds()
    assert start is not None and end is not None  # scope_filter sets both dates
    release(conn)
    _PREPARED[conn] = _Prepared(_scope_key(flt), start, end, tuple(parts), flt.only_dates)


def _build(conn: duckdb.DuckDBPyConnection, prepared: _Prepared, start: datetime) -> None:
    """Make page_calls of a :func:`prepare` hold the rows from ``start`` on (the periods'
    rows newest first, each period's once)."""
    # Temp tables rather than Arrow tables registered on the connection: building
    # an Arrow table is cheaper, but scanning it was ~2x slower per query
    # (no zone maps: the previous period's queries cannot skip this period).
    need = next(i for i, part in enumerate(prepared.parts) if part.start <= start) + 1
    for part in prepared.parts[prepared.built : need]:
        into = "insert into page_calls" if prepared.built else "create temp table page_calls as"
        conn.execute(f"{into}\n{part.sql}", part.bound)
        prepared.built += 1


def release(conn: duckdb.DuckDBPyConnection) -> None:
    """Drop the tables of :func:`prepare` (metrics then read the lake again)."""
    prepared = _PREPARED.pop(conn, None)
    if prepared is not None and prepared.built:
        conn.execute("drop table if exists page_calls")


def _indent(sql: str) -> str:
    return sql.strip().replace("\n", "\n    ")


def _execute(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pa.Table:
    # Arrow keeps timestamptz aware (UTC) and dates as dates; fetch all: DuckDB
    # refuses the next query while a result is half read.
    return fetch_table(conn, sql, params)


def _cache_key(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    flt: CallFilter,
    params: MetricParams,
    fragments: Mapping[str, Any],
    *,
    fresh: bool = False,
) -> Hashable | None:
    """Everything the result of metric ``name`` depends on; None: do not cache.

    ``fresh``: list the lake now, not the listing the prepared page took.

    Whose calls: the tenant and the extension scope the connection was opened
    with (literals of its views: raw SQL cannot change them). Which data: the files
    of the partitions the query reads, less the calls files that hold no call of
    its instants (:func:`pipeline.file_spans.may_hold`; "contacts_after" reads every
    call from the period's end on). What: the query and its values.
    """
    scope = scope_of(conn)
    if scope is None:
        return None
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    viewer = (
        scope.folders,
        scope.tenant,
        scope.extension,
        scope.mailbox,  # voicemails_left counts only the mailboxes the viewer may read
        scope.forwarded_message_ids,
        scope.contact_names,  # a worklist names callers by the viewer's contacts
    )
    open_ended = name in _OPEN_ENDED  # from the period's end on
    days = widened(end.date(), None) if open_ended else widened(start.date(), end.date())
    instants = (end, None) if open_ended else (start, end)
    prepared = _PREPARED.get(conn)
    listing = prepared.listings.get(instants) if prepared is not None and not fresh else None
    if listing is None:
        listing = lake_listing(scope.snapshots, *days, instants)
        if prepared is not None and not fresh:
            prepared.listings[instants] = listing
    return (
        METRICS_VERSION,
        name,
        viewer,
        _scope_key(flt),
        start,
        end,
        params,
        tuple(sorted(fragments.items())),
        listing,
    )


# One metric query: its file, scope, parameters and fragments (:func:`run_metric`).
Query = tuple[str, CallFilter, MetricParams, Mapping[str, str]]


def run_derived(
    conn: duckdb.DuckDBPyConnection,
    label: Hashable,
    queries: Sequence[Query],
    compute: Callable[[], pa.Table],
) -> pa.Table:
    """``compute()``, a result that depends on exactly what ``queries`` read, from the
    result cache under their keys and ``label``, else computed and kept there.

    The keys are listed again after it ran: it is stored only if the files did not
    change meanwhile (or while the page's tables were built after the listing), else
    the result and its key could differ.
    """

    def key(fresh: bool) -> Hashable | None:
        keys = [_cache_key(conn, *query, fresh=fresh) for query in queries]
        return None if None in keys else (label, *keys)

    kept = key(False)
    cached = RESULTS.get(kept) if kept is not None else None
    if cached is not None:
        return cached
    table = compute()
    if kept is not None and kept == key(True):
        RESULTS.put(kept, table)
    return table


def run_metric(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    flt: CallFilter,
    params: MetricParams,
    **fragments: str,
) -> pa.Table:
    """Metric file ``name`` over the scope of ``flt``: from the result cache, else run."""

    def compute() -> pa.Table:  # compiled only on a miss: compiling builds the page's rows
        return _execute(conn, *compile_metric(name, flt, params, conn, **fragments))

    return run_derived(conn, "", [(name, flt, params, fragments)], compute)


def run_over(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    relations: Mapping[str, pa.Table],
    **fragments: str,
) -> pa.Table:
    """Metric file ``name`` over results already computed (a second stage), each
    registered on the connection under its name while it runs."""
    for relation, table in relations.items():
        conn.register(relation, table)
    try:
        return _execute(conn, sql_text(name).format(**fragments), {})
    finally:
        for relation in relations:
            conn.unregister(relation)


def run_staged(
    conn: duckdb.DuckDBPyConnection,
    first: Query,
    *,
    then: str,
    relation: str,
    **fragments: str,
) -> pa.Table:
    """Metric file ``then`` over the result of ``first`` registered as ``relation``; both
    cached. A page asks several second stages of one first (the KPI tiles and tables share
    their cells): the first runs once, and a cached page reads each second stage alone."""
    name, flt, params, first_fragments = first

    def compute() -> pa.Table:
        table = run_metric(conn, name, flt, params, **first_fragments)
        return run_over(conn, then, {relation: table}, **fragments)

    return run_derived(conn, (then, tuple(sorted(fragments.items()))), [first], compute)


def later_periods(conn: duckdb.DuckDBPyConnection, flt: CallFilter) -> list[CallFilter]:
    """The periods after ``flt``'s that the connection's prepared page holds (oldest first):
    a result over them reads the page's rows."""
    prepared = _PREPARED.get(conn)
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    if prepared is None or not prepared.covers(flt, start, end):
        return []
    return [part.flt for part in reversed(prepared.parts) if part.start >= end]


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """A result's rows as dicts: what every metric function returns."""
    return table.to_pylist()  # type: ignore[no-any-return]
