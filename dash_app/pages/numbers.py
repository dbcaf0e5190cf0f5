"""Main Numbers (managers only): the tenant's inbound numbers and their routes per time frame.

A main number (DID) has routes like answering rules: tried in order, the
first whose company time frame contains the moment of the call sends it to
its destination ("Open Hours → auto attendant 1", "Closed → voicemail of
100"). The list shows which route is in force now, in the company's zone.

Only managers see the page in the navigation, and every callback checks the
role again (and that the number belongs to the manager's tenant): hiding a
link is not access control.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.describe import data_attrs, format_until
from dash_app.destinations import (
    FALLBACK_KINDS,
    destination_from_form,
    destination_picker,
    register_target_hints,
)
from dash_app.layout import section
from dash_app.push import push_after_edit, saved_message
from switchboard.rules import AnsweringRule, RuleError, active_rule_at
from switchboard.store import Did, ProvisioningError, ProvisioningStore, User

dash.register_page(
    __name__,
    path="/numbers",
    name="Main Numbers",
    title="Main Numbers · Switchboard",
    order=4,
    roles=("manager",),  # read by the shell's navigation
)

log = logging.getLogger(__name__)

ALWAYS = "__always__"
PRIORITY_STEP = 10
MANAGERS_ONLY = "only managers can see and change main numbers"

register_target_hints("numbers")


class NotAllowed(Exception):
    """The viewer is not a manager, or the number is not their tenant's."""


def require_manager(user: User) -> User:
    if user.role != "manager":
        raise NotAllowed(MANAGERS_ONLY)
    return user


def tenant_did(store: ProvisioningStore, user: User, did_id: Any) -> Did:
    """The number ``did_id`` if it belongs to the manager's tenant (ids come from browsers)."""
    require_manager(user)
    did = next((d for d in store.dids(user.tenant_domain) if d.id == did_id), None)
    if did is None:
        raise NotAllowed("no such main number in your company")
    return did


def _alert(message: str, *, color: str = "red", alert_id: str = "numbers-error") -> Any:
    return dmc.Alert(message[:1].upper() + message[1:], color=color, variant="light", id=alert_id)


# -- components ------------------------------------------------------------------------
def did_card(store: ProvisioningStore, did: Did, timezone: str, now: datetime) -> Any:
    """One number: its routes in order, and the one in force now."""
    inputs = store.did_routing_inputs(did)
    active = active_rule_at(inputs.rules, inputs.frames, now)
    if active.rule is not None and active.rule.forward_always is not None:
        during = f" ({active.frame.name})" if active.frame else ""
        current = (
            f"Now{during}: {active.rule.forward_always.describe()}, "
            f"{format_until(active.until, timezone, now)}"
        )
        current_color = "green"
    else:
        current, current_color = "Now: no route applies", "orange"
    rows = []
    for position, rule in enumerate(inputs.rules, start=1):
        is_active = active.rule is not None and rule.id == active.rule.id
        dest = rule.forward_always.describe() if rule.forward_always else "—"
        rows.append(
            html.Tr(
                [
                    html.Td(str(position)),
                    html.Td(
                        dmc.Group(
                            [
                                dmc.Text(rule.name, size="sm", fw=600),
                                dmc.Badge("Active now", color="green", size="xs")
                                if is_active
                                else None,
                                dmc.Badge("Disabled", color="gray", variant="outline", size="xs")
                                if not rule.enabled
                                else None,
                            ],
                            gap=6,
                        )
                    ),
                    html.Td(rule.frame or "Always"),
                    html.Td(dest, className="sb-route-dest"),
                    html.Td(
                        dmc.Button(
                            "Edit",
                            id={"type": "numbers-edit-route", "did": did.id, "route": rule.id},
                            variant="light",
                            size="compact-xs",
                        ),
                        style={"textAlign": "right"},
                    ),
                ],
                **data_attrs(route=rule.name),
            )
        )
    table = (
        dmc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("#", style={"width": 30}),
                            html.Th("Route"),
                            html.Th("During"),
                            html.Th("Calls go to"),
                            html.Th(""),
                        ]
                    ),
                    className="sb-table-head",
                ),
                html.Tbody(rows),
            ],
            verticalSpacing="xs",
            highlightOnHover=True,
        )
        if rows
        else dmc.Text("No routes yet: add one per time frame.", size="sm", c="dimmed")
    )
    return dmc.Paper(
        [
            dmc.Group(
                [
                    html.Div(
                        [
                            dmc.Text(did.number, fw=700, size="lg", className="sb-did-number"),
                            dmc.Text(did.name, size="sm", c="dimmed"),
                        ]
                    ),
                    dmc.Group(
                        [
                            dmc.Badge(
                                current,
                                color=current_color,
                                variant="light",
                                size="lg",
                                className="sb-did-now",
                                tt="none",
                            ),
                            dmc.Button(
                                "Add route",
                                id={"type": "numbers-add-route", "did": did.id},
                                size="xs",
                                variant="default",
                            ),
                        ],
                        gap="sm",
                    ),
                ],
                justify="space-between",
                mb="sm",
            ),
            table,
        ],
        withBorder=True,
        radius="md",
        p="lg",
        className="sb-did-card",
        **{"data-number": did.number},
    )


def _editor(extensions: list[str]) -> Any:
    return dmc.Modal(
        dmc.Stack(
            [
                dmc.Group(
                    [
                        dmc.TextInput(
                            id="numbers-route-name",
                            label="Route name",
                            placeholder="Open hours",
                            inputProps={"maxLength": 60},
                        ),
                        dmc.Select(id="numbers-route-frame", label="During", data=[]),
                    ],
                    grow=True,
                    align="flex-start",
                ),
                destination_picker(
                    "numbers",
                    "route",
                    "Send calls to",
                    None,
                    kinds=FALLBACK_KINDS,
                    optional=False,
                    extensions=extensions,
                ),
                dmc.Group(
                    [
                        dmc.NumberInput(
                            id="numbers-route-priority",
                            label="Order (lower is tried first)",
                            min=1,
                            max=1000,
                            w=220,
                        ),
                        dmc.Switch(id="numbers-route-enabled", label="Enabled", mt=28),
                    ],
                    align="flex-start",
                ),
                html.Div(id="numbers-route-error"),
                dmc.Group(
                    [
                        dmc.Button("Cancel", id="numbers-route-cancel", variant="default"),
                        dmc.Button("Save route", id="numbers-route-save"),
                    ],
                    justify="flex-end",
                ),
            ],
            gap="sm",
        ),
        id="numbers-route-editor",
        title="Route",
        size="lg",
        opened=False,
    )


def layout(**query: str) -> Any:
    """The numbers and an "add number" form; a non-manager is told the page is not theirs."""
    user = optional_user()
    if user is None:
        return html.Div()
    if user.role != "manager":
        return dmc.Alert(
            "Main numbers are managed by your company's managers.",
            title="Managers only",
            color="gray",
            id="numbers-denied",
        )
    with provisioning() as store:
        extensions = [u.extension for u in store.users(user.tenant_domain)]
    add_form = dmc.Group(
        [
            dmc.TextInput(
                id="numbers-new-number",
                label="Number",
                placeholder="+15551230000",
                inputProps={"maxLength": 16},
            ),
            dmc.TextInput(
                id="numbers-new-name",
                label="Name",
                placeholder="Main line",
                inputProps={"maxLength": 60},
                style={"flex": 1},
            ),
            dmc.Button("Add number", id="numbers-add"),
        ],
        align="flex-end",
    )
    return dmc.Stack(
        [
            html.Div(
                [
                    dmc.Title("Main Numbers", order=2, id="numbers-title"),
                    dmc.Text(
                        "Where calls to the company's numbers go, per time frame.", c="dimmed"
                    ),
                ]
            ),
            html.Div(id="numbers-notice"),
            html.Div(dmc.Skeleton(height=120), id="numbers-list"),
            section("Add a main number", add_form, id_prefix="numbers-add"),
            dcc.Store(id="numbers-version", data=0),
            dcc.Store(id="numbers-editing", data=None),
            _editor(extensions),
        ],
        gap="lg",
    )


# -- callbacks ---------------------------------------------------------------------------
@callback(Output("numbers-list", "children"), Input("numbers-version", "data"))
def refresh_numbers(_version: int | None) -> Any:
    """Every number of the manager's tenant with its routes."""
    try:
        user = require_manager(signed_in_user())
    except NotAllowed as exc:
        return _alert(str(exc), alert_id="numbers-denied")
    now = datetime.now(UTC)
    with provisioning() as store:
        timezone = store.tenant(user.tenant_domain).timezone
        cards = [did_card(store, did, timezone, now) for did in store.dids(user.tenant_domain)]
    if not cards:
        return dmc.Text("No main numbers yet.", c="dimmed", id="numbers-empty")
    return dmc.Stack(cards, gap="md")


@callback(
    Output("numbers-version", "data"),
    Output("numbers-notice", "children"),
    Output("numbers-new-number", "value"),
    Output("numbers-new-name", "value"),
    Input("numbers-add", "n_clicks"),
    State("numbers-new-number", "value"),
    State("numbers-new-name", "value"),
    State("numbers-version", "data"),
    prevent_initial_call=True,
)
def add_number(
    clicks: int | None, number: str | None, name: str | None, version: int | None
) -> tuple[Any, ...]:
    """Add a number to the manager's tenant (the store refuses duplicates and non-numbers)."""
    if not clicks:
        raise PreventUpdate
    try:
        user = require_manager(signed_in_user())
    except NotAllowed as exc:
        return no_update, _alert(str(exc)), no_update, no_update
    number = (number or "").strip().replace(" ", "")
    label = (name or "").strip() or number
    try:
        with provisioning() as store:
            did = store.add_did(user.tenant_domain, number, label)
    except ProvisioningError as exc:
        return no_update, _alert(str(exc)), no_update, no_update
    banner = _alert(
        f"Added {did.number}. Add its routes next.", color="green", alert_id="numbers-added"
    )
    return (version or 0) + 1, banner, "", ""


@callback(
    Output("numbers-route-editor", "opened"),
    Output("numbers-editing", "data"),
    Output("numbers-route-editor", "title"),
    Output("numbers-route-frame", "data"),
    Output("numbers-route-name", "value"),
    Output("numbers-route-frame", "value"),
    Output("numbers-route-priority", "value"),
    Output("numbers-route-enabled", "checked"),
    Output({"type": "numbers-dest-kind", "field": ALL}, "value"),
    Output({"type": "numbers-dest-target", "field": ALL}, "value"),
    Output("numbers-route-error", "children"),
    Input({"type": "numbers-add-route", "did": ALL}, "n_clicks"),
    Input({"type": "numbers-edit-route", "did": ALL, "route": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_route_editor(_adds: list[int | None], _edits: list[int | None]) -> Any:
    """Open the route editor for a new route of a number, or on an existing route."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    try:
        with provisioning() as store:
            did = tenant_did(store, signed_in_user(), trigger.get("did"))
            inputs = store.did_routing_inputs(did)
    except NotAllowed:
        raise PreventUpdate from None
    frames = [{"value": ALWAYS, "label": "Always"}] + [
        {"value": n, "label": n} for n in sorted(inputs.frames)
    ]
    if trigger.get("type") == "numbers-add-route":
        last = max((r.priority for r in inputs.rules), default=0)
        rule = AnsweringRule("", last + PRIORITY_STEP)
        title = f"New route for {did.number}"
    else:
        found = next((r for r in inputs.rules if r.id == trigger.get("route")), None)
        if found is None:
            raise PreventUpdate
        rule, title = found, f"Edit “{found.name}” of {did.number}"
    dest = rule.forward_always
    return (
        True,
        {"did": did.id, "id": rule.id},
        title,
        frames,
        rule.name,
        rule.frame or ALWAYS,
        rule.priority,
        rule.enabled,
        [dest.kind if dest else "auto_attendant"],
        [dest.target if dest else ""],
        None,
    )


@callback(
    Output("numbers-route-editor", "opened", allow_duplicate=True),
    Input("numbers-route-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def close_route_editor(_clicks: int | None) -> bool:
    return False


def route_from_form(
    route_id: int | None,
    name: str | None,
    frame: str | None,
    priority: Any,
    enabled: bool,
    kind: str | None,
    target: str | None,
) -> AnsweringRule:
    """A main-number route from the editor: during ``frame``, send calls to one destination."""
    name = (name or "").strip()
    if not name:
        raise RuleError("give the route a name")
    try:
        order = int(priority)
    except (TypeError, ValueError) as exc:
        raise RuleError("the order must be a number") from exc
    dest = destination_from_form("Send calls to", kind, target)
    if dest is None:
        raise RuleError("choose where the calls go")
    return AnsweringRule(
        name,
        order,
        None if not frame or frame == ALWAYS else frame,
        forward_always=dest,
        enabled=enabled,
        id=route_id,
    )


@callback(
    Output("numbers-route-error", "children", allow_duplicate=True),
    Output("numbers-route-editor", "opened", allow_duplicate=True),
    Output("numbers-version", "data", allow_duplicate=True),
    Output("numbers-notice", "children", allow_duplicate=True),
    Input("numbers-route-save", "n_clicks"),
    State("numbers-editing", "data"),
    State("numbers-route-name", "value"),
    State("numbers-route-frame", "value"),
    State("numbers-route-priority", "value"),
    State("numbers-route-enabled", "checked"),
    State({"type": "numbers-dest-kind", "field": ALL}, "value"),
    State({"type": "numbers-dest-target", "field": ALL}, "value"),
    State("numbers-version", "data"),
    prevent_initial_call=True,
)
def save_route(
    clicks: int | None,
    editing: dict[str, Any] | None,
    name: str | None,
    frame: str | None,
    priority: Any,
    enabled: bool | None,
    kinds: list[str | None],
    targets: list[str | None],
    version: int | None,
) -> tuple[Any, Any, Any, Any]:
    """Validate and save a route, then push the number's new decision."""
    if not clicks or not editing:
        raise PreventUpdate
    keep = (no_update, no_update, no_update)
    try:
        route = route_from_form(
            editing.get("id"),
            name,
            frame,
            priority,
            bool(enabled),
            (kinds or [None])[0],
            (targets or [None])[0],
        )
    except RuleError as exc:
        return _alert(str(exc), alert_id="numbers-route-alert"), *keep
    with provisioning() as store:
        try:
            did = tenant_did(store, signed_in_user(), editing.get("did"))
        except NotAllowed as exc:
            return _alert(str(exc), alert_id="numbers-route-alert"), *keep
        existing = {r.id for r in store.did_routing_inputs(did).rules}
        if route.id is not None and route.id not in existing:
            return _alert("this route no longer exists", alert_id="numbers-route-alert"), *keep
        try:
            saved = store.save_did_rule(did, route)
        except ProvisioningError as exc:
            return _alert(str(exc), alert_id="numbers-route-alert"), *keep
        except sqlite3.IntegrityError:  # the store leaves the name clash to the schema
            message = f"{did.number} already has a route named {route.name!r}"
            return _alert(message, alert_id="numbers-route-alert"), *keep
        notice = push_after_edit(store, dids=[did])
    message, color = saved_message(f"Saved route “{saved.name}” of {did.number}", notice)
    banner = _alert(message, color=color, alert_id="numbers-saved")
    return None, False, (version or 0) + 1, banner
