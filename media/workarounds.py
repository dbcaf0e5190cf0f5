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
 7     the UAC keeps the To-URI as remote target and no route set   ``MediaUAC``
       after the 2xx: the ACK and BYE of an outgoing call go to
       the R-URI without Route, so Kamailio (loose_route) cannot
       relay them to the callee
 8     the UAC never ACKs a non-2xx final (RFC 3261 §17.1.1.3):    ``MediaUAC``
       the proxy retransmits its 486 for 32 s
 9     the UAC never retransmits its INVITE (Timer A): one lost     ``MediaUAC``
       datagram and the call is never placed
 10    a re-INVITE on an outgoing call's dialog is handed over as   ``MediaUAS``
       a fresh ``IncomingCall`` each time: a retransmitted
       re-INVITE fails the CSeq check (500) instead of getting the
       same answer again
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
    OutgoingCall,
    SdpMessage,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    UdpSipTransport,
    negotiate_sdp,
)
from aiosipua.dialog import Dialog, DialogState
from aiosipua.headers import stringify_uri
from aiosipua.transaction import T1, T2, TIMER_H
from aiosipua.transport import _UdpProtocol
from aiosipua.uas_requests import handle_ack
from aiosipua.utils import format_addr, generate_call_id, generate_tag

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
        # The last re-INVITE on each outgoing call's dialog (bug 10)
        self._uac_reinvites: dict[str, MediaCall] = {}

    def forget(self, call_id: str) -> None:
        """Drop what is kept for an outgoing call's dialog (call it when the call ends)."""
        self._uac_reinvites.pop(call_id, None)

    def _adopt(self, call: IncomingCall) -> None:
        call.__class__ = MediaCall
        assert isinstance(call, MediaCall)
        call._uas = self
        call._last_response = None
        if self.on_call is not None:
            self.on_call(call)

    def _wrap_uac_dialog(self, request: SipRequest, addr: tuple[str, int]) -> IncomingCall:
        # bug 10: keep the re-INVITE's wrapper, so its retransmission gets the same answer
        call = super()._wrap_uac_dialog(request, addr)
        call.__class__ = MediaCall
        assert isinstance(call, MediaCall)
        call._uas, call._last_response = self, None
        if request.method == "INVITE":
            self._uac_reinvites[request.call_id or ""] = call
        else:
            self._uac_reinvites.pop(request.call_id or "", None)
        return call

    def _handle_invite(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call_id = request.call_id or ""
        existing = self._calls.get(call_id) or self._uac_reinvites.get(call_id)
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


class MediaUAC(SipUAC):
    """aiosipua's UAC with bugs 7-9 fixed; ``place_call`` sets From's display name."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        # INVITEs still waiting for a first response (bug 9), by Call-ID
        self._timer_a: dict[str, asyncio.Task[None]] = {}
        # Failed INVITEs whose final reply may come again (bug 8)
        self._failed: dict[str, tuple[SipRequest, tuple[str, int]]] = {}

    def place_call(
        self,
        from_uri: str,
        to_uri: str,
        remote_addr: tuple[str, int],
        sdp_offer: SdpMessage,
        *,
        display_name: str = "",
        extra_headers: dict[str, str] | None = None,
        user_agent: str | None = None,
    ) -> OutgoingCall:
        """``send_invite`` with a display name in From and a retransmitted INVITE."""
        dialog = Dialog(
            call_id=generate_call_id(self._local_addr()[0]),
            local_tag=generate_tag(),
            local_uri=from_uri,
            remote_uri=to_uri,
            remote_target=to_uri,
            state=DialogState.EARLY,
        )
        invite = self._build_invite(dialog, sdp_offer=sdp_offer, user_agent=user_agent)
        name = display_name.replace("\\", "").replace('"', "")
        if name:
            invite.headers.set_single("From", f'"{name}" <{from_uri}>;tag={dialog.local_tag}')
        for header, value in (extra_headers or {}).items():
            invite.headers.set_single(header, value)
        self.transactions.create_client(invite)
        self.transport.send(invite, remote_addr)
        call = OutgoingCall(
            dialog=dialog,
            invite=invite,
            sdp_offer=sdp_offer,
            transport=self.transport,
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
        self._calls[dialog.call_id] = call
        if not self.transport.reliable:
            self._timer_a[dialog.call_id] = asyncio.get_running_loop().create_task(
                self._retransmit_invite(call)
            )
        return call

    async def _retransmit_invite(self, call: OutgoingCall) -> None:
        """Timer A (RFC 3261 §17.1.1.2): resend the INVITE until any response comes."""
        interval, elapsed = T1, 0.0
        while elapsed < TIMER_H and call.dialog.state == DialogState.EARLY:
            await asyncio.sleep(interval)
            elapsed += interval
            if call.call_id in self._timer_a:
                self.transport.send(call.invite, call.remote_addr)
            interval *= 2
        self._timer_a.pop(call.call_id, None)

    def handle_response(self, response: SipResponse, addr: tuple[str, int]) -> None:
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE":
            super().handle_response(response, addr)
            return
        call_id = response.call_id or ""
        timer = self._timer_a.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        call = self._calls.get(call_id)
        status = response.status_code
        if call is not None and 200 <= status < 300 and not call._answered.is_set():
            # bug 7: the route set (Record-Route reversed) and the remote target (Contact)
            call.dialog.route_set = list(reversed(response.headers.get("record-route")))
            contacts = response.contact
            if contacts and contacts[0].uri is not None:
                call.dialog.remote_target = stringify_uri(contacts[0].uri)
        if status >= 300:
            # bug 8: ACK it, and again each time the proxy retransmits it
            sent = (call.invite, call.remote_addr) if call else self._failed.get(call_id)
            if sent is not None and sent[0].cseq is not None and sent[0].cseq.seq == cseq.seq:
                self._ack_failure(sent[0], response, sent[1])
                if call is not None and not (status in (401, 407) and call._auth):
                    self._failed[call_id] = sent
                    loop = asyncio.get_running_loop()
                    loop.call_later(TIMER_H, self._failed.pop, call_id, None)
        super().handle_response(response, addr)

    def _ack_failure(
        self, invite: SipRequest, response: SipResponse, remote_addr: tuple[str, int]
    ) -> None:
        """ACK a non-2xx final in its INVITE transaction (bug 8, RFC 3261 §17.1.1.3)."""
        ack = SipRequest(method="ACK", uri=invite.uri)
        ack.headers.append("Via", invite.headers.get("via")[0])
        for name in ("from", "call-id"):
            ack.headers.set_single(name.title(), invite.headers.get_first(name) or "")
        ack.headers.set_single("To", response.headers.get_first("to") or "")
        ack.headers.set_single("CSeq", f"{invite.cseq.seq if invite.cseq else 1} ACK")
        ack.headers.set_single("Max-Forwards", "70")
        for route in invite.headers.get("route"):
            ack.headers.append("Route", route)
        self.transport.send(ack, remote_addr)

    def close(self) -> None:
        for task in self._timer_a.values():
            task.cancel()
        self._timer_a.clear()
        super().close()


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
