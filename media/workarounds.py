"""Every workaround for aiosipua 0.7.1 and aiortp 0.8.0, in one place.

The versions are pinned; each fix below is a subclass or a function (never a
patch of the library's modules at import time), and each has a test in
``tests/test_media_workarounds.py`` that shows the bug on the unpatched class
and its absence on ours. When the libraries are upgraded, run those tests:
the ones whose "bug still there" half fails mark a workaround to delete.

=====  ==========================================================  ===========================
 #     Bug (reproduced on this machine)                             Fix here
=====  ==========================================================  ===========================
 1     aiosipua UDP protocol asserts ``isinstance(transport,        ``UdpTransport``
       asyncio.DatagramTransport)``; Python 3.11's selector
       transport is not one, so every start logs an
       AssertionError from ``connection_made``
 2     aiortp PCMA inverts the sign bit (G.711 A-law: bit 7 set     ``PcmaCodec``
       means *positive*); PCMU is right
 3     the SDP answer always names telephone-event 101, whatever   ``negotiate_answer``
       the offer said: a caller offering 96 sends digits that
       are decoded as audio noise
 4     a retransmitted INVITE creates a new call (new To-tag)       ``MediaUAS``
       that replaces the live one: the ACK no longer matches,
       the 200 is retransmitted until 64*T1, the call dies
 5     Record-Route is not copied into 18x/2xx, so the caller's     ``MediaCall``
       ACK/BYE skip Kamailio (no dialog end, no CDR)
 6     non-2xx finals are sent once, never retransmitted           ``MediaCall.reject``
 --    the jitter buffer holds its prefetch (~80 ms) and the        ``drain_jitter_buffer``
       frame in progress; nothing flushes them at BYE
 --    no RTP inactivity timeout                                   ``RtpWatchdog``
=====  ==========================================================  ===========================
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortp import RTPSession
from aiortp.codecs import Codec
from aiortp.codecs.g711 import PcmaCodec as _LibPcmaCodec
from aiortp.codecs.g711 import PcmuCodec
from aiosipua import (
    IncomingCall,
    SdpMessage,
    SipRequest,
    SipResponse,
    SipUAS,
    UdpSipTransport,
    negotiate_sdp,
)
from aiosipua.dialog import DialogState
from aiosipua.transaction import T1, T2, TIMER_H
from aiosipua.transport import _UdpProtocol
from aiosipua.uas_requests import handle_ack
from aiosipua.utils import format_addr

log = logging.getLogger(__name__)

# --- 1. UDP transport -------------------------------------------------------------------------


class _UdpProtocolNoAssert(_UdpProtocol):
    """The library's protocol minus the ``isinstance`` assert that fails on 3.11."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._udp_transport = transport  # type: ignore[assignment]


class UdpTransport(UdpSipTransport):
    """aiosipua's UDP transport that starts cleanly on Python 3.11 (bug 1)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocolNoAssert(self), local_addr=self.local_addr
        )
        self._udp_transport = transport
        # With port 0 the OS picks one: advertise what was actually bound.
        self.local_addr = tuple(transport.get_extra_info("sockname")[:2])  # type: ignore[assignment]


# --- 2. PCMA polarity -------------------------------------------------------------------------

_SIGN_FLIP = bytes(b ^ 0x80 for b in range(256))


class PcmaCodec(_LibPcmaCodec):
    """G.711 A-law with the sign bit the right way round (bug 2).

    aiortp's A-law tables are consistent with each other but inverted with
    respect to G.711, so its own round trip works while every real phone's
    audio comes out upside down. Flipping bit 7 on the wire fixes both ways.
    """

    def encode(self, pcm: bytes) -> bytes:
        return super().encode(pcm).translate(_SIGN_FLIP)

    def decode(self, payload: bytes) -> bytes:
        return super().decode(payload.translate(_SIGN_FLIP))


CODECS: dict[int, tuple[str, Callable[[], Codec]]] = {
    0: ("PCMU", PcmuCodec),
    8: ("PCMA", PcmaCodec),
}


def codec_for(payload_type: int) -> Codec:
    """A correct G.711 codec for payload type 0 (PCMU) or 8 (PCMA)."""
    return CODECS[payload_type][1]()


# --- 3. telephone-event payload type ----------------------------------------------------------


def offered_dtmf_payload_type(offer: SdpMessage) -> int | None:
    """The telephone-event payload type of the offer's audio, if any."""
    audio = offer.audio
    if audio is None:
        return None
    for codec in audio.codecs:
        if (codec.encoding_name or "").lower() == "telephone-event":
            return int(codec.payload_type)
    return None


def negotiate_answer(
    offer: SdpMessage, local_ip: str, rtp_port: int, supported: list[int] | None = None
) -> tuple[SdpMessage, int, int | None]:
    """Answer ``offer`` mirroring its telephone-event payload type (bug 3).

    Returns ``(answer, audio payload type, telephone-event payload type or None)``;
    the RTP session must be created with that same DTMF payload type.
    """
    dtmf_pt = offered_dtmf_payload_type(offer)
    answer, pt = negotiate_sdp(
        offer,
        local_ip=local_ip,
        rtp_port=rtp_port,
        supported_codecs=supported or [0, 8],
        dtmf_payload_type=dtmf_pt or 0,
    )
    return answer, pt, dtmf_pt


# --- 4, 5, 6. the UAS and its calls -----------------------------------------------------------


def _top_branch(request: SipRequest) -> str | None:
    vias = request.via
    return vias[0].branch if vias else None


def _is_retransmission(original: SipRequest, request: SipRequest) -> bool:
    """Same INVITE transaction: same top Via branch and CSeq (RFC 3261 §17.2.3)."""
    return (
        _top_branch(original) == _top_branch(request)
        and original.headers.get_first("cseq") == request.headers.get_first("cseq")
        and original.headers.get_first("from") == request.headers.get_first("from")
    )


class MediaCall(IncomingCall):
    """An incoming call whose responses carry Record-Route and whose rejects are reliable.

    Instances are made by ``MediaUAS`` (it re-classes the library's
    ``IncomingCall`` before the application sees it).
    """

    # Set by MediaUAS when it adopts the call (dataclass fields would change __init__).
    _uas: MediaUAS
    _last_response: SipResponse | None

    def _send_response(
        self,
        status_code: int,
        reason: str,
        *,
        body: str = "",
        content_type: str = "",
        extra_headers: dict[str, str] | None = None,
    ) -> SipResponse | None:
        contact: str | None = None
        if self.transport is not None:
            contact = f"<sip:{format_addr(*self._signaling_addr())}>"
        resp = self.dialog.create_response(self.invite, status_code, reason, contact=contact)
        if 100 < status_code < 300:
            # bug 5: a UAS copies Record-Route into every dialog-creating response
            for rr in self.invite.headers.get("record-route"):
                resp.headers.append("Record-Route", rr)
        if body:
            resp.text = body
        if content_type:
            resp.headers.set_single("Content-Type", content_type)
        if self.user_agent:
            resp.headers.set_single("User-Agent", self.user_agent)
        for name, value in (extra_headers or {}).items():
            resp.headers.set_single(name, value)
        if status_code > 100:
            self._last_response = resp
        if self.transport is None:
            return None
        self.transport.send_reply(resp)
        return resp

    def reject(self, status_code: int = 486, reason: str = "") -> None:
        """Send a final error and retransmit it until the ACK (bug 6, RFC 3261 §17.2.1)."""
        super().reject(status_code, reason)
        resp = self._last_response
        if resp is None or self.transport is None or self.transport.reliable:
            return
        self._uas._track_rejected(self, resp)

    def resend_last_response(self) -> None:
        """Answer a retransmitted INVITE with what was last sent (bug 4)."""
        if self._last_response is not None and self.transport is not None:
            self.transport.send_reply(self._last_response)


class MediaUAS(SipUAS):
    """aiosipua's UAS with bugs 4-6 fixed. Set ``on_call`` (not ``on_invite``)."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.on_call: Callable[[MediaCall], Any] | None = None
        self.on_invite = self._adopt
        self._handlers["ACK"] = self._handle_ack
        # Rejected INVITEs awaiting their ACK: call-id -> (call, retransmission task)
        self._rejected: dict[str, tuple[MediaCall, asyncio.Task[None]]] = {}

    def _adopt(self, call: IncomingCall) -> None:
        call.__class__ = MediaCall
        assert isinstance(call, MediaCall)
        call._uas = self
        call._last_response = None
        if self.on_call is not None:
            self.on_call(call)

    def _handle_invite(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call_id = request.call_id or ""
        existing = self._calls.get(call_id)
        if existing is None and call_id in self._rejected:
            existing = self._rejected[call_id][0]
        if isinstance(existing, MediaCall) and _is_retransmission(existing.invite, request):
            existing.resend_last_response()
            return
        super()._handle_invite(request, addr)

    def _handle_ack(self, request: SipRequest, addr: tuple[str, int]) -> None:
        pending = self._rejected.pop(request.call_id or "", None)
        if pending is not None:
            pending[1].cancel()
            self._calls.pop(pending[0].call_id, None)
            return
        handle_ack(self, request, addr)

    def _track_rejected(self, call: MediaCall, resp: SipResponse) -> None:
        async def retransmit() -> None:
            interval, elapsed = T1, 0.0
            try:
                while elapsed < TIMER_H:
                    await asyncio.sleep(interval)
                    elapsed += interval
                    self.transport.send_reply(resp)
                    interval = min(interval * 2, T2)
            finally:
                if self._rejected.get(call.call_id, (None,))[0] is call:
                    del self._rejected[call.call_id]

        old = self._rejected.pop(call.call_id, None)
        if old is not None:
            old[1].cancel()
        self._rejected[call.call_id] = (call, asyncio.get_running_loop().create_task(retransmit()))

    async def stop(self) -> None:
        for _, task in self._rejected.values():
            task.cancel()
        self._rejected.clear()
        await super().stop()


def call_is_live(call: IncomingCall) -> bool:
    """Whether the dialog of ``call`` is still up (not rejected, not hung up)."""
    return call.dialog.state != DialogState.TERMINATED


# --- jitter buffer tail and RTP inactivity ----------------------------------------------------


def drain_jitter_buffer(session: RTPSession) -> int:
    """Deliver every audio packet still held by ``session``'s jitter buffer to ``on_audio``.

    Call at BYE (before ``close``): the buffer keeps ``jitter_prefetch`` frames
    plus the frame in progress, 70-120 ms a recording would otherwise lose.
    Returns the number of frames delivered.
    """
    jb = session._jitter_buffer
    codec = session.codec
    if jb._origin is None or session.on_audio is None:
        return 0
    frames: list[tuple[int, list[bytes]]] = []
    for count in range(jb.capacity):
        packet = jb._packets[(jb._origin + count) % jb.capacity]
        if packet is None or not packet.payload or packet.payload_type != session._payload_type:
            continue  # gaps and RFC 4733 markers
        if frames and frames[-1][0] == packet.timestamp:
            frames[-1][1].append(packet.payload)
        else:
            frames.append((packet.timestamp, [packet.payload]))
    jb.reset()
    for timestamp, payloads in frames:
        data = b"".join(payloads)
        session.on_audio(codec.decode(data) if codec else data, timestamp)
    return len(frames)


class RtpWatchdog:
    """Calls ``on_timeout`` once when no RTP arrived for ``timeout`` seconds.

    aiortp has no inactivity timeout; a caller whose network drops without a
    BYE would otherwise hold the leg (and an open recording) forever. Feed it
    from the session's receive path with ``packet_received``.
    """

    def __init__(self, timeout: float, on_timeout: Callable[[], None]) -> None:
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.last_packet = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def packet_received(self) -> None:
        self.last_packet = time.monotonic()

    # While we play a prompt the caller may legitimately stay silent (no VAD-less phone
    # is required): the player touches the watchdog so only caller silence *after*
    # our audio counts.
    touch = packet_received

    def start(self) -> None:
        self.last_packet = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            idle = time.monotonic() - self.last_packet
            if idle >= self.timeout:
                self._task = None
                self.on_timeout()
                return
            await asyncio.sleep(min(0.25, self.timeout - idle))


def watch_rtp(session: RTPSession, watchdog: RtpWatchdog) -> None:
    """Make every RTP/RTCP datagram of ``session`` feed ``watchdog``."""
    handle_rtp = session._handle_rtp

    def on_rtp(data: bytes, addr: tuple[str, int]) -> None:
        watchdog.packet_received()
        handle_rtp(data, addr)

    assert session._rtp_transport is not None
    session._rtp_transport._on_rtp = on_rtp
