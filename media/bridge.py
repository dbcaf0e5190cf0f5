"""Bridge a caller's answered leg to a new leg placed through Kamailio, and relay RTP.

``bridge()`` is what an application (the auto attendant's extension key, a
queue's agent) calls when the caller must reach another party:

1. place ``sip:<target>@<tenant>`` through Kamailio (``media.outbound``), so
   the target's answering rules, forwarding, voicemail and accounting apply;
2. while it rings, play ringback to the caller until the callee's early media
   (183 + RTP: a carrier's ringback or announcement) arrives, then relay that
   and only that (silence in its pauses, never our ringback again);
3. on 200, relay audio both ways on the shared 20 ms clock; RFC 2833 digits
   pass through with each side's own payload type (caller 96 -> callee 101);
4. a party that holds (re-INVITE ``sendonly``/``inactive``/``c=0.0.0.0``)
   hears nothing and the other party hears the hold music until unhold;
5. either side's BYE ends both legs.

On busy / no answer / any other failure it returns the outcome with the
caller's leg still up, so the application can go on (attendant fallback).

Relay: each leg's RTP is taken straight from its socket (no aiortp jitter
buffer or decoder): G.711 payloads go into the other party's queue, translated
byte by byte when one side is PCMU and the other PCMA (a table built once
through linear PCM with the fixed A-law codec, ``media.workarounds`` bug 2);
the clock sends 20 ms from each queue per tick. A queue starts sending at its
first frame and re-primes at two frames after an underrun (silence meanwhile);
a backlog (the process was descheduled, packets came in a burst) is sent two
frames a tick from four frames deep, and cut back to two past ten (200 ms).
The packets keep each receiver's own SSRC, sequence and timestamps (a B2BUA's
streams, not the phone's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiortp import RTPSession
from aiortp.codecs.g711 import PcmuCodec

from media.hold_music import LoopedAudio, LoopPlayer, hold_music_loop, ringback_loop
from media.leg import FRAME_SAMPLES, Leg
from media.outbound import CallerId, Dialer, OutboundLeg, answer_reinvite, media_direction
from media.workarounds import MediaCall, PcmaCodec, offered_dtmf_payload_type

log = logging.getLogger(__name__)

FRAME = FRAME_SAMPLES  # G.711: one byte per sample, 160 bytes per 20 ms
KEEP_QUEUE = 2 * FRAME  # after an underrun, sending resumes at this depth
CATCH_UP = 4 * FRAME  # at this depth a tick sends two frames (drains a stall's backlog)
MAX_QUEUE = 10 * FRAME  # past this (200 ms) the oldest audio is dropped down to KEEP_QUEUE
PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}
HOLD = frozenset({"sendonly", "inactive"})
SILENCE = {0: b"\xff" * FRAME, 8: b"\xd5" * FRAME}  # G.711 zero

Result = Literal["answered", "busy", "no_answer", "rejected", "caller_hung_up", "failed"]


def _translation(src: int, dst: int) -> bytes:
    """G.711 byte -> G.711 byte through linear PCM (PCMU 0 <-> PCMA 8)."""
    codecs = {0: PcmuCodec(), 8: PcmaCodec()}
    return codecs[dst].encode(codecs[src].decode(bytes(range(256))))


TRANSCODE: dict[tuple[int, int], bytes] = {(0, 8): _translation(0, 8), (8, 0): _translation(8, 0)}


@dataclass
class BridgeOutcome:
    """How a bridge ended. Unless ``answered`` (or the caller hung up) the caller is still up."""

    result: Result
    sip_code: int
    reason: str = ""
    callee_call_id: str | None = None
    ended_by: str | None = None  # answered calls: caller | callee | rtp_timeout | shutdown
    talk_seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def caller_still_up(self) -> bool:
        return self.result not in ("answered", "caller_hung_up")


def _rtp_fields(data: bytes) -> tuple[int, int, int, bytes] | None:
    """(payload type, marker, timestamp, payload) of an RTP datagram; None if it is not one."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= offset + 4:
        offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)
    if offset > end:
        return None
    return data[1] & 0x7F, data[1] >> 7, int.from_bytes(data[4:8], "big"), data[offset:end]


@dataclass(eq=False)
class _Side:
    """One party as a destination: what it receives and the audio queued for it."""

    name: str
    session: RTPSession
    payload_type: int | None
    dtmf_payload_type: int | None
    direction: str = "sendrecv"  # what this party asked for; sendonly/inactive: it holds
    queue: bytearray = field(default_factory=bytearray)
    primed: bool = False
    gap: bool = True  # nothing sent last tick: mark the next packet
    relayed: int = 0
    underruns: int = 0
    dropped: int = 0
    first_relayed_at: float | None = None
    music: LoopPlayer | None = None
    _event_ts: tuple[int, int] | None = None  # (source timestamp, ours) of the current digit

    @property
    def holds(self) -> bool:
        return self.direction in HOLD

    def send(self, payload: bytes, *, relayed: bool = False) -> None:
        sender = self.session._sender
        if sender is None or self.payload_type is None or self.session._closed:
            return
        marker = 1 if self.gap else 0
        sender.send_raw(
            self.payload_type,
            payload,
            sender.current_timestamp,
            marker,
            addr=self.session._remote_addr,
        )
        sender.advance_timestamp()
        self.gap = False
        if relayed:
            self.relayed += 1
            if self.first_relayed_at is None:
                self.first_relayed_at = time.monotonic()

    def skip(self) -> None:
        """Send nothing this tick (the party holds): keep RTP time running."""
        if self.session._sender is not None:
            self.session._sender.advance_timestamp()
        self.gap = True

    def relay_tick(self) -> None:
        """Send 20 ms from the queue, priming and counting underruns.

        While the queue is empty the party gets silence: its stream never
        stops (NAT bindings, a phone's jitter buffer, a peer waiting to latch).
        """
        if not self.primed:
            if len(self.queue) < (FRAME if self.relayed == 0 else KEEP_QUEUE):
                self.send(SILENCE[self.payload_type or 0])
                return
            self.primed = True
        if len(self.queue) < FRAME:
            self.primed = False
            self.underruns += 1
            self.send(SILENCE[self.payload_type or 0])
            return
        frames = 2 if len(self.queue) >= CATCH_UP else 1
        for _ in range(frames):
            frame = bytes(self.queue[:FRAME])
            del self.queue[:FRAME]
            self.send(frame, relayed=True)

    def enqueue(self, payload_type: int, payload: bytes) -> None:
        if self.payload_type is None:
            return
        if payload_type != self.payload_type:
            payload = payload.translate(TRANSCODE[(payload_type, self.payload_type)])
        self.queue += payload
        if len(self.queue) > MAX_QUEUE:
            self.dropped += (len(self.queue) - KEEP_QUEUE) // FRAME
            del self.queue[: len(self.queue) - KEEP_QUEUE]

    def relay_digit(self, timestamp: int, marker: int, payload: bytes) -> None:
        """Pass an RFC 4733 packet on with this party's payload type and timestamps."""
        sender = self.session._sender
        if sender is None or self.dtmf_payload_type is None or self.session._closed:
            return
        if self._event_ts is None or self._event_ts[0] != timestamp:
            self._event_ts = (timestamp, sender.current_timestamp)
        sender.send_raw(
            self.dtmf_payload_type,
            payload,
            self._event_ts[1],
            marker,
            addr=self.session._remote_addr,
        )

    def reset_queue(self) -> None:
        self.queue.clear()
        self.primed = False


class Bridge:
    """The relay between a caller's leg and an outbound leg, paced by the media clock."""

    def __init__(
        self, caller: Leg, callee: OutboundLeg, hold_music: LoopedAudio, *, host: str
    ) -> None:
        self.caller = caller
        self.callee = callee
        self.host = host
        self._hold_music = hold_music
        self._ringback = ringback_loop()
        caller_pt = PAYLOAD_TYPES[caller.codec_name]
        caller_offer = caller.call.sdp_offer
        self.to_caller = _Side(
            "caller",
            caller.session,
            caller_pt,
            caller.dtmf_payload_type,
            direction=media_direction(caller_offer),
        )
        self.to_callee = _Side("callee", callee.session, None, None)
        self._ringing = self._ringback.player(caller_pt)
        self.early_media = False  # the callee's audio came before its answer
        self.answered = False

    # --- wiring ---------------------------------------------------------------------------

    def start(self) -> None:
        self.caller.divert_rtp(self._from_caller)
        self.callee.set_rtp_handler(self._from_callee)
        self.callee.on_reinvite = self._callee_reinvite
        self.callee.dialer.reinvite_handlers[self.caller.call_id] = self._caller_reinvite
        self.caller.clock.subscribe(self)

    def stop(self) -> None:
        self.caller.clock.unsubscribe(self)
        self.caller.divert_rtp(None)
        self.callee.set_rtp_handler(None)
        self.callee.on_reinvite = None
        self.callee.dialer.reinvite_handlers.pop(self.caller.call_id, None)

    def on_answer(self) -> None:
        """The callee answered: its codec and DTMF payload type come from the answer."""
        self.to_callee.payload_type = self.callee.payload_type
        self.to_callee.direction = self.callee.direction
        answer = self.callee.call.sdp_answer
        self.to_callee.dtmf_payload_type = (
            None if answer is None else offered_dtmf_payload_type(answer)
        )
        self.to_caller.reset_queue()  # early media is over: relay from now on
        self.answered = True
        self._update_music()

    # --- RTP in ---------------------------------------------------------------------------

    def _from_caller(self, data: bytes, addr: tuple[str, int]) -> None:
        self.caller.session._latch_rtp_addr(addr)
        self.callee.touch_watchdog()
        fields = _rtp_fields(data)
        if fields is None:
            return
        pt, marker, timestamp, payload = fields
        if pt in (0, 8):
            if self.answered and not self.to_callee.holds and not self.to_caller.holds:
                self.to_callee.enqueue(pt, payload)
        elif pt == self.caller.dtmf_payload_type and self.answered:
            self.to_callee.relay_digit(timestamp, marker, payload)

    def _from_callee(self, data: bytes, addr: tuple[str, int]) -> None:
        self.callee.session._latch_rtp_addr(addr)
        self.caller.touch_watchdog()
        fields = _rtp_fields(data)
        if fields is None:
            return
        pt, marker, timestamp, payload = fields
        if pt in (0, 8):
            if not self.to_caller.holds and not self.to_callee.holds:
                self.to_caller.enqueue(pt, payload)
        elif pt == self.to_callee.dtmf_payload_type:
            self.to_caller.relay_digit(timestamp, marker, payload)

    # --- RTP out (the clock) --------------------------------------------------------------

    def tick(self) -> None:
        if not self.answered:
            self.caller.touch_watchdog()  # the caller may listen to ringback in silence
            if not self.early_media and len(self.to_caller.queue) >= FRAME:
                self.early_media = True
            if self.early_media:
                # the far end's early media: from its first frame the caller hears only it
                # (silence in its pauses), never our ringback again (RFC 3960 §3)
                self.to_caller.relay_tick()
            else:
                self.to_caller.send(self._ringing.next_frame())
            return
        for side in (self.to_caller, self.to_callee):
            if side.holds:
                side.skip()
                self._touch(side)  # a party holding may send nothing
            elif side.music is not None:
                side.send(side.music.next_frame())
            else:
                side.relay_tick()

    def _touch(self, side: _Side) -> None:
        (self.caller if side is self.to_caller else self.callee).touch_watchdog()

    # --- hold -----------------------------------------------------------------------------

    def _update_music(self) -> None:
        """Music for a party whose peer holds (and who does not hold itself); else relay."""
        for side, other in ((self.to_caller, self.to_callee), (self.to_callee, self.to_caller)):
            wants = self.answered and other.holds and not side.holds
            if wants and side.music is None and side.payload_type is not None:
                side.music = self._hold_music.player(side.payload_type)
                side.reset_queue()
            elif not wants and side.music is not None:
                side.music = None
                side.reset_queue()

    def _reinvite(self, side: _Side, call: MediaCall, port: int) -> None:
        current = [side.payload_type] if side.payload_type is not None else []
        offered = current + [pt for pt in (0, 8) if pt not in current]
        direction, address, pt = answer_reinvite(
            call, host=self.host, port=port, payload_types=offered
        )
        if address is not None:
            side.session.update_remote(address)
        if pt is not None and pt != side.payload_type:
            side.payload_type = pt
            side.reset_queue()
        side.direction = direction
        log.info("%s: %s asks %s", self.caller.call_id, side.name, direction)
        self._update_music()

    def _caller_reinvite(self, call: MediaCall) -> None:
        self._reinvite(self.to_caller, call, _local_port(self.caller.session))

    def _callee_reinvite(self, call: MediaCall) -> None:
        self._reinvite(self.to_callee, call, _local_port(self.callee.session))

    def stats(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for side in (self.to_caller, self.to_callee):
            out[f"{side.name}_relayed"] = side.relayed
            out[f"{side.name}_underruns"] = side.underruns
            out[f"{side.name}_dropped"] = side.dropped
        if self.callee.answered_at is not None:
            out["answered_at"] = self.callee.answered_at  # time.monotonic(): system-wide
            if self.to_caller.first_relayed_at is not None:
                first = self.to_caller.first_relayed_at - self.callee.answered_at
                out["answer_to_first_relay_ms"] = 1000 * first
        out["caller_rtp_port"] = _local_port(self.caller.session)
        out["callee_rtp_port"] = _local_port(self.callee.session)
        return out


def _local_port(session: RTPSession) -> int:
    assert session._rtp_transport is not None and session._rtp_transport._transport is not None
    return int(session._rtp_transport._transport.get_extra_info("sockname")[1])


def _failure(code: int) -> Result:
    if code in (486, 600):
        return "busy"
    if code in (408, 480, 487):
        return "no_answer"
    return "rejected"


async def _first(*events: asyncio.Event, timeout: float | None = None) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def bridge(
    caller: Leg,
    target: str,
    *,
    dialer: Dialer,
    tenant: str,
    identity: str,
    caller_id: CallerId,
    hold_music: Path,
    data_dir: Path,
    original_call_id: str | None = None,
    ring_timeout: float = 30.0,
) -> BridgeOutcome:
    """Call ``target`` (extension or outside number) of ``tenant`` and bridge ``caller`` to it.

    ``identity`` is what Kamailio asserted for the caller's leg (``trunk`` or
    ``<user>@<tenant>``); ``caller_id`` is what the callee's phone shows;
    ``original_call_id`` (default: the caller leg's) goes into the new leg's
    accounting row. Returns when the bridged call ended (both legs hung up) or
    when the callee could not be reached (the caller's leg is still up).
    """
    caller_pt = PAYLOAD_TYPES[caller.codec_name]
    try:
        out = await dialer.place(
            tenant=tenant,
            target=target,
            caller_id=caller_id,
            identity=identity,
            origin_call_id=original_call_id or caller.call_id,
            payload_types=[caller_pt, 8 if caller_pt == 0 else 0],
        )
    except Exception:
        log.exception("%s: could not place a leg to %s", caller.call_id, target)
        return BridgeOutcome("failed", 500, "cannot place the call")
    relay = Bridge(caller, out, hold_music_loop(hold_music, data_dir), host=dialer.media_host)
    relay.start()
    try:
        final = asyncio.ensure_future(out.wait_final(ring_timeout))
        await _first(caller.ended, out.answered, out.ended)
        if caller.ended.is_set():
            final.cancel()
            out.hangup("caller_hung_up")
            return BridgeOutcome(
                "caller_hung_up", 487, "caller hung up", out.call_id, stats=relay.stats()
            )
        code = await final
        if code != 200:
            return BridgeOutcome(_failure(code), code, out.final_reason, out.call_id)
        if out.payload_type is None:
            out.hangup("no_codec")
            return BridgeOutcome("rejected", 488, "no common codec", out.call_id)
        relay.on_answer()
        await _first(caller.ended, out.ended)
        assert out.answered_at is not None
        talk = time.monotonic() - out.answered_at
        if out.ended.is_set() and not caller.ended.is_set():
            ended_by = "rtp_timeout" if out.end_reason == "rtp_timeout" else "callee"
            caller.finish("hangup", send_bye=True)
        else:
            ended_by = "rtp_timeout" if caller.end_reason == "rtp_timeout" else "caller"
            out.hangup(ended_by)
        return BridgeOutcome(
            "answered", 200, "OK", out.call_id, ended_by, talk, stats=relay.stats()
        )
    finally:
        relay.stop()
        await out.close()
