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
from datetime import UTC, datetime
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import provisioning, signed_in_user
from dash_app.destinations import register_target_hints
from dash_app.editing import (
    ALWAYS,
    NotAllowed,
    alert,
    close_on_cancel,
    frame_options,
    name_input,
    new_rule_after,
    require_click,
)
from dash_app.layout import section
from dash_app.numbers_routes import did_card, route_editor, route_from_form
from dash_app.page_shell import manager_page_viewer, page_header, require_manager, signed_in_manager
from dash_app.push import push_after_edit, saved_banner
from switchboard.rules import RuleError
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

MANAGERS_ONLY = "only managers can see and change main numbers"

register_target_hints("numbers")
close_on_cancel("numbers-route-editor", "numbers-route-cancel")


# The route editor's fields, in the order open_route_editor fills them and save_route reads them.
ROUTE_FIELDS: tuple[tuple[Any, str], ...] = (
    ("numbers-route-name", "value"),
    ("numbers-route-frame", "value"),
    ("numbers-route-priority", "value"),
    ("numbers-route-enabled", "checked"),
    ({"type": "numbers-dest-kind", "field": ALL}, "value"),
    ({"type": "numbers-dest-target", "field": ALL}, "value"),
)


def tenant_did(store: ProvisioningStore, user: User, did_id: Any) -> Did:
    """The number ``did_id`` if it belongs to the manager's tenant (ids come from browsers)."""
    require_manager(user, MANAGERS_ONLY)
    did = next((d for d in store.dids(user.tenant_domain) if d.id == did_id), None)
    if did is None:
        raise NotAllowed("no such main number in your company")
    return did


ERROR_ALERT = "numbers-error"  # refusals outside the route editor
EDITOR_ALERT = "numbers-route-alert"  # the route editor's refusals


def layout(**query: str) -> Any:
    """The numbers and an "add number" form; a non-manager is told the page is not theirs."""
    user = manager_page_viewer("numbers", "Main numbers")
    if not isinstance(user, User):
        return user
    with provisioning() as store:
        extensions = [u.extension for u in store.users(user.tenant_domain)]
        allocated = store.allocated_numbers(user.tenant_domain)
    add_form = dmc.Group(
        [
            # Only numbers the operator allocated to the company (the callback checks again).
            dmc.Autocomplete(
                id="numbers-new-number",
                label="Number",
                data=allocated,
                placeholder=allocated[0] if allocated else "none allocated yet",
                description="Allocated to your company by your operator",
                inputProps={"maxLength": 16},
            ),
            name_input("numbers-new-name", "Main line", style={"flex": 1}),
            dmc.Button("Add number", id="numbers-add"),
        ],
        align="flex-end",
    )
    return dmc.Stack(
        [
            page_header(
                "numbers",
                "Main Numbers",
                "Where calls to the company's numbers go, per time frame.",
            ),
            html.Div(id="numbers-notice"),
            html.Div(dmc.Skeleton(height=120), id="numbers-list"),
            section("Add a main number", add_form, id_prefix="numbers-add"),
            dcc.Store(id="numbers-version", data=0),
            dcc.Store(id="numbers-editing", data=None),
            route_editor(extensions),
        ],
        gap="lg",
    )


# -- callbacks ---------------------------------------------------------------------------
@callback(Output("numbers-list", "children"), Input("numbers-version", "data"))
def refresh_numbers(_version: int | None) -> Any:
    """Every number of the manager's tenant with its routes."""
    try:
        user = signed_in_manager(MANAGERS_ONLY)
    except NotAllowed as exc:
        return alert(str(exc), alert_id="numbers-denied")
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
    Output("numbers-new-number", "data"),
    Input("numbers-add", "n_clicks"),
    State("numbers-new-number", "value"),
    State("numbers-new-name", "value"),
    State("numbers-version", "data"),
    prevent_initial_call=True,
)
def add_number(
    clicks: int | None, number: str | None, name: str | None, version: int | None
) -> tuple[Any, ...]:
    """Add a number allocated to the manager's tenant (the store refuses any other)."""
    if not clicks:
        raise PreventUpdate
    try:
        user = signed_in_manager(MANAGERS_ONLY)
    except NotAllowed as exc:
        return no_update, alert(str(exc), alert_id=ERROR_ALERT), *(no_update,) * 3
    number = (number or "").strip().replace(" ", "")
    label = (name or "").strip() or number
    try:
        with provisioning() as store:
            did = store.add_did(user.tenant_domain, number, label, allocated_only=True)
            # Kamailio learns the number at once (no route yet: the carrier hears 480, not 404)
            caveat = push_after_edit(store, dids=[did])
            still_free = store.allocated_numbers(user.tenant_domain)
    except ProvisioningError as exc:
        return no_update, alert(str(exc), alert_id=ERROR_ALERT), *(no_update,) * 3
    banner = saved_banner(
        f"Added {did.number}. Add its routes next", caveat, alert_id="numbers-added"
    )
    return (version or 0) + 1, banner, "", "", still_free


@callback(
    Output("numbers-route-editor", "opened"),
    Output("numbers-editing", "data"),
    Output("numbers-route-editor", "title"),
    Output("numbers-route-frame", "data"),
    *(Output(i, p) for i, p in ROUTE_FIELDS),
    Output("numbers-route-error", "children"),
    Input({"type": "numbers-add-route", "did": ALL}, "n_clicks"),
    Input({"type": "numbers-edit-route", "did": ALL, "route": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_route_editor(_adds: list[int | None], _edits: list[int | None]) -> Any:
    """Open the route editor for a new route of a number, or on an existing route."""
    require_click()
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    try:
        with provisioning() as store:
            did = tenant_did(store, signed_in_user(), trigger.get("did"))
            inputs = store.did_routing_inputs(did)
    except NotAllowed:
        raise PreventUpdate from None
    frames = frame_options(inputs.frames)
    if trigger.get("type") == "numbers-add-route":
        rule = new_rule_after(inputs.rules)
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
    Output("numbers-route-error", "children", allow_duplicate=True),
    Output("numbers-route-editor", "opened", allow_duplicate=True),
    Output("numbers-version", "data", allow_duplicate=True),
    Output("numbers-notice", "children", allow_duplicate=True),
    Input("numbers-route-save", "n_clicks"),
    State("numbers-editing", "data"),
    *(State(i, p) for i, p in ROUTE_FIELDS),
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
        return alert(str(exc), alert_id=EDITOR_ALERT), *keep
    with provisioning() as store:
        try:
            did = tenant_did(store, signed_in_user(), editing.get("did"))
        except NotAllowed as exc:
            return alert(str(exc), alert_id=EDITOR_ALERT), *keep
        existing = {r.id for r in store.did_routing_inputs(did).rules}
        if route.id is not None and route.id not in existing:
            return alert("this route no longer exists", alert_id=EDITOR_ALERT), *keep
        try:
            saved = store.save_did_rule(did, route)
        except ProvisioningError as exc:
            return alert(str(exc), alert_id=EDITOR_ALERT), *keep
        notice = push_after_edit(store, dids=[did])
    banner = saved_banner(
        f"Saved route “{saved.name}” of {did.number}", notice, alert_id="numbers-saved"
    )
    return None, False, (version or 0) + 1, banner
