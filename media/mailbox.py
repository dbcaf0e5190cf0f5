"""Mailbox settings the media server needs, and the voicemail menu by phone (*97).

The provisioning store owns PINs, greetings and message state (DESIGN,
"Stores"); the media server codes against the small ``Mailboxes`` protocol
below, and ``StoreMailboxes`` is that protocol over
``switchboard.store.ProvisioningStore`` (docs/voicemail.md, "For the media
server"). Nothing is kept in this process: what the phone menu changes is
what the portal shows.

A mailbox's messages by phone are the store's messages in folder ``new``
(audio at ``data_dir / audio_path``, where the pipeline moved the WAV) plus
spool items the pipeline has not ingested yet (docs/spool.md), so a message
is heard even in the second before the worker picks it up.

PIN guessing is limited across calls, not only per call: the store counts
every wrong PIN and locks the mailbox's phone access after
``voicemail_pin_max_failures`` of them (``switchboard.store.pin_locks``);
while locked the menu says so and hangs up, whatever is dialled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from media import prompts
from media.recording import SAMPLE_RATE, Recorder, atomic_write, wav_bytes
from switchboard.settings import SETTINGS, Settings
from switchboard.store import PinLockPolicy, ProvisioningError, ProvisioningStore
from switchboard.store.access_log import Access, Actor
from switchboard.voicemail import GreetingKind, MessageOrder, greeting_relpath

log = logging.getLogger(__name__)

PIN_ATTEMPTS = 3  # per call; across calls the store's lock (pin_policy) limits guessing


def pin_policy(settings: Settings) -> PinLockPolicy:
    """The cross-call PIN limits of ``settings`` (the voicemail_pin_* settings)."""
    return PinLockPolicy(
        max_failures=settings.voicemail_pin_max_failures,
        window_seconds=settings.voicemail_pin_window_minutes * 60,
        lock_seconds=settings.voicemail_pin_lock_minutes * 60,
    )


def _default_pin_policy() -> PinLockPolicy:
    defaults = {s.name: s.default for s in SETTINGS}
    return PinLockPolicy(
        max_failures=defaults["voicemail_pin_max_failures"],
        window_seconds=defaults["voicemail_pin_window_minutes"] * 60,
        lock_seconds=defaults["voicemail_pin_lock_minutes"] * 60,
    )


@dataclass(frozen=True)
class PhoneMailboxSettings:
    """What the media server reads about one mailbox (defaults: an unprovisioned box).

    A view of the store's ``switchboard.voicemail.MailboxSettings`` for the phone side:
    whether a PIN exists (never its hash), the greeting to play, and the owner's zone.
    """

    pin_set: bool = False
    active_greeting: Path | None = None
    greeting: GreetingKind = "unavailable"
    message_order: MessageOrder = "newest"
    announce_timestamp: bool = False
    timezone: str = "UTC"  # the mailbox owner's, for the time-stamp announcement
    locked_until: float | None = None  # phone access refused until then (too many wrong PINs)


@dataclass(frozen=True)
class StoredMessage:
    """One message the phone menu can play."""

    message_id: str
    wav: Path
    received_at: float  # epoch seconds the recording started


class Mailboxes(Protocol):
    """The store-side interface the media server codes against."""

    def settings(self, tenant: str, ext: str) -> PhoneMailboxSettings: ...

    def verify_pin(self, tenant: str, ext: str, pin: str) -> bool: ...

    def new_messages(self, tenant: str, ext: str) -> list[StoredMessage]: ...

    def set_message_state(self, tenant: str, ext: str, message_id: str, state: str) -> None: ...

    def set_greeting(self, tenant: str, ext: str, kind: str, path: Path) -> None: ...


# The audit trail's "from where" of what a caller does in the mailbox menu.
PHONE = "phone"


@dataclass
class StoreMailboxes:
    """``Mailboxes`` over the provisioning store and the voicemail spool.

    ``verify_pin`` runs in a worker thread (argon2 is slow); it records wrong PINs,
    and the store's connection is opened for use from any thread (its writes are
    serialised).
    """

    store: ProvisioningStore
    data_dir: Path  # audio_path and greeting paths are relative to it
    spool_dir: Path
    pin_policy: PinLockPolicy = field(default_factory=_default_pin_policy)

    @classmethod
    def open(cls, settings: Settings) -> StoreMailboxes:
        """Open the store of ``settings`` (the caller closes it with ``close``)."""
        store = ProvisioningStore(settings.provisioning_db)
        return cls(store, settings.data_dir, settings.spool_dir, pin_policy(settings))

    def close(self) -> None:
        self.store.close()

    def settings(self, tenant: str, ext: str) -> PhoneMailboxSettings:
        try:
            box = self.store.mailbox_settings(tenant, ext)
        except ProvisioningError:
            # Not provisioned (Kamailio only relays known users, but the media port is
            # reachable directly): take the message with the default greeting; the
            # pipeline quarantines it. Phone access stays closed (no PIN).
            return PhoneMailboxSettings()
        return PhoneMailboxSettings(
            pin_set=box.pin_hash is not None,
            active_greeting=Path(box.active_greeting) if box.active_greeting else None,
            greeting=box.greeting,
            message_order=box.message_order,
            announce_timestamp=box.announce_timestamp,
            timezone=self.store.user(tenant, ext).timezone,
            locked_until=lock.locked_until if (lock := self.store.pin_lock(tenant, ext)) else None,
        )

    def verify_pin(self, tenant: str, ext: str, pin: str) -> bool:
        """Right and not locked; a wrong PIN counts towards the lock (across calls)."""
        return self.store.check_voicemail_pin(tenant, ext, pin, self.pin_policy)

    def new_messages(self, tenant: str, ext: str) -> list[StoredMessage]:
        """Folder ``new`` of the store, plus spool items not ingested yet, in the box's order."""
        found = {
            m.message_id: StoredMessage(m.message_id, self.data_dir / m.audio_path, m.started_at)
            for m in self.store.voicemail_messages(tenant, ext, ("new",))
        }
        spooled = _spool_messages(self.spool_dir, tenant, ext)
        known = self.store.voicemail_known([m.message_id for m in spooled])
        for message in spooled:
            if message.message_id not in known:
                found.setdefault(message.message_id, message)
        newest_first = self.settings(tenant, ext).message_order == "newest"
        return sorted(
            (m for m in found.values() if m.wav.is_file()),
            key=lambda m: (m.received_at, m.message_id),
            reverse=newest_first,
        )

    def set_message_state(self, tenant: str, ext: str, message_id: str, state: str) -> None:
        """The menu's verb on a message; a deletion goes in the audit trail (issue 13).

        Who deleted is the mailbox's owner (the PIN proved it), from ``phone``, as the
        portal logs its own deletions.
        """
        # A spool item not ingested yet has no row: the store keeps no state for it
        # and it stays new (the worker ingests within a second or so).
        changed = self.store.set_message_state(tenant, ext, message_id, state)
        if changed and state == "deleted":
            owner = self.store.user(tenant, ext)
            deletion = Access("voicemail", message_id, "delete", f"mailbox {ext}, by phone", PHONE)
            self.store.log_access(Actor.of(owner), deletion)

    def set_greeting(self, tenant: str, ext: str, kind: str, path: Path) -> None:
        """Record the greeting and make it the active one (recording it by phone means so)."""
        self.store.set_greeting(tenant, ext, kind, path, activate=True)


def _spool_messages(spool_dir: Path, tenant: str, ext: str) -> list[StoredMessage]:
    """Kept (not discarded) items waiting in ``spool/voicemail/<tenant>/<ext>/``."""
    messages = []
    for meta_path in sorted((spool_dir / "voicemail" / tenant / ext).glob("vm-*.json")):
        if meta_path.name.endswith(".part.json"):
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue  # the pipeline quarantines it
        wav = meta_path.with_suffix(".wav")
        if meta.get("discarded") or not wav.is_file():
            continue
        messages.append(StoredMessage(meta_path.stem, wav, float(meta.get("started_at") or 0.0)))
    return messages


async def mailbox_menu(
    leg: Any, mailboxes: Mailboxes, tenant: str, ext: str, data_dir: Path
) -> str:
    """PIN, then: 1 hear new messages (replay / save / delete / next), 2 record greeting.

    Returns how it ended: ``no_pin``, ``locked``, ``bad_pin``, ``exit``, ``hangup``.
    """

    def say(name: str) -> bytes:
        return prompts.prompt_pcm(data_dir, name)

    box = mailboxes.settings(tenant, ext)
    if not box.pin_set:
        await leg.play(say("no_access"))
        return "no_pin"
    if box.locked_until is not None:
        await leg.play(say("locked"))
        return "locked"
    for _ in range(PIN_ATTEMPTS):
        await leg.play(say("enter_pin"), interruptible=True)
        pin = await leg.read_digits(max_digits=12, timeout=10)
        if pin is None:
            return "hangup"
        # argon2 takes tens of ms: off the loop, so the shared media clock never stalls
        if await asyncio.to_thread(mailboxes.verify_pin, tenant, ext, pin):
            break
        await leg.play(say("wrong_pin"))
        if mailboxes.settings(tenant, ext).locked_until is not None:  # this guess locked it
            await leg.play(say("locked"))
            return "locked"
    else:
        await leg.play(say("goodbye"))
        return "bad_pin"

    while not leg.ended.is_set():
        await leg.play(say("main_menu"), interruptible=True)
        choice = await leg.read_digits(timeout=10)
        if choice is None:
            return "hangup"
        if choice == "1":
            await _hear_messages(leg, mailboxes, tenant, ext, data_dir, say)
        elif choice == "2":
            await _record_greeting(leg, mailboxes, tenant, ext, data_dir, say)
        elif choice in ("*", ""):
            await leg.play(say("goodbye"))
            return "exit"
    return "hangup"


def timestamp_announcement(received_at: float, timezone: str) -> str:
    """What the menu says before a message: its time, in the owner's zone."""
    local = datetime.fromtimestamp(received_at, ZoneInfo(timezone))
    return f"Received {local:%A, %B} {local.day}, at {local.hour % 12 or 12}:{local:%M %p}."


async def _hear_messages(
    leg: Any,
    mailboxes: Mailboxes,
    tenant: str,
    ext: str,
    data_dir: Path,
    say: Callable[[str], bytes],
) -> None:
    box = mailboxes.settings(tenant, ext)
    new = mailboxes.new_messages(tenant, ext)
    if not new:
        await leg.play(say("no_new_messages"))
        return
    await leg.play(say("new_messages"))
    for message in new:
        while True:
            if box.announce_timestamp:
                text = timestamp_announcement(message.received_at, box.timezone)
                # espeak-ng takes ~0.1 s: off the loop, so the shared media clock never stalls
                spoken = await asyncio.to_thread(prompts.spoken_once, data_dir, text)
                await leg.play(spoken, interruptible=True)
            await leg.play(prompts.read_wav_pcm(message.wav), interruptible=True)
            await leg.play(say("message_menu"), interruptible=True)
            choice = await leg.read_digits(timeout=10)
            if choice is None:
                return
            if choice == "1":
                continue
            state = {"2": "saved", "3": "deleted"}.get(choice, "read")
            mailboxes.set_message_state(tenant, ext, message.message_id, state)
            if state != "read":
                await leg.play(say(state))
            break
    await leg.play(say("end_of_messages"))


async def _record_greeting(
    leg: Any,
    mailboxes: Mailboxes,
    tenant: str,
    ext: str,
    data_dir: Path,
    say: Callable[[str], bytes],
) -> None:
    if not await leg.play(say("record_greeting") + prompts.beep_pcm()):
        return
    # the place the portal's uploads use too (docs/voicemail.md), replaced atomically
    path = data_dir / greeting_relpath(tenant, ext, "custom")
    path.parent.mkdir(parents=True, exist_ok=True)

    recorder = Recorder()  # in memory: the greeting is written whole, atomically, at the end
    while not leg.digits.empty():
        leg.digits.get_nowait()
    leg.audio_sink = recorder.add
    try:
        await leg.read_digits(max_digits=99, timeout=60)
    finally:
        leg.audio_sink = None
    if recorder.samples < SAMPLE_RATE // 2:
        return
    atomic_write(path, wav_bytes(bytes(recorder.pcm)))
    mailboxes.set_greeting(tenant, ext, "custom", path)
    await leg.play(say("greeting_saved"))
