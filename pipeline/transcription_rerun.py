"""Re-transcription: run a model over messages already in the lake, once per (message, model).

The transcript files are the only record needed: ``model``'s file for a
message (:func:`pipeline.transcribe.transcript_path`) is written atomically and
is the commit point, so a re-run after a crash skips what is done and redoes
only the message that was in flight. The earlier transcript stays in the lake
beside the new one (the lake keeps which model produced what); readers show the
newest per message (``pipeline/sql/voicemail``), so until the new row is
written users keep seeing the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.transcribe import Transcriber, transcribe_message, transcribed_by
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.voicemail import FOLDERS, VoicemailMessage

log = logging.getLogger(__name__)


@dataclass
class RerunResult:
    transcribed: int = 0
    already_done: int = 0
    failed: int = 0


def originals(
    settings: Settings, store: ProvisioningStore, *, since: float | None = None
) -> list[VoicemailMessage]:
    """Every original message (no forwarded copies) whose audio is on disk, oldest first."""
    found: dict[str, VoicemailMessage] = {}
    for user in store.users():
        for msg in store.voicemail_messages(user.tenant_domain, user.extension, FOLDERS):
            if msg.message_id != msg.source_id or (since is not None and msg.started_at < since):
                continue
            if (settings.data_dir / msg.audio_path).is_file():
                found[msg.message_id] = msg
    return sorted(found.values(), key=lambda m: (m.started_at, m.message_id))


def retranscribe(
    settings: Settings,
    store: ProvisioningStore,
    transcriber: Transcriber,
    *,
    since: float | None = None,
    progress: Callable[[VoicemailMessage, str], None] | None = None,
) -> RerunResult:
    """Transcribe with ``transcriber`` every message it has not transcribed yet."""
    result = RerunResult()
    for msg in originals(settings, store, since=since):
        if transcribed_by(settings.lake_dir, msg, transcriber.model_name):
            result.already_done += 1
            continue
        try:
            transcribe_message(settings, store, msg, transcriber)
        except Exception:
            log.exception("re-transcribing %s failed", msg.message_id)
            result.failed += 1
            if progress:
                progress(msg, "failed")
            continue
        result.transcribed += 1
        if progress:
            progress(msg, "transcribed")
    return result
