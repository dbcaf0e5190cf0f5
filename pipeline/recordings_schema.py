"""Parquet schemas of the call-recording tables (issue 13), beside :mod:`pipeline.schema`.

``recordings``: one row per rtpengine capture turned into a stereo WAV
(:mod:`pipeline.recording_ingest`), caller on the left channel, callee on the
right. ``call_id`` is the Call-ID rtpengine saw: the caller's call, or a leg the
media server placed (the warehouse links a leg's recording to its call through
``legs.origin_call_id``). ``date`` (partition) is the UTC date of
``started_at``; ``audio_path`` is relative to ``data_dir``. The conversation
figures come from the two channels (:mod:`pipeline.recording_figures`).

``recording_transcripts``: one row per (recording, model), each channel
transcribed on its own; ``segments_json`` is a list of
``{"start", "end", "speaker", "text"}`` (seconds from the start of the WAV,
speaker ``caller`` or ``callee``) in time order. Partitioned like its recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa

from pipeline.schema import TIMESTAMP_UTC

# Where recordings' WAVs live under ``data_dir``: ``recordings/<tenant>/<date>/rec-<hex>.wav``.
AUDIO_DIR = "recordings"


def transcription_queue(spool: Path) -> Path:
    """The recordings waiting for transcription, in ``recording_spool_dir``: ingest leaves a
    job there, the transcription step consumes it, a deletion removes it."""
    return spool / "transcribe"


def transcription_marker(spool: Path, recording_id: str) -> Path:
    """One recording's transcription job (in :func:`transcription_queue`)."""
    return transcription_queue(spool) / f"{recording_id}.json"


Speaker = Literal["caller", "callee"]
SPEAKERS: tuple[str, ...] = get_args(Speaker)

RECORDINGS_SCHEMA = pa.schema(
    [
        pa.field("recording_id", pa.string(), nullable=False),  # rec-<hex>, from the capture
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("caller", pa.string()),
        pa.field("callee", pa.string()),
        pa.field("started_at", TIMESTAMP_UTC, nullable=False),  # the first sample of the WAV
        pa.field("ended_at", TIMESTAMP_UTC, nullable=False),
        pa.field("duration", pa.float64(), nullable=False),  # seconds of WAV
        pa.field("codec", pa.string()),  # PCMU / PCMA (the first seen), null: no audio
        pa.field("audio_path", pa.string(), nullable=False),
        pa.field("caller_packets", pa.int64(), nullable=False),
        pa.field("callee_packets", pa.int64(), nullable=False),
        # Packets missing by RTP sequence number (both sides), filled with silence.
        pa.field("lost_packets", pa.int64(), nullable=False),
        # Conversation figures (pipeline.recording_figures), in seconds.
        pa.field("caller_speech_seconds", pa.float64(), nullable=False),
        pa.field("callee_speech_seconds", pa.float64(), nullable=False),
        pa.field("longest_silence_seconds", pa.float64(), nullable=False),
        pa.field("overtalk_seconds", pa.float64(), nullable=False),
        pa.field("ingested_at", TIMESTAMP_UTC, nullable=False),
    ]
)

RECORDING_TRANSCRIPTS_SCHEMA = pa.schema(
    [
        pa.field("recording_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),  # the lines, "caller: …" per line
        pa.field("segments_json", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("audio_seconds", pa.float64(), nullable=False),  # both channels
        pa.field("transcribe_seconds", pa.float64(), nullable=False),
        pa.field("transcribed_at", TIMESTAMP_UTC, nullable=False),
    ]
)
