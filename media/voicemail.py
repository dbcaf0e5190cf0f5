"""Leaving a message: greeting, beep, record, and the spool files (``docs/spool.md``).

The recording is placed by RTP timestamp, not by arrival: a lost or late
packet leaves (or fills) its own 20 ms instead of shifting everything after
it, so the WAV lasts exactly as long as the caller's audio. While recording,
samples go straight to ``<id>.part`` (unbuffered: a kill -9 loses nothing
the OS has), next to ``<id>.part.json``; the finished message is WAV then
JSON (temp + rename each), and the part files go last. ``recover_parts`` at
start-up turns leftovers into ``cut_off`` messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from media import prompts
from media.leg import Leg
from media.mailbox import MailboxSettings

log = logging.getLogger(__name__)

SAMPLE_RATE = prompts.SAMPLE_RATE
MIN_SPEECH_SECONDS = 1.0  # shorter messages are discarded (still counted)
SILENCE_END_SECONDS = 3.0  # this much silence after speech ends the message
INITIAL_SILENCE_SECONDS = 10.0  # nobody spoke at all: stop waiting
SPEECH_RMS = 400.0  # ~ -38 dBFS per 20 ms frame; line noise sits far below
MAX_GAP_SAMPLES = 2 * SAMPLE_RATE  # a larger timestamp jump is a new timeline, not silence

_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
_MAILBOX_RE = re.compile(r"^[A-Za-z0-9_+-]{1,32}$")


class SpoolError(ValueError):
    """A tenant or mailbox name that must not become a path."""


@dataclass
class MessageMeta:
    """What the JSON of a message holds (keys and meaning: docs/spool.md)."""

    message_id: str
    tenant: str
    mailbox: str
    call_id: str
    caller: str | None
    caller_name: str | None
    codec: str
    started_at: float = 0.0
    ended_at: float = 0.0
    duration: float = 0.0
    speech_seconds: float = 0.0
    end_reason: str = "hangup"
    cut_off: bool = False
    discarded: bool = False


def new_message_id() -> str:
    return f"vm-{uuid.uuid4().hex}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _wav_bytes(pcm: bytes) -> bytes:
    """A 44-byte RIFF header + ``pcm`` (8 kHz, 16-bit, mono)."""
    import struct

    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1,
        SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16, b"data", len(pcm),
    )  # fmt: skip
    return header + pcm


def speech_seconds(pcm: bytes) -> float:
    """Seconds of 20 ms frames whose RMS is above the speech threshold."""
    samples = np.frombuffer(pcm[: len(pcm) // 320 * 320], dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return 0.0
    rms = np.sqrt(np.mean(samples.reshape(-1, 160) ** 2, axis=1))
    return float(np.count_nonzero(rms > SPEECH_RMS)) * 0.02


class VoicemailSpool:
    """``<spool>/voicemail/<tenant>/<mailbox>/``: the only writer of voicemail items."""

    def __init__(self, spool_dir: Path) -> None:
        self.root = spool_dir / "voicemail"

    def mailbox_dir(self, tenant: str, mailbox: str) -> Path:
        # Both names come from the network (Request-URI, From): never let them walk the disk.
        if not _TENANT_RE.match(tenant) or ".." in tenant:
            raise SpoolError(f"bad tenant {tenant!r}")
        if not _MAILBOX_RE.match(mailbox):
            raise SpoolError(f"bad mailbox {mailbox!r}")
        return self.root / tenant / mailbox

    def begin(self, meta: MessageMeta) -> PartWriter:
        directory = self.mailbox_dir(meta.tenant, meta.mailbox)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / f"{meta.message_id}.part.json", json.dumps(asdict(meta)).encode())
        return PartWriter(directory / f"{meta.message_id}.part")

    def commit(self, meta: MessageMeta, pcm: bytes | None) -> Path:
        """Write the finished item: WAV (unless discarded), then JSON, then drop the parts."""
        directory = self.mailbox_dir(meta.tenant, meta.mailbox)
        directory.mkdir(parents=True, exist_ok=True)
        if pcm is not None and not meta.discarded:
            _atomic_write(directory / f"{meta.message_id}.wav", _wav_bytes(pcm))
        json_path = directory / f"{meta.message_id}.json"
        _atomic_write(json_path, json.dumps(asdict(meta), indent=1).encode())
        for suffix in (".part", ".part.json"):
            (directory / f"{meta.message_id}{suffix}").unlink(missing_ok=True)
        return json_path

    def recover_parts(self) -> list[Path]:
        """Turn every leftover ``.part`` into a ``cut_off`` message (start-up only)."""
        recovered = []
        for part in sorted(self.root.glob("*/*/*.part")):
            message_id = part.name.removesuffix(".part")
            directory = part.parent
            if (directory / f"{message_id}.json").exists():
                # crashed after committing, before cleaning up: already a message
                part.unlink(missing_ok=True)
                (directory / f"{message_id}.part.json").unlink(missing_ok=True)
                continue
            meta = self._part_meta(part, message_id)
            pcm = part.read_bytes()
            pcm = pcm[: len(pcm) // 2 * 2]
            meta.duration = len(pcm) / (2 * SAMPLE_RATE)
            meta.ended_at = (
                meta.started_at + meta.duration if meta.started_at else part.stat().st_mtime
            )
            meta.speech_seconds = speech_seconds(pcm)
            meta.end_reason = "crash"
            meta.cut_off = True
            meta.discarded = meta.speech_seconds < MIN_SPEECH_SECONDS
            recovered.append(self.commit(meta, pcm))
            log.warning("recovered cut-off message %s (%.1f s)", message_id, meta.duration)
        return recovered

    @staticmethod
    def _part_meta(part: Path, message_id: str) -> MessageMeta:
        meta_path = part.with_name(part.name + ".json")
        known: dict[str, Any] = {}
        try:
            known = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            log.warning("%s has no readable metadata; using its path", part)
        base = MessageMeta(
            message_id=message_id,
            tenant=part.parent.parent.name,
            mailbox=part.parent.name,
            call_id="",
            caller=None,
            caller_name=None,
            codec="PCMU",
        )
        fields_known = {k: v for k, v in known.items() if k in asdict(base)}
        return MessageMeta(**{**asdict(base), **fields_known})


class PartWriter:
    """Appends samples to the ``.part`` file with no user-space buffer (crash safety)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, pcm: bytes) -> None:
        if self._fd >= 0:
            os.write(self._fd, pcm)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass
class Recorder:
    """Places frames by RTP timestamp, tracks speech, and says when silence ends it."""

    writer: PartWriter
    pcm: bytearray = field(default_factory=bytearray)
    speech_frames: int = 0
    last_speech_sample: int | None = None
    silence_done: asyncio.Event = field(default_factory=asyncio.Event)
    _base_ts: int | None = None
    _offset: int = 0  # samples of earlier timelines (after an SSRC/timestamp reset)

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    def add(self, frame: bytes, timestamp: int) -> None:
        if self._base_ts is None:
            self._base_ts = timestamp
        pos = self._offset + ((timestamp - self._base_ts) & 0xFFFFFFFF)
        if pos - self.samples > MAX_GAP_SAMPLES or pos + MAX_GAP_SAMPLES < self.samples:
            # a new timeline (new SSRC, re-INVITE): continue right where we are
            self._offset, self._base_ts, pos = self.samples, timestamp, self.samples
        if pos > self.samples:
            self._append(bytes((pos - self.samples) * 2))  # packets never came: silence
        elif pos < self.samples:
            overlap = (self.samples - pos) * 2
            if overlap >= len(frame):
                return  # duplicate
            frame = frame[overlap:]
        self._append(frame)

    def _append(self, pcm: bytes) -> None:
        start = self.samples
        self.pcm += pcm
        self.writer.write(pcm)
        # speech detection per whole 20 ms frame appended
        samples = np.frombuffer(pcm[: len(pcm) // 320 * 320], dtype="<i2").astype(np.float32)
        if samples.size:
            rms = np.sqrt(np.mean(samples.reshape(-1, 160) ** 2, axis=1))
            loud = np.flatnonzero(rms > SPEECH_RMS)
            if loud.size:
                self.speech_frames += int(loud.size)
                self.last_speech_sample = start + int(loud[-1] + 1) * 160
        self._check_silence()

    def _check_silence(self) -> None:
        if self.last_speech_sample is None:
            if self.samples >= INITIAL_SILENCE_SECONDS * SAMPLE_RATE:
                self.silence_done.set()
        elif self.samples - self.last_speech_sample >= SILENCE_END_SECONDS * SAMPLE_RATE:
            self.silence_done.set()

    @property
    def speech_seconds(self) -> float:
        return self.speech_frames * 0.02


async def leave_message(
    leg: Leg,
    spool: VoicemailSpool,
    meta: MessageMeta,
    settings: MailboxSettings,
    data_dir: Path,
    *,
    max_seconds: float,
    busy: bool = False,
) -> MessageMeta:
    """Greeting, beep, record until hang-up / ``#`` / silence / ``max_seconds``; spool it."""
    greeting = _greeting_pcm(settings, data_dir, busy=busy)
    played = await leg.play(greeting + prompts.beep_pcm())
    if not played:
        # hung up during the greeting: nothing recorded, but counted
        meta.started_at = meta.ended_at = time.time()
        meta.end_reason = leg.end_reason or "hangup"
        meta.discarded = True
        _mark_shutdown(meta)
        spool.commit(meta, None)
        return meta

    meta.started_at = time.time()
    recorder = Recorder(spool.begin(meta))
    while not leg.digits.empty():  # digits pressed during the greeting do not end the message
        leg.digits.get_nowait()
    leg.audio_sink = recorder.add
    reason = await _wait_for_end(leg, recorder, max_seconds)
    leg.audio_sink = None
    recorder.writer.close()

    meta.ended_at = time.time()
    meta.end_reason = reason
    meta.duration = recorder.samples / SAMPLE_RATE
    meta.speech_seconds = round(recorder.speech_seconds, 2)
    meta.discarded = recorder.speech_seconds < MIN_SPEECH_SECONDS
    _mark_shutdown(meta)
    spool.commit(meta, bytes(recorder.pcm))
    log.info(
        "%s: message %s %.2f s (%s)%s", leg.call_id, meta.message_id, meta.duration, reason,
        " discarded" if meta.discarded else "",
    )  # fmt: skip
    if not leg.ended.is_set():
        leg.finish(reason, send_bye=True)
    return meta


def _mark_shutdown(meta: MessageMeta) -> None:
    """The server stopping mid-call cuts the message off, as a crash would (docs/spool.md)."""
    if meta.end_reason == "shutdown":
        meta.end_reason, meta.cut_off = "crash", True


async def _wait_for_end(leg: Leg, recorder: Recorder, max_seconds: float) -> str:
    async def pound() -> None:
        while await leg.digits.get() != "#":
            pass

    waits = {
        asyncio.ensure_future(leg.ended.wait()): "hangup",
        asyncio.ensure_future(pound()): "dtmf",
        asyncio.ensure_future(recorder.silence_done.wait()): "silence",
    }
    done, pending = await asyncio.wait(
        set(waits), timeout=max_seconds, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    if leg.ended.is_set():
        return leg.end_reason or "hangup"
    for task in done:
        return waits[task]
    return "max_length"


def _greeting_pcm(settings: MailboxSettings, data_dir: Path, *, busy: bool) -> bytes:
    """The mailbox's active greeting, or the default spoken one when it has none (or it is bad)."""
    if settings.active_greeting is not None:
        try:
            return prompts.read_wav_pcm(Path(settings.active_greeting))
        except (OSError, prompts.PromptError):
            log.warning("greeting %s unreadable; playing the default", settings.active_greeting)
    return prompts.prompt_pcm(data_dir, "greeting_busy" if busy else "greeting_unavailable")
