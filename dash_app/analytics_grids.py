"""The Analytics page's tables: an AG Grid per table, its downloads, and "first N of M".

Rows come from :data:`dash_app.analytics_tables.TABLES` (the same loaders the
downloads run); timestamps are shown in the page's zone.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import html

from dash_app.analytics_tables import TABLES, AnalyticsQuery, download_url
from dash_app.layout import format_local, section


def grid_rows(name: str, rows: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """The rows of table ``name`` as the grid shows them: ``*_at`` columns local to ``tz``."""
    timestamps = {c for c in TABLES[name].columns if c.endswith("_at")}
    return [{**r, **{c: format_local(r.get(c), tz) for c in timestamps}} for r in rows]


def grid(
    name: str,
    rows: list[dict[str, Any]],
    q: AnalyticsQuery,
    total: int | None = None,
    **options: Any,
) -> Any:
    """Table ``name`` as a section: its grid, CSV/XLSX/Parquet links and, if cut, how many.

    ``total`` is the table's full row count when the page shows only its first rows.
    """
    spec = TABLES[name]
    shown = grid_rows(name, rows, q.tz)
    columns: list[dict[str, Any]] = [
        {"field": c, "headerName": c.replace("_", " ")} for c in spec.columns
    ]
    columns.append(
        {
            "field": "calls_link",
            "headerName": "Calls",
            "cellRenderer": "markdown",
        }
    )
    if options.pop("selectable", False):
        columns[0]["checkboxSelection"] = True
    downloads = html.Span(
        [
            html.A(
                fmt.upper(),
                href=download_url(name, fmt, q),
                id=f"analytics-download-{name}-{fmt}",
                className="sb-download",
            )
            for fmt in ("csv", "xlsx", "parquet")
        ],
        className="sb-downloads",
    )
    grid = dag.AgGrid(
        id=f"analytics-grid-{name}",
        rowData=shown,
        columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": False, "minWidth": 90},
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "domLayout": "autoHeight",
            "pagination": len(rows) > 15,
            "paginationPageSize": 15,
            **options,
        },
    )
    shown_all = total is None or total <= len(rows)
    more = (
        None
        if shown_all
        else dmc.Text(
            f"Showing the first {len(rows):,} of {total:,}; the downloads hold every row.",
            size="sm",
            c="dimmed",
            id=f"analytics-{name}-more",
        )
    )
    body = grid if more is None else html.Div([more, grid])
    return section(spec.title, body, id_prefix=f"analytics-{name}", extra=downloads)
