"""Call History: every call the viewer may see, filtered, sorted, exported.

The filter lives in the URL query string (``from``, ``to``, ``direction``,
``disposition``, ``extension``, ``q`` — the keys of
``pipeline.filters.CallFilter``), so a view is a link one can share:
loading the URL fills the controls and the grid, changing a control rewrites
the URL (without reloading the page) and refreshes the grid.

The grid uses AG Grid's infinite row model: it asks the server for one block
of rows at a time (``getRowsRequest``), and the server answers from the
warehouse in the viewer's scope. "Export CSV" is a link to the guarded
download route with the same query, so the file holds exactly the filtered
rows, not just the ones the grid has loaded.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from dash import Input, Output, callback, html

from dash_app.auth import open_calls, optional_user, signed_in_user
from dash_app.calls_grid import grid_columns, grid_row, parse_query, sort_from_model
from dash_app.downloads import calls_csv_url
from dash_app.paged_grid import PagedGrid, choice, date_range, labelled, text_box
from dash_app.paged_grid_filters import controls_query
from dash_app.recordings_links import recordings_of_calls
from pipeline.schema import DIRECTIONS, DISPOSITIONS

dash.register_page(
    __name__, path="/calls", name="Call History", title="Call History · Switchboard", order=1
)

GRID = PagedGrid(
    "calls", row_id="call_id", noun=("call", "calls"), export=calls_csv_url, sortable=True
)
_CONTROLS = (
    "calls-dates",
    "calls-direction",
    "calls-disposition",
    "calls-extension",
    "calls-search",
)


def layout(**query: Any) -> Any:
    """The Call History page for the filter in the URL."""
    user = optional_user()
    if user is None:
        return html.Div()
    flt, error = parse_query(query, user.timezone)
    params = flt.to_query()
    scope = (
        f"All calls of {user.tenant_domain}"
        if user.sees_whole_tenant
        else f"Calls of extension {user.extension}"
    ) + f" · times in {user.timezone}"
    controls = [
        date_range("calls-dates", [params.get("from"), params.get("to")], w=250),
        choice(
            "calls-direction",
            "Direction",
            "Any direction",
            labelled(DIRECTIONS),
            params.get("direction"),
            w=160,
        ),
        choice(
            "calls-disposition",
            "Result",
            "Any result",
            labelled(DISPOSITIONS),
            params.get("disposition"),
            w=160,
        ),
        text_box("calls-extension", "Extension", "e.g. 102", params.get("extension"), w=130),
        text_box("calls-search", "Number or name", "Search", params.get("q"), w=200),
        dmc.Button("Clear", id="calls-clear", variant="default"),
    ]
    return GRID.page(
        title="Call History",
        scope=scope,
        controls=controls,
        params=params,
        summary=flt.describe(),
        error=error,
        columns=grid_columns(user.timezone),
    )


@GRID.filter_callback(_CONTROLS)
def apply_filters(
    dates: list[str | None] | None,
    direction: str | None,
    disposition: str | None,
    extension: str | None,
    search: str | None,
    current: dict[str, str] | None,
) -> tuple[Any, ...]:
    """Controls → canonical filter → URL, grid filter, summary and export link."""
    from pipeline.filters import CallFilter, FilterError

    user = signed_in_user()
    values = {"direction": direction, "disposition": disposition, "extension": extension}
    query = controls_query(dates, {**values, "q": search})
    try:
        flt = CallFilter.from_query(query, user.timezone)
    except FilterError as exc:
        return GRID.refused(str(exc))
    return GRID.applied(flt.to_query(), current, flt.describe())


@callback(
    *[Output(c, "value") for c in _CONTROLS],
    Input("calls-clear", "n_clicks"),
    prevent_initial_call=True,
)
def clear_filters(_clicks: int | None) -> tuple[Any, ...]:
    """Reset every control; :func:`apply_filters` then updates URL and grid."""
    return [None, None], None, None, "", ""


GRID.purge_on_change()


@GRID.rows_callback()
def load_rows(request: dict[str, Any] | None, query: dict[str, str] | None) -> tuple[Any, str]:
    """One block of rows for the grid, in the viewer's scope, from the warehouse."""
    from pipeline.history import call_page

    start, limit = GRID.block(request)
    user = signed_in_user()
    flt, error = parse_query(query or {}, user.timezone)
    if error:
        return GRID.nothing()
    conn = open_calls(user)
    try:
        rows, total = call_page(
            conn,
            flt,
            offset=start,
            limit=limit,
            sort=sort_from_model((request or {}).get("sortModel")),
        )
        recorded = recordings_of_calls(conn, [r["call_id"] for r in rows])  # the icon's link
    finally:
        conn.close()
    return GRID.answer([grid_row(r, user, recorded.get(r["call_id"])) for r in rows], total)
