"""Answering Rules: a user's ordered rules, their editor, and the routing simulator.

Rules are tried in order (lowest priority number first); the first enabled
rule whose time frame contains the moment of the call decides it. The
simulator answers "a call from X at time T" with ``switchboard.routing.
explain_route``, the same function the decisions pushed to Kamailio start
from, so the page cannot promise a route the phones will not take.

Managers and supervisors may pick another user of their tenant (``?user=102``
in the URL); a plain user only ever sees their own. The browser's choice is
never trusted: every callback resolves the target again with
:func:`target_user`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, portal, provisioning, signed_in_user
from dash_app.describe import data_attrs, describe_rule
from dash_app.destinations import (
    FALLBACK_KINDS,
    FORWARD_KINDS,
    destination_from_form,
    destination_picker,
    register_target_hints,
)
from dash_app.layout import section
from dash_app.push import push_after_edit, saved_message
from switchboard.routing import no_rule_behaviour
from switchboard.rules import AnsweringRule, Destination, RuleError, active_rule_at
from switchboard.store import ProvisioningError, ProvisioningStore, User

dash.register_page(
    __name__,
    path="/rules",
    name="Answering Rules",
    title="Answering Rules · Switchboard",
    order=2,
)

log = logging.getLogger(__name__)

ALWAYS = "__always__"  # the frame select's value for a rule without a time frame
PRIORITY_STEP = 10
# The pickers of the editor, in layout order (the ALL states arrive in this order).
DEST_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("forward_always", "Forward all calls", "Phones do not ring; every call goes here."),
    ("forward_busy", "When busy", "All my phones are on a call."),
    ("forward_no_answer", "When not answered", "After the ring time; default: the fallback."),
    ("forward_offline", "When no phone is registered", "E.g. my mobile when I am away."),
    ("fallback", "Fallback", "Where unanswered calls end up."),
)
_PHONE_RE = re.compile(r"^\+?[0-9]{2,15}$")
_BLOCK_RE = re.compile(r"^\+?[0-9]{1,15}\*?$")

register_target_hints("rules")


class NotAllowed(Exception):
    """The viewer asked for another user's rules without the role to see them."""


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


# -- the form, as data ---------------------------------------------------------------
def _entries(values: list[str] | None, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values or []:
        value = raw.strip().replace(" ", "")
        if not value:
            continue
        if not pattern.match(value):
            raise RuleError(f"{what}: {raw!r} is not a number or extension")
        if value not in out:
            out.append(value)
    return tuple(out)


def rule_from_form(
    *,
    rule_id: int | None,
    priority: int,
    name: str | None,
    frame: str | None,
    enabled: bool,
    ring_seconds: Any,
    simultaneous: list[str] | None,
    dnd: bool,
    block: list[str] | None,
    block_anonymous: bool,
    dest_kinds: list[str | None],
    dest_targets: list[str | None],
) -> AnsweringRule:
    """An answering rule from the editor's values; refuses what is malformed, says what.

    Whether targets and frames exist is the store's check (``save_rule``).
    """
    try:
        ring = int(ring_seconds)
    except (TypeError, ValueError) as exc:
        raise RuleError("ring time must be a number of seconds") from exc
    dests: dict[str, Destination | None] = {}
    for (field, label, _), kind, target in zip(DEST_FIELDS, dest_kinds, dest_targets, strict=True):
        dests[field] = destination_from_form(label, kind, target)
    fallback = dests.pop("fallback") or Destination("voicemail")
    return AnsweringRule(
        name=(name or "").strip(),
        priority=priority,
        frame=None if not frame or frame == ALWAYS else frame,
        ring_seconds=ring,
        simultaneous=_entries(simultaneous, _PHONE_RE, "Also ring"),
        forward_always=dests["forward_always"],
        forward_busy=dests["forward_busy"],
        forward_no_answer=dests["forward_no_answer"],
        forward_offline=dests["forward_offline"],
        dnd=dnd,
        block=_entries(block, _BLOCK_RE, "Block list"),
        block_anonymous=block_anonymous,
        fallback=fallback,
        enabled=enabled,
        id=rule_id,
    )


def reordered(rules: list[AnsweringRule], rule_id: int, step: int) -> list[AnsweringRule]:
    """The rules (in order) with ``rule_id`` moved by ``step``, renumbered 10, 20, …

    Only the rules whose priority changed are returned: those are the saves needed.
    """
    ordered = sorted(rules, key=lambda r: (r.priority, r.name))
    index = next((i for i, r in enumerate(ordered) if r.id == rule_id), None)
    if index is None:
        return []
    other = index + step
    if not 0 <= other < len(ordered):
        return []
    ordered[index], ordered[other] = ordered[other], ordered[index]
    changed = []
    for position, rule in enumerate(ordered, start=1):
        priority = position * PRIORITY_STEP
        if rule.priority != priority:
            changed.append(replace(rule, priority=priority))
    return changed


# -- components ------------------------------------------------------------------------
def _alert(message: str, *, color: str = "red", alert_id: str = "rules-editor-alert") -> Any:
    text = message[:1].upper() + message[1:]
    return dmc.Alert(text, color=color, variant="light", id=alert_id)


def rule_card(rule: AnsweringRule, position: int, count: int, *, active: bool) -> Any:
    """One rule in the ordered list: order, name, frame, what it does, and its controls."""
    badges = [
        dmc.Badge(rule.frame or "Always", variant="light", color="indigo", size="sm"),
    ]
    if active:
        badges.append(
            dmc.Badge("Active now", color="green", size="sm", className="sb-rule-active-badge")
        )
    if not rule.enabled:
        badges.append(dmc.Badge("Disabled", color="gray", variant="outline", size="sm"))
    controls = dmc.Group(
        [
            dmc.ActionIcon(
                "↑",
                id={"type": "rules-up", "rule": rule.id},
                variant="default",
                disabled=position == 1,
                **{"aria-label": "Move up: try this rule earlier"},
            ),
            dmc.ActionIcon(
                "↓",
                id={"type": "rules-down", "rule": rule.id},
                variant="default",
                disabled=position == count,
                **{"aria-label": "Move down: try this rule later"},
            ),
            dmc.Button(
                "Edit",
                id={"type": "rules-edit", "rule": rule.id},
                variant="light",
                size="compact-sm",
            ),
            dmc.Button(
                "Delete",
                id={"type": "rules-delete", "rule": rule.id},
                variant="subtle",
                color="red",
                size="compact-sm",
            ),
        ],
        gap=6,
        wrap="nowrap",
    )
    return html.Div(
        [
            html.Div(str(position), className="sb-rule-position"),
            html.Div(
                [
                    dmc.Group(
                        [dmc.Text(rule.name, fw=600, className="sb-rule-name"), *badges],
                        gap="xs",
                    ),
                    html.Ul(
                        [html.Li(line) for line in describe_rule(rule)], className="sb-rule-do"
                    ),
                ],
                style={"flex": 1, "minWidth": 0},
            ),
            controls,
        ],
        className="sb-rule-card" + (" sb-rule-card--active" if active else ""),
        **data_attrs(rule=rule.name),
    )


def rule_list(
    rules: list[AnsweringRule], active: AnsweringRule | None, *, ring_seconds: int
) -> Any:
    if not rules:
        return dmc.Text(
            "No answering rules. " + no_rule_behaviour(ring_seconds),
            size="sm",
            c="dimmed",
            id="rules-empty",
        )
    ordered = sorted(rules, key=lambda r: (r.priority, r.name))
    cards = [
        rule_card(rule, i, len(ordered), active=active is not None and rule.id == active.id)
        for i, rule in enumerate(ordered, start=1)
    ]
    return html.Div(cards, id="rules-list")


def _editor(extensions: list[str]) -> Any:
    pickers = [
        destination_picker(
            "rules",
            field,
            label,
            None,
            kinds=FALLBACK_KINDS if field == "fallback" else FORWARD_KINDS,
            optional=field != "fallback",
            extensions=extensions,
            description=description,
        )
        for field, label, description in DEST_FIELDS
    ]
    return dmc.Modal(
        dmc.Stack(
            [
                dmc.Group(
                    [
                        dmc.TextInput(
                            id="rules-name",
                            label="Rule name",
                            placeholder="Office hours",
                            inputProps={"maxLength": 60},
                        ),
                        dmc.Select(
                            id="rules-frame",
                            label="Applies during",
                            data=[],
                            allowDeselect=False,
                        ),
                    ],
                    grow=True,
                    align="flex-start",
                ),
                dmc.Switch(id="rules-enabled", label="Enabled", checked=True),
                dmc.Divider(label="Ring", labelPosition="left"),
                dmc.Group(
                    [
                        dmc.NumberInput(
                            id="rules-ring",
                            label="Ring my phones for (seconds)",
                            min=5,
                            max=300,
                            step=5,
                            value=25,
                            w=220,
                        ),
                        dmc.TagsInput(
                            id="rules-simultaneous",
                            label="Also ring at the same time",
                            placeholder="Extension or number, Enter to add",
                            data=extensions,
                            value=[],
                            style={"flex": 1},
                        ),
                    ],
                    align="flex-start",
                ),
                dmc.Switch(
                    id="rules-dnd",
                    label="Do not disturb: phones do not ring, calls go to the fallback",
                    checked=False,
                ),
                dmc.Divider(label="Forwarding", labelPosition="left"),
                dmc.SimpleGrid(pickers[:4], cols={"base": 1, "sm": 2}, spacing="md"),
                dmc.Divider(label="Blocking and fallback", labelPosition="left"),
                dmc.Group(
                    [
                        dmc.TagsInput(
                            id="rules-block",
                            label="Block these callers",
                            description="Exact numbers, or prefixes ending in * (e.g. +1900*)",
                            placeholder="Number or prefix*, Enter to add",
                            value=[],
                            style={"flex": 1},
                        ),
                        dmc.Switch(
                            id="rules-block-anonymous",
                            label="Block anonymous callers",
                            checked=False,
                            mt=30,
                        ),
                    ],
                    align="flex-start",
                ),
                pickers[4],
                html.Div(id="rules-editor-error"),
                dmc.Group(
                    [
                        dmc.Button("Cancel", id="rules-cancel", variant="default"),
                        dmc.Button("Save rule", id="rules-save"),
                    ],
                    justify="flex-end",
                ),
            ],
            gap="sm",
        ),
        id="rules-editor",
        title="Answering rule",
        size="xl",
        opened=False,
    )


def _simulator(user: User, query: dict[str, str]) -> Any:
    """The simulator's form; ``?at=YYYY-MM-DDTHH:MM&from=…`` pre-fills it (a shareable what-if)."""
    now = datetime.now(ZoneInfo(user.timezone)).replace(tzinfo=None)
    try:
        at = datetime.fromisoformat(query["at"]) if query.get("at") else now
    except ValueError:
        at = now
    caller = query.get("from", "+15551234567")
    return dmc.Stack(
        [
            dmc.Text(
                "Where would a call go, and why? The same logic the phone system uses.",
                size="sm",
                c="dimmed",
            ),
            dmc.TextInput(
                id="rules-sim-caller",
                label="Call from",
                value=caller,
                description="A number or extension; leave empty for an anonymous caller",
            ),
            dmc.Group(
                [
                    dmc.DateInput(
                        id="rules-sim-date",
                        label="Date",
                        value=at.date().isoformat(),
                        valueFormat="ddd MMM D, YYYY",
                        style={"flex": 1},
                    ),
                    dmc.TimeInput(id="rules-sim-time", label="Time", value=f"{at:%H:%M}", w=130),
                ],
                align="flex-start",
                grow=True,
            ),
            dmc.Text(id="rules-sim-zone", size="xs", c="dimmed"),
            dmc.Button("Simulate call", id="rules-sim-run", variant="light"),
            html.Div(id="rules-sim-result"),
        ],
        gap="sm",
    )


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
                    html.Div(
                        [
                            dmc.Title("Answering Rules", order=2, id="rules-title"),
                            dmc.Text(id="rules-subtitle", c="dimmed"),
                        ]
                    ),
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
                            "Routing simulator", _simulator(shown, query), id_prefix="rules-sim"
                        ),
                        span={"base": 12, "lg": 5},
                    ),
                ],
                gutter="lg",
            ),
            dcc.Store(id="rules-version", data=0),
            dcc.Store(id="rules-editing", data=None),
            _editor(extensions),
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
            return _alert(str(exc), alert_id="rules-denied"), "", ""
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
    Output("rules-name", "value"),
    Output("rules-frame", "value"),
    Output("rules-enabled", "checked"),
    Output("rules-ring", "value"),
    Output("rules-simultaneous", "value"),
    Output("rules-dnd", "checked"),
    Output("rules-block", "value"),
    Output("rules-block-anonymous", "checked"),
    Output({"type": "rules-dest-kind", "field": ALL}, "value"),
    Output({"type": "rules-dest-target", "field": ALL}, "value"),
    Output("rules-editor-error", "children"),
    Input("rules-new", "n_clicks"),
    Input({"type": "rules-edit", "rule": ALL}, "n_clicks"),
    State("rules-user", "value"),
    prevent_initial_call=True,
)
def open_editor(_new: int | None, _edits: list[int | None], extension: str | None) -> Any:
    """Open the editor empty ("New rule") or on one of the target's rules."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    viewer = signed_in_user()
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed:
            raise PreventUpdate from None
        inputs = store.routing_inputs(user)
    frames = [{"value": ALWAYS, "label": "Always"}] + [
        {"value": name, "label": name} for name in sorted(inputs.frames)
    ]
    trigger = ctx.triggered_id
    if trigger == "rules-new":
        last = max((r.priority for r in inputs.rules), default=0)
        rule = AnsweringRule("", last + PRIORITY_STEP)
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
    Output("rules-editor", "opened", allow_duplicate=True),
    Input("rules-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def close_editor(_clicks: int | None) -> bool:
    return False


@callback(
    Output("rules-editor-error", "children", allow_duplicate=True),
    Output("rules-editor", "opened", allow_duplicate=True),
    Output("rules-version", "data"),
    Output("rules-notice", "children"),
    Input("rules-save", "n_clicks"),
    State("rules-editing", "data"),
    State("rules-user", "value"),
    State("rules-name", "value"),
    State("rules-frame", "value"),
    State("rules-enabled", "checked"),
    State("rules-ring", "value"),
    State("rules-simultaneous", "value"),
    State("rules-dnd", "checked"),
    State("rules-block", "value"),
    State("rules-block-anonymous", "checked"),
    State({"type": "rules-dest-kind", "field": ALL}, "value"),
    State({"type": "rules-dest-target", "field": ALL}, "value"),
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
        return _alert(str(exc)), *keep
    with provisioning() as store:
        try:
            # The editor was opened for editing["user"]; the picker may have moved since.
            user = target_user(store, viewer, editing.get("user") or extension)
        except NotAllowed as exc:
            return _alert(str(exc)), *keep
        if rule.id is not None and rule.id not in {r.id for r in store.routing_inputs(user).rules}:
            return _alert("this rule no longer exists"), *keep
        try:
            saved = store.save_rule(user, rule)
        except ProvisioningError as exc:
            return _alert(str(exc)), *keep
        notice = push_after_edit(store, [user])
    message, color = saved_message(f"Saved rule “{saved.name}”", notice)
    banner = _alert(message, color=color, alert_id="rules-saved")
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
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    action, rule_id = trigger.get("type"), trigger.get("rule")
    viewer = signed_in_user()
    with provisioning() as store:
        try:
            user = target_user(store, viewer, extension)
        except NotAllowed as exc:
            return no_update, _alert(str(exc), alert_id="rules-denied")
        rules = store.routing_inputs(user).rules
        rule = next((r for r in rules if r.id == rule_id), None)
        if rule is None or rule.id is None:
            return no_update, _alert("this rule no longer exists", alert_id="rules-error")
        if action == "rules-delete":
            store.delete_rule(user, rule.id)
            message = f"Deleted rule “{rule.name}”"
        else:
            try:
                for changed in reordered(rules, rule.id, -1 if action == "rules-up" else 1):
                    store.save_rule(user, changed)
            except ProvisioningError as exc:
                return (version or 0) + 1, _alert(str(exc), alert_id="rules-error")
            message = f"Moved rule “{rule.name}”"
        notice = push_after_edit(store, [user])
    text, color = saved_message(message, notice)
    banner = _alert(text, color=color, alert_id="rules-changed")
    return (version or 0) + 1, banner


def simulate(
    store: ProvisioningStore,
    user: User,
    caller: str | None,
    day: str | None,
    at: str | None,
    *,
    ring_seconds: int,
) -> Any:
    """The simulator's answer for a call to ``user`` at ``day`` ``at`` in the user's zone.

    ``ring_seconds`` is the setting ``ring_timeout`` (the default's ring time, no rule active).
    """
    from switchboard.routing import explain_route

    try:
        local_day = date.fromisoformat(str(day)[:10])
        local_time = time.fromisoformat(str(at)[:5]) if at else time(0)
    except ValueError:
        return _alert("pick a date and a time (HH:MM)", alert_id="rules-sim-error")
    instant = datetime.combine(local_day, local_time, tzinfo=ZoneInfo(user.timezone))
    explanation = explain_route(
        user,
        store.routing_inputs(user),
        (caller or "").strip(),
        instant,
        default_ring_seconds=ring_seconds,
    )
    rule = explanation.active.rule
    decided = (
        f"Decided by {rule.name!r}"
        + (
            " (manual override)"
            if explanation.active.overridden
            else f" during {explanation.active.frame.name}"
            if explanation.active.frame
            else " (always)"
        )
        if rule
        else "No rule applies: the default route"
    )
    return dmc.Stack(
        [
            dmc.Paper(
                [
                    dmc.Text("Outcome", size="xs", c="dimmed", tt="uppercase", fw=700),
                    dmc.Text(explanation.outcome, fw=700, size="lg", id="rules-sim-outcome"),
                    dmc.Text(decided, size="sm", c="dimmed", id="rules-sim-decided"),
                ],
                p="sm",
                radius="md",
                className="sb-sim-outcome",
            ),
            dmc.Timeline(
                [dmc.TimelineItem(dmc.Text(step, size="sm")) for step in explanation.steps],
                active=len(explanation.steps) - 1,
                bulletSize=14,
                lineWidth=2,
                id="rules-sim-steps",
            ),
        ],
        gap="sm",
    )


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
            return _alert(str(exc), alert_id="rules-denied")
        return simulate(store, user, caller, day, at, ring_seconds=ring_seconds)
