"""The UAC workarounds a bridge needs (bugs 7-12 of media.workarounds): bug, then fix.

A raw UDP peer plays Kamailio: it receives the INVITE a UAC places and
answers what a proxy would. Each test shows the bug on aiosipua's own class
and its absence on ours; a failing "library still has the bug" assert means
the workaround can go.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosipua import SipUAC, SipUAS, build_sdp

from media.workarounds import MediaUAC, MediaUAS, UdpTransport
from tests.test_media_workarounds import Peer, run

OFFER = build_sdp("127.0.0.1", 40000, 0, "PCMU")


def _first(peer: Peer, method: str) -> str:
    return next(m for m in peer.received if m.startswith(f"{method} "))


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def _reply(invite: str, code: int, reason: str, *, extra: str = "", body: str = "") -> str:
    """A proxy's reply to ``invite`` with the callee's To-tag."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"{h}: {_header(invite, h)}" for h in ("Via", "From", "Call-ID", "CSeq")]
    lines.append(f"To: {_header(invite, 'To')};tag=callee9")
    lines += [line for line in extra.splitlines() if line]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return "\n".join(lines) + "\n\n" + body


ANSWER = (
    "v=0\no=- 2 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
    "m=audio 40002 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
)


async def _placed(uac_class: type[SipUAC], script: Any) -> Any:
    """A UAS+UAC on one socket places an INVITE to a peer; ``script(uac, call, peer, port)``."""
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    transport = UdpTransport(local_addr=("127.0.0.1", 0))
    uas = MediaUAS(transport)
    uas.uac = uac = uac_class(transport)
    await uas.start()
    try:
        target = ("127.0.0.1", peer.port)
        if isinstance(uac, MediaUAC):
            call = uac.place_call("sip:101@t", "sip:102@t", target, OFFER)
        else:
            call = uac.send_invite("sip:101@t", "sip:102@t", target, OFFER)
        return await script(uac, call, peer, transport.local_addr[1])
    finally:
        assert peer.transport is not None
        peer.transport.close()
        await uas.stop()


# --- 7. route set and remote target of the 2xx --------------------------------------------------


async def _answered_then_bye(uac: SipUAC, call: Any, peer: Peer, port: int) -> tuple[str, str]:
    await asyncio.sleep(0.1)
    extra = "Record-Route: <sip:127.0.0.9;lr;ftag=x>\nContact: <sip:102@127.0.0.1:7777>"
    peer.send(_reply(_first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER), port)
    await asyncio.sleep(0.1)
    call.hangup(uac)
    await asyncio.sleep(0.1)
    return _first(peer, "ACK"), _first(peer, "BYE")


def test_uac_ack_and_bye_skip_the_route_set_in_aiosipua_follow_it_in_ours() -> None:
    lib_ack, lib_bye = run(_placed(SipUAC, _answered_then_bye))
    assert lib_ack.startswith("ACK sip:102@t ") and "Route:" not in lib_ack, "fixed? drop bug 7"
    assert "Route:" not in lib_bye
    ack, bye = run(_placed(MediaUAC, _answered_then_bye))
    for request in (ack, bye):
        assert request.split(" ")[1] == "sip:102@127.0.0.1:7777"
        assert _header(request, "Route") == "<sip:127.0.0.9;lr;ftag=x>"


# --- 8. ACK of a failure ------------------------------------------------------------------------


async def _busy(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    await asyncio.sleep(0.1)
    busy = _reply(_first(peer, "INVITE"), 486, "Busy Here")
    peer.send(busy, port)
    await asyncio.sleep(0.1)
    peer.send(busy, port)  # the proxy retransmits until its ACK
    await asyncio.sleep(0.1)
    return [m for m in peer.received if m.startswith("ACK ")]


def test_a_failure_is_never_acked_by_aiosipua_acked_each_time_by_ours() -> None:
    assert run(_placed(SipUAC, _busy)) == [], "library fixed? drop bug 8"
    acks = run(_placed(MediaUAC, _busy))
    assert len(acks) == 2
    invite_via = _header(acks[0], "Via")
    assert "branch=" in invite_via and _header(acks[0], "CSeq") == "1 ACK"
    assert _header(acks[0], "To").endswith(";tag=callee9")


# --- 9. INVITE retransmission ------------------------------------------------------------------


async def _silence(uac: SipUAC, call: Any, peer: Peer, port: int) -> int:
    await asyncio.sleep(1.7)  # T1 = 0.5 s: again at 0.5 and 1.5 s
    return sum(m.startswith("INVITE ") for m in peer.received)


def test_invite_sent_once_by_aiosipua_retransmitted_by_ours() -> None:
    assert run(_placed(SipUAC, _silence)) == 1, "library fixed? drop bug 9"
    assert run(_placed(MediaUAC, _silence)) == 3


async def _trying_then_silence(uac: SipUAC, call: Any, peer: Peer, port: int) -> int:
    await asyncio.sleep(0.1)
    peer.send(_reply(_first(peer, "INVITE"), 100, "Trying"), port)
    await asyncio.sleep(1.6)
    return sum(m.startswith("INVITE ") for m in peer.received)


def test_a_provisional_stops_the_retransmission() -> None:
    assert run(_placed(MediaUAC, _trying_then_silence)) == 1


# --- 10. retransmitted re-INVITE on an outgoing dialog -----------------------------------------


def _reinvite(invite: str, peer_port: int) -> str:
    body = ANSWER.replace("a=rtpmap:0 PCMU/8000\n", "a=rtpmap:0 PCMU/8000\na=sendonly\n")
    return (
        f"INVITE {_header(invite, 'Contact').strip('<>')} SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-reinv1\n"
        f"From: {_header(invite, 'To')};tag=callee9\n"
        f"To: {_header(invite, 'From')}\n"
        f"Call-ID: {_header(invite, 'Call-ID')}\n"
        "CSeq: 7 INVITE\nContent-Type: application/sdp\n"
        f"Content-Length: {len(body)}\n\n{body}"
    )


async def _held_twice(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    uas: SipUAS = call.transport.on_message.__self__  # the UAS that owns the socket
    uas.on_reinvite = lambda c: c.accept(OFFER)
    await asyncio.sleep(0.1)
    invite = _first(peer, "INVITE")
    peer.send(
        _reply(invite, 200, "OK", extra="Contact: <sip:102@127.0.0.1:7777>", body=ANSWER), port
    )
    await asyncio.sleep(0.1)
    reinvite = _reinvite(invite, peer.port)
    peer.send(reinvite, port)
    await asyncio.sleep(0.1)
    peer.send(reinvite, port)  # our 200 was "lost": the proxy retransmits
    await asyncio.sleep(0.2)
    return [_header(m, "CSeq") + " " + m.split(" ")[1] for m in peer.received if "7 INVITE" in m]


def test_retransmitted_reinvite_gets_500_from_aiosipua_the_same_200_from_ours() -> None:
    async def with_library_uas(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
        uas: Any = call.transport.on_message.__self__
        uas.__class__ = SipUAS  # the library's re-INVITE handling, our transport
        uas._handlers["INVITE"] = uas._handle_invite
        return await _held_twice(uac, call, peer, port)

    lib = run(_placed(MediaUAC, with_library_uas))
    assert lib == ["7 INVITE 200", "7 INVITE 500"], "library fixed? drop bug 10"
    assert run(_placed(MediaUAC, _held_twice)) == ["7 INVITE 200", "7 INVITE 200"]


# --- 11. BYE retransmission ----------------------------------------------------------------------


def _ok(request: str) -> str:
    heads = [f"{h}: {_header(request, h)}" for h in ("Via", "From", "To", "Call-ID", "CSeq")]
    return "\n".join(["SIP/2.0 200 OK", *heads, "Content-Length: 0"]) + "\n\n"


async def _bye_unanswered(uac: SipUAC, call: Any, peer: Peer, port: int) -> tuple[int, int]:
    await asyncio.sleep(0.1)
    extra = "Contact: <sip:102@127.0.0.1:7777>"
    peer.send(_reply(_first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER), port)
    await asyncio.sleep(0.1)
    call.hangup(uac)
    await asyncio.sleep(1.7)  # T1 = 0.5 s: again at 0.5 and 1.5 s
    before = sum(m.startswith("BYE ") for m in peer.received)
    peer.send(_ok(_first(peer, "BYE")), port)
    await asyncio.sleep(2.2)  # the next one would be at 3.5 s
    return before, sum(m.startswith("BYE ") for m in peer.received)


def test_bye_sent_once_by_aiosipua_until_answered_by_ours() -> None:
    lib_before, _ = run(_placed(SipUAC, _bye_unanswered))
    assert lib_before == 1, "library fixed? drop bug 11"
    before, after = run(_placed(MediaUAC, _bye_unanswered))
    assert before == 3 and after == before  # the 200 stopped them


# --- 12. the ACK of a retransmitted 2xx ----------------------------------------------------------


async def _ok_twice(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    await asyncio.sleep(0.1)
    extra = "Contact: <sip:102@127.0.0.1:7777>"
    ok = _reply(_first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER)
    peer.send(ok, port)
    await asyncio.sleep(0.1)
    peer.send(ok, port)  # our ACK was late: the callee retransmits its 200
    await asyncio.sleep(0.1)
    return [_header(m, "Via") for m in peer.received if m.startswith("ACK ")]


def test_a_retransmitted_2xx_gets_a_new_ack_from_aiosipua_the_same_from_ours() -> None:
    lib = run(_placed(SipUAC, _ok_twice))
    assert len(lib) == 2 and lib[0] != lib[1], "library fixed? drop bug 12"
    ours = run(_placed(MediaUAC, _ok_twice))
    assert len(ours) == 2 and ours[0] == ours[1]
