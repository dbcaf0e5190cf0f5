"""Legs the media server places through Kamailio: the far side of a bridge.

A bridged call keeps the caller's leg and places a new INVITE **through
Kamailio** (DESIGN, "The call path"), so the callee's answering rules,
forwarding, voicemail and accounting apply as to any call. Kamailio takes
such an INVITE without digest auth only from a media worker's SIP address
carrying

    X-SB-Bridge: tenant=<tenant>;identity=<asserted caller>;key=<media secret>
    X-SB-Origin-Call-ID: <Call-ID of the caller's leg>

(route FROM_MEDIA in kamailio-calls.cfg; it strips both before relaying). The
Request-URI is ``sip:<extension or number>@<tenant>``, From the original
caller's number and name in the tenant's domain, so the callee's phone shows
who calls and block lists apply. The origin Call-ID lands in the new leg's
accounting row (``origin_call_id``), which links the legs of one call.

``Dialer`` (one per media server) places legs and routes their in-dialog
requests (BYE, re-INVITE) back to them; ``OutboundLeg`` is one placed call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortp import RTPSession
from aiosipua import OutgoingCall, SdpMessage
from aiosipua.dialog import DialogState
from aiosipua.sdp import _extract_codecs
from aiosipua.sdp_negotiate import build_sdp

from media.workarounds import (
    CODECS,
    G711,
    MediaCall,
    MediaUAC,
    MediaUAS,
    RtpLatch,
    RtpWatchdog,
    negotiate_answer,
)
from switchboard.call_steps import ORIGIN_CALL_ID_HEADER

log = logging.getLogger(__name__)

BRIDGE_HEADER = "X-SB-Bridge"
DTMF_PAYLOAD_TYPE = 101  # what we offer; the callee answers with it (RFC 3264 §6.1)

RtpHandler = Callable[[bytes, tuple[str, int]], None]
ReinviteHandler = Callable[[MediaCall], None]


@dataclass(frozen=True)
class CallerId:
    """Who the callee's phone shows: the original caller's number and name."""

    number: str | None
    name: str | None = None


def offer_sdp(host: str, port: int, payload_types: list[int]) -> SdpMessage:
    """An offer of ``payload_types`` (first preferred) and telephone-event 101."""
    first = payload_types[0]
    sdp = build_sdp(host, port, first, CODECS[first][0], dtmf_payload_type=DTMF_PAYLOAD_TYPE)
    audio = sdp.audio
    assert audio is not None
    for pt in payload_types[1:]:
        audio.formats.insert(len(audio.formats) - 1, str(pt))
        audio.attributes["rtpmap"].insert(-1, f"{pt} {CODECS[pt][0]}/8000")
    audio.codecs = _extract_codecs(audio)
    return sdp


def audio_payload_type(sdp: SdpMessage | None) -> int | None:
    """The first G.711 payload type of an answer's audio (None when there is none)."""
    audio = sdp.audio if sdp is not None else None
    for codec in audio.codecs if audio is not None else []:
        if codec.payload_type in G711:
            return int(codec.payload_type)
    return None


def media_direction(sdp: SdpMessage | None) -> str:
    """sendrecv | sendonly | recvonly | inactive; ``c=0.0.0.0`` (RFC 2543 hold) is inactive."""
    audio = sdp.audio if sdp is not None else None
    if sdp is None or audio is None:
        return "sendrecv"
    address = sdp.rtp_address
    if address is not None and address[0] == "0.0.0.0":
        return "inactive"
    return audio.direction


class OutboundLeg:
    """One INVITE placed through Kamailio and its RTP session (bound before the offer)."""

    def __init__(self, dialer: Dialer, call: OutgoingCall, session: RTPSession) -> None:
        self.dialer = dialer
        self.call = call
        self.session = session
        self.ringing = asyncio.Event()
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.final_code: int | None = None
        self.final_reason = ""
        self.answered_at: float | None = None  # monotonic, when the 200 OK came
        self.end_reason: str | None = None
        self.payload_type: int | None = None
        self.direction = "sendrecv"  # what the callee asked for (hold: sendonly/inactive)
        self.on_reinvite: ReinviteHandler | None = None
        self._rtp_handler: RtpHandler | None = None
        self._watchdog = RtpWatchdog(dialer.rtp_timeout, lambda: self.hangup("rtp_timeout"))
        call.on_ringing = lambda _call: self.ringing.set()
        call.on_answer = self._answered
        call.on_rejected = self._rejected
        assert session._rtp_transport is not None
        session._rtp_transport._on_rtp = self._on_rtp
        # bug 20: a stranger's packet is dropped, never relayed into the call nor followed
        self._latch = RtpLatch(session)

    @property
    def call_id(self) -> str:
        return self.call.call_id

    def set_rtp_handler(self, handler: RtpHandler | None) -> None:
        """Receive this leg's RTP datagrams (early media included) as they arrive."""
        self._rtp_handler = handler

    def touch_watchdog(self) -> None:
        self._watchdog.touch()

    def _on_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self._latch.accept(data, addr):
            return
        self._watchdog.packet_received()
        if self._rtp_handler is not None:
            self._rtp_handler(data, addr)

    def _answered(self, call: OutgoingCall) -> None:
        self.answered_at = time.monotonic()
        self.final_code, self.final_reason = 200, "OK"
        answer = call.sdp_answer
        self.payload_type = audio_payload_type(answer)
        self.direction = media_direction(answer)
        if answer is not None and answer.rtp_address is not None:
            self.session.update_remote(answer.rtp_address)
        self._watchdog.start()
        self.answered.set()

    def _rejected(self, call: OutgoingCall, code: int, reason: str) -> None:
        self.final_code, self.final_reason = code, reason
        self._finish("rejected")

    async def wait_final(self, timeout: float) -> int:
        """The final SIP code: 200, the callee's failure, or 408 after ``timeout`` (cancelled)."""
        answered = asyncio.ensure_future(self.answered.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({answered, ended}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            answered.cancel()
            ended.cancel()
        if self.final_code is None:
            self.hangup("no_answer")
            self.final_code, self.final_reason = 408, "Request Timeout"
        return self.final_code

    def hangup(self, reason: str = "hangup") -> None:
        """CANCEL while it rings, BYE once answered; once."""
        if self.ended.is_set():
            return
        state = self.call.dialog.state
        if state == DialogState.EARLY:
            with contextlib.suppress(ValueError):
                self.call.cancel(self.dialer.uac)
        elif state == DialogState.CONFIRMED:
            self.call.hangup(self.dialer.uac)
        self._finish(reason)

    def remote_hangup(self) -> None:
        """The callee (or Kamailio) sent BYE."""
        self._finish("remote_hangup")

    def _finish(self, reason: str) -> None:
        if self.ended.is_set():
            return
        self.end_reason = reason
        self._watchdog.stop()
        self.ended.set()

    async def close(self) -> None:
        self._finish(self.end_reason or "closed")
        self.dialer.forget(self)
        await self.session.close()


class Dialer:
    """Places legs through Kamailio for one media server and routes their in-dialog requests."""

    def __init__(
        self,
        uac: MediaUAC,
        uas: MediaUAS,
        *,
        kamailio_addr: tuple[str, int],
        media_host: str,
        secret: str,
        rtp_timeout: float,
    ) -> None:
        self.uac = uac
        self.uas = uas
        self.kamailio_addr = kamailio_addr
        self.media_host = media_host
        self._secret = secret
        self.rtp_timeout = rtp_timeout
        self.legs: dict[str, OutboundLeg] = {}
        # re-INVITE handlers of the callers' legs being bridged, by Call-ID
        self.reinvite_handlers: dict[str, ReinviteHandler] = {}

    async def place(
        self,
        *,
        tenant: str,
        target: str,
        caller_id: CallerId,
        identity: str,
        origin_call_id: str,
        payload_types: list[int],
        extra_headers: dict[str, str] | None = None,
    ) -> OutboundLeg:
        """INVITE ``sip:<target>@<tenant>`` through Kamailio offering ``payload_types``.

        ``extra_headers`` go into the INVITE as well (a queue's ``X-SB-Queue``).
        """
        session = await RTPSession.create(
            local_addr=(self.media_host, 0),
            remote_addr=(self.media_host, 9),  # replaced by the answer's address
            payload_type=payload_types[0],
            symmetric_rtp=True,
        )
        assert session._rtp_transport is not None and session._rtp_transport._transport is not None
        port = session._rtp_transport._transport.get_extra_info("sockname")[1]
        call = self.uac.place_call(
            f"sip:{caller_id.number or 'anonymous'}@{tenant}",
            f"sip:{target}@{tenant}",
            self.kamailio_addr,
            offer_sdp(self.media_host, port, payload_types),
            display_name=caller_id.name or "",
            extra_headers={
                BRIDGE_HEADER: f"tenant={tenant};identity={identity};key={self._secret}",
                ORIGIN_CALL_ID_HEADER: origin_call_id,
                **(extra_headers or {}),
            },
            user_agent="Switchboard media",
        )
        leg = OutboundLeg(self, call, session)
        self.legs[call.call_id] = leg
        return leg

    def on_bye(self, call_id: str) -> bool:
        """A BYE for one of our legs: end it (True), else False."""
        leg = self.legs.get(call_id)
        if leg is None:
            return False
        leg.remote_hangup()
        return True

    def on_reinvite(self, call: MediaCall) -> bool:
        """A re-INVITE on a leg we placed or bridge: its handler answers it (True), else False."""
        leg = self.legs.get(call.call_id)
        handler = leg.on_reinvite if leg is not None else self.reinvite_handlers.get(call.call_id)
        if handler is None:
            return False
        handler(call)
        return True

    def forget(self, leg: OutboundLeg) -> None:
        self.legs.pop(leg.call_id, None)
        self.uac.remove_call(leg.call_id)
        self.uas.forget(leg.call_id)


def answer_reinvite(
    call: MediaCall, *, host: str, port: int, payload_types: list[int]
) -> tuple[str, tuple[str, int] | None, int | None]:
    """Answer a re-INVITE keeping our RTP port; ``(direction asked, remote address, pt)``.

    A re-INVITE without SDP (offer in our 200, answer in the ACK) is answered
    with a plain ``sendrecv`` offer of the codec in use and changes nothing.
    """
    offer = call.sdp_offer if call.invite.body else None
    if offer is None:
        call.accept(offer_sdp(host, port, payload_types[:1]))
        return "sendrecv", None, None
    try:
        answer, pt, _ = negotiate_answer(offer, host, port, supported=payload_types)
    except Exception:
        call.reject(488, "Not Acceptable Here")
        return "sendrecv", None, None
    call.accept(answer)
    address = offer.rtp_address
    if address is not None and address[0] == "0.0.0.0":
        address = None
    return media_direction(offer), address, pt
