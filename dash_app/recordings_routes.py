"""Call recordings' audio for the browser: a guarded route with range requests, audited.

``GET /recordings/audio/<recording_id>`` streams the stereo WAV (caller left,
callee right); ``?download=1`` sends it as an attachment. The ``<audio>``
element seeks with ``Range`` requests, answered ``206`` by Werkzeug's
conditional ``send_file``.

Who gets it is the warehouse's scope (:func:`dash_app.auth.open_calls`): a
plain user the recordings of their own calls, supervisors and managers their
tenant's. Anything else — another user's, another tenant's, an id that does
not exist — is the same 404, so the route confirms nothing. Every request
served is in the audit trail (a play, or a download).
"""

from __future__ import annotations

from flask import Flask, Response, abort

from dash_app.auth import open_calls, portal
from dash_app.media_routes import audio_requester, send_audio
from dash_app.recordings_view import AUDIO_ROUTE, call_label


def install_recording_routes(server: Flask) -> None:
    """Add the recording audio route; the auth guard has already refused anonymous callers."""

    @server.route(AUDIO_ROUTE)
    def recording_audio(recording_id: str) -> Response:
        from pipeline.recording_query import (
            RECORDING_ID_RE,
            RecordingQueryError,
            audio_file,
            get_recording,
        )

        user = audio_requester(recording_id, RECORDING_ID_RE)
        conn = open_calls(user)
        try:
            recording = get_recording(conn, recording_id)
        finally:
            conn.close()
        if recording is None:
            abort(404)
        try:
            path = audio_file(portal().settings, recording)
        except RecordingQueryError:
            abort(404)
        if not path.is_file():
            abort(404)
        label = call_label(recording.facts)
        return send_audio(
            user, path, ("recording", recording_id, label), f"recording-{recording_id}.wav"
        )
