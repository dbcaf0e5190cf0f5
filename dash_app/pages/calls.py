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

import logging
from typing import Any

import dash
import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import open_calls, optional_user, signed_in_user
from dash_app.calls_grid import (
    BLOCK_SIZE,
    controls_query,
    grid_columns,
    grid_row,
    parse_query,
    sort_from_model,
)
from dash_app.downloads import calls_csv_url
from dash_app.recordings_links import recordings_of_calls
from pipeline.schema import DIRECTIONS, DISPOSITIONS

dash.register_page(
    __name__, path="/calls", name="Call History", title="Call History · Switchboard", order=1
)

log = logging.getLogger(__name__)


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
    # A range picker needs a pair even when empty (null crashes Mantine's picker).
    dates = [params.get("from"), params.get("to")]
    controls = dmc.Group(
        [
            dmc.DatePickerInput(
                id="calls-dates",
                type="range",
                label="Date range",
                placeholder="Any date",
                value=dates,
                valueFormat="YYYY-MM-DD",
                clearable=True,
                allowSingleDateInRange=True,
                w=250,
            ),
            dmc.Select(
                id="calls-direction",
                label="Direction",
                placeholder="Any direction",
                data=[{"value": d, "label": d.capitalize()} for d in DIRECTIONS],
                value=params.get("direction"),
                clearable=True,
                w=160,
            ),
            dmc.Select(
                id="calls-disposition",
                label="Result",
                placeholder="Any result",
                data=[{"value": d, "label": d.capitalize()} for d in DISPOSITIONS],
                value=params.get("disposition"),
                clearable=True,
                w=160,
            ),
            dmc.TextInput(
                id="calls-extension",
                label="Extension",
                placeholder="e.g. 102",
                value=params.get("extension", ""),
                debounce=400,
                w=130,
            ),
            dmc.TextInput(
                id="calls-search",
                label="Number or name",
                placeholder="Search",
                value=params.get("q", ""),
                debounce=400,
                w=200,
            ),
            dmc.Button("Clear", id="calls-clear", variant="default"),
        ],
        align="flex-end",
        gap="sm",
    )
    grid = dag.AgGrid(
        id="calls-grid",
        rowModelType="infinite",
        columnDefs=grid_columns(user.timezone),
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
        getRowId="params.data.call_id",
        dashGridOptions={
            "cacheBlockSize": BLOCK_SIZE,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 0,
            "animateRows": False,
        },
        style={"height": "calc(100vh - 330px)", "minHeight": "360px"},
    )
    return dmc.Stack(
        [
            dcc.Location(id="calls-url", refresh=False),
            dcc.Store(id="calls-filter", data=params),
            dcc.Store(id="calls-purged"),
            dmc.Group(
                [
                    dmc.Stack(
                        [
                            dmc.Title("Call History", order=2),
                            dmc.Text(scope, c="dimmed", size="sm", id="calls-scope"),
                        ],
                        gap=0,
                    ),
                    html.A(
                        [
                            html.Span(className="sb-button-icon sb-button-icon--download"),
                            "Export CSV",
                        ],
                        id="calls-export",
                        href=calls_csv_url(params),
                        className="sb-link-button",
                    ),
                ],
                justify="space-between",
            ),
            dmc.Paper(controls, withBorder=True, p="md", radius="md"),
            html.Div(
                dmc.Alert(error, color="red", variant="light", title="Filter ignored")
                if error
                else None,
                id="calls-filter-error",
            ),
            dmc.Group(
                [
                    dmc.Text(flt.describe(), size="sm", id="calls-summary"),
                    dmc.Text("", size="sm", c="dimmed", id="calls-count"),
                ],
                justify="space-between",
            ),
            dmc.Paper(grid, withBorder=True, radius="md", className="sb-grid-paper"),
        ],
        gap="md",
    )


@callback(
    Output("calls-url", "search"),
    Output("calls-filter", "data"),
    Output("calls-summary", "children"),
    Output("calls-export", "href"),
    Output("calls-filter-error", "children"),
    Input("calls-dates", "value"),
    Input("calls-direction", "value"),
    Input("calls-disposition", "value"),
    Input("calls-extension", "value"),
    Input("calls-search", "value"),
    State("calls-filter", "data"),
    prevent_initial_call=True,
)
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
    query = controls_query(dates, direction, disposition, extension, search)
    try:
        flt = CallFilter.from_query(query, user.timezone)
    except FilterError as exc:
        alert = dmc.Alert(str(exc), color="red", variant="light", title="Check the filter")
        return no_update, no_update, no_update, no_update, alert
    params = flt.to_query()
    if params == (current or {}):
        raise PreventUpdate  # e.g. the picker re-sent the same value
    search_string = calls_csv_url(params).partition("?")[2]
    return (
        f"?{search_string}" if search_string else "",
        params,
        flt.describe(),
        calls_csv_url(params),
        None,
    )


@callback(
    Output("calls-dates", "value"),
    Output("calls-direction", "value"),
    Output("calls-disposition", "value"),
    Output("calls-extension", "value"),
    Output("calls-search", "value"),
    Input("calls-clear", "n_clicks"),
    prevent_initial_call=True,
)
def clear_filters(_clicks: int | None) -> tuple[Any, ...]:
    """Reset every control; :func:`apply_filters` then updates URL and grid."""
    return [None, None], None, None, "", ""


# A new filter must drop the rows the grid has cached; only the browser can tell it to.
clientside_callback(
    """
    async function (query) {
        const api = await dash_ag_grid.getApiAsync("calls-grid");
        if (api.getDisplayedRowCount() > 0) { api.ensureIndexVisible(0, "top"); }
        api.purgeInfiniteCache();
        return window.dash_clientside.no_update;
    }
    """,
    Output("calls-purged", "data"),
    Input("calls-filter", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("calls-grid", "getRowsResponse"),
    Output("calls-count", "children"),
    Input("calls-grid", "getRowsRequest"),
    State("calls-filter", "data"),
)
def load_rows(request: dict[str, Any] | None, query: dict[str, str] | None) -> tuple[Any, str]:
    """One block of rows for the grid, in the viewer's scope, from the warehouse."""
    from pipeline.history import call_page

    if not request:
        raise PreventUpdate
    user = signed_in_user()
    flt, error = parse_query(query or {}, user.timezone)
    if error:
        return {"rowData": [], "rowCount": 0}, "0 calls"
    start = max(0, int(request.get("startRow") or 0))
    end = int(request.get("endRow") or start + BLOCK_SIZE)
    limit = max(1, min(end - start, 1000))
    conn = open_calls(user)
    try:
        rows, total = call_page(
            conn, flt, offset=start, limit=limit, sort=sort_from_model(request.get("sortModel"))
        )
        recorded = recordings_of_calls(conn, [r["call_id"] for r in rows])  # the icon's link
    finally:
        conn.close()
    label = "1 call" if total == 1 else f"{total:,} calls"
    data = [grid_row(r, user, recorded.get(r["call_id"])) for r in rows]
    return {"rowData": data, "rowCount": total}, label
