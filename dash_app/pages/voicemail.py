"""Voicemail: your messages with transcripts (tab Messages) and your mailbox (tab Settings).

URL: ``/voicemail?q=<words>&folder=inbox|trash`` — a manager may add
``box=<extension>`` to open a colleague's mailbox; anyone else always gets
their own (:func:`dash_app.voicemail_view.mailbox_for`). Every callback
re-checks the mailbox it is given, so a crafted callback cannot reach another
box either. Audio plays from the guarded route in ``dash_app.media_routes``.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.audit_trail import client_address
from dash_app.auth import optional_user, portal, provisioning, signed_in_user
from dash_app.editing import require_click, sentence
from dash_app.query_slots import QueryBusy, busy_notice
from dash_app.uploads import decode_upload
from dash_app.voicemail_messages import message_list
from dash_app.voicemail_settings import GREETING_LABELS, settings_panel
from dash_app.voicemail_view import mailbox_for, mailbox_rows
from switchboard.store import ProvisioningError
from switchboard.store.access_log import Access, Actor
from switchboard.voicemail import GREETING_KINDS, greeting_relpath

dash.register_page(
    __name__, path="/voicemail", name="Voicemail", title="Voicemail · Switchboard", order=2
)

log = logging.getLogger(__name__)

FOLDER_VIEWS = {"inbox": ("new", "saved"), "trash": ("trash",)}
ACTIONS = ("read", "unread", "save", "delete", "restore", "forward")
REFRESH_MS = 30_000


def layout(**query: str) -> Any:
    """The page frame for the mailbox the viewer may open; lists fill from callbacks."""
    user = optional_user()
    if user is None:
        return html.Div()
    try:
        mailbox = mailbox_for(user, query.get("box"))
    except PermissionError:
        mailbox = user.extension
    folder = query.get("folder") if query.get("folder") in FOLDER_VIEWS else "inbox"
    with provisioning() as store:
        owner = store.user(user.tenant_domain, mailbox)
        box = store.mailbox_settings(user.tenant_domain, mailbox)
        lock = store.pin_lock(user.tenant_domain, mailbox)
    subtitle = (
        f"Your mailbox, extension {mailbox}"
        if mailbox == user.extension
        else f"Mailbox of {owner.name}, extension {mailbox}"
    )
    messages = dmc.Stack(
        [
            dmc.Group(
                [
                    dmc.TextInput(
                        id="voicemail-search",
                        placeholder="Search transcripts…",
                        value=query.get("q", ""),
                        debounce=400,
                        style={"flex": 1},
                    ),
                    dmc.SegmentedControl(
                        id="voicemail-folder",
                        data=[
                            {"value": "inbox", "label": "Inbox"},
                            {"value": "trash", "label": "Trash"},
                        ],
                        value=folder,
                    ),
                ],
                gap="sm",
            ),
            html.Div(id="voicemail-feedback"),
            html.Div(dmc.Skeleton(height=120), id="voicemail-list"),
        ],
        gap="sm",
    )
    return dmc.Stack(
        [
            dmc.Group(
                [
                    dmc.Title("Voicemail", order=2),
                    dmc.Text(subtitle, c="dimmed", id="voicemail-subtitle"),
                ],
                align="baseline",
            ),
            dmc.Tabs(
                [
                    dmc.TabsList(
                        [
                            dmc.TabsTab("Messages", value="messages", id="voicemail-tab-messages"),
                            dmc.TabsTab("Settings", value="settings", id="voicemail-tab-settings"),
                        ]
                    ),
                    dmc.TabsPanel(messages, value="messages", pt="md"),
                    dmc.TabsPanel(
                        settings_panel(box, lock, user.timezone), value="settings", pt="md"
                    ),
                ],
                value="messages",
                id="voicemail-tabs",
            ),
            dcc.Store(id="voicemail-box", data=mailbox),
            dcc.Store(id="voicemail-version", data=0),
            dcc.Interval(id="voicemail-refresh", interval=REFRESH_MS),
        ],
        gap="lg",
    )


# -- messages ---------------------------------------------------------------------------
@callback(
    Output("voicemail-list", "children"),
    Input("voicemail-refresh", "n_intervals"),
    Input("voicemail-version", "data"),
    Input("voicemail-search", "value"),
    Input("voicemail-folder", "value"),
    State("voicemail-box", "data"),
)
def refresh_messages(
    _n: int | None, _version: int | None, search: str | None, folder: str | None, box: str | None
) -> Any:
    """The mailbox's messages in the chosen folder, filtered by the transcript search."""
    user = signed_in_user()
    try:
        mailbox = mailbox_for(user, box)
    except PermissionError as exc:
        return dmc.Alert(str(exc), color="red", variant="light", id="voicemail-denied")
    folders = FOLDER_VIEWS.get(folder or "inbox", FOLDER_VIEWS["inbox"])
    try:
        rows = mailbox_rows(user, mailbox, folders, search)
    except PermissionError as exc:
        return dmc.Alert(str(exc), color="red", variant="light", id="voicemail-denied")
    except QueryBusy as exc:  # the user's other requests hold their slots: not a fault
        return busy_notice(exc)
    except Exception:  # the page must stay usable when the lake cannot be read
        log.exception("voicemail list for %s", user.login)
        return dmc.Alert("Voicemail is unavailable right now.", color="red", variant="light")
    with provisioning() as store:
        colleagues = [
            {"value": u.extension, "label": f"{u.extension} · {u.name}"}
            for u in store.users(user.tenant_domain)
            if u.extension != mailbox
        ]
    if search and search.strip():
        empty = "No message matches your search."
    elif folder == "trash":
        empty = "The trash is empty. Deleted messages stay here for 30 days."
    else:
        empty = "No messages."
    return message_list(rows, user, colleagues, empty)


@callback(
    Output("voicemail-feedback", "children"),
    Output("voicemail-version", "data"),
    Input({"type": "voicemail-action", "action": ALL, "message": ALL}, "n_clicks"),
    State({"type": "voicemail-forward-to", "message": ALL}, "value"),
    State({"type": "voicemail-forward-to", "message": ALL}, "id"),
    State("voicemail-box", "data"),
    State("voicemail-version", "data"),
    prevent_initial_call=True,
)
def act_on_message(
    _clicks: list[int | None],
    forward_values: list[str | None],
    forward_ids: list[dict[str, str]],
    box: str | None,
    version: int | None,
) -> tuple[Any, Any]:
    """Read/unread, save, delete, restore or forward one message of the open mailbox."""
    require_click()
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or trigger.get("action") not in ACTIONS:
        raise PreventUpdate
    user = signed_in_user()
    try:
        mailbox = mailbox_for(user, box)
    except PermissionError as exc:
        return _feedback(str(exc), "red"), no_update
    action, mid = trigger["action"], str(trigger["message"])
    tenant = user.tenant_domain
    try:
        with provisioning() as store:
            if action in ("read", "unread"):
                store.mark_read(tenant, mailbox, mid, action == "read")
                text = "Marked as read." if action == "read" else "Marked as unread."
            elif action == "save":
                store.set_message_folder(tenant, mailbox, mid, "saved")
                text = "Moved to saved."
            elif action == "delete":
                store.set_message_folder(tenant, mailbox, mid, "trash")
                access = Access("voicemail", mid, "delete", f"mailbox {mailbox}", client_address())
                store.log_access(Actor.of(user), access)  # in the audit trail (issue 13)
                text = "Moved to the trash; you can restore it for 30 days."
            elif action == "restore":
                store.restore_message(tenant, mailbox, mid)
                text = "Restored."
            else:
                targets = {
                    i["message"]: v for i, v in zip(forward_ids, forward_values, strict=False)
                }
                to = targets.get(mid)
                if not to:
                    return _feedback("Choose who to forward the message to.", "red"), no_update
                copy = store.forward_message(tenant, mailbox, mid, to)
                text = f"Forwarded to extension {copy.mailbox}."
    except ProvisioningError as exc:
        return _feedback(sentence(str(exc)), "red"), no_update
    return _feedback(text, "green"), (version or 0) + 1


def _note(text: str, note_id: str, color: str = "green") -> Any:
    """A one-line outcome under a form: red refuses, green confirms; tests look for its id."""
    return dmc.Text(text, c=color, size="sm", id=note_id)


def _feedback(text: str, color: str) -> Any:
    return _note(text, "voicemail-error" if color == "red" else "voicemail-done", color)


# -- settings ---------------------------------------------------------------------------
@callback(
    Output("voicemail-greeting-feedback", "children"),
    Input("voicemail-greeting-upload", "contents"),
    State("voicemail-greeting-upload", "filename"),
    State("voicemail-greeting-kind", "value"),
    State("voicemail-box", "data"),
    prevent_initial_call=True,
)
def upload_greeting(
    contents: str | None, filename: str | None, kind: str | None, box: str | None
) -> Any:
    """Convert an uploaded MP3/WAV into the mailbox's greeting of ``kind``."""
    from dash_app.greetings import REFUSED, GreetingError, convert_greeting

    if not contents:
        raise PreventUpdate
    user = signed_in_user()
    try:
        mailbox = mailbox_for(user, box)
    except PermissionError as exc:
        return _greeting_error(str(exc))
    if kind not in GREETING_KINDS:
        return _greeting_error("Choose which greeting the file is for.")
    data = decode_upload(contents)
    if not data:
        return _greeting_error(REFUSED.format(name=filename or "the file"))
    rel = greeting_relpath(user.tenant_domain, mailbox, kind)
    try:
        seconds = convert_greeting(data, filename or "", portal().settings.data_dir / rel)
    except GreetingError as exc:
        return _greeting_error(str(exc))
    with provisioning() as store:
        store.set_greeting(user.tenant_domain, mailbox, kind, rel)
    return _note(
        f"{GREETING_LABELS[kind]} greeting saved ({seconds:.1f} s).", "voicemail-greeting-saved"
    )


def _greeting_error(text: str) -> Any:
    return dmc.Alert(text, color="red", variant="light", id="voicemail-greeting-error")


@callback(
    Output("voicemail-settings-feedback", "children"),
    Input("voicemail-settings-save", "n_clicks"),
    State("voicemail-active-greeting", "value"),
    State("voicemail-order", "value"),
    State("voicemail-announce", "checked"),
    State("voicemail-email", "checked"),
    State("voicemail-attach", "checked"),
    State("voicemail-box", "data"),
    prevent_initial_call=True,
)
def save_settings(
    clicks: int | None,
    greeting: str | None,
    order: str | None,
    announce: bool | None,
    email: bool | None,
    attach: bool | None,
    box: str | None,
) -> Any:
    """Store the mailbox options (the store validates each value)."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    try:
        mailbox = mailbox_for(user, box)
        with provisioning() as store:
            store.update_mailbox_settings(
                user.tenant_domain,
                mailbox,
                greeting=greeting,
                message_order=order,
                announce_timestamp=bool(announce),
                email_enabled=bool(email),
                email_attach_audio=bool(attach),
            )
    except (PermissionError, ProvisioningError) as exc:
        return _note(sentence(str(exc)), "voicemail-settings-error", "red")
    return _note("Settings saved.", "voicemail-settings-saved")


@callback(
    Output("voicemail-pin-feedback", "children"),
    Output("voicemail-pin", "value"),
    Output("voicemail-pin-repeat", "value"),
    Input("voicemail-pin-save", "n_clicks"),
    State("voicemail-pin", "value"),
    State("voicemail-pin-repeat", "value"),
    State("voicemail-box", "data"),
    prevent_initial_call=True,
)
def change_pin(
    clicks: int | None, pin: str | None, repeat: str | None, box: str | None
) -> tuple[Any, str, str]:
    """Set a new phone PIN (stored as an argon2 hash); the fields are cleared either way."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    if (pin or "") != (repeat or ""):
        return _pin_error("The two PINs differ."), "", ""
    try:
        mailbox = mailbox_for(user, box)
        with provisioning() as store:
            store.set_voicemail_pin(user.tenant_domain, mailbox, pin or "")
    except (PermissionError, ProvisioningError) as exc:
        return _pin_error(sentence(str(exc))), "", ""
    return _note("PIN changed.", "voicemail-pin-saved"), "", ""


def _pin_error(text: str) -> Any:
    return _note(text, "voicemail-pin-error", "red")


@callback(
    Output("voicemail-pin-lock", "children"),
    Input("voicemail-pin-unlock", "n_clicks"),
    State("voicemail-box", "data"),
    prevent_initial_call=True,
)
def unlock_phone_access(clicks: int | None, box: str | None) -> Any:
    """Lift the lock wrong PINs put on phone access (owner or manager: ``mailbox_for``)."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    try:
        mailbox = mailbox_for(user, box)
        with provisioning() as store:
            store.unlock_pin(user.tenant_domain, mailbox)
    except (PermissionError, ProvisioningError) as exc:
        return _pin_error(sentence(str(exc)))
    return _note("Phone access unlocked.", "voicemail-pin-unlocked")
