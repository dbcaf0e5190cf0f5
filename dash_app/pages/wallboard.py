"""Wallboard: every queue now (callers waiting, longest wait, agents by state) and today.

For managers and supervisors; ``?tv=1`` fills the screen for a TV (no shell, big
figures). A 1-second ``dcc.Interval`` re-reads the live file the media server
publishes (``live/queues/<tenant>.json``: one small file, no lake query); today's
offered/answered/abandoned and service level come from the queue metrics, cached
per tenant for ``TODAY_TTL_SECONDS`` (:mod:`dash_app.wallboard_view`). Every callback
checks the role again.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import Input, Output, callback, dcc, html

from dash_app.auth import portal, provisioning, signed_in_user
from dash_app.editing import NotAllowed
from dash_app.page_shell import SUPERVISORS, supervisor_page_viewer
from dash_app.wallboard_view import TODAY_TTL_SECONDS, build_tiles, read_live, render_board
from media.queue_spool import live_path
from switchboard.store import User

dash.register_page(
    __name__,
    path="/wallboard",
    name="Wallboard",
    title="Wallboard · Switchboard",
    order=7,
    roles=SUPERVISORS,  # read by the shell's navigation
)

REFRESH_MS = 1000
_TV_STYLE = {
    "position": "fixed", "inset": 0, "zIndex": 1000, "overflow": "auto",
    "background": "var(--mantine-color-body)", "padding": "1.5rem",
}  # fmt: skip

# tenant → (computed at, {queue id: today's row}, {queue id: T}); one lake query per TTL.
_TODAY: dict[str, tuple[float, dict[int, dict[str, Any]], dict[int, int]]] = {}
_TODAY_LOCK = threading.Lock()


def today_stats(user: User) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
    """Today's queue numbers in the tenant's zone, cached (never every second)."""
    tenant = user.tenant_domain
    with _TODAY_LOCK:
        cached = _TODAY.get(tenant)
        if cached and time.monotonic() - cached[0] < TODAY_TTL_SECONDS:
            return cached[1], cached[2]
    from pipeline.metric_engine import Period
    from pipeline.queue_metrics import queue_report

    settings = portal().settings
    with provisioning() as store:
        zone = store.tenant(tenant).timezone
    day = datetime.now(ZoneInfo(zone)).date()
    report = queue_report(settings, tenant, Period(day, day), borrow_store=provisioning)
    rows = {int(r["queue_id"]): r for r in report.queues}
    thresholds = {qid: t.service_level_seconds for qid, t in report.thresholds.items()}
    with _TODAY_LOCK:
        _TODAY[tenant] = (time.monotonic(), rows, thresholds)
    return rows, thresholds


def board(user: User, tv: bool) -> Any:
    """The board as it is this second."""
    live = read_live(live_path(portal().settings.data_dir, user.tenant_domain))
    try:
        today, thresholds = today_stats(user)
    except Exception:  # the lake unreadable for a moment: the live part still shows
        today, thresholds = {}, {}
    tiles = build_tiles(live, today, thresholds, time.time())
    return render_board(tiles, tv=tv, live_known=live is not None)


def layout(**query: Any) -> Any:
    user = supervisor_page_viewer("wallboard", "The wallboard is for managers and supervisors.")
    if not isinstance(user, User):
        return user
    tv = str(query.get("tv", "")) in ("1", "true", "yes")
    body = html.Div(board(user, tv), id="wallboard-board")
    header = dmc.Group(
        [
            dmc.Title("Wallboard", order=2),
            html.A("Full screen (TV)", href="/wallboard?tv=1", id="wallboard-tv-link")
            if not tv
            else html.A("Leave full screen", href="/wallboard", id="wallboard-tv-link"),
        ],
        justify="space-between",
    )
    return html.Div(
        [
            dcc.Interval(id="wallboard-tick", interval=REFRESH_MS),
            dcc.Store(id="wallboard-tv", data=tv),
            dmc.Stack([header, body], gap="md"),
        ],
        id="wallboard-page",
        style=_TV_STYLE if tv else None,
    )


@callback(
    Output("wallboard-board", "children"),
    Input("wallboard-tick", "n_intervals"),
    Input("wallboard-tv", "data"),
)
def refresh(_n: int | None, tv: bool | None) -> Any:
    """Every second: the live file again (today's numbers from the cache)."""
    user = signed_in_user()
    if user.role not in SUPERVISORS:
        raise NotAllowed("only managers and supervisors can see the wallboard")
    return board(user, bool(tv))
