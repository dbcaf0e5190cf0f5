"""Call queues through the real parts: carrier → Kamailio → queue → agents' SIPp phones.

Acme's main number routes to the "Support" queue; agents 101 (priority 1)
and 102 (priority 2) are SIPp phones registered to Kamailio, each with an
RTP socket (``benchmarks.rtp_phones``) playing its own tone; the carrier is
SIPp on the trunk port. What the queue did is read back from the events it
spooled (``spool/queue_events/<tenant>/*.json``) and its live state file
(the call center: tests/fixtures/call_center.py).
Kamailio's ring timeout here is 3 s (``tests.fixtures.sip``), so an agent who
does not answer is given up after 3 s.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.rtp_phones import RtpBank, RtpPhone
from kamailio.traffic import SippUAS
from media import prompts
from tests.fixtures.call_center import ACME, CallCenter, agent_scenario, heard
from tests.fixtures.main_number import press_keys

pytestmark = [pytest.mark.kamailio, pytest.mark.media]


def _kinds(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["agent"]) for e in events if e["kind"] != "restart"]


def test_linear_offers_by_priority_and_wrapup_holds_the_agent(
    center: CallCenter, tmp_path: Path
) -> None:
    with RtpBank() as bank:
        p101 = bank.add(RtpPhone(0, 1400.0))
        p102 = bank.add(RtpPhone(8, 1800.0))
        uas = {
            "101": SippUAS(agent_scenario(tmp_path / "101.xml", p101, hangup_after_ms=1500)),
            "102": SippUAS(agent_scenario(tmp_path / "102.xml", p102, hangup_after_ms=1500)),
        }
        try:
            center.register(uas)
            first = bank.add(RtpPhone(0, 600.0))
            r1 = center.call(first, name="1")
            second = bank.add(RtpPhone(0, 700.0))
            r2 = center.call(second, name="2")  # 101 is in wrap-up (4 s): 102 takes it
        finally:
            lines = {ext: u.log_lines() for ext, u in uas.items()}
            for u in uas.values():
                u.stop()
    assert r1.returncode == 0 and r2.returncode == 0, r1.errors + r2.errors
    assert heard(first, 1400.0) > 0.05  # talked to 101
    assert heard(second, 1800.0) > 0.05  # talked to 102
    events = center.events()
    assert _kinds(events) == [
        ("enter", None), ("offer", "101"), ("connect", "101"), ("complete", "101"),
        ("enter", None), ("offer", "102"), ("connect", "102"), ("complete", "102"),
    ]  # fmt: skip
    assert events[-1]["outcome"] == "agent_hangup" and 1.0 < events[-1]["talk"] < 3.0
    # the agent's phone saw who calls, from which queue, after how long
    assert f"queue {center.queue.id};wait=0" in lines["101"], lines
    assert any("Support 0:0" in line for line in lines["101"] if line.startswith("invite"))
    agent_events = [(e["kind"], e["agent"]) for e in center.events("agent_events")]
    assert ("wrapup_start", "101") in agent_events and ("wrapup_start", "102") in agent_events


def test_ring_all_rings_both_and_a_silent_agent_is_skipped_and_paused(
    center: CallCenter, tmp_path: Path
) -> None:
    with RtpBank() as bank:
        p102 = bank.add(RtpPhone(0, 1800.0))
        uas = {
            "101": SippUAS(agent_scenario(tmp_path / "101.xml", None)),
            "102": SippUAS(
                agent_scenario(tmp_path / "102.xml", p102, hangup_after_ms=1000, ring_ms=1000)
            ),
        }
        try:
            center.register(uas)
            center.edit(strategy="ring_all", wrapup_seconds=0)
            r1 = center.call(bank.add(RtpPhone(0, 600.0)), name="1")
            center.edit(strategy="linear", pause_on_no_answer=True)
            r2 = center.call(bank.add(RtpPhone(0, 600.0)), name="2")
        finally:
            for u in uas.values():
                u.stop()
    assert r1.returncode == 0 and r2.returncode == 0, r1.errors + r2.errors
    kinds = _kinds(center.events())
    # ring all: both offered at once, 102 answers, 101 is cancelled
    assert kinds[:5] == [
        ("enter", None), ("offer", "101"), ("offer", "102"), ("connect", "102"),
        ("offer_failed", "101"),
    ] or kinds[:5] == [
        ("enter", None), ("offer", "101"), ("offer", "102"), ("offer_failed", "101"),
        ("connect", "102"),
    ]  # fmt: skip
    # linear: 101 rings out (Kamailio's 3 s), is paused "no-answer", 102 takes the call
    assert kinds[6:] == [
        ("enter", None), ("offer", "101"), ("offer_failed", "101"), ("offer", "102"),
        ("connect", "102"), ("complete", "102"),
    ]  # fmt: skip
    pauses = [e for e in center.events("agent_events") if e["kind"] == "pause"]
    assert [(p["agent"], p["reason"]) for p in pauses] == [("101", "no-answer")]
    assert center.store.agent_pause(ACME, "101").reason == "no-answer"


def test_waiting_callers_hear_music_and_position_abandon_exit_key_and_overflow(
    center: CallCenter, tmp_path: Path
) -> None:
    center.store.set_agent_login(ACME, "101", False)
    center.store.set_agent_login(ACME, "102", False)  # nobody to take calls: everyone waits
    center.edit(announce_seconds=3, max_wait_seconds=5)
    with RtpBank() as bank:
        # 1. hangs up after 3.5 s: hold music, "You are caller number 1.", then an abandon
        waiting = bank.add(RtpPhone(0, 600.0))
        done = center.call_in_background(waiting, talk_ms=3500, name="abandon")
        # The wallboard's file shows the caller while they wait (3.5 s from the answer);
        # polled, not read once after a fixed sleep: a busy box sets the call up later.
        deadline, live = time.monotonic() + 10, {"waiting": []}
        while not live["waiting"] and time.monotonic() < deadline:
            time.sleep(0.2)
            live = center.live()["queues"][0]
        assert [c["caller"] for c in live["waiting"]] == ["+15551234567"]
        assert {a["state"] for a in live["agents"]} == {"logged_out"}
        assert done().returncode == 0
        # 2. presses the exit key: voicemail of 100
        leaving = bank.add(RtpPhone(0, 600.0))
        presser = threading.Thread(target=press_keys, args=(leaving, "1"), daemon=True)
        presser.start()
        assert center.call(leaving, talk_ms=4000, name="exit").returncode == 0
        # 3. waits past max wait (5 s): overflow to voicemail of 100
        patient = bank.add(RtpPhone(0, 600.0))
        assert center.call(patient, talk_ms=7500, name="overflow").returncode == 0
    music = waiting.stream.audio()
    assert len(music) > 8000 * 2.5 and np.abs(music.astype(np.int32)).mean() > 300  # not silence
    spoken = prompts.speech_pcm(center.settings.data_dir, "You are caller number 1.")
    assert _contains(music, spoken), "the position announcement was not heard"
    events = [e for e in center.events() if e["kind"] != "restart"]
    kinds = [(e["kind"], e.get("outcome") or e.get("target")) for e in events]
    assert kinds == [
        ("enter", None), ("abandon", "hangup"),
        ("enter", None), ("exit_key", "voicemail:100"),
        ("enter", None), ("overflow", "max_wait"),
    ], kinds  # fmt: skip
    assert 3.0 < events[1]["wait"] < 4.5 and events[1]["position"] == 1
    assert events[3]["key"] == "1"
    assert 5.0 <= events[5]["wait"] < 6.5 and events[5]["target"] == "voicemail:100"
    server = center.server.server
    assert server is not None and [m.mailbox for m in server.messages] == ["100", "100"]


def _contains(received: np.ndarray, spoken: bytes) -> bool:
    """Is the start of ``spoken`` (16-bit PCM) in ``received`` (G.711 decoded), roughly?"""
    probe = np.frombuffer(spoken, dtype="<i2")[1600:5600].astype(np.float64)  # 0.2-0.7 s
    signal = received.astype(np.float64)
    if len(signal) < len(probe) or not probe.any():
        return False
    corr = np.correlate(signal, probe, mode="valid")
    energy = np.sqrt(np.convolve(signal**2, np.ones(len(probe)), mode="valid"))
    best = np.max(np.abs(corr) / (energy * np.linalg.norm(probe) + 1e-9))
    return bool(best > 0.8)


def test_agent_state_survives_a_media_server_restart(center: CallCenter, tmp_path: Path) -> None:
    center.store.set_agent_pause(ACME, "102", "lunch")
    with RtpBank() as bank:
        p101 = bank.add(RtpPhone(0, 1400.0))
        uas = {"101": SippUAS(agent_scenario(tmp_path / "101.xml", p101))}  # waits for BYE
        try:
            center.register(uas)
            done = center.call_in_background(bank.add(RtpPhone(0, 600.0)), name="cut")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                states = {a["extension"]: a["state"] for a in center.live()["queues"][0]["agents"]}
                if states.get("101") == "on_call":
                    break
                time.sleep(0.1)
            assert states == {"101": "on_call", "102": "paused"}
            center.restart_media()  # the call is cut: both sides get a BYE
            assert done().returncode == 0
        finally:
            for u in uas.values():
                u.stop()
    agents = {a["extension"]: a for a in center.live()["queues"][0]["agents"]}
    assert agents["101"]["state"] == "available"  # logged in still, never stuck on a call
    assert (agents["102"]["state"], agents["102"]["reason"]) == ("paused", "lunch")
    kinds = [e["kind"] for e in center.events()]
    assert kinds[0] == "restart" and kinds[-1] == "restart" and "connect" in kinds


def test_feature_codes_from_a_phone_log_out_and_pause(center: CallCenter) -> None:
    from tests.fixtures.sip import call

    assert call(center.settings, f"101@{ACME}", f"*46@{ACME}", duration_ms=800).returncode == 0
    assert call(center.settings, f"101@{ACME}", f"*472@{ACME}", duration_ms=800).returncode == 0
    queue = center.store.queue(ACME, center.queue.id)
    assert [(m.extension, m.logged_in) for m in queue.members] == [("101", False), ("102", True)]
    assert center.store.agent_pause(ACME, "101").reason == "lunch"
    got = [(e["kind"], e["agent"], e["reason"]) for e in center.events("agent_events")]
    assert got == [("logout", "101", None), ("pause", "101", "lunch")]


def test_an_agent_on_any_call_is_not_offered_a_queue_call(
    center: CallCenter, tmp_path: Path
) -> None:
    from tests.fixtures.sip import call

    with RtpBank() as bank:
        uas = {
            "101": SippUAS(agent_scenario(tmp_path / "101.xml", bank.add(RtpPhone(0, 1400.0)))),
            "102": SippUAS(
                agent_scenario(
                    tmp_path / "102.xml", bank.add(RtpPhone(0, 1800.0)), hangup_after_ms=1000
                )
            ),
        }
        try:
            center.register(uas)
            # 103 calls 101 directly (not a queue call) and talks for 6 s
            side = threading.Thread(
                target=call, args=(center.settings, f"103@{ACME}", f"101@{ACME}"),
                kwargs={"duration_ms": 6000}, daemon=True,
            )  # fmt: skip
            side.start()
            time.sleep(1.5)
            result = center.call(bank.add(RtpPhone(0, 600.0)), name="busy")
            side.join(20)
        finally:
            for u in uas.values():
                u.stop()
    assert result.returncode == 0, result.errors
    offers = [(e["kind"], e["agent"]) for e in center.events() if e["kind"].startswith("offer")]
    assert offers == [("offer", "102")]  # linear would offer 101 first: it was on a call
