"""The menu funnel: what callers did in each auto attendant (docs/metrics.md "Menu funnel").

The SQL is ``pipeline/sql/metrics/menu_funnel.sql`` over the calls in scope and
their ``call_steps``; it runs and is cached like every metric
(:func:`pipeline.metric_engine.run_metric`). Menu names are not part of the
cached result: they come from the connection's ``attendant_names`` (filled from
the provisioning store, :func:`pipeline.history.name_menus`) when the rows are
returned, so renaming a menu never needs a cache invalidation.
"""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.filters import CallFilter
from pipeline.metric_engine import (
    DEFAULT_PARAMS,
    MetricParams,
    Period,
    rows_of,
    run_metric,
    scope_filter,
)

# The funnel's outcomes, in the order a caller meets them (also pipeline.filters.MENU_OUTCOMES).
MENU_OUTCOMES: tuple[str, ...] = ("entered", "key", "timeout", "invalid", "hangup")


def menu_names_of(conn: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Attendant id → name as the connection was given them (empty when it was not)."""
    rows = conn.execute("select attendant_id, name from attendant_names").fetchall()
    return {int(i): str(n) for i, n in rows}


def menu_funnel(
    conn: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    tz: str = "UTC",
    filters: CallFilter | None = None,
    params: MetricParams = DEFAULT_PARAMS,
) -> list[dict[str, Any]]:
    """One row per menu and outcome (and key): callers, the menu's entered callers, share.

    Each row also carries ``attendant`` (the menu's name, "menu <id>" when unnamed) and
    ``menu`` (its drill-down value: ``CallFilter(menu=…)`` selects the calls it counted).
    """
    flt = scope_filter(period, tz, filters)
    rows = rows_of(run_metric(conn, "menu_funnel", flt, params))
    names = menu_names_of(conn)
    for row in rows:
        menu_id = row["attendant_id"]
        row["attendant"] = names.get(menu_id, f"menu {menu_id}")
        key = f":{row['key']}" if row["key"] is not None else ""
        row["menu"] = f"{menu_id}:{row['outcome']}{key}"
    return rows
