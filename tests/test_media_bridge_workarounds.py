"""The UAC workarounds a bridge needs (bugs 7-12 of media.workarounds): bug, then fix.

A raw UDP peer plays Kamailio: it receives the INVITE a UAC places and
answers what a proxy would. Each test shows the bug on aiosipua's own class
and its absence on ours; a failing "library still has the bug" assert means
the workaround can go.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiosipua import SipUAC, SipUAS

from media.workarounds import MediaUAC
from tests.fixtures.sip_peer import ANSWER, OFFER, Peer, first, header, placed, reply, run

# --- 7. route set and remote target of the 2xx --------------------------------------------------


async def _answered_then_bye(uac: SipUAC, call: Any, peer: Peer, port: int) -> tuple[str, str]:
    await asyncio.sleep(0.1)
    extra = "Record-Route: <sip:127.0.0.9;lr;ftag=x>\nContact: <sip:102@127.0.0.1:7777>"
    peer.send(reply(first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER), port)
    await asyncio.sleep(0.1)
    call.hangup(uac)
    await asyncio.sleep(0.1)
    return first(peer, "ACK"), first(peer, "BYE")


def test_uac_ack_and_bye_skip_the_route_set_in_aiosipua_follow_it_in_ours() -> None:
    lib_ack, lib_bye = run(placed(SipUAC, _answered_then_bye))
    assert lib_ack.startswith("ACK sip:102@t ") and "Route:" not in lib_ack, "fixed? drop bug 7"
    assert "Route:" not in lib_bye
    ack, bye = run(placed(MediaUAC, _answered_then_bye))
    for request in (ack, bye):
        assert request.split(" ")[1] == "sip:102@127.0.0.1:7777"
        assert header(request, "Route") == "<sip:127.0.0.9;lr;ftag=x>"


# --- 8. ACK of a failure ------------------------------------------------------------------------


async def _busy(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    await asyncio.sleep(0.1)
    busy = reply(first(peer, "INVITE"), 486, "Busy Here")
    peer.send(busy, port)
    await asyncio.sleep(0.1)
    peer.send(busy, port)  # the proxy retransmits until its ACK
    await asyncio.sleep(0.1)
    return [m for m in peer.received if m.startswith("ACK ")]


def test_a_failure_is_never_acked_by_aiosipua_acked_each_time_by_ours() -> None:
    assert run(placed(SipUAC, _busy)) == [], "library fixed? drop bug 8"
    acks = run(placed(MediaUAC, _busy))
    assert len(acks) == 2
    invite_via = header(acks[0], "Via")
    assert "branch=" in invite_via and header(acks[0], "CSeq") == "1 ACK"
    assert header(acks[0], "To").endswith(";tag=callee9")


# --- 9. INVITE retransmission ------------------------------------------------------------------


async def _silence(uac: SipUAC, call: Any, peer: Peer, port: int) -> int:
    await asyncio.sleep(1.7)  # T1 = 0.5 s: again at 0.5 and 1.5 s
    return sum(m.startswith("INVITE ") for m in peer.received)


def test_invite_sent_once_by_aiosipua_retransmitted_by_ours() -> None:
    assert run(placed(SipUAC, _silence)) == 1, "library fixed? drop bug 9"
    assert run(placed(MediaUAC, _silence)) == 3


async def _trying_then_silence(uac: SipUAC, call: Any, peer: Peer, port: int) -> int:
    await asyncio.sleep(0.1)
    peer.send(reply(first(peer, "INVITE"), 100, "Trying"), port)
    await asyncio.sleep(1.6)
    return sum(m.startswith("INVITE ") for m in peer.received)


def test_a_provisional_stops_the_retransmission() -> None:
    assert run(placed(MediaUAC, _trying_then_silence)) == 1


# --- 10. retransmitted re-INVITE on an outgoing dialog -----------------------------------------


def _reinvite(invite: str, peer_port: int) -> str:
    body = ANSWER.replace("a=rtpmap:0 PCMU/8000\n", "a=rtpmap:0 PCMU/8000\na=sendonly\n")
    return (
        f"INVITE {header(invite, 'Contact').strip('<>')} SIP/2.0\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch=z9hG4bK-reinv1\n"
        f"From: {header(invite, 'To')};tag=callee9\n"
        f"To: {header(invite, 'From')}\n"
        f"Call-ID: {header(invite, 'Call-ID')}\n"
        "CSeq: 7 INVITE\nContent-Type: application/sdp\n"
        f"Content-Length: {len(body)}\n\n{body}"
    )


async def _held_twice(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    uas: SipUAS = call.transport.on_message.__self__  # the UAS that owns the socket
    uas.on_reinvite = lambda c: c.accept(OFFER)
    await asyncio.sleep(0.1)
    invite = first(peer, "INVITE")
    peer.send(
        reply(invite, 200, "OK", extra="Contact: <sip:102@127.0.0.1:7777>", body=ANSWER), port
    )
    await asyncio.sleep(0.1)
    reinvite = _reinvite(invite, peer.port)
    peer.send(reinvite, port)
    await asyncio.sleep(0.1)
    peer.send(reinvite, port)  # our 200 was "lost": the proxy retransmits
    await asyncio.sleep(0.2)
    return [header(m, "CSeq") + " " + m.split(" ")[1] for m in peer.received if "7 INVITE" in m]


def test_retransmitted_reinvite_gets_500_from_aiosipua_the_same_200_from_ours() -> None:
    async def with_library_uas(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
        uas: Any = call.transport.on_message.__self__
        uas.__class__ = SipUAS  # the library's re-INVITE handling, our transport
        uas._handlers["INVITE"] = uas._handle_invite
        return await _held_twice(uac, call, peer, port)

    lib = run(placed(MediaUAC, with_library_uas))
    assert lib == ["7 INVITE 200", "7 INVITE 500"], "library fixed? drop bug 10"
    assert run(placed(MediaUAC, _held_twice)) == ["7 INVITE 200", "7 INVITE 200"]


# --- 11. BYE retransmission ----------------------------------------------------------------------


def _ok(request: str) -> str:
    heads = [f"{h}: {header(request, h)}" for h in ("Via", "From", "To", "Call-ID", "CSeq")]
    return "\n".join(["SIP/2.0 200 OK", *heads, "Content-Length: 0"]) + "\n\n"


async def _bye_unanswered(uac: SipUAC, call: Any, peer: Peer, port: int) -> tuple[int, int]:
    await asyncio.sleep(0.1)
    extra = "Contact: <sip:102@127.0.0.1:7777>"
    peer.send(reply(first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER), port)
    await asyncio.sleep(0.1)
    call.hangup(uac)
    await asyncio.sleep(1.7)  # T1 = 0.5 s: again at 0.5 and 1.5 s
    before = sum(m.startswith("BYE ") for m in peer.received)
    peer.send(_ok(first(peer, "BYE")), port)
    await asyncio.sleep(2.2)  # the next one would be at 3.5 s
    return before, sum(m.startswith("BYE ") for m in peer.received)


def test_bye_sent_once_by_aiosipua_until_answered_by_ours() -> None:
    lib_before, _ = run(placed(SipUAC, _bye_unanswered))
    assert lib_before == 1, "library fixed? drop bug 11"
    before, after = run(placed(MediaUAC, _bye_unanswered))
    assert before == 3 and after == before  # the 200 stopped them


# --- 12. the ACK of a retransmitted 2xx ----------------------------------------------------------


async def _ok_twice(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    await asyncio.sleep(0.1)
    extra = "Contact: <sip:102@127.0.0.1:7777>"
    ok = reply(first(peer, "INVITE"), 200, "OK", extra=extra, body=ANSWER)
    peer.send(ok, port)
    await asyncio.sleep(0.1)
    peer.send(ok, port)  # our ACK was late: the callee retransmits its 200
    await asyncio.sleep(0.1)
    return [header(m, "Via") for m in peer.received if m.startswith("ACK ")]


def test_a_retransmitted_2xx_gets_a_new_ack_from_aiosipua_the_same_from_ours() -> None:
    lib = run(placed(SipUAC, _ok_twice))
    assert len(lib) == 2 and lib[0] != lib[1], "library fixed? drop bug 12"
    ours = run(placed(MediaUAC, _ok_twice))
    assert len(ours) == 2 and ours[0] == ours[1]
