"""The Voicemail page's Settings tab: greetings, mailbox options and the phone PIN.

The form starts from the mailbox's stored settings; the page's callbacks
save each part on its own (upload, options, PIN), re-checking the mailbox.
While too many wrong PINs by phone keep phone access locked, the PIN section
says until when, with an Unlock button (the owner and managers open this tab).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
from dash import html

from dash_app.auth import portal
from dash_app.greetings import MAX_GREETING_BYTES, largest_upload_bytes, upload_hint
from dash_app.layout import section
from dash_app.upload_limits import AUDIO_ADVICE, sized_upload
from switchboard.store import PinLock
from switchboard.voicemail import GREETING_KINDS

GREETING_LABELS = {"unavailable": "Unavailable", "busy": "Busy", "custom": "Custom"}


def lock_notice(lock: PinLock | None, timezone: str, now: float | None = None) -> Any:
    """Until when wrong PINs keep phone access locked, and Unlock; None while it is open."""
    if lock is None:
        return None
    zone = ZoneInfo(timezone)
    until = datetime.fromtimestamp(lock.locked_until, zone)
    today = datetime.fromtimestamp(now, zone) if now is not None else datetime.now(zone)
    when = (
        f"{until:%H:%M}"
        if until.date() == today.date()
        else f"{until:%b} {until.day}, {until:%H:%M}"
    )
    return dmc.Group(
        [
            dmc.Text(
                f"Phone access locked until {when} after {lock.failures} wrong PINs.",
                c="red",
                size="sm",
                id="voicemail-pin-locked",
            ),
            dmc.Button("Unlock", id="voicemail-pin-unlock", size="xs", variant="light"),
        ],
        gap="sm",
    )


def settings_panel(box: Any, lock: PinLock | None = None, timezone: str = "UTC") -> Any:
    """The tab's three sections, filled from ``box`` (the mailbox's stored settings).

    ``lock``: the phone-access lock, shown in ``timezone`` (the viewer's).
    """
    kinds = [{"value": k, "label": GREETING_LABELS[k]} for k in GREETING_KINDS]
    max_bytes = largest_upload_bytes(portal().settings.portal_max_request_mb, MAX_GREETING_BYTES)
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
                    # a larger file is kept back by the browser: the hint says the limit,
                    # and the zone says so when one is dropped
                    sized_upload(
                        "voicemail-greeting-upload",
                        dmc.Button("Choose audio file…", variant="light"),
                        max_bytes,
                        AUDIO_ADVICE,
                        accept=".mp3,.wav,audio/mpeg,audio/wav",
                    ),
                    dmc.Text(
                        upload_hint(max_bytes),
                        size="xs",
                        c="dimmed",
                        id="voicemail-greeting-upload-limit",
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
            html.Div(lock_notice(lock, timezone), id="voicemail-pin-lock"),
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
