"""Phones behind NAT (issue 13): a call rings where the phone really is, audio flows both ways.

A natted phone here is a SIPp phone on loopback whose SIP socket is 127.0.0.1:P but whose
Contact, Via and SDP name a private address it does not own (``PRIVATE``), as a phone
behind a home router does. Kamailio must send its calls and in-dialog requests to
127.0.0.1:P (the address the phone's REGISTER/INVITE came from) and rtpengine its RTP to
127.0.0.1 (the SIP source), not to the private address. The RTP phones are symmetric
and silent until they hear something, so audio the natted phone never receives is
audio neither side hears: each side's tone must arrive at the other.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from benchmarks import sipp_scenarios as steps
from benchmarks.bridge_scenarios import callee_scenario, caller_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippResult, SippUAS, call_rows, free_udp_port, run_sipp, scenario
from switchboard.processes import wait_until
from switchboard.settings import Settings
from tests.fixtures.relay import talk_first
from tests.fixtures.sip import account, register_at

pytestmark = pytest.mark.kamailio

PRIVATE = "192.168.77.7:5060"  # behind the phone's router: nobody here owns it
PLAIN, NATTED = "101@acme.example", "102@acme.example"
PLAIN_HZ, NATTED_HZ = 600.0, 1400.0
TALK_MS = 2500


def behind_nat(path: Path, xml: str) -> Path:
    """``xml`` as the natted phone sends it: its own address (Via, Contact, SDP) private."""
    path.write_text(xml.replace("[local_ip]:[local_port]", PRIVATE))
    return path


def private_sdp(phone: RtpPhone) -> str:
    """The natted phone's SDP: its RTP port, but the private address."""
    return steps.sdp(phone.port, phone.payload_type, phone.dtmf_payload_type,
                     address=PRIVATE.split(":")[0])  # fmt: skip


def register_behind_nat(settings: Settings, login: str, port: int) -> SippResult:
    """REGISTER ``login`` from 127.0.0.1:``port`` with a Contact at the private address."""
    extension, _, domain = login.partition("@")
    row = (extension, domain, extension, PRIVATE, 600)
    return run_sipp(settings, scenario("register.xml"), [row], timeout=20, duration_ms=0,
                    auth=account(login), local_port=port)  # fmt: skip


def heard(phone: RtpPhone, hz: float) -> tuple[int, float]:
    """(G.711 packets ``phone`` received, relative power of the ``hz`` tone in them)."""
    if not phone.streams:
        return 0, 0.0
    received = [r for stream in phone.streams.values() for r in stream.received]
    return len(received), strongest(phone.stream.audio(), hz)


def assert_both_ways(plain: RtpPhone, natted: RtpPhone) -> None:
    for phone, hz, who in ((natted, PLAIN_HZ, "natted phone"), (plain, NATTED_HZ, "plain phone")):
        packets, power = heard(phone, hz)
        # ~2 s of talk at 50 packets/s; the other phone's tone (0.3 of full scale: ~0.09)
        assert packets >= 50 and power > 0.05, f"the {who} heard {packets} packets ({power:.2f})"


def test_a_call_to_a_phone_behind_nat_rings_it_and_audio_flows_both_ways(
    kamailio: KamailioProcess, tmp_path: Path
) -> None:
    s = kamailio.settings
    port = free_udp_port()
    assert register_behind_nat(s, NATTED, port).returncode == 0
    # the registration points at the socket it came from, not at the Contact's address
    [contact] = kamailio.rpc.call("ul.lookup", "location", NATTED)["Contacts"]
    assert contact["Contact"]["Received"] == f"sip:127.0.0.1:{port}"
    with RtpBank() as bank:
        plain = bank.add(RtpPhone(0, PLAIN_HZ))
        natted = bank.add(RtpPhone(0, NATTED_HZ))
        callee_xml = steps.scenario(
            "callee behind NAT",
            steps.ringing(),
            steps.answer(100, private_sdp(natted)),
            steps.await_bye(30_000),
        )
        with SippUAS(behind_nat(tmp_path / "natted.xml", callee_xml), port=port) as uas:
            threading.Thread(target=talk_first, args=(plain, s), daemon=True).start()
            result = run_sipp(
                s, caller_scenario(tmp_path / "plain.xml", plain, talk_ms=TALK_MS),
                call_rows([(account(PLAIN), account(NATTED))]), timeout=30, auth=account(PLAIN),
            )  # fmt: skip
            uas_log = uas.log_lines()
    # rang at its real socket; answered; the caller's BYE reached it there too (alias)
    assert result.returncode == 0, result.errors
    assert any(line.startswith("invite ") for line in uas_log), uas_log
    assert any(line.startswith("server_bye ") for line in uas_log), uas_log
    assert_both_ways(plain, natted)


def test_a_phone_behind_nat_calls_out_and_hears_the_other_side(
    kamailio: KamailioProcess, tmp_path: Path
) -> None:
    s = kamailio.settings
    with RtpBank() as bank:
        plain = bank.add(RtpPhone(0, PLAIN_HZ))
        natted = bank.add(RtpPhone(0, NATTED_HZ))
        # the plain phone hangs up: its BYE must find the natted caller's real socket
        callee = callee_scenario(tmp_path / "plain.xml", plain, ring_ms=100,
                                 hangup_after_ms=TALK_MS)  # fmt: skip
        caller_xml = steps.scenario(
            "caller behind NAT",
            steps.call_answered(private_sdp(natted), auth=True),
            steps.await_bye(30_000),
        )
        with SippUAS(callee) as uas:
            assert register_at(s, PLAIN, uas).returncode == 0
            threading.Thread(target=talk_first, args=(plain, s), daemon=True).start()
            result = run_sipp(
                s, behind_nat(tmp_path / "natted.xml", caller_xml),
                call_rows([(account(NATTED), account(PLAIN))]), timeout=30, auth=account(NATTED),
            )  # fmt: skip

            # the caller exits once it has answered the BYE; the callee logs that answer
            # when it arrives, a moment later on a busy machine
            def bye_answered() -> bool:
                return any(line.startswith("BYE-ok ") for line in uas.log_lines())

            answered = wait_until(bye_answered, timeout=5.0)
            uas_log = uas.log_lines()
    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye ") for line in result.log_lines), result.log_lines
    assert answered, uas_log
    assert_both_ways(plain, natted)
