"""Voicemail: your messages with transcripts (tab Messages) and your mailbox (tab Settings).

URL: ``/voicemail?q=<words>&folder=inbox|trash`` — a manager may add
``box=<extension>`` to open a colleague's mailbox; anyone else always gets
their own (:func:`dash_app.voicemail_view.mailbox_for`). Every callback
re-checks the mailbox it is given, so a crafted callback cannot reach another
box either. Audio plays from the guarded route in ``dash_app.media_routes``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, portal, provisioning, signed_in_user
from dash_app.layout import format_duration, format_local, section
from dash_app.voicemail_view import audio_url, mailbox_for, mailbox_rows
from switchboard.store import ProvisioningError, User
from switchboard.voicemail import GREETING_KINDS, greeting_relpath

dash.register_page(
    __name__, path="/voicemail", name="Voicemail", title="Voicemail · Switchboard", order=2
)

log = logging.getLogger(__name__)

FOLDER_VIEWS = {"inbox": ("new", "saved"), "trash": ("trash",)}
GREETING_LABELS = {"unavailable": "Unavailable", "busy": "Busy", "custom": "Custom"}
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
                    dmc.TabsPanel(_settings_panel(box), value="settings", pt="md"),
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
def _action(label: str, action: str, message_id: str, **props: Any) -> dmc.Button:
    return dmc.Button(
        label,
        id={"type": "voicemail-action", "action": action, "message": message_id},
        size="xs",
        variant=props.pop("variant", "light"),
        **props,
    )


def message_item(row: dict[str, Any], viewer: User, colleagues: list[dict[str, str]]) -> html.Li:
    """One message: who, when, how long, the transcript, the player and the actions."""
    mid = str(row["message_id"])
    folder = row["folder"]
    unread = not row["is_read"]
    transcript = row.get("transcript")
    buttons: list[Any] = [
        html.A(
            "Download",
            href=audio_url(mid, download=True),
            className="sb-vm-download",
            id={"type": "voicemail-download", "message": mid},
        ),
        _action(
            "Mark unread" if not unread else "Mark read", "unread" if not unread else "read", mid
        ),
    ]
    if folder == "trash":
        buttons.append(_action("Restore", "restore", mid, color="green"))
    else:
        if folder == "new":
            buttons.append(_action("Save", "save", mid))
        buttons.append(_action("Delete", "delete", mid, color="red"))
        buttons += [
            dmc.Select(
                id={"type": "voicemail-forward-to", "message": mid},
                data=colleagues,
                placeholder="Forward to…",
                size="xs",
                w=150,
                searchable=True,
            ),
            _action("Forward", "forward", mid),
        ]
    meta = [format_local(row.get("started_at"), viewer.timezone)]
    meta.append(format_duration(row.get("duration")))
    if row.get("forwarded_by"):
        meta.append(f"forwarded by {row['forwarded_by']}")
    if row.get("cut_off"):
        meta.append("cut off")
    attrs: dict[str, Any] = {
        "data-message-id": mid,
        "data-folder": folder,
        "data-read": "0" if unread else "1",
    }
    return html.Li(
        [
            dmc.Group(
                [
                    html.Span(
                        row.get("caller_label") or "Unknown caller", className="sb-vm-caller"
                    ),
                    dmc.Badge("New", color="indigo", size="sm") if unread else None,
                    dmc.Text(" · ".join(m for m in meta if m), size="sm", c="dimmed"),
                ],
                gap="xs",
            ),
            html.P(
                transcript if transcript else "Transcript not available yet.",
                className="sb-vm-transcript" + ("" if transcript else " sb-vm-transcript--none"),
            ),
            html.Audio(
                src=audio_url(mid),
                controls=True,
                preload="metadata",
                className="sb-vm-audio",
                id={"type": "voicemail-audio", "message": mid},
            ),
            dmc.Group(buttons, gap="xs", mt="xs"),
        ],
        className="sb-vm-item" + (" sb-vm-item--unread" if unread else ""),
        **attrs,
    )


def message_list(
    rows: list[dict[str, Any]], viewer: User, colleagues: list[dict[str, str]], empty: str
) -> Any:
    if not rows:
        return dmc.Text(empty, size="sm", c="dimmed", id="voicemail-empty")
    items = [message_item(r, viewer, colleagues) for r in rows]
    return html.Ul(items, className="sb-vm-list", id="voicemail-items")


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
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # buttons appearing with a fresh list are not clicks
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
        message = str(exc)
        return _feedback(message[:1].upper() + message[1:], "red"), no_update
    return _feedback(text, "green"), (version or 0) + 1


def _feedback(text: str, color: str) -> Any:
    return dmc.Text(
        text, c=color, size="sm", id="voicemail-error" if color == "red" else "voicemail-done"
    )


# -- settings ---------------------------------------------------------------------------
def _settings_panel(box: Any) -> Any:
    kinds = [{"value": k, "label": GREETING_LABELS[k]} for k in GREETING_KINDS]
    uploaded = ", ".join(GREETING_LABELS[k] for k in box.greetings) or "none yet"
    greetings = dmc.Stack(
        [
            dmc.Text(
                "Upload an MP3 or WAV; it is converted for the phone (8 kHz). Without an"
                " uploaded greeting callers hear a standard prompt.",
                size="sm",
                c="dimmed",
            ),
            dmc.Group(
                [
                    dmc.Select(
                        id="voicemail-greeting-kind",
                        label="Upload as",
                        data=kinds,
                        value="unavailable",
                        w=160,
                    ),
                    dcc.Upload(
                        dmc.Button("Choose audio file…", variant="light"),
                        id="voicemail-greeting-upload",
                        accept=".mp3,.wav,audio/mpeg,audio/wav",
                        max_size=10 * 1024 * 1024,
                    ),
                ],
                align="flex-end",
            ),
            html.Div(id="voicemail-greeting-feedback"),
            dmc.Text(f"Uploaded: {uploaded}", size="sm", id="voicemail-greetings-uploaded"),
        ],
        gap="xs",
    )
    options = dmc.Stack(
        [
            dmc.Select(
                id="voicemail-active-greeting",
                label="Greeting callers hear",
                data=kinds,
                value=box.greeting,
                w=220,
            ),
            dmc.Select(
                id="voicemail-order",
                label="Message order",
                data=[
                    {"value": "newest", "label": "Newest first"},
                    {"value": "oldest", "label": "Oldest first"},
                ],
                value=box.message_order,
                w=220,
            ),
            dmc.Switch(
                id="voicemail-announce",
                label="Announce date and time before each message (phone)",
                checked=box.announce_timestamp,
            ),
            dmc.Switch(
                id="voicemail-email",
                label=f"Email new messages to {box.email_address or 'my address'}",
                checked=box.email_enabled,
            ),
            dmc.Switch(
                id="voicemail-attach",
                label="Attach the audio to the email",
                checked=box.email_attach_audio,
            ),
            dmc.Group([dmc.Button("Save settings", id="voicemail-settings-save")]),
            html.Div(id="voicemail-settings-feedback"),
        ],
        gap="sm",
    )
    pin = dmc.Stack(
        [
            dmc.Text(
                "Used when you call the voicemail access code from a phone."
                + ("" if box.has_pin else " No PIN is set yet: phone access is closed."),
                size="sm",
                c="dimmed",
            ),
            dmc.Group(
                [
                    dmc.PasswordInput(id="voicemail-pin", label="New PIN", w=160),
                    dmc.PasswordInput(id="voicemail-pin-repeat", label="Repeat", w=160),
                    dmc.Button("Change PIN", id="voicemail-pin-save"),
                ],
                align="flex-end",
            ),
            html.Div(id="voicemail-pin-feedback"),
        ],
        gap="xs",
    )
    return dmc.SimpleGrid(
        [
            section("Greetings", greetings, id_prefix="voicemail-greetings"),
            section("Mailbox", options, id_prefix="voicemail-options"),
            section("PIN", pin, id_prefix="voicemail-pin"),
        ],
        cols={"base": 1, "lg": 2},
    )


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
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return _greeting_error(REFUSED.format(name=filename or "the file"))
    rel = greeting_relpath(user.tenant_domain, mailbox, kind)
    try:
        seconds = convert_greeting(data, filename or "", portal().settings.data_dir / rel)
    except GreetingError as exc:
        return _greeting_error(str(exc))
    with provisioning() as store:
        store.set_greeting(user.tenant_domain, mailbox, kind, rel)
    return dmc.Text(
        f"{GREETING_LABELS[kind]} greeting saved ({seconds:.1f} s).",
        c="green",
        size="sm",
        id="voicemail-greeting-saved",
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
        text = str(exc)
        return dmc.Text(
            text[:1].upper() + text[1:], c="red", size="sm", id="voicemail-settings-error"
        )
    return dmc.Text("Settings saved.", c="green", size="sm", id="voicemail-settings-saved")


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
        text = str(exc)
        return _pin_error(text[:1].upper() + text[1:]), "", ""
    return dmc.Text("PIN changed.", c="green", size="sm", id="voicemail-pin-saved"), "", ""


def _pin_error(text: str) -> Any:
    return dmc.Text(text, c="red", size="sm", id="voicemail-pin-error")
