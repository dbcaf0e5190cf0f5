"""Call history pages for the portal grid (AG Grid's infinite row model)."""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline import queries
from pipeline.filters import CallFilter, FilterError
from pipeline.schema import CALLS_SCHEMA

MAX_PAGE = 1000
PAGE_COLUMNS: tuple[str, ...] = tuple(CALLS_SCHEMA.names)


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
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise FilterError(f"a page is 1 to {MAX_PAGE} rows from offset 0 or more")
    where_sql, params = flt.where()
    sql = queries.select_call_page(", ".join(PAGE_COLUMNS), where_sql, order_by(sort))
    page = conn.sql(sql, params=[*params, limit, offset])
    rows = page.to_arrow_table().to_pylist()
    # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open and
    # refuses the next query on the connection until it is drained.
    ((total,),) = conn.execute(queries.count_calls(where_sql), params).fetchall()
    return rows, int(total)
