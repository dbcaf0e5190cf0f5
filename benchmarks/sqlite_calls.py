"""The Call History grid's page query hand-written for an indexed SQLite table of calls.

The lake benchmarks (``benchmarks.history``, ``benchmarks.lake_trickle``) time
``pipeline.history.call_page`` against this: what a classic PBX report runs on.
One query for both, so their SQLite columns measure the same thing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pipeline.filters import CallFilter

# One page of the grid: its rows and the filter's total.
Page = tuple[list[Any], int]


def sqlite_page(
    db: sqlite3.Connection, flt: CallFilter, offset: int, tenant: str | None = None
) -> Page:
    """100 calls from ``offset`` and the total (epoch seconds), in the lake's order;
    ``tenant`` for a table that holds several tenants (a ``tenant`` column)."""
    start, end = flt.utc_bounds()
    assert start is not None and end is not None
    where = "started_at >= ? and started_at < ?"
    params: list[object] = [start.timestamp(), end.timestamp()]
    if tenant is not None:
        where = "tenant = ? and " + where
        params.insert(0, tenant)
    if flt.direction:
        where += " and direction = ?"
        params.append(flt.direction)
    if flt.search:
        cols = ("caller", "callee", "caller_name", "callee_name")
        where += " and (" + " or ".join(f"lower({c}) like ?" for c in cols) + ")"
        params += [f"%{flt.search.lower()}%"] * 4
    rows = db.execute(
        f"select * from calls where {where} order by started_at desc, acc_id desc"
        " limit 100 offset ?",
        [*params, offset],
    ).fetchall()
    ((total,),) = db.execute(f"select count(*) from calls where {where}", params).fetchall()
    return rows, total
