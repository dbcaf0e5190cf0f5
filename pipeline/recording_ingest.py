"""Recording ingest: rtpengine's captures → stereo WAV + a ``recordings`` row, exactly once.

Input (:mod:`pipeline.recording_capture` describes the files): a capture is ready
when rtpengine has moved its metadata to ``<recording_spool_dir>/metadata/``;
its pcap is then closed. The ng ``metadata`` string names the tenant
(docs/recordings.md): a capture without a known tenant, a metadata file that does
not parse, a pcap that is missing, unreadable, truncated or corrupt, one without
audio we decode, or one the converter fails on (any exception: a bug must cost one
capture, never the spool) goes to ``<recording_spool_dir>/quarantine/`` with a
``.reason.txt``; the other captures of the pass go on.

Files (names are :mod:`pipeline.lake_layout`'s and this module's)::

    <lake>/recordings/tenant=<t>/date=<d>/rec-<hex>.parquet     the row: the commit point
    <data>/recordings/<t>/<d>/rec-<hex>.wav                     the audio
    <recording_spool_dir>/transcribe/rec-<hex>.json             waiting for its transcript
    <recording_spool_dir>/done/rtpengine-meta-….txt             ingested (pcap deleted)

A pass is :mod:`pipeline.spool_ingest`'s, under the recordings writer's lock (compaction
takes it too, so "is it committed?" and the write cannot interleave with a merge); a
capture is a one-file commit. ``rec-<hex>`` hashes the pcap's name and its first packet's
time, so every attempt at a capture writes the same names. Steps for one capture (the
``on_step`` hook's names):

1. ``convert``: read pcap + metadata, build the stereo audio and the figures;
2. ``wav``: write the WAV (temp + rename);
3. ``row``: write the Parquet row (temp + rename) — the commit point;
4. ``todo``: write the transcription marker;
5. ``done``: delete the pcap, move the metadata to ``done/``.

After a kill -9 anywhere: before 3 nothing is committed and the capture is still
in the spool, so the next pass converts it again onto the same names; from 3 on
the row exists (or a compaction absorbed it: its record names the file), so the
next pass only redoes 4 and 5. One capture is one row, never two, never none.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.files import TEMP_SUFFIX, write_atomic, write_json_atomic, write_parquet_atomic
from pipeline.lake_layout import RECORDINGS, partition_dir, read_partition
from pipeline.recording_audio import SAMPLE_RATE, StereoAudio, assemble, write_wav
from pipeline.recording_capture import (
    CaptureError,
    CaptureMeta,
    parse_metadata,
    parse_metadata_name,
    read_pcap_columns,
)
from pipeline.recording_figures import conversation_figures
from pipeline.recordings_schema import AUDIO_DIR, RECORDINGS_SCHEMA, transcription_marker
from pipeline.schema import TENANT_RE
from pipeline.spool_ingest import (
    SpoolIngest,
    SpoolItemError,
    StepHook,
    move,
    provisioned_tenants,
)
from switchboard.settings import Settings

log = logging.getLogger(__name__)

MAX_PER_PASS = 50  # one worker tick stays short; the rest waits for the next


@dataclass
class RecordingIngestResult:
    recordings: int = 0
    quarantined: int = 0


@dataclass(frozen=True)
class ConvertedCapture:
    """One capture, converted: its lake row and its audio (pure result of the files)."""

    tenant: str
    recording_id: str
    row: dict[str, Any]
    audio: StereoAudio


def recording_id_of(pcap_name: str, first_packet: float) -> str:
    """``rec-<24 hex>`` of a capture: the same for every attempt at it.

    The first packet's time is in it too, should rtpengine ever reuse a pcap name (10.5
    draws a new random tag for each start of recording; older versions did not).
    """
    key = f"{pcap_name}\n{first_packet:.6f}"
    return "rec-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def convert_capture(meta: CaptureMeta, pcap: bytes, *, now: datetime) -> ConvertedCapture:
    """Metadata + pcap bytes → the row and the audio (pure; CaptureError says what is wrong)."""
    tenant = meta.fields.get("tenant", "")
    if not TENANT_RE.match(tenant):
        raise CaptureError(f"the capture's metadata names no tenant (got {tenant!r})")
    audio = assemble(meta, read_pcap_columns(pcap))
    if audio.codec is None or not len(audio.caller):
        raise CaptureError("the capture holds no audio we decode (G.711 or G.722)")
    figures = conversation_figures(audio.caller, audio.callee, SAMPLE_RATE)
    recording_id = recording_id_of(meta.pcap_name, audio.start)
    started = _utc(audio.start)
    row = {
        "recording_id": recording_id,
        "call_id": meta.call_id,
        "caller": meta.fields.get("caller") or None,
        "callee": meta.fields.get("callee") or None,
        "started_at": started,
        "ended_at": _utc(audio.start + audio.duration),
        "duration": round(audio.duration, 3),
        "codec": audio.codec,
        "audio_path": audio_relpath(tenant, started, recording_id),
        "caller_packets": audio.caller_packets,
        "callee_packets": audio.callee_packets,
        "lost_packets": audio.lost_packets,
        "caller_speech_seconds": figures.caller_speech_seconds,
        "callee_speech_seconds": figures.callee_speech_seconds,
        "longest_silence_seconds": figures.longest_silence_seconds,
        "overtalk_seconds": figures.overtalk_seconds,
        "ingested_at": now,
    }
    return ConvertedCapture(tenant, recording_id, row, audio)


def read_pcap_file(path: Path) -> bytes:
    """The pcap's bytes; CaptureError when it is missing or cannot be read (a directory,
    no permission, an I/O error): a capture that can never be read must not block the spool."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CaptureError("the capture's pcap is missing") from exc
    except OSError as exc:
        raise CaptureError(f"the capture's pcap cannot be read: {exc.strerror or exc}") from exc


def convert_capture_safely(meta: CaptureMeta, pcap: bytes) -> ConvertedCapture:
    """:func:`convert_capture`, any failure a CaptureError naming it.

    The conversion is pure and runs before any write, so whatever it raises is about this
    capture (a converter bug it trips, a corrupt file it did not foresee): quarantining it
    lets the spool go on, where the exception would stop every later pass at it.
    """
    try:
        return convert_capture(meta, pcap, now=datetime.now(UTC))
    except CaptureError:
        raise
    except Exception as exc:
        log.exception("converting capture %s failed", meta.pcap_name)
        raise CaptureError(
            f"the capture could not be converted: {type(exc).__name__}: {exc}"
        ) from exc


def audio_relpath(tenant: str, started: datetime, recording_id: str) -> str:
    """Where a recording's WAV lives, relative to ``data_dir``."""
    return f"{AUDIO_DIR}/{tenant}/{started.date().isoformat()}/{recording_id}.wav"


def row_path(lake_dir: Path, tenant: str, started: datetime, recording_id: str) -> Path:
    return partition_dir(lake_dir, RECORDINGS.name, tenant, started.date()) / (
        f"{recording_id}.parquet"
    )


def committed(path: Path) -> bool:
    """The row's file exists, or a compaction merged it (its record names it)."""
    if path.exists():
        return True
    record = read_partition(path.parent).record
    return record is not None and path.name in record.absorbed


@dataclass(frozen=True)
class Capture:
    """A finished capture whose metadata parsed and names a provisioned tenant (or none)."""

    path: Path  # its metadata file
    meta: CaptureMeta


class RecordingIngest(SpoolIngest[Capture, RecordingIngestResult]):
    """One pass over rtpengine's finished captures; cheap to create, holds no open files."""

    table = RECORDINGS
    what = "recording"
    max_commit = 1
    refusals = (SpoolItemError, CaptureError)

    def __init__(self, settings: Settings, tenants: Callable[[], frozenset[str]]) -> None:
        super().__init__(settings, tenants)
        self.spool = settings.recording_spool_dir
        self.spool_root = self.spool / "metadata"
        self.quarantine_dir = self.spool / "quarantine"

    def ready(self) -> list[Path]:
        """Metadata files of finished captures, oldest name first, ``MAX_PER_PASS`` at most."""
        if not self.spool_root.is_dir():
            return []
        found = sorted(p for p in self.spool_root.iterdir() if p.name.endswith(".txt"))
        return found[:MAX_PER_PASS]

    def check(self, path: Path) -> Capture:
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            raise CaptureError(f"unreadable metadata: {exc}") from exc
        meta = parse_metadata(path.name, text)
        tenant = meta.fields.get("tenant", "")
        if tenant and TENANT_RE.match(tenant) and tenant not in self.known_tenants():
            raise CaptureError(f"unknown tenant {tenant!r}")
        return Capture(path, meta)

    def companions(self, path: Path, stem: str) -> list[tuple[Path, str]]:
        parsed = parse_metadata_name(path.name)
        if parsed is None:
            return []
        pcap = self.spool / "pcaps" / f"{parsed[0]}-{parsed[1]}.pcap"
        return [(pcap, pcap.name)]

    def todo_path(self, recording_id: str) -> Path:
        return transcription_marker(self.spool, recording_id)

    def commit(self, items: list[Capture], step: StepHook) -> bool:
        """Steps 1–5 for one capture; True when this pass committed it."""
        [capture] = items
        meta, meta_path = capture.meta, capture.path
        pcap_path = self.spool / "pcaps" / meta.pcap_name
        marker = self.spool / "done" / meta_path.name
        fresh = False
        if not marker.with_suffix(".row").exists():
            converted = convert_capture_safely(meta, read_pcap_file(pcap_path))
            step("convert")
            row, recording_id, tenant = converted.row, converted.recording_id, converted.tenant
            target = row_path(self.settings.lake_dir, tenant, row["started_at"], recording_id)
            if not committed(target):
                wav = self.settings.data_dir / row["audio_path"]
                for stale in wav.parent.glob(f"{wav.name}.*{TEMP_SUFFIX}"):
                    stale.unlink(missing_ok=True)  # a killed attempt's half-written WAV
                write_atomic(wav, lambda tmp: write_wav(tmp, converted.audio))
                step("wav")
                table = pa.Table.from_pylist([row], schema=RECORDINGS_SCHEMA)
                write_parquet_atomic(target, table)
                step("row")
                fresh = True
            write_json_atomic(
                self.todo_path(recording_id),
                {
                    "recording_id": recording_id,
                    "tenant": tenant,
                    "day": row["started_at"].date().isoformat(),
                    "audio_path": row["audio_path"],
                },
            )
            step("todo")
            # Remembers the commit without the pcap (deleted next), should a kill land between.
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.with_suffix(".row").write_text(str(target.relative_to(self.settings.lake_dir)))
        pcap_path.unlink(missing_ok=True)
        move(meta_path, marker)
        marker.with_suffix(".row").unlink(missing_ok=True)
        step("done")
        return fresh

    def new_result(self) -> RecordingIngestResult:
        return RecordingIngestResult()

    def tally(self, result: RecordingIngestResult, items: list[Capture]) -> None:
        result.recordings += len(items)


def ingest_recordings(settings: Settings, on_step: StepHook | None = None) -> RecordingIngestResult:
    """One pass over rtpengine's finished captures (the worker calls this every tick)."""
    return RecordingIngest(settings, provisioned_tenants(settings)).run(on_step)
