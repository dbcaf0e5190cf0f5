"""Users (managers only): the company's people, their roles, passwords and phones' credentials.

Add, edit, disable/enable, remove (with what happens to mailbox, rules and
history stated first), reset a password (a one-time password shown once),
set a SIP password (generated, shown once), import a CSV (preview with each
line's errors; Confirm re-checks the file and adds all rows or none) and
export the list (``/download/users.csv``).

Every callback asks again that the viewer is a manager, and looks users up
only inside the manager's tenant: an extension sent by a browser names
nobody elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app import users_import  # noqa: F401  (registers the import section's callbacks)
from dash_app.auth import portal, provisioning
from dash_app.editing import alert, close_on_cancel, require_click
from dash_app.layout import section
from dash_app.page_shell import manager_page_viewer, signed_in_manager
from dash_app.push import push_after_edit, saved_banner
from dash_app.users_downloads import USERS_CSV_PATH
from dash_app.users_view import (
    COMPANY_ZONE,
    DEFAULT_CALLER_ID,
    FEEDBACK,
    KEEP,
    MANAGERS_ONLY,
    caller_id_options,
    credentials_notice,
    import_section,
    matches,
    removal_dialog,
    removal_text,
    reset_email_note,
    user_editor,
    user_table,
    zone_options,
)
from switchboard.store import ProvisioningError, User
from switchboard.store.user_admin import generated_sip_password, one_time_code

dash.register_page(
    __name__,
    path="/users",
    name="Users",
    title="Users · Switchboard",
    order=6,
    roles=("manager",),  # read by the shell's navigation
)

log = logging.getLogger(__name__)

close_on_cancel("users-editor", "users-cancel")
close_on_cancel("users-remove-modal", "users-remove-cancel")


def layout(**query: str) -> Any:
    """The list, its search and buttons; a non-manager is told the page is not theirs."""
    user = manager_page_viewer("users", "Users")
    if not isinstance(user, User):
        return user
    toolbar = dmc.Group(
        [
            dmc.TextInput(
                id="users-search",
                placeholder="Search extension, name, email or role",
                value=query.get("q", ""),
                debounce=300,
                style={"flex": 1},
            ),
            dmc.Button("Add user", id="users-add-open"),
            dmc.Anchor(
                dmc.Button("Export CSV", variant="light"),
                href=USERS_CSV_PATH,
                id="users-export",
                target="_blank",
            ),
        ],
        align="flex-end",
    )
    return dmc.Stack(
        [
            html.Div(
                [
                    dmc.Title("Users", order=2, id="users-title"),
                    dmc.Text("The people of your company, their roles and passwords.", c="dimmed"),
                ]
            ),
            html.Div(id=FEEDBACK),
            section(
                "People",
                html.Div([toolbar, html.Div(id="users-list", style={"marginTop": 12})]),
                id_prefix="users-people",
            ),
            section("Import users", import_section(), id_prefix="users-import"),
            dcc.Store(id="users-version", data=0),
            dcc.Store(id="users-editing", data=None),
            dcc.Store(id="users-removing", data=None),
            user_editor(),
            removal_dialog(),
        ],
        gap="lg",
    )


def _bump(version: int | None) -> int:
    return (version or 0) + 1


def _refused(exc: Exception) -> Any:
    return alert(str(exc), alert_id="users-error")


# -- the list --------------------------------------------------------------------------------
@callback(
    Output("users-list", "children"),
    Input("users-version", "data"),
    Input("users-search", "value"),
)
def refresh_users(_version: int | None, search: str | None) -> Any:
    """The manager's tenant's users matching the search."""
    user = signed_in_manager(MANAGERS_ONLY)
    with provisioning() as store:
        users = [u for u in store.users(user.tenant_domain) if matches(u, search)]
    return user_table(users, user)


# -- add and edit ------------------------------------------------------------------------------
@callback(
    Output("users-editor", "opened"),
    Output("users-editing", "data"),
    Output("users-editor", "title"),
    Output("users-ext", "value"),
    Output("users-ext", "disabled"),
    Output("users-name", "value"),
    Output("users-email", "value"),
    Output("users-role", "value"),
    Output("users-timezone", "data"),
    Output("users-timezone", "value"),
    Output("users-callerids", "data"),
    Output("users-callerids", "value"),
    Output("users-callerid", "value"),
    Output("users-editor-alert", "children"),
    Input("users-add-open", "n_clicks"),
    Input({"type": "users-edit", "ext": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_editor(_add: int | None, _edits: list[int | None]) -> tuple[Any, ...]:
    """An empty form to add a user, or the chosen user's values (from the manager's tenant)."""
    require_click()
    manager = signed_in_manager(MANAGERS_ONLY)
    trigger = ctx.triggered_id
    with provisioning() as store:
        tenant = store.tenant(manager.tenant_domain)
        numbers = [
            {"value": d.number, "label": f"{d.number} ({d.name})"}
            for d in store.dids(tenant.domain)
        ]
        zones = zone_options(tenant.timezone)
        if trigger == "users-add-open":
            return (
                True,
                None,
                "Add a user",
                "",
                False,
                "",
                "",
                "user",
                zones,
                COMPANY_ZONE,
                numbers,
                [],
                DEFAULT_CALLER_ID,
                None,
            )
        target = store.user(tenant.domain, str(trigger["ext"]))
        own_zone = store.own_timezone(target)
        allowed = [d.number for d in store.allowed_caller_ids(target)]
    return (
        True,
        target.extension,
        f"Edit {target.name}",
        target.extension,
        True,
        target.name,
        target.email,
        target.role,
        zones,
        own_zone or COMPANY_ZONE,
        numbers,
        allowed,
        target.caller_id or DEFAULT_CALLER_ID,
        None,
    )


@callback(
    Output("users-callerid", "data"),
    Output("users-callerid", "value", allow_duplicate=True),
    Input("users-callerids", "value"),
    State("users-callerids", "data"),
    State("users-callerid", "value"),
    prevent_initial_call=True,
)
def offer_caller_ids(
    allowed: list[str] | None, numbers: list[dict[str, str]] | None, chosen: str | None
) -> tuple[Any, ...]:
    """The caller-ID choice follows the numbers allowed (a withdrawn one falls back)."""
    names = {n["value"]: n["label"] for n in numbers or []}
    picked = [(n, names.get(n, n).removeprefix(f"{n} (").removesuffix(")")) for n in allowed or []]
    keep = chosen if chosen in dict(picked) else DEFAULT_CALLER_ID
    return caller_id_options(picked, "Default (their extension)"), keep


@callback(
    Output(FEEDBACK, "children", allow_duplicate=True),
    Output("users-version", "data", allow_duplicate=True),
    Output("users-editor", "opened", allow_duplicate=True),
    Output("users-editor-alert", "children", allow_duplicate=True),
    Input("users-save", "n_clicks"),
    State("users-editing", "data"),
    State("users-ext", "value"),
    State("users-name", "value"),
    State("users-email", "value"),
    State("users-role", "value"),
    State("users-timezone", "value"),
    State("users-callerids", "value"),
    State("users-callerid", "value"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def save_user(
    clicks: int | None,
    editing: str | None,
    ext: str | None,
    name: str | None,
    email: str | None,
    role: str | None,
    zone: str | None,
    caller_ids: list[str] | None,
    caller_id: str | None,
    version: int | None,
) -> tuple[Any, ...]:
    """Add (one-time and SIP passwords shown once) or save the edit; then push the routing.

    The caller ID is set as Profile sets it (``set_caller_id``: only among the
    numbers just allowed), and pushed at once: Kamailio reads it from the decision.
    """
    if not clicks:
        raise PreventUpdate
    manager = signed_in_manager(MANAGERS_ONLY)
    settings = portal().settings
    timezone = "" if not zone or zone == COMPANY_ZONE else zone
    one_time = sip = None
    try:
        with provisioning() as store:
            if editing is None:
                one_time, sip = one_time_code(), generated_sip_password()
                target = store.add_user(
                    tenant=manager.tenant_domain,
                    extension=(ext or "").strip(),
                    name=name or "",
                    email=email or "",
                    password=one_time,
                    sip_password=sip,
                    role=role or "user",
                    timezone=timezone or None,
                    one_time_hours=settings.one_time_password_hours,
                )
            else:
                target = store.update_user(
                    manager.tenant_domain,
                    str(editing),
                    name=name or "",
                    email=email or "",
                    role=role or "user",
                    timezone=timezone,
                )
            target = store.set_allowed_caller_ids(target, list(caller_ids or []))
            number = "" if not caller_id or caller_id == DEFAULT_CALLER_ID else str(caller_id)
            target = store.set_caller_id(target, number)
            caveat = push_after_edit(store, [target])
    except ProvisioningError as exc:
        return no_update, no_update, no_update, _refused(exc)
    if one_time:
        banner = credentials_notice(target.extension, one_time, sip, alert_id="users-added")
    else:
        banner = saved_banner(f"Saved {target.name}", caveat, alert_id="users-saved")
    return banner, _bump(version), False, None


# -- disable/enable, passwords -----------------------------------------------------------------
@callback(
    Output(FEEDBACK, "children", allow_duplicate=True),
    Output("users-version", "data", allow_duplicate=True),
    Input({"type": "users-toggle", "ext": ALL}, "n_clicks"),
    Input({"type": "users-reset", "ext": ALL}, "n_clicks"),
    Input({"type": "users-sip", "ext": ALL}, "n_clicks"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def user_action(
    _toggles: list[Any], _resets: list[Any], _sips: list[Any], version: int | None
) -> tuple[Any, ...]:
    """Disable or enable, a one-time password, or a new SIP password, for one user."""
    require_click()
    manager = signed_in_manager(MANAGERS_ONLY)
    settings = portal().settings
    kind, ext = ctx.triggered_id["type"], str(ctx.triggered_id["ext"])
    try:
        with provisioning() as store:
            target = store.user(manager.tenant_domain, ext)
            if kind == "users-toggle":
                target = store.set_user_disabled(target.tenant_domain, ext, not target.disabled)
                if target.disabled:
                    _forget(settings, target)
                    banner = alert(
                        f"{target.name} is disabled: no sign-in, phones refused",
                        color="orange",
                        alert_id="users-disabled",
                    )
                else:
                    caveat = push_after_edit(store, [target])
                    banner = saved_banner(
                        f"{target.name} is enabled again", caveat, alert_id="users-enabled"
                    )
            elif kind == "users-reset":
                hours = settings.one_time_password_hours
                code = store.reset_password(target.tenant_domain, ext, hours=hours)
                banner = None  # emailed below, outside the store's lock: SMTP may be slow
            else:
                secret = store.set_sip_password(target.tenant_domain, ext)
                banner = credentials_notice(ext, None, secret, alert_id="users-sip-done")
    except ProvisioningError as exc:
        return _refused(exc), no_update
    if banner is None:
        note = reset_email_note(settings, target, code, hours)
        banner = credentials_notice(ext, code, None, alert_id="users-reset-done", note=note)
    return banner, _bump(version)


def _forget(settings: Any, target: User, *, removed: bool = False) -> None:
    """Drop the user's registrations (and decision) from the running Kamailio."""
    from kamailio.user_state import forget_user  # lazy: only these actions need it

    forget_user(settings, target.tenant_domain, target.extension, removed=removed)


# -- remove ------------------------------------------------------------------------------------
@callback(
    Output("users-remove-modal", "opened"),
    Output("users-removing", "data"),
    Output("users-remove-text", "children"),
    Output("users-remove-heir", "data"),
    Output("users-remove-heir", "value"),
    Output("users-remove-alert", "children"),
    Input({"type": "users-remove", "ext": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_removal(_clicks: list[Any]) -> tuple[Any, ...]:
    """The removal dialog: its consequences, and where the mailbox goes."""
    require_click()
    manager = signed_in_manager(MANAGERS_ONLY)
    keep_days = portal().settings.removed_mailbox_keep_days
    with provisioning() as store:
        target = store.user(manager.tenant_domain, str(ctx.triggered_id["ext"]))
        others = [u for u in store.users(manager.tenant_domain) if u.id != target.id]
    text, choices = removal_text(target, keep_days)
    choices += [
        {"value": u.extension, "label": f"Move to {u.extension} ({u.name})"} for u in others
    ]
    return True, target.extension, text, choices, KEEP, None


@callback(
    Output(FEEDBACK, "children", allow_duplicate=True),
    Output("users-version", "data", allow_duplicate=True),
    Output("users-remove-modal", "opened", allow_duplicate=True),
    Output("users-remove-alert", "children", allow_duplicate=True),
    Input("users-remove-confirm", "n_clicks"),
    State("users-removing", "data"),
    State("users-remove-heir", "value"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def remove_user(
    clicks: int | None, ext: str | None, heir: str | None, version: int | None
) -> tuple[Any, ...]:
    """Remove the user (refused for the only manager, or while calls are still sent there)."""
    if not clicks or not ext:
        raise PreventUpdate
    manager = signed_in_manager(MANAGERS_ONLY)
    settings = portal().settings
    try:
        with provisioning() as store:
            target = store.user(manager.tenant_domain, str(ext))
            removal = store.remove_user(
                manager.tenant_domain,
                target.extension,
                keep_days=settings.removed_mailbox_keep_days,
                reassign_mailbox_to=None if not heir or heir == KEEP else str(heir),
                removed_by=manager,
            )
    except ProvisioningError as exc:
        return no_update, no_update, no_update, _refused(exc)
    _forget(settings, target, removed=True)
    text = f"Removed {target.name}: mailbox {removal.mailbox}; call history kept"
    return alert(text, color="green", alert_id="users-removed"), _bump(version), False, None
