"""The auto attendant and announcements on the media server: menus a caller walks with keys.

Kamailio sends ``aa-<tenant>-<id>`` (a menu) and ``ann-<tenant>-<id>`` (an
announcement) here (``switchboard.attendants``). A menu plays its greeting
(made at save time, paced by the shared ``MediaClock``), waits
``timeout_seconds`` for one RFC 2833 key (payload type 96 or 101:
``media.workarounds`` bug 3), and counts no-input and invalid keys with
``switchboard.attendants.menu_choice`` — the simulator's own rule, so the
portal tells what the phone does. Then the destination:

- ``extension`` / ``number``: a new leg through Kamailio bridged to the
  caller (``media.bridge``, injected as ``Connect``), so the callee's rules
  (forwarding, voicemail on no answer) apply there. A bridge that fails
  (busy, no answer, no such extension) means "not reachable": the caller
  hears so and goes to the menu's invalid outcome (once; a second failure
  hangs up, so two dead ends never loop);
- ``voicemail``: the mailbox's own leave-a-message flow (``media.voicemail``);
- ``announcement``: its recording, then its ``then`` (or hang up);
- ``attendant``: that menu (counters start again); ``repeat``: this one;
- ``dial_by_extension``: digits until ``#`` or the menu's timeout, then as
  ``extension`` when the tenant has it, else an invalid choice;
- ``hangup``: the call ends.

A menu or announcement that no longer exists (or never did) is answered
with a spoken apology and a hang-up, never a SIP 404: the store refuses to
delete what a route points to, so this is a race or a hand-made route.

Every call writes its steps (``switchboard.call_steps``) to the spool when
the media server's part ends: ``spool/steps/<tenant>/<batch_id>.json``,
temp file + rename (docs/spool.md), for the pipeline's funnel.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiosipua import SipRequest

from media import prompts
from media.audio_library import AudioError, library_pcm
from media.bridge import bridge
from media.hold_music import hold_track
from media.leg import Leg
from media.mailbox import Mailboxes
from media.outbound import CallerId, Dialer
from media.voicemail import MessageMeta, VoicemailSpool, leave_message, new_message_id
from switchboard.attendants import (
    ANNOUNCEMENT_PREFIX,
    ATTENDANT_PREFIX,
    MAX_HOPS,
    Announcement,
    Attendant,
    MenuCounts,
    MenuDestination,
    invalid_choice,
    menu_choice,
    parse_media_target,
)
from switchboard.call_steps import CallStep, StepKind, steps_document
from switchboard.identifiers import EXTENSION_RE, TENANT_RE
from switchboard.library_paths import LibraryKind
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore

log = logging.getLogger(__name__)

MAX_DIALLED_DIGITS = 8  # EXTENSION_RE: 2 to 8 digits


class Reached(Protocol):
    """What a bridge attempt tells the menu (``media.bridge.BridgeOutcome`` has these)."""

    # read-only members: a protocol's plain attribute is invariant, and BridgeOutcome's
    # result is a Literal of these
    @property
    def result(self) -> str: ...  # answered | busy | no_answer | rejected | caller_hung_up | failed
    @property
    def callee_call_id(self) -> str | None: ...
    @property
    def ended_by(self) -> str | None: ...
    @property
    def talk_seconds(self) -> float: ...


# Place a leg to ``target`` (an extension or an outside number) and bridge the caller to it.
Connect = Callable[[Leg, str], Awaitable[Reached]]
# Leave a message in ``mailbox``'s box (the leave-a-message flow of media.voicemail).
LeaveMessage = Callable[[Leg, str], Awaitable[None]]
# Hands the caller to a queue (media.queue.QueueEngine.serve); returns when they are done.
EnterQueue = Callable[[Leg, int], Awaitable[None]]


class Menus(Protocol):
    """What the menu application reads from provisioning."""

    def attendant(self, tenant: str, attendant_id: int) -> Attendant | None: ...
    def announcement(self, tenant: str, announcement_id: int) -> Announcement | None: ...
    def has_extension(self, tenant: str, extension: str) -> bool: ...
    def hold_music_file(self, tenant: str) -> str | None: ...


@dataclass
class StoreMenus:
    """``Menus`` over the provisioning store (read each call: edits apply to the next caller)."""

    store: ProvisioningStore

    def attendant(self, tenant: str, attendant_id: int) -> Attendant | None:
        try:
            return self.store.attendant(tenant, attendant_id)
        except ProvisioningError:
            return None

    def announcement(self, tenant: str, announcement_id: int) -> Announcement | None:
        try:
            return self.store.announcement(tenant, announcement_id)
        except ProvisioningError:
            return None

    def has_extension(self, tenant: str, extension: str) -> bool:
        try:
            self.store.user(tenant, extension)
        except ProvisioningError:
            return False
        return True

    def hold_music_file(self, tenant: str) -> str | None:
        """The tenant's default track (relative to the data dir); None: the built-in one."""
        try:
            track = self.store.default_hold_music(tenant)
        except ProvisioningError:
            return None
        return track.audio_file if track is not None else None


class MediaHost(Protocol):
    """What the application uses of ``media.server.MediaServer`` (which imports this module)."""

    settings: Settings
    menus: Menus | None
    dialer: Dialer | None
    mailboxes: Mailboxes
    spool: VoicemailSpool
    messages: list[MessageMeta]

    @property
    def queues(self) -> QueueHost | None: ...  # read-only: the server holds a QueueEngine


class QueueHost(Protocol):
    """What a menu uses of ``media.queue.QueueEngine``: hand a caller to a queue."""

    async def serve(
        self, leg: Leg, tenant: str, queue_id: int, identity: str, hops: int = 0
    ) -> None: ...


def queue_for(server: MediaHost, tenant: str, identity: str, hops: int = 0) -> EnterQueue | None:
    """A menu's way into the tenant's queues (None when this server runs no queues)."""
    queues = server.queues
    if queues is None:
        return None

    async def enter(leg: Leg, queue_id: int) -> None:
        await queues.serve(leg, tenant, queue_id, identity, hops)

    return enter


# --- the steps spool ---------------------------------------------------------------------------


def write_steps(spool_dir: Path, tenant: str, call_id: str, steps: list[CallStep]) -> Path | None:
    """Write one call's steps as a spool batch (temp + rename); None when there are none."""
    if not steps:
        return None
    if not TENANT_RE.match(tenant):
        raise ValueError(f"no steps folder for tenant {tenant!r}")
    batch_id = f"st-{uuid.uuid4().hex}"
    folder = spool_dir / "steps" / tenant
    folder.mkdir(parents=True, exist_ok=True)
    doc = steps_document(batch_id, tenant, call_id, steps)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        fh.flush()
        os.fsync(fh.fileno())
    final = folder / f"{batch_id}.json"
    os.replace(tmp, final)
    return final


# --- one caller in the menus -------------------------------------------------------------------


def _code(dest: MenuDestination | None) -> str | None:
    return None if dest is None else f"{dest.kind}:{dest.target}"


@dataclass
class MenuWalk:
    """One caller walking the tenant's menus; ``steps`` is what happened, in order."""

    leg: Leg
    tenant: str
    menus: Menus
    data_dir: Path
    connect: Connect
    leave_message: LeaveMessage
    enter_queue: EnterQueue | None = None
    steps: list[CallStep] = field(default_factory=list)
    _bridged_failure: bool = False

    def step(self, kind: StepKind, **fields: object) -> None:
        self.steps.append(CallStep(at=time.time(), kind=kind, **fields))  # type: ignore[arg-type]

    def _speech(self, text: str) -> bytes:
        return prompts.speech_pcm(self.data_dir, text)

    def _audio(self, kind: LibraryKind, relpath: str, text: str) -> bytes:
        """A library file made at save time; the text spoken (cached) if the file is missing.

        Only this tenant's own library file of ``kind`` is played (``library_pcm``):
        a row saved before the store checked paths may name another company's audio.
        """
        if relpath:
            try:
                return library_pcm(self.data_dir, self.tenant, kind, relpath)
            except (AudioError, prompts.PromptError, OSError):
                log.warning(
                    "%s: %s audio %r of %s unreadable or not in its library, speaking the text",
                    self.leg.call_id, kind, relpath, self.tenant,
                )  # fmt: skip
        return self._speech(text or "Welcome.")

    async def run(self, start: MenuDestination) -> None:
        """Walk from ``start`` until the caller is bridged, leaves a message, or hangs up."""
        dest: MenuDestination | None = start
        menu: Attendant | None = None
        counts = MenuCounts()
        for _ in range(MAX_HOPS * 4):
            if dest is None or self.leg.ended.is_set():
                return
            if dest.kind == "repeat" and menu is not None:
                dest = await self._menu(menu, counts)
            elif dest.kind == "attendant":
                found = self.menus.attendant(self.tenant, _id(dest.target))
                if found is None:
                    await self._unavailable(dest)
                    return
                menu, counts = found, MenuCounts()
                self.step("menu_entered", attendant_id=menu.id)
                dest = await self._menu(menu, counts)
            elif dest.kind == "announcement":
                dest = await self._announcement(dest)
            elif dest.kind in ("extension", "number"):
                dest = await self._bridge(dest, menu)
            elif dest.kind == "dial_by_extension" and menu is not None:
                dest = await self._dial_by_extension(menu, counts)
            elif dest.kind == "voicemail":
                self.step("voicemail", attendant_id=menu.id if menu else None, target=_code(dest))
                await self.leave_message(self.leg, dest.target)
                return
            elif dest.kind == "queue" and self.enter_queue is not None:
                self.step("queue", attendant_id=menu.id if menu else None, target=_code(dest))
                await self.enter_queue(self.leg, _id(dest.target))
                return
            else:  # hangup, and anything that cannot take a caller
                self.step("hangup", attendant_id=menu.id if menu else None, target=_code(dest))
                await self.leg.play(prompts.prompt_pcm(self.data_dir, "goodbye"))
                return
        log.warning("%s: too many menus in a row, hanging up", self.leg.call_id)
        self.step("hangup", outcome="too_many_hops")

    async def _menu(self, menu: Attendant, counts: MenuCounts) -> MenuDestination | None:
        """Play ``menu`` until a choice leads elsewhere; None when the caller hung up."""
        greeting = self._audio("greeting", menu.greeting_file, menu.greeting_text)
        while True:
            await self.leg.play(greeting, interruptible=True)
            key = await self._key(menu.timeout_seconds)
            if self.leg.ended.is_set():
                self.step("menu_hangup", attendant_id=menu.id, outcome=self.leg.end_reason)
                return None
            event, dest = menu_choice(menu, key, counts)
            self.step(event, attendant_id=menu.id, key=key or None, target=_code(dest))
            if dest is not None:
                return dest

    async def _key(self, timeout: float) -> str | None:
        """One key (None: none before the timeout, or the call ended)."""
        got = await self.leg.read_digits(max_digits=1, terminator="", timeout=timeout)
        return got or None

    async def _dial_by_extension(
        self, menu: Attendant, counts: MenuCounts
    ) -> MenuDestination | None:
        await self.leg.play(prompts.prompt_pcm(self.data_dir, "dial_extension"), interruptible=True)
        typed = await self.leg.read_digits(
            max_digits=MAX_DIALLED_DIGITS, terminator="#", timeout=menu.timeout_seconds
        )
        if self.leg.ended.is_set() or typed is None:
            self.step("menu_hangup", attendant_id=menu.id, outcome=self.leg.end_reason)
            return None
        if EXTENSION_RE.match(typed) and self.menus.has_extension(self.tenant, typed):
            dest = MenuDestination("extension", typed)
            self.step("menu_key", attendant_id=menu.id, key=typed, target=_code(dest))
            return dest
        dest_or_again = invalid_choice(menu, counts)
        self.step("menu_invalid", attendant_id=menu.id, key=typed or None,
                  target=_code(dest_or_again))  # fmt: skip
        await self.leg.play(prompts.prompt_pcm(self.data_dir, "no_such_extension"))
        return dest_or_again or MenuDestination("repeat")

    async def _announcement(self, dest: MenuDestination) -> MenuDestination | None:
        ann = self.menus.announcement(self.tenant, _id(dest.target))
        if ann is None:
            await self._unavailable(dest)
            return None
        self.step("announcement", target=_code(dest))
        played = await self.leg.play(self._audio("announcement", ann.audio_file, ann.text))
        if not played:
            return None
        return ann.then or MenuDestination("hangup")

    async def _bridge(
        self, dest: MenuDestination, menu: Attendant | None
    ) -> MenuDestination | None:
        menu_id = menu.id if menu else None
        self.step("bridge_attempt", attendant_id=menu_id, target=_code(dest))
        reached = await self.connect(self.leg, dest.target)
        if reached.result == "answered":
            answered_at = time.time() - reached.talk_seconds
            self.steps.append(
                CallStep(answered_at, "bridge_answered", menu_id, None, _code(dest), "answered",
                         reached.callee_call_id)
            )  # fmt: skip
            ended = "caller_hangup" if reached.ended_by == "caller" else "callee_hangup"
            if reached.ended_by not in ("caller", "callee"):
                ended = reached.ended_by or "ended"
            self.step("bridge_ended", attendant_id=menu_id, target=_code(dest), outcome=ended,
                      leg_call_id=reached.callee_call_id)  # fmt: skip
            return None
        self.step("bridge_failed", attendant_id=menu_id, target=_code(dest),
                  outcome=reached.result, leg_call_id=reached.callee_call_id)  # fmt: skip
        if reached.result == "caller_hung_up" or self.leg.ended.is_set():
            return None
        await self.leg.play(prompts.prompt_pcm(self.data_dir, "not_reachable"))
        if menu is None or self._bridged_failure:
            return MenuDestination("hangup")
        self._bridged_failure = True  # the fallback gets one try: two dead ends never loop
        return menu.invalid

    async def _unavailable(self, dest: MenuDestination) -> None:
        log.warning("%s: %s of %s does not exist", self.leg.call_id, _code(dest), self.tenant)
        self.step("hangup", target=_code(dest), outcome="not_found")
        await self.leg.play(prompts.prompt_pcm(self.data_dir, "menu_unavailable"))


def _id(target: str) -> int:
    return int(target) if target.isdigit() else 0


def start_of(user: str) -> tuple[str, MenuDestination] | None:
    """(tenant, first destination) of an ``aa-``/``ann-`` Request-URI user; None otherwise."""
    if (menu := parse_media_target(ATTENDANT_PREFIX, user)) is not None:
        return menu[0], MenuDestination("attendant", str(menu[1]))
    if (ann := parse_media_target(ANNOUNCEMENT_PREFIX, user)) is not None:
        return ann[0], MenuDestination("announcement", str(ann[1]))
    return None


async def attendant_application(server: MediaHost, leg: Leg, user: str, identity: str) -> None:
    """The ``aa-``/``ann-`` application of ``media.server`` (wires the real bridge and mailbox)."""
    start = start_of(user)
    if start is None:
        return
    tenant, dest = start
    if server.menus is None:
        log.error("%s: no menus to read", leg.call_id)
        return
    walk = MenuWalk(
        leg, tenant, server.menus, server.settings.data_dir,
        connect=connect_for(server, leg, tenant, identity),
        leave_message=leave_message_for(server, tenant),
        enter_queue=queue_for(server, tenant, identity),
    )  # fmt: skip
    try:
        await walk.run(dest)
    finally:
        try:
            write_steps(server.settings.spool_dir, tenant, leg.call_id, walk.steps)
        except OSError:
            log.exception("%s: steps not written", leg.call_id)


# --- wiring to the real bridge and mailbox ------------------------------------------------------

# How long a bridged leg may ring: longer than any rule's ring time, so the
# callee's own no-answer forward (voicemail) answers before we give up.
BRIDGE_RING_SECONDS = 120.0


def caller_of(invite: SipRequest) -> CallerId:
    """The number and name the callee's phone shows (From; None when anonymous)."""
    addr = invite.from_addr
    if addr is None or addr.uri is None:
        return CallerId(None)
    user = addr.uri.user
    if not user or user.lower() == "anonymous":
        return CallerId(None, addr.display_name or None)
    return CallerId(user, addr.display_name or None)


def connect_for(server: MediaHost, leg: Leg, tenant: str, identity: str) -> Connect:
    """``Connect`` through ``media.bridge`` with the tenant's default hold music."""
    settings = server.settings
    track = server.menus.hold_music_file(tenant) if server.menus is not None else None
    hold = hold_track(settings.data_dir, tenant, track, settings.hold_music_file)

    async def connect(caller: Leg, target: str) -> Reached:
        if server.dialer is None:
            raise RuntimeError("the media server places no calls before it starts")
        return await bridge(
            caller, target, dialer=server.dialer, tenant=tenant, identity=identity,
            caller_id=caller_of(caller.call.invite), hold_music=hold,
            data_dir=settings.data_dir, ring_timeout=BRIDGE_RING_SECONDS,
        )  # fmt: skip

    return connect


def leave_message_for(server: MediaHost, tenant: str) -> LeaveMessage:
    """``LeaveMessage`` through the voicemail flow (the mailbox's own greeting and settings)."""

    async def leave(caller: Leg, mailbox: str) -> None:
        who = caller_of(caller.call.invite)
        meta = MessageMeta(
            message_id=new_message_id(), tenant=tenant, mailbox=mailbox,
            call_id=caller.call_id, caller=who.number, caller_name=who.name,
            codec=caller.codec_name,
        )  # fmt: skip
        box = server.mailboxes.settings(tenant, mailbox)
        result = await leave_message(
            caller, server.spool, meta, box, server.settings.data_dir,
            max_seconds=server.settings.voicemail_max_seconds,
        )  # fmt: skip
        server.messages.append(result)

    return leave
