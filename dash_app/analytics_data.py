"""Every number the Analytics page shows, loaded in one function of the user and the view.

It needs the portal's app, not a request (the user is given), so
:mod:`pipeline.served_pages` can run it on a thread to refresh the page over newer
lake files while a request is answered from the files it was last computed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dash_app.analytics_tables import PREVIEW_ROWS, TABLES, AnalyticsQuery
from dash_app.auth import portal, provisioning
from dash_app.recordings_figures import load_conversation_figures

if TYPE_CHECKING:
    from flask import Flask

    from switchboard.store import User

# Tables that can have tens of thousands of rows: the page shows the first
# PREVIEW_ROWS (the table's own order) and says how many there are; the
# downloads run the same loader without the limit.
PREVIEWED = ("repeat", "callbacks")


@dataclass(frozen=True)
class PageData:
    """What the page shows (pipeline.metrics results, one view)."""

    compared: dict[str, Any]  # each summary metric now, before and the change (compare on)
    current: dict[str, Any]  # each summary metric now
    volume: list[dict[str, Any]]
    heat: list[dict[str, Any]]
    peaks: list[dict[str, Any]]
    tables: dict[str, Any]  # TABLES' rows by name
    conversations: Any  # recorded calls per agent (dash_app.recordings_figures)


def load_page(app: Flask, user: User, q: AnalyticsQuery) -> PageData:
    """The page's numbers over the lake as :func:`pipeline.listings.tables_listed` lists
    it, in ``app``'s context (the loaders read the portal's settings and store)."""
    with app.app_context():
        return _load(user, q)


def _load(user: User, q: AnalyticsQuery) -> PageData:
    from pipeline import metrics
    from pipeline.viewer import open_for_viewer

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
        return PageData(
            compared,
            current,
            volume=metrics.volume(conn, q.period, interval=q.interval, tz=q.tz, filters=flt),
            heat=metrics.heatmap(conn, q.period, tz=q.tz, filters=flt),
            peaks=metrics.concurrency(conn, q.period, interval=q.interval, tz=q.tz, filters=flt),
            tables={
                name: spec.load(conn, q, marks, limit=PREVIEW_ROWS if name in PREVIEWED else None)
                for name, spec in TABLES.items()
            },
            conversations=load_conversation_figures(conn, q),
        )
    finally:
        viewer.close()


def clock_time(at: float, tz: str) -> str:
    """``at`` (``time.time()``) as a wall-clock time of day in ``tz``."""
    return datetime.fromtimestamp(at, ZoneInfo(tz)).strftime("%H:%M:%S")
