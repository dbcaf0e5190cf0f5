"""Call history pages for the portal grid (AG Grid's infinite row model).

Rows come from the warehouse's ``call_history`` view: the calls plus ``path``,
their way through the media server in words (``pipeline/sql/warehouse/``). The
menus in a path are named from the provisioning store: :func:`name_menus` hands
them to a connection (bound values), and a menu it does not name reads "menu <id>".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from pipeline import queries
from pipeline.filters import CallFilter, FilterError
from pipeline.schema import CALLS_SCHEMA
from switchboard.store import ProvisioningError, ProvisioningStore

MAX_PAGE = 1000
PAGE_COLUMNS: tuple[str, ...] = (*CALLS_SCHEMA.names, "path")


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
