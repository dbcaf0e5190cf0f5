"""Each aiosipua/aiortp workaround: the bug on the unpatched library, and its absence with ours.

When the pinned versions change, a failing "library still has the bug" assert
means the workaround in media/workarounds.py can go.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from aiortp import RTPSession
from aiortp.codecs.g711 import PcmaCodec as LibPcmaCodec
from aiosipua import IncomingCall, SipUAS, UdpSipTransport, negotiate_sdp, parse_sdp

from media.workarounds import (
    MediaCall,
    MediaUAS,
    PcmaCodec,
    RtpWatchdog,
    UdpTransport,
    codec_for,
    drain_jitter_buffer,
    fix_g722_session,
    negotiate_answer,
)
from tests.fixtures.media import g711
from tests.fixtures.sip_peer import Peer, run

pytestmark = pytest.mark.media


OFFER = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 40000 RTP/AVP 0 {dtmf}
a=rtpmap:0 PCMU/8000
a=rtpmap:{dtmf} telephone-event/8000
"""


def invite(peer_port: int, *, branch: str = "z9hG4bK-1", record_route: bool = False) -> str:
    body = OFFER.format(dtmf=101).replace("\n", "\r\n")
    rr = "Record-Route: <sip:127.0.0.9;lr;ftag=abc>\n" if record_route else ""
    return (
        "INVITE sip:vm-acme.example-102@127.0.0.1 SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch={branch};rport\n"
        f"{rr}"
        "From: <sip:101@acme.example>;tag=caller1\n"
        "To: <sip:vm-acme.example-102@127.0.0.1>\n"
        "Call-ID: wa-call-1\n"
        "CSeq: 1 INVITE\n"
        f"Contact: <sip:101@127.0.0.1:{peer_port}>\n"
        "Content-Type: application/sdp\n"
        f"Content-Length: {len(body)}\n\n"
    ) + body.replace("\r\n", "\n")


def ack(peer_port: int, to_tag: str, *, cseq: int = 1) -> str:
    return (
        "ACK sip:vm-acme.example-102@127.0.0.1 SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-ack\n"
        "From: <sip:101@acme.example>;tag=caller1\n"
        f"To: <sip:vm-acme.example-102@127.0.0.1>;tag={to_tag}\n"
        "Call-ID: wa-call-1\n"
        f"CSeq: {cseq} ACK\n"
        "Content-Length: 0\n\n"
    )


def to_tag(response: str) -> str:
    line = next(x for x in response.split("\r\n") if x.lower().startswith("to:"))
    return line.split("tag=")[1].split(";")[0]


async def with_uas(
    uas_class: type[SipUAS],
    on_call: Callable[[IncomingCall], Any],
    body: Callable[[SipUAS, Peer, int], Awaitable[Any]],
) -> Any:
    """Start a UAS (our UDP transport: bug 1 is tested on its own) and a peer, run ``body``."""
    loop = asyncio.get_running_loop()
    uas = uas_class(UdpTransport(local_addr=("127.0.0.1", 0)))
    if isinstance(uas, MediaUAS):
        uas.on_call = on_call
    else:
        uas.on_invite = on_call
    await uas.start()
    _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    try:
        return await body(uas, peer, uas.transport.local_addr[1])
    finally:
        assert peer.transport is not None
        peer.transport.close()
        await uas.stop()


# --- 1. UDP transport ---------------------------------------------------------------------------


async def _start_errors(transport_class: type[UdpSipTransport]) -> list[BaseException | None]:
    loop = asyncio.get_running_loop()
    errors: list[BaseException | None] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception")))
    transport = transport_class(local_addr=("127.0.0.1", 0))
    await transport.start()
    await asyncio.sleep(0.05)
    await transport.stop()
    return errors


def test_udp_transport_asserts_on_311_and_ours_does_not() -> None:
    lib_errors = run(_start_errors(UdpSipTransport))
    assert any(isinstance(e, AssertionError) for e in lib_errors), "library fixed? drop bug 1"
    assert run(_start_errors(UdpTransport)) == []


# --- 2. PCMA polarity ---------------------------------------------------------------------------


def _sine() -> np.ndarray:
    t = np.arange(1600) / 8000
    return (np.sin(2 * np.pi * 440 * t) * 8000 + 3000 * (t > 0.1)).astype("<i2")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float), b.astype(float))[0, 1])


def test_pcma_sign_bit_inverted_by_aiortp_fixed_by_ours() -> None:
    source = _sine()
    alaw = g711(source.tobytes(), 8)  # sox: a reference A-law encoder
    lib = np.frombuffer(LibPcmaCodec().decode(alaw), dtype="<i2")
    ours = np.frombuffer(PcmaCodec().decode(alaw), dtype="<i2")
    assert _corr(lib, source) < -0.99, "library fixed? drop bug 2"
    assert _corr(ours, source) > 0.99
    # and our encoder is what a real A-law decoder expects: sox's own bytes, nearly
    ours_encoded = np.frombuffer(PcmaCodec().encode(source.tobytes()), dtype=np.uint8)
    assert np.mean(ours_encoded == np.frombuffer(alaw, dtype=np.uint8)) > 0.95


# --- 3. telephone-event payload type ------------------------------------------------------------


def _dtmf_packet(pt: int, seq: int, end: bool) -> bytes:
    header = struct.pack("!BBHII", 0x80, pt, seq, 16000, 0xABCDEF)
    return header + struct.pack("!BBH", 11, (0x80 if end else 0) | 10, 800)


async def _digits_heard(dtmf_payload_type: int | None) -> tuple[list[str], int]:
    kwargs = {} if dtmf_payload_type is None else {"dtmf_payload_type": dtmf_payload_type}
    session = await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 0, **kwargs)
    digits: list[str] = []
    session.on_dtmf = lambda d, _: digits.append(d)
    for seq in range(1, 9):
        session._handle_rtp(_dtmf_packet(96, seq, end=seq > 5), ("127.0.0.1", 9))
    # packets queued as audio frames for the G.711 decoder
    as_audio = sum(
        1 for p in session._jitter_buffer._packets if p is not None and p.payload_type == 96
    )
    await session.close()
    return digits, as_audio


def test_telephone_event_pt_not_mirrored_by_aiosipua_mirrored_by_ours() -> None:
    offer = parse_sdp(OFFER.format(dtmf=96))
    lib_answer, _ = negotiate_sdp(offer, "127.0.0.1", 30000)
    assert "96" not in lib_answer.audio.formats, "library fixed? drop bug 3"  # type: ignore[union-attr]
    answer, pt, dtmf_pt = negotiate_answer(offer, "127.0.0.1", 30000)
    assert (pt, dtmf_pt) == (0, 96)
    assert answer.audio is not None and answer.audio.formats == ["0", "96"]
    # what that costs: the library's session (101) hears PT 96 digits as audio noise
    assert run(_digits_heard(None)) == ([], 8)
    assert run(_digits_heard(96)) == (["#"], 0)


# --- 4. retransmitted INVITE --------------------------------------------------------------------


async def _retransmitted_invite(uas: SipUAS, peer: Peer, port: int) -> dict[str, Any]:
    peer.send(invite(peer.port), port)
    await asyncio.sleep(0.1)
    peer.send(invite(peer.port), port)  # the same INVITE again: the 100 Trying was lost
    await asyncio.sleep(0.5)  # both accepted by now (see _accept_later)
    first_200 = peer.finals(200)[0]
    peer.send(ack(peer.port, to_tag(first_200)), port)
    await asyncio.sleep(0.3)
    live = uas._calls.get("wa-call-1")
    return {
        "to_tags": {to_tag(m) for m in peer.finals(200)},
        "still_retransmitting": live is not None and live._retrans_task is not None,
    }


def _accept_later(calls: list[IncomingCall]) -> Callable[[IncomingCall], None]:
    def on_call(call: IncomingCall) -> None:
        calls.append(call)
        asyncio.get_running_loop().call_later(0.3, call.accept, None)

    return on_call


def test_retransmitted_invite_replaces_call_in_aiosipua_not_in_ours() -> None:
    lib_calls: list[IncomingCall] = []
    lib = run(with_uas(SipUAS, _accept_later(lib_calls), _retransmitted_invite))
    assert len(lib_calls) == 2 and len(lib["to_tags"]) == 2, "library fixed? drop bug 4"
    assert lib["still_retransmitting"]  # the ACK matched the dead call: the live one times out

    our_calls: list[IncomingCall] = []
    ours = run(with_uas(MediaUAS, _accept_later(our_calls), _retransmitted_invite))
    assert len(our_calls) == 1 and len(ours["to_tags"]) == 1
    assert not ours["still_retransmitting"]


# --- 5. Record-Route ----------------------------------------------------------------------------


async def _record_route(uas: SipUAS, peer: Peer, port: int) -> list[str]:
    peer.send(invite(peer.port, record_route=True), port)
    await asyncio.sleep(0.3)
    return [m for m in peer.received if m.startswith(("SIP/2.0 180", "SIP/2.0 200"))]


def _ring_and_accept(call: IncomingCall) -> None:
    call.ringing()
    call.accept(None)


def test_record_route_missing_in_aiosipua_responses_present_in_ours() -> None:
    lib = run(with_uas(SipUAS, _ring_and_accept, _record_route))
    assert len(lib) == 2 and not any("Record-Route" in m for m in lib), "fixed? drop bug 5"
    ours = run(with_uas(MediaUAS, _ring_and_accept, _record_route))
    assert len(ours) >= 2
    assert all("Record-Route: <sip:127.0.0.9;lr;ftag=abc>" in m for m in ours)


# --- 6. non-2xx retransmission ------------------------------------------------------------------


async def _reject_unacked(uas: SipUAS, peer: Peer, port: int) -> tuple[int, int]:
    peer.send(invite(peer.port), port)
    await asyncio.sleep(1.7)  # T1 = 0.5 s: retransmits at 0.5 and 1.5 s
    before_ack = len(peer.finals(486))
    if before_ack:
        peer.send(ack(peer.port, to_tag(peer.finals(486)[0])), port)
    await asyncio.sleep(2.2)  # the next one would be at 3.5 s
    return before_ack, len(peer.finals(486))


def test_non_2xx_final_sent_once_by_aiosipua_retransmitted_by_ours() -> None:
    lib_before, _ = run(with_uas(SipUAS, lambda c: c.reject(486), _reject_unacked))
    assert lib_before == 1, "library fixed? drop bug 6"
    before, after = run(with_uas(MediaUAS, lambda c: c.reject(486), _reject_unacked))
    assert before == 3
    assert after == before  # the ACK stopped them


def test_our_calls_are_media_calls() -> None:
    seen: list[IncomingCall] = []
    run(with_uas(MediaUAS, seen.append, _record_route))
    assert isinstance(seen[0], MediaCall)


# --- jitter-buffer tail -------------------------------------------------------------------------


async def _frames_delivered(drain: bool) -> int:
    session = await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", 9), 0)
    frames: list[int] = []
    session.on_audio = lambda pcm, ts: frames.append(ts)
    for i in range(10):
        header = struct.pack("!BBHII", 0x80, 0, 100 + i, 1000 + 160 * i, 0x1234)
        session._handle_rtp(header + bytes([0xFF]) * 160, ("127.0.0.1", 9))
    if drain:
        drain_jitter_buffer(session)
    await session.close()
    return len(frames)


def test_jitter_buffer_tail_lost_without_drain() -> None:
    assert run(_frames_delivered(drain=False)) <= 6  # 4 frames held, plus the one in progress
    assert run(_frames_delivered(drain=True)) == 10


# --- 15. G.722's RTP clock ----------------------------------------------------------------------


async def _g722_timestamps(fixed: bool) -> tuple[list[int], list[int]]:
    """Three 20 ms frames sent by a G.722 session to a socket: their RTP timestamps, and
    the size of what each carried."""
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    listener, _ = await loop.create_datagram_endpoint(
        lambda: _Collect(got), local_addr=("127.0.0.1", 0)
    )
    port = listener.get_extra_info("sockname")[1]
    session = await RTPSession.create(("127.0.0.1", 0), ("127.0.0.1", port), 9, codec_for(9))
    if fixed:
        fix_g722_session(session)
    for _ in range(3):
        session.send_audio_pcm_auto(bytes(640))  # 20 ms of 16 kHz audio
    await asyncio.sleep(0.1)
    await session.close()
    listener.close()
    rtp = [d for d in got if d[1] & 0x7F == 9]
    return [struct.unpack("!I", d[4:8])[0] for d in rtp], [len(d) - 12 for d in rtp]


class _Collect(asyncio.DatagramProtocol):
    def __init__(self, got: list[bytes]) -> None:
        self.got = got

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append(data)


def test_g722_timestamps_step_320_in_aiortp_160_in_ours() -> None:
    """RFC 3551: G.722's RTP clock is 8,000 Hz, so 20 ms (160 bytes) steps by 160."""
    lib, sizes = run(_g722_timestamps(fixed=False))
    assert sizes == [160, 160, 160]
    assert [b - a for a, b in itertools.pairwise(lib)] == [320, 320], "fixed? drop bug 15"
    ours, _ = run(_g722_timestamps(fixed=True))
    assert [b - a for a, b in itertools.pairwise(ours)] == [160, 160]


# --- RTP inactivity -----------------------------------------------------------------------------


async def _watchdog(feed_every: float | None) -> int:
    fired: list[float] = []
    dog = RtpWatchdog(0.3, lambda: fired.append(1))
    dog.start()
    for _ in range(8):
        await asyncio.sleep(0.1)
        if feed_every is not None:
            dog.packet_received()
    dog.stop()
    return len(fired)


def test_rtp_watchdog_fires_once_only_when_rtp_stops() -> None:
    assert run(_watchdog(None)) == 1
    assert run(_watchdog(0.1)) == 0
