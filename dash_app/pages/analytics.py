"""Analytics: KPI tiles, volume, busy hours, per-extension/number/rule tables,
peak active calls, the auto attendants' menu funnel, the Queues section
(:mod:`dash_app.analytics_queues`), repeat callers and the callback worklist.

Managers and supervisors see their tenant; everyone else sees the same page
over their own calls (:func:`pipeline.viewer.open_for_viewer` decides). Every number
comes from :mod:`pipeline.metrics` (definitions: docs/metrics.md).

The view lives in the URL (``from``, ``to``, ``tz``, ``compare``, ``interval``
and the call filters ``direction``, ``disposition``, ``extension``); "Apply"
rewrites it. Every chart point and table row links to Call History with the
filter that selects exactly the calls behind it; every table downloads as
CSV, XLSX or Parquet from a guarded route running the same loader.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import dash
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dash_app.analytics_charts import (
    TILES,
    concurrency_figure,
    heatmap_figure,
    tile,
    volume_figures,
)
from dash_app.analytics_grids import grid, grid_rows
from dash_app.analytics_queues import queue_section
from dash_app.analytics_tables import PREVIEW_ROWS, TABLES, AnalyticsQuery
from dash_app.auth import (
    callers_outside_scope,
    optional_user,
    portal,
    provisioning,
    signed_in_user,
)
from dash_app.editing import NotAllowed
from dash_app.layout import section
from dash_app.paged_grid import date_range
from dash_app.recordings_figures import conversation_section, load_conversation_figures
from pipeline.schema import DIRECTIONS

dash.register_page(
    __name__, path="/analytics", name="Analytics", title="Analytics · Switchboard", order=2
)

log = logging.getLogger(__name__)


# Tables that can have tens of thousands of rows: the page shows the first
# PREVIEW_ROWS (the table's own order) and says how many there are; the
# downloads run the same loader without the limit.
_PREVIEWED = ("repeat", "callbacks")


def _controls(q: AnalyticsQuery) -> Any:
    """Period, interval, zone and filters as in the URL; "Apply" writes them back to it."""
    return dmc.Group(
        [
            date_range(
                "analytics-dates",
                [q.period.start.isoformat(), q.period.end.isoformat()],
                w=240,
                label="Period",
                clearable=False,
            ),
            dmc.Select(
                id="analytics-interval",
                label="Interval",
                data=["hour", "day", "week"],
                value=q.interval,
                w=100,
            ),
            dmc.TextInput(id="analytics-tz", label="Time zone", value=q.tz, w=190),
            dmc.Select(
                id="analytics-direction",
                label="Direction",
                placeholder="Any",
                data=list(DIRECTIONS),
                value=q.filters.get("direction"),
                clearable=True,
                w=130,
            ),
            dmc.TextInput(
                id="analytics-extension",
                label="Extension",
                value=q.filters.get("extension", ""),
                w=110,
            ),
            dmc.Checkbox(
                id="analytics-compare", label="Compare with previous period", checked=q.compare
            ),
            dmc.Button("Apply", id="analytics-apply"),
        ],
        align="flex-end",
        gap="sm",
    )


def layout(**query: Any) -> Any:
    """The Analytics page for the view in the URL."""
    from pipeline import metrics

    user = optional_user()
    if user is None:
        return html.Div()
    from pipeline.viewer import open_for_viewer

    q, error = AnalyticsQuery.from_url(query, user.timezone)
    flt = q.call_filter()
    viewer = open_for_viewer(portal().settings, user, borrow_store=provisioning)
    conn, marks = viewer.conn, viewer.handled
    try:
        # One pass over the lake for the whole page; every metric below reads it.
        metrics.prepare(conn, q.period, tz=q.tz, filters=flt, compare=q.compare)
        if q.compare:
            compared = metrics.compare(conn, q.period, tz=q.tz, filters=flt, handled=marks)
            current = {k: v["current"] for k, v in compared.items()}
        else:
            compared = {}
            current = metrics.summary(conn, q.period, tz=q.tz, filters=flt, handled=marks)
        volume = metrics.volume(conn, q.period, interval=q.interval, tz=q.tz, filters=flt)
        heat = metrics.heatmap(conn, q.period, tz=q.tz, filters=flt)
        peaks = metrics.concurrency(conn, q.period, interval=q.interval, tz=q.tz, filters=flt)
        tables = {
            name: spec.load(conn, q, marks, limit=PREVIEW_ROWS if name in _PREVIEWED else None)
            for name, spec in TABLES.items()
        }
        conversations = load_conversation_figures(conn, q)  # recorded calls, per agent
    finally:
        viewer.close()
    scope = (
        f"All calls of {user.tenant_domain}"
        if user.sees_whole_tenant
        else f"Calls of extension {user.extension}"
    )
    by_disposition, by_direction = volume_figures(volume, q)
    tiles = dmc.SimpleGrid(
        [tile(n, current.get(n), compared.get(n)) for n in TILES],
        cols={"base": 2, "sm": 4, "lg": 8},
        spacing="sm",
        id="analytics-tiles",
    )
    graph_config: Any = {"displaylogo": False}
    return dmc.Stack(
        [
            dcc.Location(id="analytics-nav", refresh=True),
            dcc.Store(id="analytics-query", data=q.to_url()),
            dcc.Store(id="analytics-clicked"),
            dmc.Group(
                [
                    dmc.Stack(
                        [
                            dmc.Title("Analytics", order=2),
                            dmc.Text(
                                f"{scope} · {q.period.start} to {q.period.end} ({q.tz})"
                                f" · {flt.describe()} · metrics v{metrics.METRICS_VERSION}",
                                c="dimmed",
                                size="sm",
                                id="analytics-scope",
                            ),
                        ],
                        gap=0,
                    ),
                ],
                justify="space-between",
            ),
            dmc.Paper(_controls(q), withBorder=True, p="md", radius="md"),
            dmc.Alert(error, color="red", variant="light", title="View reset") if error else None,
            tiles,
            section(
                "Volume by result",
                dcc.Graph(
                    id="analytics-volume-disposition", figure=by_disposition, config=graph_config
                ),
                id_prefix="analytics-volume",
            ),
            dmc.SimpleGrid(
                [
                    section(
                        "Volume by direction",
                        dcc.Graph(
                            id="analytics-volume-direction",
                            figure=by_direction,
                            config=graph_config,
                        ),
                        id_prefix="analytics-direction",
                    ),
                    section(
                        "Peak active calls",
                        dcc.Graph(
                            id="analytics-concurrency",
                            figure=concurrency_figure(peaks, q),
                            config=graph_config,
                        ),
                        id_prefix="analytics-peaks",
                    ),
                ],
                cols={"base": 1, "lg": 2},
            ),
            section(
                f"Busy hours ({q.tz})",
                dcc.Graph(
                    id="analytics-heatmap", figure=heatmap_figure(heat, q), config=graph_config
                ),
                id_prefix="analytics-heat",
            ),
            grid("extensions", tables["extensions"], q),
            dmc.SimpleGrid(
                [grid("dids", tables["dids"], q), grid("rules", tables["rules"], q)],
                cols={"base": 1, "lg": 2},
            ),
            # per auto attendant; only for a tenant whose callers met a menu in the period
            grid("menus", tables["menus"], q) if tables["menus"] else None,
            # queues, agents, staffing what-if; only when callers met a queue in the period
            queue_section(grid, tables, q),
            conversation_section(conversations, q),  # only when calls were recorded
            grid("repeat", tables["repeat"], q, total=current.get("repeat_callers")),
            html.Div(
                [
                    grid(
                        "callbacks",
                        tables["callbacks"],
                        q,
                        total=current.get("callbacks_pending"),
                        selectable=True,
                        rowSelection="multiple",
                    ),
                    dmc.Group(
                        [
                            dmc.Button(
                                "Mark handled",
                                id="analytics-mark-handled",
                                variant="light",
                                mt="xs",
                            ),
                            dmc.Text("", id="analytics-mark-result", size="sm", c="dimmed"),
                        ]
                    ),
                ]
            ),
        ],
        gap="md",
    )


@callback(
    Output("analytics-nav", "href"),
    Input("analytics-apply", "n_clicks"),
    State("analytics-dates", "value"),
    State("analytics-interval", "value"),
    State("analytics-tz", "value"),
    State("analytics-direction", "value"),
    State("analytics-extension", "value"),
    State("analytics-compare", "checked"),
    prevent_initial_call=True,
)
def apply_view(
    _clicks: int | None,
    dates: list[str | None] | None,
    interval: str | None,
    tz: str | None,
    direction: str | None,
    extension: str | None,
    compare: bool | None,
) -> str:
    """Controls → the page's URL (the layout reads everything from it)."""
    start, end = ((dates or []) + [None, None])[:2]
    raw = {
        "from": (start or "")[:10],
        "to": (end or start or "")[:10],
        "interval": interval or "",
        "tz": (tz or "").strip(),
        "direction": direction or "",
        "extension": (extension or "").strip(),
        "compare": "" if compare else "0",
    }
    return "/analytics?" + urlencode({k: v for k, v in raw.items() if v})


# A click on a chart point opens Call History on the calls behind it.
for _graph in (
    "analytics-volume-disposition",
    "analytics-volume-direction",
    "analytics-concurrency",
    "analytics-heatmap",
):
    clientside_callback(
        """
        function (clickData) {
            if (!clickData || !clickData.points || !clickData.points.length) {
                return window.dash_clientside.no_update;
            }
            const link = clickData.points[0].customdata;
            if (typeof link === "string" && link.startsWith("/calls?")) {
                window.location.assign(link);
            }
            return link;
        }
        """,
        Output("analytics-clicked", "data", allow_duplicate=True),
        Input(_graph, "clickData"),
        prevent_initial_call=True,
    )


@callback(
    Output("analytics-grid-callbacks", "rowData"),
    Output("analytics-mark-result", "children"),
    Input("analytics-mark-handled", "n_clicks"),
    State("analytics-grid-callbacks", "selectedRows"),
    State("analytics-query", "data"),
    prevent_initial_call=True,
)
def mark_handled(
    _clicks: int | None, selected: list[dict[str, Any]] | None, query: dict[str, str] | None
) -> tuple[Any, str]:
    """Store "handled" for the selected callers, then show the worklist without them.

    Managers and supervisors may mark any caller of the tenant; others only
    callers of their own calls (the rows come from the browser, so ask again).
    """
    user = signed_in_user()
    if not selected:
        return no_update, "Select callers first."
    numbers = [str(row["number"]) for row in selected]
    if callers_outside_scope(user, numbers):
        raise NotAllowed("you can mark only callers of the calls you see")
    from pipeline.viewer import open_for_viewer

    with provisioning() as store:
        for number in numbers:
            store.mark_callback_handled(user.tenant_domain, number, user.id)
    q, _error = AnalyticsQuery.from_url(query or {}, user.timezone)
    with open_for_viewer(portal().settings, user, borrow_store=provisioning) as viewer:
        rows = TABLES["callbacks"].load(viewer.conn, q, viewer.handled, limit=PREVIEW_ROWS)
    shown = grid_rows("callbacks", rows, q.tz)
    count = len(selected)
    return shown, f"{count} caller{'s' if count != 1 else ''} marked handled."
