"""Phones: the devices of an extension, live from Kamailio, added and revoked here.

A user sees and manages their own extension's devices; a manager every
device of the tenant. Each device is its own SIP credential
(``switchboard.store.devices``), so a lost phone is revoked alone: the store
deletes the credential, then ``kamailio.devices.forget_device`` unregisters
what the phone registered. Every callback checks the viewer again (the
username in a revoke button came from the browser): hiding a button is not
access control.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.auth import optional_user, portal, provisioning, signed_in_user
from dash_app.editing import NotAllowed, alert, digest, require_click
from dash_app.layout import section
from dash_app.phones_cards import device_rows, new_device_card
from switchboard.store import ProvisioningError, User

dash.register_page(__name__, path="/phones", name="Phones", title="Phones · Switchboard", order=2)

log = logging.getLogger(__name__)

REFRESH_MS = 1_000  # a REGISTER shows within 2 s (one ul.dump + htable.dump: sub-ms)


def manages_tenant(user: User) -> bool:
    return user.role == "manager"


def _extensions(user: User) -> list[str]:
    if not manages_tenant(user):
        return [user.extension]
    with provisioning() as store:
        return [u.extension for u in store.users(user.tenant_domain)]


def layout(**query: str) -> Any:
    user = optional_user()
    if user is None:
        return html.Div()
    extensions = _extensions(user)
    add_form = dmc.Group(
        [
            dmc.Select(
                id="phones-add-extension",
                label="Extension",
                data=extensions,
                value=user.extension,
                disabled=len(extensions) == 1,
                w=140,
            ),
            dmc.TextInput(
                id="phones-add-name",
                label="Device name",
                placeholder="Desk phone",
                inputProps={"maxLength": 40},
            ),
            dmc.Button("Add device", id="phones-add"),
        ],
        align="flex-end",
    )
    return dmc.Stack(
        [
            dmc.Title("Phones", order=2),
            section(
                "Add a device",
                dmc.Stack([add_form, html.Div(id="phones-add-result")]),
                id_prefix="phones-add",
            ),
            section(
                "Devices" if not manages_tenant(user) else f"Devices of {user.tenant_domain}",
                dmc.Stack([html.Div(id="phones-revoke-result"), html.Div(id="phones-list")]),
                id_prefix="phones-devices",
            ),
            dcc.Interval(id="phones-refresh", interval=REFRESH_MS),
            dcc.Store(id="phones-changed", data=0),
            dcc.Store(id="phones-shown"),
        ]
    )


def _may_manage(user: User, extension: str) -> None:
    if extension != user.extension and not manages_tenant(user):
        raise NotAllowed("you can only manage your own extension's devices")


@callback(
    Output("phones-list", "children"),
    Output("phones-shown", "data"),
    Input("phones-refresh", "n_intervals"),
    Input("phones-changed", "data"),
    State("phones-shown", "data"),
)
def refresh_devices(_n: int | None, _changed: int | None, shown: str | None) -> Any:
    """The viewer's devices (a manager's: the tenant's) with their live state; nothing
    when that is what the page already shows (every second, it mostly is)."""
    from kamailio.devices import by_username, live_registrations  # lazy: RPC client
    from kamailio.rpc import RPCError

    user = signed_in_user()
    with provisioning() as store:
        devices = store.devices(
            user.tenant_domain, None if manages_tenant(user) else user.extension
        )
    try:
        live: dict[str, list[Any]] | None = by_username(
            live_registrations(portal().settings), user.tenant_domain
        )
    except RPCError as exc:
        log.info("device state unavailable: %s", exc)
        live = None
    rows = device_rows(devices, live, user.timezone, can_revoke=True)
    seen = digest(rows)
    return (no_update, no_update) if seen == shown else (rows, seen)


@callback(
    Output("phones-add-result", "children"),
    Output("phones-changed", "data", allow_duplicate=True),
    Output("phones-add-name", "value"),
    Input("phones-add", "n_clicks"),
    State("phones-add-extension", "value"),
    State("phones-add-name", "value"),
    State("phones-changed", "data"),
    prevent_initial_call=True,
)
def add_device(_clicks: int | None, extension: str | None, name: str | None, n: int) -> Any:
    """Add a device; its password is in the answer of this one request, never stored."""
    require_click()
    user = signed_in_user()
    extension = extension or user.extension
    try:
        _may_manage(user, extension)
        with provisioning() as store:
            added = store.add_device(user.tenant_domain, extension, name or "")
    except (ProvisioningError, NotAllowed) as exc:
        return alert(str(exc), alert_id="phones-add-refused"), no_update, no_update
    return new_device_card(portal().settings, added.device, added.password), (n or 0) + 1, ""


@callback(
    Output("phones-revoke-result", "children"),
    Output("phones-changed", "data", allow_duplicate=True),
    Input({"type": "phones-revoke", "username": ALL}, "n_clicks"),
    State("phones-changed", "data"),
    prevent_initial_call=True,
)
def revoke_device(_clicks: list[int | None], n: int) -> Any:
    """Revoke one device: the credential goes, then its registrations."""
    from kamailio.devices import forget_device

    require_click()
    user = signed_in_user()
    username = str((ctx.triggered_id or {}).get("username", ""))
    try:
        with provisioning() as store:
            device = store.device(user.tenant_domain, username)
            _may_manage(user, device.extension)
            store.revoke_device(user.tenant_domain, username)
    except (ProvisioningError, NotAllowed) as exc:
        return alert(str(exc), alert_id="phones-revoke-refused"), no_update
    told = forget_device(portal().settings, user.tenant_domain, username)
    note = "" if told else " (the phone server could not be told; it will refuse it next time)"
    return (
        alert(
            f"revoked {device.name} ({username}){note}", alert_id="phones-revoked", color="green"
        ),
        (n or 0) + 1,
    )
