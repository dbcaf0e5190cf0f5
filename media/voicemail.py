"""Leaving a message: greeting, beep, record, and the spool files (``docs/spool.md``).

Recording itself (placement by RTP timestamp, speech detection, WAV) is
``media.recording``'s. While recording, samples go straight to ``<id>.part``
(unbuffered: a kill -9 loses nothing the OS has), next to ``<id>.part.json``;
the finished message is WAV then JSON (temp + rename each), and the part
files go last. ``recover_parts`` at start-up turns leftovers into ``cut_off``
messages — only those never committed: a ``.part`` whose message JSON is in
the spool, or already ingested into ``spool/done/``, is just deleted, so a
crash between the commit and the clean-up never yields a second message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from media import prompts
from media.leg import Leg
from media.mailbox import PhoneMailboxSettings
from media.recording import (
    SAMPLE_RATE,
    PartWriter,
    Recorder,
    atomic_write,
    speech_seconds,
    wav_bytes,
)
from switchboard.voicemail import MESSAGE_AUDIO_RATES

log = logging.getLogger(__name__)

MIN_SPEECH_SECONDS = 1.0  # shorter messages are discarded (still counted)

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
    # The carrier delivered the caller: ``caller`` is what an outside From said, which
    # anyone can set, so it is never shown as the colleague whose extension it matches.
    from_carrier: bool = False

    @property
    def rate(self) -> int:
        """The audio's samples per second, by its codec (a G.722 deposit is 16 kHz)."""
        return MESSAGE_AUDIO_RATES.get(self.codec, SAMPLE_RATE)


def new_message_id() -> str:
    return f"vm-{uuid.uuid4().hex}"


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
        atomic_write(directory / f"{meta.message_id}.part.json", json.dumps(asdict(meta)).encode())
        return PartWriter(directory / f"{meta.message_id}.part")

    def commit(self, meta: MessageMeta, pcm: bytes | None) -> Path:
        """Write the finished item: WAV (unless discarded), then JSON, then drop the parts."""
        directory = self.mailbox_dir(meta.tenant, meta.mailbox)
        directory.mkdir(parents=True, exist_ok=True)
        if pcm is not None and not meta.discarded:
            atomic_write(directory / f"{meta.message_id}.wav", wav_bytes(pcm, meta.rate))
        json_path = directory / f"{meta.message_id}.json"
        atomic_write(json_path, json.dumps(asdict(meta), indent=1).encode())
        for suffix in (".part", ".part.json"):
            (directory / f"{meta.message_id}{suffix}").unlink(missing_ok=True)
        return json_path

    def recover_parts(self) -> list[Path]:
        """Turn every leftover ``.part`` into a ``cut_off`` message (start-up only)."""
        recovered = []
        for part in sorted(self.root.glob("*/*/*.part")):
            message_id = part.name.removesuffix(".part")
            directory = part.parent
            if self._committed(directory, message_id):
                # crashed after committing, before cleaning up: already a message
                part.unlink(missing_ok=True)
                (directory / f"{message_id}.part.json").unlink(missing_ok=True)
                continue
            try:
                pcm = part.read_bytes()
            except FileNotFoundError:
                continue  # the pipeline just ingested the message and removed its leftovers
            meta = self._part_meta(part, message_id)
            pcm = pcm[: len(pcm) // 2 * 2]
            meta.duration = len(pcm) / (2 * meta.rate)
            meta.ended_at = (
                meta.started_at + meta.duration if meta.started_at else part.stat().st_mtime
            )
            meta.speech_seconds = speech_seconds(pcm, meta.rate)
            meta.end_reason = "crash"
            meta.cut_off = True
            meta.discarded = meta.speech_seconds < MIN_SPEECH_SECONDS
            recovered.append(self.commit(meta, pcm))
            log.warning("recovered cut-off message %s (%.1f s)", message_id, meta.duration)
        return recovered

    def _committed(self, directory: Path, message_id: str) -> bool:
        """The message was written (JSON in the spool), or even ingested already (``done/``)."""
        done = self.root.parent / "done" / self.root.name / directory.relative_to(self.root)
        return any((d / f"{message_id}.json").exists() for d in (directory, done))

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


async def leave_message(
    leg: Leg,
    spool: VoicemailSpool,
    meta: MessageMeta,
    settings: PhoneMailboxSettings,
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
    recorder = Recorder(spool.begin(meta), rate=leg.rate)
    while not leg.digits.empty():  # digits pressed during the greeting do not end the message
        leg.digits.get_nowait()
    leg.audio_sink = recorder.add
    reason = await _wait_for_end(leg, recorder, max_seconds)
    leg.audio_sink = None
    recorder.close()

    meta.ended_at = time.time()
    meta.end_reason = reason
    meta.duration = recorder.seconds
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


def _greeting_pcm(settings: PhoneMailboxSettings, data_dir: Path, *, busy: bool) -> bytes:
    """The mailbox's active greeting, or the default spoken one when it has none (or it is bad)."""
    if settings.active_greeting is not None:
        try:
            return prompts.read_wav_pcm(Path(settings.active_greeting))
        except (OSError, prompts.PromptError):
            log.warning("greeting %s unreadable; playing the default", settings.active_greeting)
    return prompts.prompt_pcm(data_dir, "greeting_busy" if busy else "greeting_unavailable")
