"""The real engine (the default model, bundled), through the worker.

A sentence spoken by espeak-ng at 8 kHz goes spool → lake → transcript → email in
one worker tick; a second tick neither transcribes nor emails again.
"""

from __future__ import annotations

from typing import Any

import pyarrow.dataset as ds
import pytest

from pipeline.transcribe import WhisperTranscriber
from pipeline.worker import VoicemailSteps
from switchboard.settings import Settings
from tests.fixtures.core import Directory, make_settings
from tests.fixtures.voicemail import (
    INVOICE_KEYWORDS,
    INVOICE_SENTENCE,
    Speech,
    write_spool_item,
)

pytestmark = pytest.mark.whisper


def _transcripts(settings: Settings) -> list[dict[str, Any]]:
    root = settings.lake_dir / "transcripts"
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def test_a_spoken_message_is_transcribed_and_emailed_once(
    directory: Directory, speech: Speech, smtp_server: Any
) -> None:
    controller, inbox = smtp_server
    settings = make_settings(
        directory.store.path.parent, smtp_host="127.0.0.1", smtp_port=controller.port
    )
    mid = write_spool_item(settings, "acme.example", "102", speech(INVOICE_SENTENCE))
    steps = VoicemailSteps(settings)
    calls: list[str] = []
    try:
        steps.run()
        engine = steps._transcriber
        assert isinstance(engine, WhisperTranscriber)
        original = engine.transcribe
        engine.transcribe = lambda path, names=(): calls.append(str(path)) or original(path, names)  # type: ignore[method-assign]
        steps.run()
    finally:
        steps.close()

    (row,) = _transcripts(settings)
    text = row["text"].lower()
    assert row["message_id"] == mid and row["model"] == settings.transcription_model
    assert row["language"] == "en"
    assert row["avg_logprob"] is not None and -1.0 < row["avg_logprob"] <= 0
    assert row["no_speech_prob"] is not None and 0 <= row["no_speech_prob"] < 0.5
    assert all(word in text for word in INVOICE_KEYWORDS), text
    assert 0 < row["real_time_factor"] < 2
    assert calls == []  # the second tick found the transcript and did not run the model
    (email,) = inbox.messages
    body = next(p for p in email.walk() if p.get_content_type() == "text/plain")
    assert "invoice" in body.get_payload(decode=True).decode().lower()
    assert any(p.get_content_type() == "audio/wav" for p in email.walk())
