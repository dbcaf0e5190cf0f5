"""The Analytics page's KPI tiles and charts, every point a link to the calls behind it.

Pure rendering: values come from :mod:`pipeline.metrics` (definitions and
formatting too); each bar, heatmap cell and tile change carries, in its
``customdata``, the Call History URL (:meth:`AnalyticsQuery.drill`) that
selects exactly the calls it counts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
import plotly.graph_objects as go
from dash import html

from dash_app.analytics_tables import AnalyticsQuery
from pipeline.metrics import DEFINITION_BY_NAME, format_value
from pipeline.schema import DIRECTIONS, DISPOSITIONS

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


def tile(name: str, value: Any, change: dict[str, Any] | None) -> dmc.Paper:
    """One KPI: its value and, when compared, the change (red when it is bad news)."""
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


def volume_figures(rows: list[dict[str, Any]], q: AnalyticsQuery) -> tuple[go.Figure, go.Figure]:
    """Calls per bucket stacked by result, and by direction."""
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
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    for k, v in keys.items():
        params.setdefault(k, v)
    return f"{parts.path}?{urlencode(params)}"


def heatmap_figure(rows: list[dict[str, Any]], q: AnalyticsQuery) -> go.Figure:
    """Calls per weekday and hour in the page's zone (busy hours)."""
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


def concurrency_figure(rows: list[dict[str, Any]], q: AnalyticsQuery) -> go.Figure:
    """The most calls active at once, per bucket."""
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
