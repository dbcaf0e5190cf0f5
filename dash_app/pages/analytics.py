"""Analytics: KPI tiles, volume, busy hours, per-extension/number/rule tables,
peak active calls, repeat callers and the callback worklist.

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
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash
import dash_ag_grid as dag
import dash_mantine_components as dmc
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dash_app.analytics_tables import PREVIEW_ROWS, TABLES, AnalyticsQuery, download_url
from dash_app.auth import (
    caller_in_scope,
    optional_user,
    portal,
    provisioning,
    signed_in_user,
)
from dash_app.editing import NotAllowed
from dash_app.layout import format_local, section
from pipeline.schema import DIRECTIONS, DISPOSITIONS

dash.register_page(
    __name__, path="/analytics", name="Analytics", title="Analytics · Switchboard", order=2
)

log = logging.getLogger(__name__)

TILES = (
    "offered",
    "answered",
    "missed",
    "answer_rate",
    "abandoned_in_ring",
    "avg_ring_answered",
    "max_ring_answered",
    "avg_talk",
    "total_talk",
    "after_hours_calls",
    "after_hours_missed",
    "voicemails_left",
    "peak_concurrent",
    "repeat_caller_rate",
    "fcr_proxy",
    "callbacks_pending",
)
# Metrics where a rise is bad news (the change is shown red).
_LOWER_IS_BETTER = frozenset(
    {
        "missed",
        "abandoned_in_ring",
        "avg_ring_answered",
        "max_ring_answered",
        "after_hours_missed",
        "repeat_caller_rate",
        "callbacks_pending",
    }
)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DISPOSITION_COLOURS = {
    "answered": "#2f9e44",
    "missed": "#e03131",
    "busy": "#f08c00",
    "cancelled": "#c2255c",
    "failed": "#868e96",
    "blocked": "#495057",
    "voicemail": "#1971c2",
}


def _tile(name: str, value: Any, change: dict[str, Any] | None) -> dmc.Paper:
    from pipeline.metrics import DEFINITION_BY_NAME, format_value

    definition = DEFINITION_BY_NAME[name]
    extra: Any = None
    if change is not None and change.get("change") is not None:
        delta = change["change"]
        direction = "up" if delta > 0 else "down" if delta < 0 else ""
        good = (delta < 0) if name in _LOWER_IS_BETTER else (delta > 0)
        sign = "+" if delta > 0 else ""
        shown = (
            f"{sign}{delta * 100:.1f} pts"
            if definition.unit == "ratio"
            else f"{sign}{format_value(name, delta)}"
            if definition.unit != "seconds"
            else f"{sign}{delta:.0f} s"
        )
        extra = dmc.Text(
            f"{shown} vs previous ({format_value(name, change.get('previous'))})",
            size="xs",
            id=f"analytics-tile-{name}-change",
            className=f"sb-tile-change--{'up' if good else 'down'}" if direction else "",
        )
    return dmc.Paper(
        [
            dmc.Text(definition.label, size="xs", c="dimmed"),
            html.Div(
                format_value(name, value),
                className="sb-tile-value",
                id=f"analytics-tile-{name}-value",
            ),
            extra,
        ],
        id=f"analytics-tile-{name}",
        withBorder=True,
        p="sm",
        radius="md",
        className="sb-tile",
    )


def _bucket(bucket: Any, q: AnalyticsQuery) -> tuple[str, str]:
    """(label, drill-down URL) of a volume or concurrency bucket."""
    if isinstance(bucket, datetime):  # an hour: the instant it began
        local = bucket.astimezone(ZoneInfo(q.tz))
        return (
            local.strftime("%Y-%m-%d %H:00 %Z"),
            q.drill(**{"from": local.date(), "to": local.date(), "hour": local.hour}),
        )
    if isinstance(bucket, date):
        if q.interval == "week":
            first = max(bucket, q.period.start)
            last = min(bucket + timedelta(days=6), q.period.end)
            return f"week of {bucket.isoformat()}", q.drill(**{"from": first, "to": last})
        return bucket.isoformat(), q.drill(**{"from": bucket, "to": bucket})
    return str(bucket), q.drill()


def _volume_figures(rows: list[dict[str, Any]], q: AnalyticsQuery) -> tuple[go.Figure, go.Figure]:
    buckets = sorted({r["bucket"] for r in rows})
    labels = {b: _bucket(b, q) for b in buckets}
    by_disposition: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    by_direction: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        by_disposition[r["disposition"]][r["bucket"]] += r["calls"]
        by_direction[r["direction"]][r["bucket"]] += r["calls"]
    figures = []
    for split, key, values, colours in (
        ("disposition", "disposition", by_disposition, _DISPOSITION_COLOURS),
        ("direction", "direction", by_direction, {}),
    ):
        fig = go.Figure()
        for name in DISPOSITIONS if split == "disposition" else DIRECTIONS:
            if name not in values:
                continue
            xs = [b for b in buckets if values[name].get(b)]
            fig.add_bar(
                name=name,
                x=[labels[b][0] for b in xs],
                y=[values[name][b] for b in xs],
                customdata=[_with(labels[b][1], **{key: name}) for b in xs],
                marker_color=colours.get(name),
            )
        fig.update_layout(
            barmode="stack",
            margin={"l": 40, "r": 10, "t": 10, "b": 40},
            height=280,
            legend={"orientation": "h", "y": -0.25},
            xaxis={"type": "category"},
        )
        figures.append(fig)
    return figures[0], figures[1]


def _with(url: str, **keys: str) -> str:
    """A drill-down URL with more keys (unless the page already filters on them)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    for k, v in keys.items():
        params.setdefault(k, v)
    return f"{parts.path}?{urlencode(params)}"


def _heatmap_figure(rows: list[dict[str, Any]], q: AnalyticsQuery) -> go.Figure:
    z = [[0] * 24 for _ in range(7)]
    links = [[q.drill(weekday=d + 1, hour=h) for h in range(24)] for d in range(7)]
    for r in rows:
        z[r["weekday"] - 1][r["hour"]] = r["calls"]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{h:02d}" for h in range(24)],
            y=list(_WEEKDAYS),
            customdata=links,
            colorscale="Blues",
            hovertemplate="%{y} %{x}:00 · %{z} calls<extra></extra>",
        )
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        height=260,
        yaxis={"autorange": "reversed"},
    )
    return fig


def _concurrency_figure(rows: list[dict[str, Any]], q: AnalyticsQuery) -> go.Figure:
    labels = [_bucket(r["bucket"], q) for r in rows]
    fig = go.Figure(
        go.Bar(
            x=[label for label, _ in labels],
            y=[r["peak_active"] for r in rows],
            customdata=[link for _, link in labels],
            marker_color="#5c7cfa",
            name="peak active calls",
        )
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40}, height=240, xaxis={"type": "category"}
    )
    return fig


# Tables that can have tens of thousands of rows: the page shows the first
# PREVIEW_ROWS (the table's own order) and says how many there are; the
# downloads run the same loader without the limit.
_PREVIEWED = ("repeat", "callbacks")


def _grid(
    name: str,
    rows: list[dict[str, Any]],
    q: AnalyticsQuery,
    total: int | None = None,
    **options: Any,
) -> Any:
    spec = TABLES[name]
    timestamps = {c for c in spec.columns if c.endswith("_at")}
    shown = [{**r, **{c: format_local(r.get(c), q.tz) for c in timestamps}} for r in rows]
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


def _controls(q: AnalyticsQuery) -> Any:
    return dmc.Group(
        [
            dmc.DatePickerInput(
                id="analytics-dates",
                type="range",
                label="Period",
                value=[q.period.start.isoformat(), q.period.end.isoformat()],
                valueFormat="YYYY-MM-DD",
                allowSingleDateInRange=True,
                w=240,
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
    finally:
        viewer.close()
    scope = (
        f"All calls of {user.tenant_domain}"
        if user.sees_whole_tenant
        else f"Calls of extension {user.extension}"
    )
    by_disposition, by_direction = _volume_figures(volume, q)
    tiles = dmc.SimpleGrid(
        [_tile(n, current.get(n), compared.get(n)) for n in TILES],
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
                            figure=_concurrency_figure(peaks, q),
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
                    id="analytics-heatmap", figure=_heatmap_figure(heat, q), config=graph_config
                ),
                id_prefix="analytics-heat",
            ),
            _grid("extensions", tables["extensions"], q),
            dmc.SimpleGrid(
                [_grid("dids", tables["dids"], q), _grid("rules", tables["rules"], q)],
                cols={"base": 1, "lg": 2},
            ),
            _grid("repeat", tables["repeat"], q, total=current.get("repeat_callers")),
            html.Div(
                [
                    _grid(
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
    if not all(caller_in_scope(user, number) for number in numbers):
        raise NotAllowed("you can mark only callers of the calls you see")
    from pipeline.viewer import open_for_viewer

    with provisioning() as store:
        for number in numbers:
            store.mark_callback_handled(user.tenant_domain, number, user.id)
    q, _error = AnalyticsQuery.from_url(query or {}, user.timezone)
    with open_for_viewer(portal().settings, user, borrow_store=provisioning) as viewer:
        rows = TABLES["callbacks"].load(viewer.conn, q, viewer.handled, limit=PREVIEW_ROWS)
    timestamps = {c for c in TABLES["callbacks"].columns if c.endswith("_at")}
    shown = [{**r, **{c: format_local(r.get(c), q.tz) for c in timestamps}} for r in rows]
    count = len(selected)
    return shown, f"{count} caller{'s' if count != 1 else ''} marked handled."
