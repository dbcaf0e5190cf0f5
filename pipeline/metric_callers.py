"""Who called, and who is waiting for a call back: repeat callers and the callback worklist.

Both look at external callers (inbound calls, numbers compared digits only)
rather than at calls; the worklist also reads every contact after the period
starts (a callback made later still counts): its parts are cached apart, and
only the contacts after the page are read again (:func:`worklist`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.filters import CallFilter
from pipeline.metric_engine import (
    DEFAULT_PARAMS,
    MetricParams,
    Period,
    Query,
    later_periods,
    rows_of,
    run_derived,
    run_metric,
    run_over,
    run_staged,
    scope_filter,
)


def repeat_callers(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The repeat callers with their inbound calls.

    ``limit``: the first rows only (the order is the table's: most calls first).
    """
    table = run_metric(conn, "repeat_callers", scope_filter(period, tz, filters), params)
    # the query's last row sums the other callers (repeat_callers.sql)
    table = table.filter(table["is_repeat_caller"]).drop_columns(["callers"])
    return rows_of(table if limit is None else table.slice(0, limit))


def repeat_summary(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
) -> dict[str, Any]:
    """Repeat-caller rate and the first-contact-resolution proxy."""
    # over the rows of every external caller: the table's own cached result
    callers: Query = ("repeat_callers", scope_filter(period, tz, filters), params, {})
    summary = run_staged(conn, callers, then="repeat_summary", relation="repeat_per_caller")
    (row,) = rows_of(summary)
    return row


def worklist(conn: duckdb.DuckDBPyConnection, flt: CallFilter) -> pa.Table:
    """The callback worklist of ``flt`` (callback_worklist.sql): its missed callers, less
    those with a contact after their last missed call (any call: no call filter) in its
    period, in each later period the page holds (each cached apart, so a closed period's
    contacts are not read again) or in the lake after them. Cached under its parts' keys:
    a page asks for it twice (the tile, the table)."""
    missed = run_metric(conn, "missed_callers", flt, DEFAULT_PARAMS)
    if missed.num_rows == 0:
        return missed
    own = replace(CallFilter(timezone=flt.timezone), date_from=flt.date_from, date_to=flt.date_to)
    spans = [own, *later_periods(conn, own)]
    contacts: list[Query] = [("contacts", span, DEFAULT_PARAMS, {}) for span in spans]
    contacts.append(("contacts_after", spans[-1], DEFAULT_PARAMS, {}))

    def compute() -> pa.Table:
        found = pa.concat_tables(
            run_metric(conn, name, span, params, **fragments)
            for name, span, params, fragments in contacts
        )
        relations = {"worklist_missed": missed, "worklist_contacts": found}
        return run_over(conn, "callback_worklist", relations)

    missed_query: Query = ("missed_callers", flt, DEFAULT_PARAMS, {})
    return run_derived(conn, "callback_worklist", [missed_query, *contacts], compute)


def _open_callbacks(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, handled: Mapping[str, datetime] | None
) -> pa.Table:
    """The worklist rows of ``flt`` without those marked handled since their last miss.

    The worklist of a busy tenant has many thousand rows and the marks are few,
    so the marks are checked on the marked rows alone.
    """
    table = worklist(conn, flt)
    marks = handled or {}
    if not marks:
        return table
    marked = table.select(["number", "last_missed_at"]).filter(
        pc.is_in(table["number"], pa.array(list(marks), pa.string()))
    )
    hidden = [r["number"] for r in marked.to_pylist() if marks[r["number"]] >= r["last_missed_at"]]
    if not hidden:
        return table
    return table.filter(pc.invert(pc.is_in(table["number"], pa.array(hidden, pa.string()))))


def callback_worklist(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    handled: Mapping[str, datetime] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Missed external callers not yet called back or reached, nor marked handled.

    ``handled`` maps a number (digits) to when someone marked it handled; a
    mark hides the caller until they miss another call after it. ``limit``: the
    first rows only (the order is the table's: latest missed call first).
    """
    table = _open_callbacks(conn, scope_filter(period, tz, filters), handled)
    return rows_of(table if limit is None else table.slice(0, limit))


def callbacks_pending(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    handled: Mapping[str, datetime] | None = None,
) -> int:
    """How many rows :func:`callback_worklist` has, without building them."""
    return int(_open_callbacks(conn, scope_filter(period, tz, filters), handled).num_rows)
