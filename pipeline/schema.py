"""Vocabularies and Parquet schemas of the lake, declared once.

Every reader and writer of the lake imports its column names and types from
here. Partition columns (``tenant``, ``date``) live in the Hive path
``lake/<table>/tenant=<domain>/date=<YYYY-MM-DD>/`` and never inside a file.
"""

from __future__ import annotations

from typing import Literal, get_args

import pyarrow as pa

# Re-exported for the lake's writers and readers: a tenant name becomes a lake path.
from switchboard.identifiers import EXTENSION_RE as EXTENSION_RE
from switchboard.identifiers import TENANT_RE as TENANT_RE
from switchboard.voicemail import MESSAGE_AUDIO_RATES

CallDirection = Literal["internal", "inbound", "outbound"]
CallDisposition = Literal[
    "answered", "missed", "busy", "cancelled", "failed", "blocked", "voicemail"
]
DIRECTIONS: tuple[str, ...] = get_args(CallDirection)
DISPOSITIONS: tuple[str, ...] = get_args(CallDisposition)
# What became of a recording the policy asked for at call time (Kamailio's CDR column
# recording_outcome): "started" rtpengine took the call; "missing" rtpengine failed and
# the call went on unrecorded. NULL: no recording asked (or a row from before the column).
RecordingOutcome = Literal["started", "missing"]
RECORDING_OUTCOMES: tuple[str, ...] = get_args(RecordingOutcome)

# The time type of every lake table's instants: UTC, microseconds.
TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")

# One row per call. ``date`` (partition) is the UTC date of started_at.
CALLS_SCHEMA = pa.schema(
    [
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("acc_id", pa.int64(), nullable=False),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("caller", pa.string()),
        pa.field("caller_name", pa.string()),
        pa.field("callee", pa.string()),
        pa.field("callee_name", pa.string()),
        pa.field("answered_by", pa.string()),
        pa.field("started_at", TIMESTAMP_UTC, nullable=False),
        pa.field("answered_at", TIMESTAMP_UTC),
        pa.field("ended_at", TIMESTAMP_UTC, nullable=False),
        pa.field("ring_seconds", pa.float64(), nullable=False),
        pa.field("talk_seconds", pa.float64(), nullable=False),
        pa.field("disposition", pa.string(), nullable=False),
        pa.field("sip_code", pa.int32(), nullable=False),
        pa.field("sip_reason", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("frame", pa.string()),
        # appended (files written before it lack it; the views read NULL): RecordingOutcome
        pa.field("recording_outcome", pa.string()),
    ]
)

# One row per leg the media server placed through Kamailio for a call (a bridge from an
# attendant, later a queue): the leg's own accounting row, as a call row, plus the Call-ID
# of the caller's leg (``origin_call_id``; switchboard.call_steps.ORIGIN_CALL_ID_HEADER).
# A leg is never a call of its own: the warehouse folds it into its call's outcome.
LEGS_SCHEMA = CALLS_SCHEMA.append(pa.field("origin_call_id", pa.string(), nullable=False))

# Accounting rows that could not become a call, kept with the reason.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("acc_id", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("row_json", pa.string(), nullable=False),
    ]
)

# Hive partition columns the warehouse adds to CALLS_SCHEMA (from the path).
CALLS_PARTITIONS = pa.schema(
    [pa.field("tenant", pa.string(), nullable=False), pa.field("date", pa.date32(), nullable=False)]
)

# The column order of every call export (CSV, Parquet, grid "Export").
EXPORT_COLUMNS: tuple[str, ...] = (
    "started_at",
    "direction",
    "disposition",
    "caller",
    "caller_name",
    "callee",
    "callee_name",
    "answered_by",
    "path",  # through the media server (Main number → Sales menu → 1 → 102 (answered))
    "ring_seconds",
    "talk_seconds",
    "answered_at",
    "ended_at",
    "sip_code",
    "call_id",
)

# -- voicemail ------------------------------------------------------------------------
# Why a recording ended (docs/spool.md); ``crash``: recovered after the media server died.
VoicemailEndReason = Literal["hangup", "dtmf", "silence", "max_length", "rtp_timeout", "crash"]
VOICEMAIL_END_REASONS: tuple[str, ...] = get_args(VoicemailEndReason)
VOICEMAIL_CODECS: tuple[str, ...] = tuple(MESSAGE_AUDIO_RATES)

# One row per message the media server finished, discarded ones included (so analytics
# can count "went to voicemail" and "messages left"). ``date`` (partition) is the UTC
# date of started_at; ``audio_path`` is relative to data_dir, null when no WAV was kept.
VOICEMAILS_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("mailbox", pa.string(), nullable=False),
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("caller", pa.string()),
        pa.field("caller_name", pa.string()),
        pa.field("started_at", TIMESTAMP_UTC, nullable=False),
        pa.field("ended_at", TIMESTAMP_UTC, nullable=False),
        pa.field("duration", pa.float64(), nullable=False),
        pa.field("speech_seconds", pa.float64(), nullable=False),
        pa.field("end_reason", pa.string(), nullable=False),
        pa.field("cut_off", pa.bool_(), nullable=False),
        pa.field("discarded", pa.bool_(), nullable=False),
        pa.field("codec", pa.string()),
        pa.field("audio_path", pa.string()),
        # the carrier delivered the caller (docs/spool.md); null in files written before it
        pa.field("from_carrier", pa.bool_()),
    ]
)

# One row per transcribed message, keyed by message_id (the original, never a forwarded
# copy) and the model that wrote it: one row per (message, model), readers take the newest
# per message; partitioned like the message (tenant, UTC date of started_at). ``segments_json``
# is a list of {"start", "end", "text"} in seconds from the start of the recording.
TRANSCRIPTS_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("mailbox", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("segments_json", pa.string(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("model", pa.string(), nullable=False),
        pa.field("audio_seconds", pa.float64(), nullable=False),
        pa.field("transcribe_seconds", pa.float64(), nullable=False),
        pa.field("real_time_factor", pa.float64(), nullable=False),
        pa.field("transcribed_at", TIMESTAMP_UTC, nullable=False),
        # Confidence (issue 15; null: no speech decoded, or written before): duration-weighted
        # mean token log-probability, and the highest no-speech probability of a window.
        pa.field("avg_logprob", pa.float64()),
        pa.field("no_speech_prob", pa.float64()),
    ]
)

# The Hive partition columns of both voicemail tables (same as calls).
VOICEMAIL_PARTITIONS = CALLS_PARTITIONS

# -- call steps (issue 11) ------------------------------------------------------------
# One row per step the media server reports inside a call (switchboard.call_steps: the
# vocabulary and the spool batch format), linked to the call by ``call_id`` (the caller's
# Call-ID). ``batch_id`` + ``seq`` is unique: ``seq`` is the step's place in its batch.
# ``date`` (partition) is the UTC date of the batch's first step, so a call's steps share
# a partition.
CALL_STEPS_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP_UTC, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("attendant_id", pa.int64()),
        pa.field("key", pa.string()),
        pa.field("target", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("leg_call_id", pa.string()),
    ]
)
