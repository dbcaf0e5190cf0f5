"""One caller's way through a queue (``media.queue`` holds the queues; this is the flow).

``CallerInQueue.run`` returns the destination the caller leaves for
(overflow or exit key), or None when they were bridged, hung up or the
queue sent them away with a goodbye. Every step writes its event in the
order it happened (``switchboard.queue_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from media import prompts
from media.attendant import caller_of
from media.bridge import PAYLOAD_TYPES, Bridge, _first
from media.hold_music import LoopedAudio, LoopPlayer
from media.leg import FRAME_SAMPLES, Leg
from media.outbound import CallerId, OutboundLeg
from media.queue_spool import QueueLog
from media.queue_strategy import Candidate, offer_order
from switchboard.attendants import MenuDestination
from switchboard.queue_events import AgentState, QueueEvent
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.queues import CallQueue

if TYPE_CHECKING:
    from media.attendant import MediaHost

log = logging.getLogger(__name__)

QUEUE_HEADER = "X-SB-Queue"
ROUND_PAUSE_SECONDS = 2.0  # at least this long between two rounds of offers to the same agents
RESULTS = {486: "busy", 600: "busy", 603: "rejected", 408: "no_answer", 480: "unavailable"}


class HoldPlayer:
    """Hold music for one waiting caller, with prompts spoken over it (a clock subscriber).

    It never touches the leg's RTP watchdog: only RTP received from the caller keeps a
    waiting caller alive, so one who vanished (no RTP, no BYE) ends at the RTP timeout
    instead of staying until the queue's max wait and being offered to agents.
    """

    def __init__(self, leg: Leg, music: LoopedAudio) -> None:
        self.leg = leg
        self.pt = PAYLOAD_TYPES[leg.codec_name]
        self.music: LoopPlayer = music.player(self.pt)
        self.prompt = bytearray()
        self.spoken = asyncio.Event()
        self._gap = True
        self.frames_sent = 0

    def say(self, pcm: bytes) -> None:
        self.prompt[:] = LoopedAudio(pcm).frames(self.pt)
        self.spoken.clear()

    def tick(self) -> None:
        sender = self.leg.session._sender
        if self.leg.ended.is_set() or sender is None or self.leg.session._closed:
            return
        if self.prompt:
            frame = bytes(self.prompt[:FRAME_SAMPLES])
            del self.prompt[:FRAME_SAMPLES]
            if not self.prompt:
                self.spoken.set()
        else:
            frame = self.music.next_frame()
        marker = 1 if self._gap else 0
        sender.send_raw(self.pt, frame, sender.current_timestamp, marker,
                        addr=self.leg.session._remote_addr)  # fmt: skip
        sender.advance_timestamp()
        self._gap = False
        self.frames_sent += 1


@dataclass(eq=False)
class Waiting:
    """One caller in a queue."""

    leg: Leg
    caller: str | None
    caller_name: str | None
    entered: float = field(default_factory=time.time)
    offering: bool = False
    tried: set[str] = field(default_factory=set)
    round_at: float = 0.0  # monotonic: when the current round of offers began
    exit_pressed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def call_id(self) -> str:
        return self.leg.call_id

    def waited(self) -> float:
        return time.time() - self.entered


def caller_display(queue: CallQueue, waited: float, name: str | None, number: str | None) -> str:
    """From's display name of an offer: the queue, the wait (m:ss) and who calls."""
    minutes, seconds = divmod(int(waited), 60)
    return f"{queue.name} {minutes}:{seconds:02d} {name or number or 'anonymous'}"[:60]


def queue_header(queue: CallQueue, waited: float, caller: str | None) -> dict[str, str]:
    """``X-SB-Queue``: Kamailio rings the agent's phones only; the phone may show the wait."""
    return {QUEUE_HEADER: f"{queue.id};wait={int(waited)};caller={caller or 'anonymous'}"}


class QueueHost(Protocol):
    """What a caller's flow uses of ``media.queue.QueueEngine`` (which imports this module)."""

    server: MediaHost
    store: ProvisioningStore
    log: QueueLog
    changed: asyncio.Event
    waiting: dict[tuple[str, int], list[Waiting]]
    last_offered: dict[tuple[str, int], str]
    handle_times: dict[tuple[str, int], list[float]]

    def notify(self, tenant: str) -> None: ...
    def agent(self, tenant: str, extension: str) -> Any: ...
    def set_state(
        self, tenant: str, ext: str, state: AgentState, caller: str | None = None
    ) -> None: ...
    def pause(self, tenant: str, ext: str, reason: str | None) -> bool: ...
    def start_wrapup(self, tenant: str, ext: str, queue: CallQueue) -> None: ...
    async def free_agents(self, tenant: str, queue: CallQueue) -> list[Candidate]: ...
    def expected_wait(self, tenant: str, queue: CallQueue, position: int, free: int) -> float: ...
    def hold_music(self, tenant: str, queue: CallQueue) -> LoopedAudio: ...


class CallerInQueue:
    """A caller waiting in ``queue``: hold music, announcements, offers, the bridge."""

    def __init__(
        self, engine: QueueHost, leg: Leg, tenant: str, queue: CallQueue, identity: str
    ) -> None:
        self.engine = engine
        self.leg = leg
        self.tenant = tenant
        self.queue = queue
        self.qid = queue.id or 0
        self.identity = identity
        who = caller_of(leg.call.invite)
        self.who = who
        self.w = Waiting(leg, who.number, who.name)
        self.line = engine.waiting.setdefault((tenant, self.qid), [])
        self.data_dir = engine.server.settings.data_dir

    def event(self, kind: str, **fields: object) -> None:
        self.engine.log.queue_event(
            self.tenant,
            QueueEvent(time.time(), kind, self.qid, self.leg.call_id, self.w.caller, **fields),  # type: ignore[arg-type]
        )

    def position(self) -> int:
        return self.line.index(self.w) + 1 if self.w in self.line else 0

    def _leave(self) -> None:
        if self.w in self.line:
            self.line.remove(self.w)
        self.engine.notify(self.tenant)

    # --- the flow ------------------------------------------------------------------------------

    async def run(self) -> MenuDestination | None:
        queue = self.queue
        self.line.append(self.w)
        self.event("enter", position=self.position())
        self.engine.notify(self.tenant)
        if len(self.line) > queue.max_callers:
            return self._overflow("max_callers")
        if not queue.join_empty and not any(m.logged_in for m in queue.members):
            return self._overflow("no_agents")
        self.hold = self.engine.hold_music(self.tenant, queue)
        player = self.player = HoldPlayer(self.leg, self.hold)
        keys = asyncio.ensure_future(self._watch_keys())
        self.leg.clock.subscribe(player)
        try:
            return await self._wait(player)
        finally:
            self.leg.clock.unsubscribe(player)
            keys.cancel()
            self._leave()

    def _overflow(self, why: str) -> MenuDestination | None:
        dest = self.queue.overflow
        target = None if dest is None else f"{dest.kind}:{dest.target}"
        self.event("overflow", position=self.position(), wait=self.w.waited(), target=target,
                   outcome=why)  # fmt: skip
        self._leave()
        return dest or MenuDestination("hangup")

    async def _watch_keys(self) -> None:
        """The exit key ends the wait (other keys are ignored)."""
        while not self.leg.ended.is_set():
            key = await self.leg.digits.get()
            if self.queue.exit_key is not None and key == self.queue.exit_key:
                self.w.exit_pressed.set()
                self.engine.changed.set()
                return

    async def _wait(self, player: HoldPlayer) -> MenuDestination | None:
        queue = self.queue
        next_announce = time.time() + 1.0 if queue.announce_seconds else float("inf")
        while True:
            if self.leg.ended.is_set():
                self.event("abandon", position=self.position(), wait=self.w.waited(),
                           outcome=self.leg.end_reason)  # fmt: skip
                return None
            if self.w.exit_pressed.is_set():
                dest = queue.exit_destination
                target = None if dest is None else f"{dest.kind}:{dest.target}"
                self.event("exit_key", position=self.position(), wait=self.w.waited(),
                           key=queue.exit_key, target=target)  # fmt: skip
                return dest
            if self.w.waited() >= queue.max_wait_seconds:
                return self._overflow("max_wait")
            with contextlib.suppress(ProvisioningError):  # edits apply to waiting callers
                queue = self.queue = self.engine.store.queue(self.tenant, self.qid)
            if time.time() >= next_announce:
                await self._announce(player)
                next_announce = time.time() + queue.announce_seconds
                continue
            if self._my_turn():
                bridged = await self._offer_next()
                if bridged:
                    return None
                if bridged is False:
                    continue  # an offer went unanswered: look again at once
            until = min(next_announce, self.w.entered + queue.max_wait_seconds) - time.time()
            await _first(self.engine.changed, self.leg.ended, self.w.exit_pressed,
                         timeout=max(0.05, min(1.0, until)))  # fmt: skip

    def _my_turn(self) -> bool:
        """Offer when every caller ahead is already being offered."""
        ahead = self.line[: self.line.index(self.w)] if self.w in self.line else []
        return all(w.offering for w in ahead)

    async def _announce(self, player: HoldPlayer) -> None:
        position = self.position()
        free = len(await self.engine.free_agents(self.tenant, self.queue))
        wait = self.engine.expected_wait(self.tenant, self.queue, position, free)
        text = f"You are caller number {position}."
        if wait > 0:
            minutes = max(1, round(wait / 60))
            text += f" Your estimated wait is about {minutes} minute{'s' if minutes > 1 else ''}."
        try:
            pcm = await asyncio.to_thread(prompts.speech_pcm, self.data_dir, text)
        except prompts.PromptError:
            log.exception("%s: announcement not spoken", self.leg.call_id)
            return
        player.say(pcm)

    # --- offers --------------------------------------------------------------------------------

    async def _offer_next(self) -> bool | None:
        """Offer to the next wave; True bridged, False not answered, None nobody free."""
        free = await self.engine.free_agents(self.tenant, self.queue)
        untried = [a for a in free if a.extension not in self.w.tried]
        if free and not untried:
            # everyone had a go: start the order again, but not in a tight loop when
            # every phone refuses at once (unregistered agents answer 480 in a millisecond)
            if time.monotonic() - self.w.round_at < ROUND_PAUSE_SECONDS:
                return None
            self.w.tried.clear()
            untried = free
        if not self.w.tried:
            self.w.round_at = time.monotonic()
        last = self.engine.last_offered.get((self.tenant, self.qid))
        waves = offer_order(self.queue.strategy, untried, last)
        if not waves or self.leg.ended.is_set():
            return None
        wave = waves[0]
        self.w.offering = True
        try:
            return await self._ring(wave)
        finally:
            self.w.offering = False

    async def _ring(self, wave: tuple[str, ...]) -> bool:
        engine, tenant, queue = self.engine, self.tenant, self.queue
        dialer = engine.server.dialer
        if dialer is None:
            return False
        engine.last_offered[(tenant, self.qid)] = wave[-1]
        pt = PAYLOAD_TYPES[self.leg.codec_name]
        shown = CallerId(self.w.caller, caller_display(queue, self.w.waited(), self.w.caller_name,
                                                       self.w.caller))  # fmt: skip
        legs: dict[str, OutboundLeg] = {}
        for ext in wave:
            self.w.tried.add(ext)
            engine.set_state(tenant, ext, "ringing", self.w.caller)
            self.event("offer", agent=ext, position=self.position(), wait=self.w.waited())
            try:
                legs[ext] = await dialer.place(
                    tenant=tenant, target=ext, caller_id=shown, identity=self.identity,
                    origin_call_id=self.leg.call_id, payload_types=[pt, 8 if pt == 0 else 0],
                    extra_headers=queue_header(queue, self.w.waited(), self.w.caller),
                )  # fmt: skip
            except Exception:
                log.exception("%s: offer to %s not placed", self.leg.call_id, ext)
                engine.set_state(tenant, ext, "available")
                self.event("offer_failed", agent=ext, outcome="failed")
        engine.notify(tenant)
        winner = await self._first_answer(legs)
        for ext, out in legs.items():
            if ext == winner:
                continue
            if not out.ended.is_set():
                out.hangup("answered_elsewhere" if winner else "no_answer")
            code = out.final_code
            outcome = (
                "answered_elsewhere" if winner and code in (None, 200, 487)
                else "caller_gone" if self.leg.ended.is_set() or self.w.exit_pressed.is_set()
                else RESULTS.get(code or 408, "no_answer" if code in (None, 487) else "rejected")
            )  # fmt: skip
            self.event("offer_failed", agent=ext, outcome=outcome, wait=self.w.waited())
            if engine.agent(tenant, ext).state == "ringing":
                engine.set_state(tenant, ext, "available")
            if outcome == "no_answer" and queue.pause_on_no_answer:
                with contextlib.suppress(ProvisioningError):
                    engine.pause(tenant, ext, "no-answer")
            await out.close()
        engine.notify(tenant)
        if winner is None:
            return False
        await self._bridge(winner, legs[winner])
        return True

    async def _first_answer(self, legs: dict[str, OutboundLeg]) -> str | None:
        """The agent who answered first within the ring time; None: nobody (or caller gone)."""
        # the ring time, but never past the caller's maximum wait (then they overflow)
        left = self.queue.max_wait_seconds - self.w.waited()
        deadline = time.monotonic() + max(0.0, min(self.queue.ring_seconds, left))
        while legs and time.monotonic() < deadline:
            for ext, out in legs.items():
                if out.answered.is_set() and not out.ended.is_set():
                    if self.leg.ended.is_set():
                        out.hangup("caller_gone")
                        return None
                    return ext
            if all(out.ended.is_set() for out in legs.values()):
                return None
            if self.leg.ended.is_set() or self.w.exit_pressed.is_set():
                return None
            events = [e for out in legs.values() for e in (out.answered, out.ended)]
            await _first(*events, self.leg.ended, self.w.exit_pressed,
                         timeout=max(0.0, deadline - time.monotonic()))  # fmt: skip
        return None

    async def _bridge(self, ext: str, out: OutboundLeg) -> None:
        engine, tenant = self.engine, self.tenant
        wait = self.w.waited()
        self.event("connect", agent=ext, wait=wait)
        engine.set_state(tenant, ext, "on_call", self.w.caller)
        self._leave()
        self.leg.clock.unsubscribe(self.player)
        relay = Bridge(self.leg, out, self.hold, host=out.dialer.media_host)
        relay.start()
        relay.on_answer()
        try:
            await _first(self.leg.ended, out.ended)
            assert out.answered_at is not None
            talk = time.monotonic() - out.answered_at
            if out.ended.is_set() and not self.leg.ended.is_set():
                outcome = "agent_hangup"
                self.leg.finish("hangup", send_bye=True)
            else:
                outcome = "caller_hangup"
                out.hangup("caller_hangup")
        finally:
            relay.stop()
            await out.close()
        self.event("complete", agent=ext, wait=wait, talk=talk, outcome=outcome)
        times = engine.handle_times.setdefault((tenant, self.qid), [])
        times.append(talk + self.queue.wrapup_seconds)
        del times[:-50]
        engine.start_wrapup(tenant, ext, self.queue)
