"""Voicemail audio for the browser: a guarded Flask route with range requests.

``GET /voicemail/audio/<message_id>`` streams the WAV (``?download=1``: as an
attachment). Browsers seek in an ``<audio>`` element with ``Range`` requests,
answered ``206 Partial Content`` by Werkzeug's conditional ``send_file``.

Only the mailbox owner or a manager of the same tenant gets the audio; anyone
else gets the same 404 as for a message that does not exist, so the route
does not even confirm that an id is real. Every request served is in the
audit trail (:mod:`dash_app.audit_trail`): a play, or a download. How audio is
sent and audited (:func:`send_audio`) is shared with the call recordings'
route (:mod:`dash_app.recordings_routes`).
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, Response, abort, request, send_file

from dash_app.audit_trail import log_access
from dash_app.auth import portal, provisioning, signed_in_user
from dash_app.download_slots import in_slot
from dash_app.voicemail_view import AUDIO_PATH, may_open
from switchboard.store import ProvisioningError, User
from switchboard.store.access_log import AccessKind
from switchboard.voicemail import MESSAGE_ID_RE


def install_media_routes(server: Flask) -> None:
    """Add the voicemail audio route; the auth guard has already refused anonymous callers."""

    @server.route(AUDIO_PATH)
    def voicemail_audio(message_id: str) -> Response:
        user = audio_requester(message_id, MESSAGE_ID_RE)
        with provisioning() as store:
            try:
                msg = store.voicemail_message_in_tenant(user.tenant_domain, message_id)
            except ProvisioningError:
                abort(404)
        if not may_open(user, msg.tenant, msg.mailbox):
            abort(404)
        data_dir = portal().settings.data_dir.resolve()
        path = (data_dir / msg.audio_path).resolve()
        if not path.is_relative_to(data_dir / "voicemail") or not path.is_file():
            abort(404)
        name = f"voicemail-{msg.mailbox}-{message_id[-8:]}.wav"
        return send_audio(user, path, ("voicemail", message_id, f"mailbox {msg.mailbox}"), name)


def audio_requester(item_id: str, well_formed: re.Pattern[str]) -> User:
    """Who asks for an audio file; aborts 401 when nobody is signed in, 404 for a malformed id.

    The id is checked before any store is asked, so a crafted one never reaches a query.
    """
    try:
        user = signed_in_user()
    except PermissionError:
        abort(Response("sign in first", status=401))
    if not well_formed.match(item_id):
        abort(404)
    return user


def send_audio(
    user: User, path: Path, what: tuple[AccessKind, str, str], download_name: str
) -> Response:
    """A WAV the user may hear, in the audit trail first; ``?download=1`` as an attachment.

    ``what`` is the trail's (kind, object id, label). Range requests (seeking) are
    answered ``206`` by Werkzeug's conditional ``send_file``; nothing caches the audio.
    """
    kind, object_id, label = what
    download = request.args.get("download") == "1"

    def respond() -> Response:
        log_access(user, kind, object_id, "download" if download else "play", label)
        response = send_file(
            path,
            mimetype="audio/wav",
            as_attachment=download,
            download_name=download_name,
            conditional=True,
            max_age=0,
        )
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return in_slot(user.id, respond)
