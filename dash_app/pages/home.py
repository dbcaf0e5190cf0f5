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

import dash
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.auth import open_calls, optional_user, portal, provisioning, signed_in_user
from dash_app.destinations import register_target_hints
from dash_app.editing import require_click
from dash_app.home_cards import colleague_rows, new_message_items, phone_items, recent_call_items
from dash_app.home_override import (
    MAX_OVERRIDE_HOURS,
    active_rule_box,
    active_rule_summary,
    override_error,
    override_rule,
)
from dash_app.layout import section
from dash_app.push import push_after_edit, saved_message
from dash_app.query_slots import QueryBusy, busy_notice
from dash_app.recordings_live import live_call_card
from switchboard.rules import AnsweringRule, RuleError
from switchboard.store import ProvisioningError

dash.register_page(__name__, path="/", name="Home", title="Home · Switchboard", order=0)

log = logging.getLogger(__name__)

RECENT_CALLS = 10
REFRESH_MS = 20_000

register_target_hints("home")


def layout(**query: str) -> Any:
    """The home page frame; sections are filled by the callbacks below."""
    user = optional_user()
    if user is None:  # only reachable if Dash calls layouts outside a session
        return html.Div()
    with provisioning() as store:
        extensions = [u.extension for u in store.users(user.tenant_domain)]
        rules = store.routing_inputs(user).rules
        shown = set(store.home_sections(user.id))  # the user's choice (Profile page)

    def visible(name: str) -> dict[str, str]:
        # hidden, not left out: each section's callback still finds its component
        return {} if name in shown else {"display": "none"}

    def wide(name: str, card: Any) -> Any:
        """A card of the grid's left column (7 of 12 on a large screen)."""
        return dmc.GridCol(card, span={"base": 12, "lg": 7}, style=visible(name))

    def narrow(*cards: tuple[str, Any]) -> Any:
        """Cards stacked in the grid's right column (5 of 12), each hidden on its own."""
        stacked = [html.Div(card, style=visible(name)) for name, card in cards]
        return dmc.GridCol(dmc.Stack(stacked), span={"base": 12, "lg": 5})

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
            live_call_card(),  # the call in progress, Record for on-demand recording
            dmc.Grid(
                [
                    wide(
                        "recent",
                        section(
                            "Recent Call History",
                            html.Div(loading, id="home-recent-calls"),
                            id_prefix="home-recent",
                            extra=dmc.Anchor("View all", href="/calls", size="sm"),
                        ),
                    ),
                    narrow(
                        (
                            "phones",
                            section(
                                "Active Phones",
                                html.Div(loading, id="home-phones"),
                                id_prefix="home-phones",
                            ),
                        ),
                        ("status", section("Status Message", status_box, id_prefix="home-status")),
                    ),
                    wide(
                        "colleagues",
                        section(
                            "Colleagues",
                            html.Div(loading, id="home-colleagues"),
                            id_prefix="home-colleagues",
                        ),
                    ),
                    narrow(
                        (
                            "messages",
                            section(
                                "New Messages",
                                html.Div(loading, id="home-messages"),
                                id_prefix="home-messages",
                                extra=dmc.Anchor("Open voicemail", href="/voicemail", size="sm"),
                            ),
                        ),
                        (
                            "rule",
                            section(
                                "Active Answering Rule",
                                active_rule_box(user, extensions, rules),
                                id_prefix="home-rule",
                                extra=dmc.Anchor("Edit rules", href="/rules", size="sm"),
                            ),
                        ),
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
@callback(Output("home-recent-calls", "children"), Input("home-refresh", "n_intervals"))
def refresh_recent_calls(_n: int | None) -> Any:
    """The viewer's own latest calls; a manager's home shows their phone, not the tenant."""
    from pipeline.filters import CallFilter
    from pipeline.history import recent_calls

    user = signed_in_user()
    try:
        conn = open_calls(user, own_calls_only=True)
        try:
            # newest first, no total: the newest days answer it (pipeline.history.page_rows)
            rows = recent_calls(conn, CallFilter(timezone=user.timezone), limit=RECENT_CALLS)
        finally:
            conn.close()
    except QueryBusy as exc:  # the user's other requests hold their slots: not a fault
        return busy_notice(exc)
    except Exception:  # the page must stay usable when the lake cannot be read
        log.exception("recent calls for %s", user.login)
        return dmc.Alert("Call history is unavailable right now.", color="red", variant="light")
    return recent_call_items(rows, user)


# -- active phones --------------------------------------------------------------
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


# -- colleagues -----------------------------------------------------------------
@callback(Output("home-colleagues", "children"), Input("home-refresh", "n_intervals"))
def refresh_colleagues(_n: int | None) -> Any:
    """Colleagues of the viewer's tenant only (the store query is tenant-bound)."""
    user = signed_in_user()
    with provisioning() as store:
        users = store.users(user.tenant_domain)
    return colleague_rows(users, user)


# -- new messages ---------------------------------------------------------------
@callback(Output("home-messages", "children"), Input("home-refresh", "n_intervals"))
def refresh_new_messages(_n: int | None) -> Any:
    """The viewer's own New folder (a manager's home shows their box, not the tenant's)."""
    from dash_app.voicemail_view import mailbox_rows

    user = signed_in_user()
    try:
        rows = mailbox_rows(user, user.extension, ("new",))
    except QueryBusy as exc:  # the user's other requests hold their slots: not a fault
        return busy_notice(exc)
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
    Output("home-override-rule-box", "style"),
    Input("home-override-mode", "value"),
)
def show_override_target(mode: str | None) -> tuple[dict[str, str], dict[str, str]]:
    hidden = {"display": "none"}
    return ({} if mode == "forward" else hidden), ({} if mode == "rule" else hidden)


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
    State("home-override-rule", "value"),
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
    rule_id: str | None = None,
) -> tuple[Any, Any]:
    """Switch the viewer's own override on for N hours, or off; then tell the phones."""
    require_click()
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
            return override_error(f"choose 1 to {MAX_OVERRIDE_HOURS} hours"), no_update
        with provisioning() as store:  # the viewer's own rules, never ids from elsewhere
            saved = store.routing_inputs(user).rules if mode == "rule" else []
        try:
            rule = override_rule(user, mode, kind, target, saved, rule_id)
        except RuleError as exc:
            return override_error(str(exc)), no_update
    with provisioning() as store:
        until = now + (timedelta(hours=count) if rule is not None else timedelta(0))
        try:  # the store checks the rule (frames, extensions, loops) before it saves
            store.set_override(user, rule, until)
        except ProvisioningError as exc:
            named = f"rule {rule.name!r}: " if rule is not None else ""
            return override_error(str(exc).removeprefix(named)), no_update
        notice = push_after_edit(store, [user])
    text, _color = saved_message("Override cancelled" if rule is None else "Override on", notice)
    message = dmc.Text(text, c="orange" if notice else "green", size="sm", id="home-override-done")
    return message, (version or 0) + 1
