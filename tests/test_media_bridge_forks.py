"""A forked bridge leg answered twice (bugs 13-14 of ``media.workarounds``): bug, then fix.

First on a raw UDP peer playing Kamailio (as ``tests.test_media_bridge_workarounds``):
aiosipua's own UAC keeps the To-tag of the first 18x and ACKs a second fork's
2xx in the first dialog; ours follows the fork that answered and ACKs and BYEs
the other one in its own dialog. Then through the real parts: 102 has two
devices (two SIPp phones registered with their own credentials) that both
answer at once; Kamailio forwards both 200s to the media server's leg, which
must leave the second phone in no dead call.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiosipua import SipUAC

from benchmarks import sipp_scenarios as steps
from benchmarks.bridge_scenarios import caller_scenario, sdp
from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.traffic import SippUAS, run_sipp
from media.workarounds import MediaUAC
from tests.fixtures.bridge_rig import CALLEE_HZ, CALLER_HZ, BridgeRig
from tests.fixtures.core import Directory
from tests.fixtures.sip import account, register_device
from tests.fixtures.sip_peer import ANSWER, Peer, first, header, placed, reply, run

CONTACT = "Contact: <sip:102@127.0.0.1:{port}>"


def _from_fork(invite: str, code: int, tag: str, contact_port: int, body: str = "") -> str:
    """``code`` from the fork whose To-tag is ``tag`` (its own Contact and Record-Route)."""
    extra = f"Record-Route: <sip:127.0.0.9;lr;fork={tag}>\n" + CONTACT.format(port=contact_port)
    reason = {180: "Ringing", 200: "OK"}[code]
    return reply(invite, code, reason, extra=extra, body=body).replace("tag=callee9", f"tag={tag}")


# --- 13. the To-tag of the fork that answered ----------------------------------------------------


async def _rang_on_a_answered_on_b(uac: SipUAC, call: Any, peer: Peer, port: int) -> str:
    await asyncio.sleep(0.1)
    invite = first(peer, "INVITE")
    peer.send(_from_fork(invite, 180, "deskA", 7001), port)
    await asyncio.sleep(0.05)
    peer.send(_from_fork(invite, 200, "mobileB", 7002, ANSWER), port)
    await asyncio.sleep(0.1)
    return header(first(peer, "ACK"), "To")


def test_the_ack_names_the_fork_that_rang_in_aiosipua_the_one_that_answered_in_ours() -> None:
    assert run(placed(SipUAC, _rang_on_a_answered_on_b)).endswith("tag=deskA"), "drop bug 13"
    assert run(placed(MediaUAC, _rang_on_a_answered_on_b)).endswith("tag=mobileB")


# --- 14. a second fork's 2xx ---------------------------------------------------------------------


async def _answered_twice(uac: SipUAC, call: Any, peer: Peer, port: int) -> list[str]:
    await asyncio.sleep(0.1)
    invite = first(peer, "INVITE")
    peer.send(_from_fork(invite, 200, "deskA", 7001, ANSWER), port)
    await asyncio.sleep(0.05)
    second = _from_fork(invite, 200, "mobileB", 7002, ANSWER)
    peer.send(second, port)
    await asyncio.sleep(0.1)
    peer.send(second, port)  # its ACK was "lost": the phone retransmits its 200
    await asyncio.sleep(0.1)
    return [m for m in peer.received if m.startswith(("ACK ", "BYE "))]


def _summary(request: str) -> str:
    tag = header(request, "To").rsplit("tag=", 1)[-1]
    uri = request.split(" ")[1]
    return f"{request.split(' ')[0]} {uri} {tag} {header(request, 'CSeq')}"


def test_a_second_forks_200_acked_in_the_first_dialog_by_aiosipua_acked_and_byed_by_ours() -> None:
    lib = [_summary(m) for m in run(placed(SipUAC, _answered_twice))]
    assert all(" deskA " in s for s in lib) and not any("mobileB" in s for s in lib), lib
    sent = run(placed(MediaUAC, _answered_twice))
    ours = [_summary(m) for m in sent]
    assert ours == [
        "ACK sip:102@127.0.0.1:7001 deskA 1 ACK",
        "ACK sip:102@127.0.0.1:7002 mobileB 1 ACK",
        "BYE sip:102@127.0.0.1:7002 mobileB 2 BYE",
        "ACK sip:102@127.0.0.1:7002 mobileB 1 ACK",  # the retransmitted 200: the same ACK
    ], ours
    acks_b = [m for m in sent if m.startswith("ACK ") and "mobileB" in m]
    assert header(acks_b[0], "Via") == header(acks_b[1], "Via")
    assert all(header(m, "Route") == "<sip:127.0.0.9;lr;fork=mobileB>" for m in sent[1:])


# --- through Kamailio: two devices of 102 answer at once -----------------------------------------


def _device(phone: RtpPhone, path: Path) -> Path:
    """A phone that answers at once (200, no 180), then waits for a BYE.

    Kamailio may CANCEL the branch of the device whose 200 crossed the other's:
    like a phone, it answers that CANCEL 200 and stays in its dialog (RFC 3261 §9.2).
    The media server sends the losing fork its ACK and BYE back to back, and Kamailio's
    workers may relay them in either order: like a phone, it answers a BYE that comes
    before the ACK (the dialog is confirmed once it sent its 200), then takes the ACK;
    and a CANCEL relayed after that ACK gets its 200 and changes nothing (seen once in CI).
    """
    acked = '  <recv request="ACK" crlf="true"><action><log message="acked [call_id]"/>'
    acked += "</action></recv>\n"
    bye_first = '  <recv request="BYE" optional="true" next="byed"><action>'
    bye_first += '<log message="server_bye [call_id]"/></action></recv>\n'
    late_cancel = '  <recv request="CANCEL" optional="true" next="late"/>\n'
    text = steps.ringing().split("  <send>")[0]  # the INVITE only: no 180 before the 200
    text += steps.answer(0, sdp(phone)).split("  <recv")[0]  # the 200, not its ACK yet
    text += '  <recv request="CANCEL" optional="true" next="crossed"/>\n'
    text += bye_first + acked + '  <nop next="talk"/>\n  <label id="crossed"/>\n'
    text += steps.respond("200 OK", dialog=False) + bye_first + acked
    text += (
        '  <label id="talk"/>\n' + late_cancel + steps.await_bye(20_000) + '  <nop next="done"/>\n'
    )
    text += '  <label id="late"/>\n' + steps.respond("200 OK", dialog=False)
    text += steps.await_bye(20_000) + '  <nop next="done"/>\n'
    text += '  <label id="byed"/>\n' + steps.bye_ok() + acked + '  <label id="done"/>\n'
    path.write_text(steps.scenario("device answering at once", text))
    return path


# Kamailio's dialog keeps the first To-tag only, so route WITHINDLG relays the media
# server's ACK and BYE of the other fork from a media worker's own address along our
# Record-Route (t_relay, no rtpengine); without that they got 481 "unknown dialog".


@pytest.mark.kamailio
@pytest.mark.media
def test_two_devices_answering_at_once_the_second_is_acked_and_byed(
    rig: BridgeRig,
    directory: Directory,
    tmp_path: Path,
) -> None:
    s = rig.settings
    desk = directory.store.add_device("acme.example", "102", "Desk")
    mobile = directory.store.add_device("acme.example", "102", "Mobile")
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        phones = [bank.add(RtpPhone(0, CALLEE_HZ)), bank.add(RtpPhone(0, CALLEE_HZ))]
        xmls = [_device(p, tmp_path / f"device{i}.xml") for i, p in enumerate(phones)]
        with SippUAS(xmls[0]) as a, SippUAS(xmls[1]) as b:
            for device, uas in ((desk, a), (mobile, b)):
                reg = register_device(s, "102", device.device.username, device.password, uas)
                assert reg.returncode == 0, reg.errors
            result = run_sipp(
                s,
                caller_scenario(tmp_path / "caller.xml", caller, talk_ms=1000),
                [("101", "acme.example", "-", "103", "acme.example", "Front Desk")],
                auth=account("101@acme.example"),
                timeout=20,
            )
            deadline = time.monotonic() + 3
            logs = [a.log_lines(), b.log_lines()]
            while time.monotonic() < deadline and not all(
                any(line.startswith("server_bye") for line in lines) for lines in logs
            ):
                time.sleep(0.1)
                logs = [a.log_lines(), b.log_lines()]
            errors = [
                (u.work / "errors.txt").read_text(errors="replace")
                for u in (a, b)
                if (u.work / "errors.txt").exists()
            ]
    assert result.returncode == 0, result.errors
    outcome = rig.outcome()
    assert (outcome.result, outcome.ended_by) == ("answered", "caller"), outcome
    # both phones answered, both got their ACK and, in the end, a BYE: no dead call left
    for lines in logs:
        seen = [line.split()[0] for line in lines]
        assert seen in (["invite", "acked", "server_bye"], ["invite", "server_bye", "acked"]), (
            errors,
            logs,
        )
    # one of them talked with the caller; the other was hung up at once, no audio relayed to
    # it (any 250 ms of each phone's stream: silence frames may follow the caller's BYE)
    heard = sorted(strongest(p.stream.audio(), CALLER_HZ) if p.streams else 0.0 for p in phones)
    assert heard[1] > 0.05 and heard[0] < 0.01, heard
