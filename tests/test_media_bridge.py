"""Bridged calls through the real parts: Kamailio, the media server, SIPp phones, RTP.

101 calls 103, whose rule forwards every call to a menu: Kamailio sends it
to ``aa-acme.example-<id>`` on the media server. The rig's application
(tests/fixtures/bridge_rig.py) answers that target in place of the attendant (whose own tests
drive its menus) and does what its extension key does: ``media.bridge.bridge()`` to 102,
then (when 102 cannot be reached) a fallback tone. 102 is a SIPp phone
registered with Kamailio; its new leg goes through Kamailio like any call.
Each phone's RTP is a Python socket (``benchmarks.rtp_phones``): the caller
plays 600 Hz, 102 plays 1400 Hz, and each side's received audio is checked
for the other's tone.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.traffic import scenario as sipp_scenario
from tests.fixtures.bridge_rig import CALLEE_HZ, CALLER_HZ, BridgeRig, sequence
from tests.fixtures.sip import cdr_rows

pytestmark = [pytest.mark.kamailio, pytest.mark.media]


def test_both_sides_hear_each_other_and_102_hanging_up_ends_both(
    rig: BridgeRig, tmp_path: Path
) -> None:
    """PCMU caller (digits on 96) <-> PCMA callee (101): audio both ways, digit passed, 102 ends."""
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ, dtmf_payload_type=96))
        callee = bank.add(RtpPhone(8, CALLEE_HZ, dtmf_payload_type=101))
        callee_xml = callee_scenario(tmp_path / "callee.xml", callee, ring_ms=800,
                                     hangup_after_ms=3000)  # fmt: skip

        def press_5_during_the_call() -> None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if callee.streams and caller.streams and len(callee.stream.raw) > 40:
                    caller.send_digit("5")
                    return
                time.sleep(0.05)

        presser = threading.Thread(target=press_5_during_the_call, daemon=True)
        presser.start()
        result = rig.call(caller, callee_xml, talk_ms=None)
        presser.join(1)

    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye") for line in result.log_lines)  # 102 hung up
    assert any("BYE-ok" in line for line in rig.callee_lines)
    # 102's phone shows who calls: the original caller, not the media server
    [invite_line] = [line for line in rig.callee_lines if line.startswith("invite")]
    assert "Front Desk" in invite_line and "sip:101@acme.example" in invite_line

    outcome = rig.outcome()
    assert (outcome.result, outcome.ended_by) == ("answered", "callee")
    assert 2.5 <= outcome.talk_seconds <= 5.0

    heard_by_caller = sequence(caller.stream)
    assert heard_by_caller[:2] == ["ringback", "callee"], heard_by_caller
    heard_by_callee = sequence(callee.stream)
    assert heard_by_callee == ["caller"], heard_by_callee
    # transcoded: the callee receives PCMA (8), the caller PCMU (0), clean tones
    assert {r.payload_type for r in callee.stream.received} <= {8, 101}
    assert {r.payload_type for r in caller.stream.received} == {0}
    callee_audio = callee.stream.audio()
    # a clean tone after two codecs, in some 250 ms of the last second (one coherent sum over
    # the second fell to 0.047 on a busy box: the call's end and a late packet inside it)
    assert strongest(callee_audio[-8000:], CALLER_HZ) > 0.05
    # the digit the caller sent on 96 reaches 102 on 101 (event 5, with an end packet)
    events = [r for r in callee.stream.received if r.payload_type == 101]
    assert events and {r.payload[0] for r in events} == {5}
    assert any(r.payload[1] & 0x80 for r in events)

    rows = cdr_rows(rig.settings, at_least=2)
    original = next(r for r in rows if r["callee"] == "103")
    leg = next(r for r in rows if r["callee"] == "102")
    assert original["answered_by"].startswith("aa-acme.example-")
    assert leg["origin_call_id"] == original["call_id"] and original["origin_call_id"] is None
    assert (leg["caller"], leg["answered_by"], leg["disposition_hint"]) == (
        "101", "102", "answered"
    )  # fmt: skip


def test_the_callers_bye_ends_both_legs(rig: BridgeRig, tmp_path: Path) -> None:
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(8, CALLER_HZ))
        callee = bank.add(RtpPhone(8, CALLEE_HZ))
        result = rig.call(
            caller, callee_scenario(tmp_path / "callee.xml", callee, ring_ms=300), talk_ms=3000
        )
    assert result.returncode == 0, result.errors
    assert any(line.startswith("bye_ok") for line in result.log_lines)
    assert any(line.startswith("server_bye") for line in rig.callee_lines)  # 102 got BYE
    outcome = rig.outcome()
    assert (outcome.result, outcome.ended_by) == ("answered", "caller")
    assert "callee" in sequence(caller.stream) and sequence(callee.stream) == ["caller"]
    assert outcome.stats["caller_relayed"] > 50 and outcome.stats["callee_relayed"] > 50


def test_held_caller_hears_hold_music_then_102_again(rig: BridgeRig, tmp_path: Path) -> None:
    """102 sends re-INVITE sendonly (hold), later sendrecv: music in between, 102 around it."""
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        callee = bank.add(RtpPhone(0, CALLEE_HZ))
        callee_xml = callee_scenario(
            tmp_path / "callee.xml", callee, ring_ms=300, hold_at_ms=1500, hold_ms=3000,
            hangup_after_ms=2000,
        )  # fmt: skip
        result = rig.call(caller, callee_xml, talk_ms=None)
    assert result.returncode == 0, (result.errors, rig.callee_lines, rig.callee_errors)
    assert sum("INVITE-ok" in line for line in rig.callee_lines) == 2, rig.callee_lines
    heard = sequence(caller.stream)
    assert "callee" in heard, heard
    assert heard[heard.index("callee") :][:3] == ["callee", "music", "callee"], heard
    assert rig.outcome().result == "answered"


def test_a_caller_holding_gives_102_hold_music(rig: BridgeRig, tmp_path: Path) -> None:
    """The caller's own re-INVITEs (sendonly, then sendrecv) reach the bridge through Kamailio."""
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        callee = bank.add(RtpPhone(8, CALLEE_HZ))
        callee_xml = callee_scenario(tmp_path / "callee.xml", callee, ring_ms=300)
        result = rig.call(caller, callee_xml, talk_ms=2000, hold_at_ms=1500, hold_ms=3000)
    assert result.returncode == 0, result.errors
    assert sum(line.startswith("reinvite-ok") for line in result.log_lines) == 2
    heard = sequence(callee.stream)
    assert heard[:3] == ["caller", "music", "caller"], heard
    assert rig.outcome().ended_by == "caller"


def test_busy_102_returns_busy_and_the_caller_stays_up(rig: BridgeRig, tmp_path: Path) -> None:
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = rig.call(
            caller, callee_scenario(tmp_path / "callee.xml", None, busy=True), talk_ms=None
        )
    assert result.returncode == 0, result.errors
    outcome = rig.outcome()
    assert (outcome.result, outcome.sip_code) == ("busy", 486)
    assert outcome.caller_still_up
    # the application went on with the caller: its fallback tone, then its BYE
    assert sequence(caller.stream)[-1] == "fallback"
    assert any(line.startswith("busy_acked") for line in rig.callee_lines)


def test_a_caller_sending_no_rtp_is_still_bridged(rig: BridgeRig, tmp_path: Path) -> None:
    """No RTP from the caller for longer than the RTP timeout (2 s): 102 still talks to it."""
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, None))
        callee = bank.add(RtpPhone(0, CALLEE_HZ))
        callee_xml = callee_scenario(tmp_path / "callee.xml", callee, hangup_after_ms=4000)
        result = rig.call(caller, callee_xml, talk_ms=None)
    assert result.returncode == 0, result.errors
    outcome = rig.outcome()
    assert (outcome.result, outcome.ended_by) == ("answered", "callee")
    assert outcome.talk_seconds > 3.5


def test_the_caller_hanging_up_while_102_rings_cancels_102(rig: BridgeRig, tmp_path: Path) -> None:
    """The caller hears ringback, hangs up before 102 answers: 102's INVITE is cancelled (487)."""
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = rig.call(caller, sipp_scenario("uas_ring.xml"), talk_ms=2500)
    assert result.returncode == 0, result.errors
    outcome = rig.outcome()
    assert outcome.result == "caller_hung_up"
    assert sequence(caller.stream) == ["ringback"]
    rows = cdr_rows(rig.settings, at_least=2)
    leg = next(r for r in rows if r["callee"] == "102")
    assert leg["sip_code"] == 487 and leg["origin_call_id"] is not None
