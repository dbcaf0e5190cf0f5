"""The worker's recording steps, once per tick: capture ingest, then per-speaker transcription.

Each step is tried on its own, like voicemail's (:class:`pipeline.worker.VoicemailSteps`):
a failing model never keeps recordings out of the lake. The Whisper engine is the
voicemail steps' (one model in memory per worker), loaded only when a recording waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from switchboard.settings import Settings

if TYPE_CHECKING:
    from pipeline.transcribe import Transcriber

log = logging.getLogger(__name__)


class RecordingSteps:
    def __init__(self, settings: Settings, transcriber: Callable[[], Transcriber | None]) -> None:
        self.settings = settings
        self.transcriber = transcriber

    def run(self) -> None:
        from pipeline.recording_ingest import ingest_recordings
        from pipeline.recording_transcripts import pending, transcribe_pending_recordings

        try:
            ingest_recordings(self.settings)
        except Exception:
            log.exception("recording ingest failed; retrying next tick")
        try:
            if pending(self.settings):  # no model in memory until a recording waits
                engine = self.transcriber()
                if engine is not None:
                    transcribe_pending_recordings(self.settings, engine)
        except Exception:
            log.exception("recording transcription failed; retrying next tick")
