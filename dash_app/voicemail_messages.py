"""The Voicemail page's message list: who, when, how long, the transcript, the player, the actions.

Each action button carries ``{"type": "voicemail-action", "action": …,
"message": <id>}``; the page's ``act_on_message`` re-checks the mailbox
before doing any of them. Audio plays from the guarded route of
``dash_app.media_routes`` (:func:`dash_app.voicemail_view.audio_url`).
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.layout import format_duration, format_local
from dash_app.voicemail_view import audio_url
from pipeline.transcription_decoding import LOW_CONFIDENCE_NOTE, is_low_confidence, language_name
from switchboard.store import User


def _action(label: str, action: str, message_id: str, **props: Any) -> dmc.Button:
    """A small button that asks the page to do ``action`` to one message."""
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
    language = row.get("language")
    if transcript and language and language != "en":
        meta.append(f"language: {language_name(language)}")
    doubtful = bool(transcript) and is_low_confidence(
        row.get("avg_logprob"), row.get("no_speech_prob")
    )
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
            dmc.Text(
                LOW_CONFIDENCE_NOTE,
                size="xs",
                c="orange",
                className="sb-vm-transcript-doubtful",
                id={"type": "voicemail-doubtful", "message": mid},
            )
            if doubtful
            else None,
            html.Audio(
                src=audio_url(mid),
                controls=True,
                # Not even metadata until the listener presses play: every fetch of the
                # audio is a "play" in the audit trail, and a listing is not one.
                preload="none",
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
    """The messages in the order given, or ``empty`` when there is none."""
    if not rows:
        return dmc.Text(empty, size="sm", c="dimmed", id="voicemail-empty")
    items = [message_item(r, viewer, colleagues) for r in rows]
    return html.Ul(items, className="sb-vm-list", id="voicemail-items")
