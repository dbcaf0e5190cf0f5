"""One recording opened on the Recordings page, and what a manager may do to recordings.

The panel (player, download, figures, transcript by speaker) is rendered for
a recording looked up again in the viewer's scope: an id from the browser
opens nothing it should not. A manager also gets "Delete" (confirmed in a
dialog): the WAV, the row and its transcript go (:mod:`pipeline.lake_deletion`)
and the deletion is in the audit trail; and the tenant's retention ("keep
recordings N days"), which the pipeline worker applies.
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import Input, Output, State, callback, dcc, html

from dash_app.audit_trail import log_access
from dash_app.auth import open_calls, portal, provisioning, signed_in_user
from dash_app.editing import NotAllowed, dialog_actions, require_click
from dash_app.layout import format_duration, format_local, party_label
from dash_app.page_shell import signed_in_manager
from dash_app.recordings_view import audio_url, call_label, transcript_lines
from switchboard.store import ProvisioningError, User

MANAGERS_ONLY = "only managers can delete recordings or change how long they are kept"


def find_recording(user: User, recording_id: str) -> Any:
    """The recording ``recording_id`` if ``user`` may hear it, else None (ids come from browsers).

    ``RecordingQueryError`` for something that is not a recording id at all.
    """
    from pipeline.recording_query import get_recording

    conn = open_calls(user)
    try:
        return get_recording(conn, recording_id)
    finally:
        conn.close()


def recording_panel(recording_id: str) -> Any:
    """One recording in the viewer's scope: player, download, facts, transcript by speaker."""
    from pipeline.recording_query import RecordingQueryError

    user = signed_in_user()
    try:
        recording = find_recording(user, recording_id)
    except RecordingQueryError as exc:
        return dmc.Alert(str(exc), color="red", variant="light", id="recordings-missing")
    if recording is None:
        return dmc.Alert(
            "No such recording, or not one of the calls you may hear.",
            color="gray",
            variant="light",
            id="recordings-missing",
        )
    facts = recording.facts
    caller = party_label(facts.get("caller_name"), facts.get("caller"))
    callee = party_label(facts.get("callee_name"), facts.get("callee"))
    summary = (
        f"{format_local(facts.get('started_at'), user.timezone)} · {caller} → {callee}"
        f" · {format_duration(facts.get('duration'))}"
    )
    figures = []
    if facts.get("caller_speech_seconds") is not None:
        figures = [
            dmc.Badge(f"Caller spoke {facts['caller_speech_seconds']:.0f} s", variant="light"),
            dmc.Badge(
                f"Callee spoke {facts['callee_speech_seconds']:.0f} s",
                variant="light",
                color="teal",
            ),
            dmc.Badge(f"Longest silence {facts['longest_silence_seconds']:.0f} s", color="gray"),
            dmc.Badge(f"Overtalk {facts['overtalk_seconds']:.0f} s", color="orange"),
        ]
    return dmc.Paper(
        [
            dmc.Group(
                [
                    dmc.Stack(
                        [
                            dmc.Title("Recording", order=4),
                            dmc.Text(summary, size="sm", id="recordings-open-summary"),
                        ],
                        gap=0,
                    ),
                    dmc.Group(
                        [
                            html.A(
                                [
                                    html.Span(className="sb-button-icon sb-button-icon--download"),
                                    "Download WAV",
                                ],
                                href=audio_url(recording.recording_id, download=True),
                                id="recordings-download",
                                className="sb-link-button",
                            ),
                            # Managers only; the callback checks the role again.
                            dmc.Button(
                                "Delete", id="recordings-delete", color="red", variant="light"
                            )
                            if user.role == "manager"
                            else None,
                        ],
                        gap="sm",
                    ),
                ],
                justify="space-between",
                mb="sm",
            ),
            dcc.Store(id="recordings-open-id", data=recording.recording_id),
            html.Audio(
                src=audio_url(recording.recording_id),
                controls=True,
                # Nothing is fetched (nor audited as a play) until the listener presses play.
                preload="none",
                className="sb-rec-audio",
                id="recordings-audio",
            ),
            dmc.Group(figures, gap="xs", my="sm"),
            transcript_lines(recording.lines),
        ],
        withBorder=True,
        p="lg",
        radius="md",
        id="recordings-open",
        **{"data-recording-id": recording.recording_id},
    )


def delete_dialog() -> Any:
    """The confirmation a deletion needs (one per page, for whichever recording is open)."""
    return dmc.Modal(
        [
            dmc.Text(
                "The recording, its transcript and its figures are removed for good."
                " The deletion is kept in the audit trail.",
                size="sm",
            ),
            dialog_actions(
                "recordings-delete-cancel",
                dmc.Button("Delete for good", id="recordings-delete-yes", color="red"),
                mt="md",
            ),
        ],
        id="recordings-delete-dialog",
        title="Delete this recording?",
        opened=False,
    )


def retention_control(user: User) -> Any:
    """A manager's "keep recordings N days" (empty: until deleted); None for anyone else."""
    if user.role != "manager":
        return None
    with provisioning() as store:
        days = store.recording_retention(user.tenant_domain)
    return dmc.Group(
        [
            dmc.NumberInput(
                id="recordings-retention-days",
                label="Keep recordings for (days)",
                description="Older recordings are removed automatically; empty: keep them",
                value=days if days is not None else "",
                min=1,
                max=36500,
                allowDecimal=False,
                w=300,
            ),
            dmc.Button("Save", id="recordings-retention-save", variant="light"),
            html.Div(id="recordings-retention-feedback"),
        ],
        align="flex-end",
    )


@callback(
    Output("recordings-delete-dialog", "opened"),
    Input("recordings-delete", "n_clicks"),
    Input("recordings-delete-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def toggle_delete_dialog(_delete: int | None, _cancel: int | None) -> bool:
    from dash import ctx

    require_click()
    return ctx.triggered_id == "recordings-delete"


@callback(
    Output("recordings-detail", "children", allow_duplicate=True),
    Output("recordings-delete-dialog", "opened", allow_duplicate=True),
    Output("recordings-version", "data"),
    Input("recordings-delete-yes", "n_clicks"),
    State("recordings-open-id", "data"),
    State("recordings-version", "data"),
    prevent_initial_call=True,
)
def delete_recording(_clicks: int | None, recording_id: str | None, version: int | None) -> Any:
    """Delete the open recording (a manager's, in their tenant), logged in the audit trail."""
    from pipeline.lake_deletion import DoomedRecording, delete_recordings

    require_click()
    user = signed_in_manager(MANAGERS_ONLY)
    recording = find_recording(user, str(recording_id or ""))
    if recording is None:
        raise NotAllowed("no such recording in your company")
    doomed = DoomedRecording.from_facts(recording.facts)
    delete_recordings(portal().settings, user.tenant_domain, [doomed])
    log_access(user, "recording", recording.recording_id, "delete", call_label(recording.facts))
    done = dmc.Alert(
        f"Recording of the {call_label(recording.facts)} deleted.",
        color="green",
        variant="light",
        id="recordings-deleted",
    )
    return done, False, (version or 0) + 1


@callback(
    Output("recordings-retention-feedback", "children"),
    Input("recordings-retention-save", "n_clicks"),
    State("recordings-retention-days", "value"),
    prevent_initial_call=True,
)
def save_retention(_clicks: int | None, days: Any) -> Any:
    """Keep the tenant's recordings ``days`` days (empty: until deleted)."""
    require_click()
    user = signed_in_manager(MANAGERS_ONLY)
    keep = None if days in (None, "") else int(days)
    try:
        with provisioning() as store:
            store.set_recording_retention(user.tenant_domain, keep)
    except ProvisioningError as exc:
        return dmc.Text(str(exc), c="red", size="sm", id="recordings-retention-error")
    text = "Kept until deleted." if keep is None else f"Recordings older than {keep} days go."
    return dmc.Text(text, c="green", size="sm", id="recordings-retention-saved")
