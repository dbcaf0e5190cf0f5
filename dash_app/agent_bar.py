"""The agent bar: on every page, for a user who is a member of a queue.

It shows the agent's state as the media server publishes it (the live file
``live/queues/<tenant>.json``: available, ringing, on a call with whom and
after how long a wait, wrap-up, paused with the reason) and lets them log
in/out of their queues and pause/unpause with a reason. Changes go to the
store for the signed-in user's own extension only (nothing from the browser
names whom); the media server turns them into agent events within a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

import dash_mantine_components as dmc
from dash import Input, Output, State, callback, ctx, dcc, no_update

from dash_app.auth import portal, provisioning, signed_in_user
from dash_app.editing import require_click
from media.queue_spool import live_path
from switchboard.store import ProvisioningError, User
from switchboard.store.queues import PAUSE_REASONS

BAR = "agentbar"
REFRESH_MS = 2_000
STATE_WORDS = {
    "available": "Available",
    "ringing": "Ringing",
    "on_call": "On a queue call",
    "wrapup": "Wrap-up",
    "paused": "Paused",
    "logged_out": "Logged out",
}


def agent_bar(user: User | None) -> Any:
    """The bar for ``user`` when they belong to a queue; None otherwise."""
    if user is None:
        return None
    with provisioning() as store:
        if not store.queues_of_agent(user.tenant_domain, user.extension):
            return None
    reasons = [{"value": r, "label": r} for r in PAUSE_REASONS if r != "no-answer"]
    return dmc.Group(
        [
            dmc.Text("…", id=f"{BAR}-status", size="sm"),
            dmc.Button("Log in", id=f"{BAR}-login", size="compact-xs", variant="light"),
            dmc.Button("Log out", id=f"{BAR}-logout", size="compact-xs", variant="subtle"),
            dmc.Select(
                id=f"{BAR}-reason",
                data=reasons,
                value=reasons[0]["value"],
                size="xs",
                w=130,
                allowDeselect=False,
            ),
            dmc.Button(
                "Pause", id=f"{BAR}-pause", size="compact-xs", variant="light", color="orange"
            ),
            dmc.Button("Unpause", id=f"{BAR}-unpause", size="compact-xs", variant="subtle"),
            dcc.Interval(id=f"{BAR}-tick", interval=REFRESH_MS),
            dcc.Store(id=f"{BAR}-version", data=0),
        ],
        gap=6,
        className="sb-agent-bar",
        id=BAR,
    )


def _wait(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    return f"{minutes}:{secs:02d}"


def status_text(live: dict[str, Any] | None, extension: str, logged_in: int, paused: str | None,
                now: float) -> str:  # fmt: skip
    """What the bar says: the live state if the media server published one, else the store's."""
    mine = [
        a for q in (live or {}).get("queues", []) for a in q.get("agents", [])
        if a.get("extension") == extension
    ]  # fmt: skip
    busy = next((a for a in mine if a.get("state") in ("ringing", "on_call", "wrapup")), None)
    if busy is not None:
        who = f" with {busy['caller']}" if busy.get("caller") else ""
        if busy["state"] == "ringing":  # the caller is still in the line: say how long they waited
            since = [
                float(c["since"]) for q in (live or {}).get("queues", [])
                for c in q.get("waiting", []) if c.get("caller") == busy.get("caller")
            ]  # fmt: skip
            if since:
                return f"Ringing: {busy.get('caller')} waited {_wait(now - min(since))}"
        return f"{STATE_WORDS[busy['state']]}{who} · {_wait(now - float(busy['since']))}"
    if not logged_in:
        return "Logged out of your queues"
    if paused:
        return f"Paused ({paused}) · {logged_in} queue{'s' if logged_in != 1 else ''}"
    return f"Available · {logged_in} queue{'s' if logged_in != 1 else ''}"


def _read_live(tenant: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(live_path(portal().settings.data_dir, tenant).read_text()))
    except (OSError, ValueError):
        return None


@callback(
    Output(f"{BAR}-status", "children"),
    Input(f"{BAR}-tick", "n_intervals"),
    Input(f"{BAR}-version", "data"),
)
def refresh_bar(_n: int | None, _version: int | None) -> Any:
    """The signed-in agent's state (their own extension only)."""
    user = signed_in_user()
    with provisioning() as store:
        queues = store.queues_of_agent(user.tenant_domain, user.extension)
        pause = store.agent_pause(user.tenant_domain, user.extension)
    mine = [m for q in queues for m in q.members if m.extension == user.extension]
    logged = sum(1 for m in mine if m.logged_in)
    live = _read_live(user.tenant_domain)
    return status_text(live, user.extension, logged, pause.reason if pause else None, time.time())


@callback(
    Output(f"{BAR}-version", "data"),
    Input(f"{BAR}-login", "n_clicks"),
    Input(f"{BAR}-logout", "n_clicks"),
    Input(f"{BAR}-pause", "n_clicks"),
    Input(f"{BAR}-unpause", "n_clicks"),
    State(f"{BAR}-reason", "value"),
    State(f"{BAR}-version", "data"),
    prevent_initial_call=True,
)
def change_state(*args: Any) -> Any:
    """Log in/out or pause/unpause the signed-in agent (never anyone named by the browser)."""
    require_click()
    reason, version = args[-2], args[-1]
    user = signed_in_user()
    action = str(ctx.triggered_id or "").removeprefix(f"{BAR}-")
    try:
        with provisioning() as store:
            if action in ("login", "logout"):
                store.set_agent_login(user.tenant_domain, user.extension, action == "login")
            elif action in ("pause", "unpause"):
                why = (reason or PAUSE_REASONS[0]) if action == "pause" else None
                store.set_agent_pause(user.tenant_domain, user.extension, why)
    except ProvisioningError:
        return no_update
    return (version or 0) + 1
