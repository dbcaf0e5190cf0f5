"""Home's "Live call" card: the user's call in progress, and Record / Stop for on-demand recording.

The call comes from Kamailio (``dlg.list``: a confirmed dialog whose caller
or callee is the user, in their tenant); recording starts and stops through
rtpengine's control protocol (:mod:`relay.ng`), never by touching the call.
Only a call whose recording policy is ``on_demand`` (switchboard's
``recording_mode``, as Kamailio decides it) offers the button: a call
recorded ``always`` says so, a ``never`` call offers nothing.

The Call-ID in the browser's store is never trusted: Record and Stop look the
user's live dialogs up again and act only on one of them. Kamailio or
rtpengine down: the card says so, the call is not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
from dash import Input, Output, State, callback, dcc, html, no_update

from dash_app.auth import portal, provisioning, signed_in_user
from dash_app.editing import NotAllowed, digest, require_click
from kamailio.dialogs import CONFIRMED, listed, uri_party, variables
from switchboard.store import User

log = logging.getLogger(__name__)

LIVE_REFRESH_MS = 5000


@dataclass(frozen=True)
class LiveCall:
    """One of the user's calls in progress, as Kamailio reports it."""

    call_id: str
    caller: str
    callee: str
    from_tag: str
    started_at: float
    outgoing: bool  # the user placed it
    internal: bool  # both parties are extensions of the tenant

    @property
    def other_party(self) -> str:
        return self.callee if self.outgoing else self.caller


def live_calls(dialogs: Any, user: User) -> list[LiveCall]:
    """The user's answered calls among Kamailio's ``dlg.list`` (pure).

    Whose call it is comes from what Kamailio established, never from the From or To a
    caller wrote (an outside caller sending ``From: sip:102@<tenant>`` was 102's call on
    Home, which 102 could then record): the user placed it when Kamailio authenticated
    them as its caller (dialog variable ``asserted``, route CALL_START), and took it when
    their branch answered (``answered_by``, route MANAGE_REPLY).
    """
    found = []
    me = f"{user.extension}@{user.tenant_domain}"
    for d in listed(dialogs):
        if d.get("state") != CONFIRMED:
            continue
        caller, caller_host = uri_party(d.get("from_uri"))
        callee, callee_host = uri_party(d.get("to_uri"))
        facts = variables(d)
        mine_out = facts.get("asserted") == me
        mine_in = (
            facts.get("answered_by") == user.extension and facts.get("tenant") == user.tenant_domain
        )
        if not (mine_out or mine_in) or not d.get("call-id"):
            continue
        tag = (d.get("caller") or {}).get("tag", "") if isinstance(d.get("caller"), dict) else ""
        found.append(
            LiveCall(
                str(d["call-id"]),
                caller,
                callee,
                str(tag),
                float(d.get("start_ts") or 0),
                mine_out,
                caller_host == callee_host == user.tenant_domain,
            )
        )
    return found


# dlg.list lists every dialog of the system: one answer serves every Home page of this
# worker for DIALOGS_MAX_AGE seconds, so the RPC load does not grow with the users watching.
DIALOGS_MAX_AGE = 2.0
_dialogs_lock = threading.Lock()
_dialogs_cache: tuple[float, str, Any] = (0.0, "", None)


def _dialogs(rpc_url: str) -> Any:
    global _dialogs_cache
    with _dialogs_lock:
        at, url, dialogs = _dialogs_cache
        if url == rpc_url and time.monotonic() - at < DIALOGS_MAX_AGE:
            return dialogs
        from kamailio.rpc import KamailioRPC

        with KamailioRPC(rpc_url, timeout=1.5) as rpc:
            dialogs = rpc.call("dlg.list")
        _dialogs_cache = (time.monotonic(), rpc_url, dialogs)
        return dialogs


def _ask_kamailio(user: User) -> list[LiveCall]:
    return live_calls(_dialogs(portal().settings.rpc_url), user)


def live_call_card() -> Any:
    """The card's frame; :func:`refresh_live_call` fills it."""
    return html.Div(
        [
            html.Div(id="home-live-call"),
            dcc.Store(id="home-live-state", data=None),
            dcc.Interval(id="home-live-tick", interval=LIVE_REFRESH_MS),
        ]
    )


def _mode(user: User, call: LiveCall) -> str:
    with provisioning() as store:
        return str(store.recording_mode(user.tenant_domain, caller=call.caller, callee=call.callee))


def _card(user: User, call: LiveCall, mode: str, recording: bool) -> Any:
    since = datetime.fromtimestamp(call.started_at, ZoneInfo(user.timezone)).strftime("%H:%M")
    verb = "Calling" if call.outgoing else "Call from"
    if mode == "on_demand":
        action: Any = dmc.Button(
            "Stop recording" if recording else "Record",
            id="home-live-record",
            color="red",
            variant="filled" if recording else "light",
        )
    elif mode == "always":
        action = dmc.Badge("Recorded (company policy)", color="red", variant="light")
    else:
        action = dmc.Badge("Not recorded", color="gray", variant="light")
    return dmc.Paper(
        dmc.Group(
            [
                dmc.Stack(
                    [
                        dmc.Text(f"{verb} {call.other_party}", fw=600, id="home-live-party"),
                        dmc.Text(f"since {since}", size="sm", c="dimmed"),
                    ],
                    gap=0,
                ),
                action,
                html.Div(id="home-live-feedback"),
            ],
            justify="space-between",
        ),
        withBorder=True,
        p="md",
        radius="md",
        className="sb-live-call" + (" sb-live-call--recording" if recording else ""),
    )


@callback(
    Output("home-live-call", "children"),
    Output("home-live-state", "data"),
    Input("home-live-tick", "n_intervals"),
    State("home-live-state", "data"),
)
def refresh_live_call(_n: int | None, state: dict[str, Any] | None) -> tuple[Any, Any]:
    """The user's call in progress (if any), with Record / Stop when the policy allows it."""
    from kamailio.rpc import RPCError

    user = signed_in_user()
    try:
        calls = _ask_kamailio(user)
    except RPCError as exc:
        log.info("live call of %s unavailable: %s", user.login, exc)
        return None, None
    if not calls:
        return (no_update, no_update) if state is None else (None, None)
    call = calls[0]
    recording = bool(state and state.get("call_id") == call.call_id and state.get("recording"))
    card = _card(user, call, _mode(user, call), recording)
    shown = {"call_id": call.call_id, "recording": recording, "shown": digest(card)}
    return (no_update, no_update) if shown == state else (card, shown)


@callback(
    Output("home-live-call", "children", allow_duplicate=True),
    Output("home-live-state", "data", allow_duplicate=True),
    Input("home-live-record", "n_clicks"),
    State("home-live-state", "data"),
    prevent_initial_call=True,
)
def toggle_recording(_clicks: int | None, state: dict[str, Any] | None) -> tuple[Any, Any]:
    """Start or stop recording the user's own live call (on-demand policy only)."""
    from kamailio.rpc import RPCError
    from relay.launcher import ng_client
    from relay.ng import NGError, recording_metadata

    require_click()
    user = signed_in_user()
    wanted = str((state or {}).get("call_id") or "")
    try:
        call = next((c for c in _ask_kamailio(user) if c.call_id == wanted), None)
    except RPCError as exc:
        raise NotAllowed(f"the call cannot be checked right now ({exc})") from exc
    if call is None:
        raise NotAllowed("that is not a call of yours in progress")
    mode = _mode(user, call)
    if mode != "on_demand":
        raise NotAllowed(f"this call's recording policy is {mode.replace('_', ' ')}")
    start = not bool((state or {}).get("recording"))
    client = ng_client(portal().settings)
    try:
        if start:
            direction = "internal" if call.internal else "outbound" if call.outgoing else "inbound"
            metadata = recording_metadata(
                tenant=user.tenant_domain,
                call_id=call.call_id,
                caller=call.caller,
                callee=call.callee,
                direction=direction,
                from_tag=call.from_tag,
            )
            client.start_recording(call.call_id, metadata)
        else:
            client.stop_recording(call.call_id)
    except (NGError, ValueError) as exc:
        log.warning("recording %s of %s failed: %s", call.call_id, user.login, exc)
        card = _card(user, call, mode, not start)
        alert = dmc.Alert(
            "Recording could not be changed: the media relay did not answer.",
            color="red",
            variant="light",
            id="home-live-error",
        )
        return [card, alert], no_update
    return _card(user, call, mode, start), {"call_id": call.call_id, "recording": start}
