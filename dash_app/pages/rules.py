"""Answering Rules: a user's ordered rules, their editor, and the routing simulator.

Rules are tried in order (lowest priority number first); the first enabled
rule whose time frame contains the moment of the call decides it. The
form's parsing, the cards, the editor and the simulator live beside the page
(``dash_app.rules_*``); this file holds the layout and the callbacks.

Managers and supervisors may pick another user of their tenant (``?user=102``
in the URL); a plain user only ever sees their own. The browser's choice is
never trusted: every callback resolves the target again with
:func:`target_user`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, portal, provisioning, signed_in_user
from dash_app.destinations import register_target_hints
from dash_app.editing import (
    ALWAYS,
    PRIORITY_STEP,
    NotAllowed,
    alert,
    close_on_cancel,
    frame_options,
    new_rule_after,
    require_click,
)
from dash_app.layout import section
from dash_app.page_shell import page_header
from dash_app.push import push_after_edit, saved_banner
from dash_app.rules_cards import rule_list
from dash_app.rules_editor import rule_editor
from dash_app.rules_form import DEST_FIELDS, reordered, rule_from_form
from dash_app.rules_simulator import simulate, simulator_form
from switchboard.rules import RuleError, active_rule_at
from switchboard.store import ProvisioningError, ProvisioningStore, User

dash.register_page(
    __name__,
    path="/rules",
    name="Answering Rules",
    title="Answering Rules · Switchboard",
    order=2,
)

log = logging.getLogger(__name__)

EDITOR_ALERT = "rules-editor-alert"  # the editor's refusals

register_target_hints("rules")
close_on_cancel("rules-editor", "rules-cancel")


# The editor's fields, in the order open_editor fills them and save_rule reads them.
RULE_FIELDS: tuple[tuple[Any, str], ...] = (
    ("rules-name", "value"),
    ("rules-frame", "value"),
    ("rules-enabled", "checked"),
    ("rules-ring", "value"),
    ("rules-simultaneous", "value"),
    ("rules-dnd", "checked"),
    ("rules-block", "value"),
    ("rules-block-anonymous", "checked"),
    ({"type": "rules-dest-kind", "field": ALL}, "value"),
    ({"type": "rules-dest-target", "field": ALL}, "value"),
)


def target_user(store: ProvisioningStore, viewer: User, extension: str | None) -> User:
    """Whose rules a callback works on: the viewer, or (managers, supervisors) a colleague."""
    if not extension or extension == viewer.extension:
        return viewer
    if not viewer.sees_whole_tenant:
        raise NotAllowed("you can only see and edit your own answering rules")
    try:
        return store.user(viewer.tenant_domain, extension)  # never another tenant
    except ProvisioningError as exc:
        raise NotAllowed(str(exc)) from exc


def layout(**query: str) -> Any:
    """The rules of the viewer (or, for managers and supervisors, of ``?user=<ext>``)."""
    viewer = optional_user()
    if viewer is None:
        return html.Div()
    with provisioning() as store:
        colleagues = store.users(viewer.tenant_domain)
        try:
            shown = target_user(store, viewer, query.get("user"))
        except NotAllowed:
            shown = viewer
    extensions = [u.extension for u in colleagues]
    picker = dmc.Select(
        id="rules-user",
        label="Rules of",
        data=[{"value": u.extension, "label": f"{u.extension} · {u.name}"} for u in colleagues],
        value=shown.extension,
        allowDeselect=False,
        searchable=True,
        w=260,
        style={} if viewer.sees_whole_tenant else {"display": "none"},
    )
    return dmc.Stack(
        [
            dcc.Location(id="rules-url", refresh=False),
            dmc.Group(
                [
                    page_header("rules", "Answering Rules"),
                    dmc.Group([picker, dmc.Button("New rule", id="rules-new")], align="flex-end"),
                ],
                justify="space-between",
                align="flex-end",
            ),
            html.Div(id="rules-notice"),
            dmc.Grid(
                [
                    dmc.GridCol(
                        section(
                            "Rules, in the order they are tried",
                            html.Div(dmc.Skeleton(height=120), id="rules-list-box"),
                            id_prefix="rules-list",
                            extra=dmc.Anchor("Time frames", href="/timeframes", size="sm"),
                        ),
                        span={"base": 12, "lg": 7},
                    ),
                    dmc.GridCol(
                        section(
                            "Routing simulator", simulator_form(shown, query), id_prefix="rules-sim"
                        ),
                        span={"base": 12, "lg": 5},
                    ),
                ],
                gutter="lg",
            ),
            dcc.Store(id="rules-version", data=0),
            dcc.Store(id="rules-editing", data=None),
            rule_editor(extensions),
        ],
        gap="lg",
    )


# -- callbacks ---------------------------------------------------------------------------
@callback(
    Output("rules-list-box", "children"),
    Output("rules-subtitle", "children"),
    Output("rules-sim-zone", "children"),
    Input("rules-version", "data"),
    Input("rules-user", "value"),
)
def refresh_rules(_version: int | None, extension: str | None) -> tuple[Any, ...]:
    """The target's rules, the one active now marked, and the URL that shows them."""
    viewer = signed_in_user()
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed as exc:
            return alert(str(exc), alert_id="rules-denied"), "", ""
        inputs = store.routing_inputs(user)
    active = active_rule_at(inputs.rules, inputs.frames, datetime.now(ZoneInfo("UTC")))
    mine = user.id == viewer.id
    subtitle = (
        f"Your rules, extension {user.extension}"
        if mine
        else f"Rules of {user.name}, extension {user.extension}"
    )
    zone = f"Date and time in {user.timezone}."
    listed = rule_list(inputs.rules, active.rule, ring_seconds=portal().settings.ring_timeout)
    return listed, subtitle, zone


@callback(
    Output("rules-url", "search"),
    Input("rules-user", "value"),
    State("rules-url", "search"),
    prevent_initial_call=True,
)
def user_in_url(extension: str | None, search: str | None) -> str:
    """Picking a colleague rewrites ``?user=`` (other parameters kept): a shareable view."""
    params = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
    viewer = signed_in_user()
    if extension and extension != viewer.extension:
        params["user"] = extension
    else:
        params.pop("user", None)
    return "?" + urlencode(params) if params else ""


@callback(
    Output("rules-editor", "opened"),
    Output("rules-editing", "data"),
    Output("rules-editor", "title"),
    Output("rules-frame", "data"),
    *(Output(i, p) for i, p in RULE_FIELDS),
    Output("rules-editor-error", "children"),
    Input("rules-new", "n_clicks"),
    Input({"type": "rules-edit", "rule": ALL}, "n_clicks"),
    State("rules-user", "value"),
    prevent_initial_call=True,
)
def open_editor(_new: int | None, _edits: list[int | None], extension: str | None) -> Any:
    """Open the editor empty ("New rule") or on one of the target's rules."""
    require_click()
    viewer = signed_in_user()
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed:
            raise PreventUpdate from None
        inputs = store.routing_inputs(user)
    frames = frame_options(inputs.frames)
    trigger = ctx.triggered_id
    if trigger == "rules-new":
        rule = new_rule_after(inputs.rules)
        title = "New answering rule"
    else:
        rule_id = trigger.get("rule") if isinstance(trigger, dict) else None
        found = next((r for r in inputs.rules if r.id == rule_id), None)
        if found is None:
            raise PreventUpdate
        rule, title = found, f"Edit “{found.name}”"
    dests = [getattr(rule, field) for field, _, _ in DEST_FIELDS]
    return (
        True,
        {"id": rule.id, "priority": rule.priority, "user": user.extension},
        title,
        frames,
        rule.name,
        rule.frame or ALWAYS,
        rule.enabled,
        rule.ring_seconds,
        list(rule.simultaneous),
        rule.dnd,
        list(rule.block),
        rule.block_anonymous,
        [d.kind if d else "off" for d in dests],
        [d.target if d else "" for d in dests],
        None,
    )


@callback(
    Output("rules-editor-error", "children", allow_duplicate=True),
    Output("rules-editor", "opened", allow_duplicate=True),
    Output("rules-version", "data"),
    Output("rules-notice", "children"),
    Input("rules-save", "n_clicks"),
    State("rules-editing", "data"),
    State("rules-user", "value"),
    *(State(i, p) for i, p in RULE_FIELDS),
    State("rules-version", "data"),
    prevent_initial_call=True,
)
def save_rule(
    clicks: int | None,
    editing: dict[str, Any] | None,
    extension: str | None,
    name: str | None,
    frame: str | None,
    enabled: bool | None,
    ring: Any,
    simultaneous: list[str] | None,
    dnd: bool | None,
    block: list[str] | None,
    block_anonymous: bool | None,
    dest_kinds: list[str | None],
    dest_targets: list[str | None],
    version: int | None,
) -> tuple[Any, Any, Any, Any]:
    """Validate and save; a refusal keeps the editor open and every saved rule as it was."""
    if not clicks or not editing:
        raise PreventUpdate
    viewer = signed_in_user()
    keep = (no_update, no_update, no_update)
    try:
        rule = rule_from_form(
            rule_id=editing.get("id"),
            priority=int(editing.get("priority") or PRIORITY_STEP),
            name=name,
            frame=frame,
            enabled=bool(enabled),
            ring_seconds=ring,
            simultaneous=simultaneous,
            dnd=bool(dnd),
            block=block,
            block_anonymous=bool(block_anonymous),
            dest_kinds=dest_kinds,
            dest_targets=dest_targets,
        )
    except RuleError as exc:
        return alert(str(exc), alert_id=EDITOR_ALERT), *keep
    with provisioning() as store:
        try:
            # The editor was opened for editing["user"]; the picker may have moved since.
            user = target_user(store, viewer, editing.get("user") or extension)
        except NotAllowed as exc:
            return alert(str(exc), alert_id=EDITOR_ALERT), *keep
        if rule.id is not None and rule.id not in {r.id for r in store.routing_inputs(user).rules}:
            return alert("this rule no longer exists", alert_id=EDITOR_ALERT), *keep
        try:
            saved = store.save_rule(user, rule)
        except ProvisioningError as exc:
            return alert(str(exc), alert_id=EDITOR_ALERT), *keep
        notice = push_after_edit(store, [user])
    banner = saved_banner(f"Saved rule “{saved.name}”", notice, alert_id="rules-saved")
    return None, False, (version or 0) + 1, banner


@callback(
    Output("rules-version", "data", allow_duplicate=True),
    Output("rules-notice", "children", allow_duplicate=True),
    Input({"type": "rules-up", "rule": ALL}, "n_clicks"),
    Input({"type": "rules-down", "rule": ALL}, "n_clicks"),
    Input({"type": "rules-delete", "rule": ALL}, "n_clicks"),
    State("rules-user", "value"),
    State("rules-version", "data"),
    prevent_initial_call=True,
)
def change_order_or_delete(
    _ups: list[int | None],
    _downs: list[int | None],
    _deletes: list[int | None],
    extension: str | None,
    version: int | None,
) -> tuple[Any, Any]:
    """Move a rule up or down (renumbering priorities), or delete it."""
    require_click()
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    action, rule_id = trigger.get("type"), trigger.get("rule")
    viewer = signed_in_user()
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed as exc:
            return no_update, alert(str(exc), alert_id="rules-denied")
        rules = store.routing_inputs(user).rules
        rule = next((r for r in rules if r.id == rule_id), None)
        if rule is None or rule.id is None:
            return no_update, alert("this rule no longer exists", alert_id="rules-error")
        if action == "rules-delete":
            store.delete_rule(user, rule.id)
            message = f"Deleted rule “{rule.name}”"
        else:
            try:
                for changed in reordered(rules, rule.id, -1 if action == "rules-up" else 1):
                    store.save_rule(user, changed)
            except ProvisioningError as exc:
                return (version or 0) + 1, alert(str(exc), alert_id="rules-error")
            message = f"Moved rule “{rule.name}”"
        notice = push_after_edit(store, [user])
    banner = saved_banner(message, notice, alert_id="rules-changed")
    return (version or 0) + 1, banner


@callback(
    Output("rules-sim-result", "children"),
    Input("rules-sim-run", "n_clicks"),
    Input("rules-version", "data"),
    State("rules-user", "value"),
    State("rules-sim-caller", "value"),
    State("rules-sim-date", "value"),
    State("rules-sim-time", "value"),
    prevent_initial_call=True,
)
def run_simulator(
    clicks: int | None,
    _version: int | None,
    extension: str | None,
    caller: str | None,
    day: str | None,
    at: str | None,
) -> Any:
    """Explain the route of the described call (again after every edit, once run)."""
    if not clicks:
        raise PreventUpdate
    viewer = signed_in_user()
    ring_seconds = portal().settings.ring_timeout
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed as exc:
            return alert(str(exc), alert_id="rules-denied")
        return simulate(store, user, caller, day, at, ring_seconds=ring_seconds)
