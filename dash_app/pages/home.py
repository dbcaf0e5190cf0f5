"""Home: the signed-in user's own phone at a glance.

Recent calls and colleagues come from the lake and the provisioning store,
registered phones live from Kamailio; each section fills itself from a
callback (and refreshes on a timer), so one slow source never blanks the
others and nothing is read when the page module is imported.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import open_calls, optional_user, portal, provisioning, signed_in_user
from dash_app.describe import describe_rule, format_until
from dash_app.destinations import destination_from_form, destination_picker, register_target_hints
from dash_app.layout import call_icon, call_view, format_duration, party_label, section, to_local
from dash_app.push import push_after_edit, saved_message
from switchboard.routing import no_rule_behaviour
from switchboard.rules import (
    AnsweringRule,
    Destination,
    RuleError,
    active_rule_at,
    validate_rule,
)
from switchboard.store import ProvisioningError, ProvisioningStore, User

dash.register_page(__name__, path="/", name="Home", title="Home · Switchboard", order=0)

log = logging.getLogger(__name__)

RECENT_CALLS = 10
REFRESH_MS = 20_000
MAX_OVERRIDE_HOURS = 72

register_target_hints("home")


def layout(**query: str) -> Any:
    """The home page frame; sections are filled by the callbacks below."""
    user = optional_user()
    if user is None:  # only reachable if Dash calls layouts outside a session
        return html.Div()
    status_box = dmc.Stack(
        [
            dmc.Text(
                "Colleagues see this next to your name.",
                size="sm",
                c="dimmed",
            ),
            dmc.Group(
                [
                    dmc.TextInput(
                        id="home-status-input",
                        value=user.status_message,
                        placeholder="In a meeting until 3 pm",
                        inputProps={"maxLength": 140},
                        style={"flex": 1},
                    ),
                    dmc.Button("Save", id="home-status-save"),
                ],
                gap="xs",
                align="flex-start",
            ),
            html.Div(id="home-status-feedback"),
        ],
        gap="xs",
    )
    loading = dmc.Skeleton(height=120, visible=True)
    return dmc.Stack(
        [
            dmc.Group(
                [
                    dmc.Title(f"Welcome, {user.name}", order=2, id="home-title"),
                    dmc.Text(f"Extension {user.extension} · {user.tenant_domain}", c="dimmed"),
                ],
                align="baseline",
            ),
            dmc.Grid(
                [
                    dmc.GridCol(
                        section(
                            "Recent Call History",
                            html.Div(loading, id="home-recent-calls"),
                            id_prefix="home-recent",
                            extra=dmc.Anchor("View all", href="/calls", size="sm"),
                        ),
                        span={"base": 12, "lg": 7},
                    ),
                    dmc.GridCol(
                        dmc.Stack(
                            [
                                section(
                                    "Active Phones",
                                    html.Div(loading, id="home-phones"),
                                    id_prefix="home-phones",
                                ),
                                section("Status Message", status_box, id_prefix="home-status"),
                            ]
                        ),
                        span={"base": 12, "lg": 5},
                    ),
                    dmc.GridCol(
                        section(
                            "Colleagues",
                            html.Div(loading, id="home-colleagues"),
                            id_prefix="home-colleagues",
                        ),
                        span={"base": 12, "lg": 7},
                    ),
                    dmc.GridCol(
                        dmc.Stack(
                            [
                                section(
                                    "New Messages",
                                    html.Div(loading, id="home-messages"),
                                    id_prefix="home-messages",
                                    extra=dmc.Anchor(
                                        "Open voicemail", href="/voicemail", size="sm"
                                    ),
                                ),
                                section(
                                    "Active Answering Rule",
                                    _active_rule_box(user),
                                    id_prefix="home-rule",
                                    extra=dmc.Anchor("Edit rules", href="/rules", size="sm"),
                                ),
                            ]
                        ),
                        span={"base": 12, "lg": 5},
                    ),
                ],
                gutter="lg",
            ),
            dcc.Interval(id="home-refresh", interval=REFRESH_MS),
            dcc.Store(id="home-rule-version", data=0),
        ],
        gap="lg",
    )


# -- recent calls ---------------------------------------------------------------
def recent_call_items(rows: list[dict[str, Any]], viewer: User) -> Any:
    """The desk-phone list: icon, the other party, when, and how long."""
    if not rows:
        return dmc.Text("No calls yet.", size="sm", c="dimmed", id="home-recent-empty")
    zone = ZoneInfo(viewer.timezone)
    today = datetime.now(zone).date()
    items = []
    for row in rows:
        view = call_view(row, viewer.extension)
        if view == "outgoing":
            other = party_label(row.get("callee_name"), row.get("callee"))
        else:
            other = party_label(row.get("caller_name"), row.get("caller"))
        started = to_local(row.get("started_at"), viewer.timezone)
        when = ""
        if started is not None:
            day = "Today" if started.date() == today else started.strftime("%b %d, %Y")
            when = f"{day} {started.strftime('%H:%M')}"
        if row.get("disposition") == "answered":
            detail = format_duration(row.get("talk_seconds"))
        else:  # busy, cancelled…: say what happened rather than "0:00"
            detail = str(row.get("disposition") or "missed").capitalize()
        data: dict[str, Any] = {"data-call-id": str(row.get("call_id", "")), "data-view": view}
        items.append(
            html.Li(
                [
                    call_icon(view),
                    html.Div(
                        [
                            html.Div(other, className="sb-party-name"),
                            dmc.Text(
                                f"{view.capitalize()} · {row.get('direction', '')}",
                                size="xs",
                                c="dimmed",
                            ),
                        ],
                        className="sb-recent-party",
                    ),
                    html.Div([html.Div(when), html.Div(detail)], className="sb-recent-meta"),
                ],
                className=f"sb-recent-item sb-recent-item--{view}",
                **data,
            )
        )
    return html.Ul(items, className="sb-recent-list", id="home-recent-list")


@callback(Output("home-recent-calls", "children"), Input("home-refresh", "n_intervals"))
def refresh_recent_calls(_n: int | None) -> Any:
    """The viewer's own latest calls; a manager's home shows their phone, not the tenant."""
    from pipeline.filters import CallFilter
    from pipeline.history import call_page

    user = signed_in_user()
    try:
        conn = open_calls(user, own_calls_only=True)
        try:
            rows, _total = call_page(
                conn,
                CallFilter(timezone=user.timezone),
                offset=0,
                limit=RECENT_CALLS,
                sort=[("started_at", "desc")],
            )
        finally:
            conn.close()
    except Exception:  # the page must stay usable when the lake cannot be read
        log.exception("recent calls for %s", user.login)
        return dmc.Alert("Call history is unavailable right now.", color="red", variant="light")
    return recent_call_items(rows, user)


# -- active phones --------------------------------------------------------------
def phone_items(registrations: list[Any] | None) -> Any:
    """Registered devices, or why none are shown (``None``: Kamailio is unreachable)."""
    if registrations is None:
        return dmc.Alert(
            "Phone status unavailable: the phone server cannot be reached.",
            color="gray",
            variant="light",
            id="home-phones-unavailable",
        )
    if not registrations:
        return dmc.Text(
            "No phone is registered to your extension.",
            size="sm",
            c="dimmed",
            id="home-phones-none",
        )
    rows = []
    for reg in registrations:
        expires = "permanent" if reg.expires_in < 0 else f"expires in {reg.expires_in} s"
        rows.append(
            html.Li(
                [
                    html.Span(className="sb-device-icon"),
                    html.Div(
                        [
                            html.Div(reg.user_agent or "Unknown device", className="sb-party-name"),
                            dmc.Text(reg.contact, size="xs", c="dimmed"),
                        ],
                        className="sb-recent-party",
                    ),
                    html.Div(
                        [html.Div(reg.received or ""), html.Div(expires)],
                        className="sb-recent-meta",
                    ),
                ],
                className="sb-recent-item sb-phone-item",
            )
        )
    return html.Ul(rows, className="sb-recent-list", id="home-phones-list")


@callback(Output("home-phones", "children"), Input("home-refresh", "n_intervals"))
def refresh_phones(_n: int | None) -> Any:
    """Ask Kamailio which devices are registered to the viewer's extension right now."""
    user = signed_in_user()
    from kamailio.rpc import KamailioRPC, RPCError  # lazy: only this section needs it

    try:
        with KamailioRPC(portal().settings.rpc_url, timeout=1.5) as rpc:
            registrations = rpc.registrations(user.extension, user.tenant_domain)
    except RPCError as exc:
        log.info("phone status for %s unavailable: %s", user.login, exc)
        return phone_items(None)
    return phone_items(registrations)


def _data_attrs(**values: str) -> dict[str, Any]:
    """``data-*`` attributes (typed loosely: Dash's stubs do not declare them)."""
    return {f"data-{k.replace('_', '-')}": v for k, v in values.items()}


# -- colleagues -----------------------------------------------------------------
def colleague_rows(users: list[User], viewer: User) -> Any:
    """Everyone else in the tenant with their status message."""
    others = [u for u in users if u.id != viewer.id]
    if not others:
        return dmc.Text("You are the only user of this tenant.", size="sm", c="dimmed")
    body = [
        html.Tr(
            [
                html.Td(u.name),
                html.Td(u.extension),
                html.Td(u.status_message or "—", className="sb-colleague-status"),
            ],
            **_data_attrs(extension=u.extension),
        )
        for u in others
    ]
    return dmc.Table(
        [
            html.Thead(
                html.Tr([html.Th("Name"), html.Th("Ext."), html.Th("Status")]),
                className="sb-table-head",
            ),
            html.Tbody(body),
        ],
        id="home-colleagues-table",
        highlightOnHover=True,
        verticalSpacing="xs",
    )


@callback(Output("home-colleagues", "children"), Input("home-refresh", "n_intervals"))
def refresh_colleagues(_n: int | None) -> Any:
    """Colleagues of the viewer's tenant only (the store query is tenant-bound)."""
    user = signed_in_user()
    with provisioning() as store:
        users = store.users(user.tenant_domain)
    return colleague_rows(users, user)


# -- new messages ---------------------------------------------------------------
NEWEST_TRANSCRIPTS = 3


def new_message_items(rows: list[dict[str, Any]], viewer: User) -> Any:
    """How many unheard messages wait in the New folder, and the newest transcripts."""
    from dash_app.layout import format_local

    unheard = [r for r in rows if not r["is_read"]]
    if not rows:
        return dmc.Text("No new voicemail.", size="sm", c="dimmed", id="home-messages-none")
    count = len(unheard)
    headline = f"{count} new message{'s' if count != 1 else ''}" if count else "No unheard messages"
    items = [
        html.Li(
            [
                html.Div(
                    [
                        html.Span(
                            r.get("caller_label") or "Unknown caller", className="sb-party-name"
                        ),
                        dmc.Text(
                            format_local(r.get("started_at"), viewer.timezone),
                            size="xs",
                            c="dimmed",
                        ),
                    ],
                    className="sb-recent-party",
                ),
                dmc.Text(
                    r.get("transcript") or "Transcript not available yet.",
                    size="sm",
                    className="sb-vm-transcript",
                ),
            ],
            className="sb-vm-home-item",
            **_data_attrs(message_id=str(r["message_id"])),
        )
        for r in (unheard or rows)[:NEWEST_TRANSCRIPTS]
    ]
    return html.Div(
        [
            dmc.Text(headline, fw=600, id="home-messages-count", **_data_attrs(count=str(count))),
            html.Ul(items, className="sb-recent-list", id="home-messages-list"),
        ]
    )


@callback(Output("home-messages", "children"), Input("home-refresh", "n_intervals"))
def refresh_new_messages(_n: int | None) -> Any:
    """The viewer's own New folder (a manager's home shows their box, not the tenant's)."""
    from dash_app.voicemail_view import mailbox_rows

    user = signed_in_user()
    try:
        rows = mailbox_rows(user, user.extension, ("new",))
    except Exception:  # the page must stay usable when the lake cannot be read
        log.exception("new messages for %s", user.login)
        return dmc.Alert("Voicemail is unavailable right now.", color="red", variant="light")
    return new_message_items(rows, user)


# -- status message -------------------------------------------------------------
@callback(
    Output("home-status-feedback", "children"),
    Input("home-status-save", "n_clicks"),
    Input("home-status-input", "n_submit"),
    State("home-status-input", "value"),
    prevent_initial_call=True,
)
def save_status(_clicks: int | None, _submits: int | None, message: str | None) -> Any:
    """Store the viewer's status message (the store enforces the length limit)."""
    user = signed_in_user()
    try:
        with provisioning() as store:
            store.set_status_message(user.id, message or "")
    except ProvisioningError as exc:
        return dmc.Text(str(exc), c="red", size="sm", id="home-status-error")
    return dmc.Text("Saved.", c="green", size="sm", id="home-status-saved")


# -- active answering rule and manual override ------------------------------------------
def _active_rule_box(user: User) -> Any:
    """The active rule (filled by ``refresh_active_rule``) and the override switch."""
    with provisioning() as store:
        extensions = [u.extension for u in store.users(user.tenant_domain)]
    override_form = dmc.Stack(
        [
            dmc.SegmentedControl(
                id="home-override-mode",
                data=[
                    {"value": "forward", "label": "Forward all calls"},
                    {"value": "dnd", "label": "Do not disturb"},
                ],
                value="forward",
                fullWidth=True,
                size="xs",
            ),
            html.Div(
                destination_picker(
                    "home",
                    "override",
                    "Forward all calls to",
                    Destination("voicemail"),
                    optional=False,
                    extensions=[e for e in extensions if e != user.extension],
                ),
                id="home-override-target-box",
            ),
            dmc.Group(
                [
                    dmc.NumberInput(
                        id="home-override-hours",
                        label="For (hours)",
                        value=2,
                        min=1,
                        max=MAX_OVERRIDE_HOURS,
                        w=100,
                    ),
                    dmc.Button("Switch on", id="home-override-on"),
                    dmc.Button(
                        "Cancel override",
                        id="home-override-cancel",
                        variant="light",
                        color="red",
                        disabled=True,
                    ),
                ],
                gap="xs",
                align="flex-end",
            ),
            html.Div(id="home-override-feedback"),
        ],
        gap="xs",
    )
    return dmc.Stack(
        [
            html.Div(dmc.Skeleton(height=48), id="home-rule-active"),
            dmc.Divider(label="Manual override", labelPosition="left"),
            override_form,
        ],
        gap="sm",
    )


def active_rule_summary(
    store: ProvisioningStore, user: User, now: datetime, *, ring_seconds: int
) -> tuple[Any, bool]:
    """What decides the user's calls at ``now`` and until when; and whether it is an override.

    ``ring_seconds`` is the setting ``ring_timeout``: how long the default (no rule) rings.
    """
    inputs = store.routing_inputs(user)
    active = active_rule_at(inputs.rules, inputs.frames, now, inputs.override)
    until = format_until(active.until, user.timezone, now)
    if active.rule is None:
        name, why = "No rule applies", no_rule_behaviour(ring_seconds)
        lines: list[str] = []
    elif active.overridden:
        name, why = "Manual override", "You switched this on."
        lines = describe_rule(active.rule)
    else:
        name = active.rule.name
        why = f"During {active.frame.name}." if active.frame else "Applies at all times."
        lines = describe_rule(active.rule)
    body = html.Div(
        [
            dmc.Group(
                [
                    html.Span(name, className="sb-active-rule-name", id="home-rule-name"),
                    dmc.Badge(
                        until, variant="light", color="indigo", tt="none", id="home-rule-until"
                    ),
                ],
                gap="xs",
            ),
            dmc.Text(why, size="sm", c="dimmed"),
            html.Ul([html.Li(line) for line in lines], className="sb-rule-do", id="home-rule-do"),
        ],
        className="sb-override-on" if active.overridden else "",
        **_data_attrs(overridden="1" if active.overridden else "0"),
    )
    return body, active.overridden


@callback(
    Output("home-rule-active", "children"),
    Output("home-override-cancel", "disabled"),
    Input("home-refresh", "n_intervals"),
    Input("home-rule-version", "data"),
)
def refresh_active_rule(_n: int | None, _version: int | None) -> tuple[Any, bool]:
    """The viewer's active rule now, in their zone (refreshed with the page's timer)."""
    user = signed_in_user()
    ring_seconds = portal().settings.ring_timeout
    with provisioning() as store:
        body, overridden = active_rule_summary(
            store, user, datetime.now(UTC), ring_seconds=ring_seconds
        )
    return body, not overridden


@callback(
    Output("home-override-target-box", "style"),
    Input("home-override-mode", "value"),
)
def show_override_target(mode: str | None) -> dict[str, str]:
    return {} if mode == "forward" else {"display": "none"}


def override_rule(
    user: User, mode: str | None, kind: str | None, target: str | None
) -> AnsweringRule:
    """The rule a manual override applies: forward everything, or do not disturb."""
    if mode == "dnd":
        return AnsweringRule("Do not disturb", 0, dnd=True, fallback=Destination("voicemail"))
    dest = destination_from_form("Forward all calls to", kind, target)
    if dest is None:
        raise RuleError("choose where to forward your calls")
    if dest.kind == "extension" and dest.target == user.extension:
        raise RuleError("forwarding your calls to yourself would loop")
    return AnsweringRule("Forward all calls", 0, forward_always=dest)


@callback(
    Output("home-override-feedback", "children"),
    Output("home-rule-version", "data"),
    Input("home-override-on", "n_clicks"),
    Input("home-override-cancel", "n_clicks"),
    State("home-override-mode", "value"),
    State({"type": "home-dest-kind", "field": "override"}, "value"),
    State({"type": "home-dest-target", "field": "override"}, "value"),
    State("home-override-hours", "value"),
    State("home-rule-version", "data"),
    prevent_initial_call=True,
)
def set_override(
    _on: int | None,
    _cancel: int | None,
    mode: str | None,
    kind: str | None,
    target: str | None,
    hours: Any,
    version: int | None,
) -> tuple[Any, Any]:
    """Switch the viewer's own override on for N hours, or off; then tell the phones."""
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    user = signed_in_user()
    now = datetime.now(UTC)
    cancel = ctx.triggered_id == "home-override-cancel"
    rule: AnsweringRule | None = None
    if not cancel:
        try:
            count = float(hours)
        except (TypeError, ValueError):
            count = 0
        if not 0 < count <= MAX_OVERRIDE_HOURS:
            return _override_error(f"choose 1 to {MAX_OVERRIDE_HOURS} hours"), no_update
        try:
            rule = override_rule(user, mode, kind, target)
        except RuleError as exc:
            return _override_error(str(exc)), no_update
    with provisioning() as store:
        if rule is not None:
            inputs = store.routing_inputs(user)
            extensions = {u.extension for u in store.users(user.tenant_domain)}
            try:
                validate_rule(rule, inputs.frames, extensions)
            except RuleError as exc:
                return _override_error(str(exc).split(": ", 1)[-1]), no_update
        until = now + (timedelta(hours=count) if rule is not None else timedelta(0))
        store.set_override(user, rule, until)
        notice = push_after_edit(store, [user])
    text, _color = saved_message("Override cancelled" if rule is None else "Override on", notice)
    message = dmc.Text(text, c="orange" if notice else "green", size="sm", id="home-override-done")
    return message, (version or 0) + 1


def _override_error(message: str) -> Any:
    text = message[:1].upper() + message[1:]
    return dmc.Text(text, c="red", size="sm", id="home-override-error")
