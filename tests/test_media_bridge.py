"""Bridged calls through the real parts: Kamailio, the media server, SIPp phones, RTP.

101 calls 103, whose rule forwards every call to a menu: Kamailio sends it
to ``aa-acme.example-<id>`` on the media server. An application registered
only here answers that target in place of the attendant (whose own tests
drive its menus) and does what its extension key does: ``media.bridge.bridge()`` to 102,
then (when 102 cannot be reached) a fallback tone. 102 is a SIPp phone
registered with Kamailio; its new leg goes through Kamailio like any call.
Each phone's RTP is a Python socket (``benchmarks.rtp_phones``): the caller
plays 600 Hz, 102 plays 1400 Hz, and each side's received audio is checked
for the other's tone.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.bridge_scenarios import callee_scenario, caller_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone, Stream, goertzel, tone
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_user
from kamailio.traffic import SippResult, SippUAS, run_sipp
from kamailio.traffic import scenario as sipp_scenario
from media.bridge import BridgeOutcome, bridge
from media.hold_music import MELODY_HZ, RINGBACK_HZ, default_track
from media.leg import Leg
from media.mailbox import StoreMailboxes
from media.outbound import CallerId
from media.server import Application, MediaServer
from switchboard.attendants import ATTENDANT_PREFIX, Attendant, parse_media_target
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.fixtures.media import MediaServerThread
from tests.fixtures.sip import account, cdr_rows, register_at

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
CALLER_HZ, CALLEE_HZ, FALLBACK_HZ = 600.0, 1400.0, 2000.0


@dataclasses.dataclass
class BridgeRig:
    """Kamailio + a media server whose ``aa-`` application bridges to ``target``."""

    settings: Any
    server: MediaServerThread
    outcomes: list[BridgeOutcome]
    plan: dict[str, str]
    work: Path

    def call(
        self, caller: RtpPhone, callee_xml: Path, *, talk_ms: int | None, **hold: int
    ) -> SippResult:
        """101 dials 103 (-> the menu) with 102 registered to a SIPp UAS; ``hold``: the caller's."""
        with SippUAS(callee_xml) as uas:
            self.uas_log = uas.log_lines
            assert register_at(self.settings, "102@acme.example", uas).returncode == 0
            result = run_sipp(
                self.settings,
                caller_scenario(self.work / "caller.xml", caller, talk_ms=talk_ms, **hold),
                [("101", "acme.example", "-", "103", "acme.example", "Front Desk")],
                auth=account("101@acme.example"),
                timeout=40,
            )
            time.sleep(0.5)  # the callee's last lines
            self.callee_lines = uas.log_lines()
            errors = uas.work / "errors.txt"
            self.callee_errors = errors.read_text(errors="replace") if errors.exists() else ""
        return result

    def outcome(self, timeout: float = 10.0) -> BridgeOutcome:
        deadline = time.monotonic() + timeout
        while not self.outcomes and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.outcomes, "the bridge never returned"
        return self.outcomes[-1]


def route_103_to_the_menu(s: Any, directory: Directory, rules_clock: RulesClock) -> None:
    """103 forwards every call to a menu: Kamailio sends aa-acme.example-<id> (ours, here)."""
    menu = directory.store.save_attendant(
        Attendant("acme.example", "Main menu", greeting_text="Press 1 for Bob.")
    )
    sue = directory.users["103@acme.example"]
    to_menu = Destination("auto_attendant", str(menu.id))
    directory.store.save_rule(sue, AnsweringRule("Menu", 1, None, forward_always=to_menu))
    rules_clock.pin(NOW)
    push_user(s, directory.store, sue, now=NOW)


def extension_key(s: Any, outcomes: list[BridgeOutcome], plan: dict[str, str]) -> Application:
    """What the attendant's "press 1 for 102" does: bridge, else a fallback tone."""
    fallback = tone(FALLBACK_HZ, 1.5).tobytes()

    async def app(server: MediaServer, leg: Leg, user: str, identity: str) -> None:
        target = parse_media_target(ATTENDANT_PREFIX, user)
        assert target is not None and server.dialer is not None
        sender = leg.call.invite.from_addr
        number = sender.uri.user if sender and sender.uri else None
        outcome = await bridge(
            leg, plan["target"], dialer=server.dialer, tenant=target[0], identity=identity,
            caller_id=CallerId(number, sender.display_name if sender else None),
            hold_music=default_track(s.data_dir), data_dir=s.data_dir, ring_timeout=5,
        )  # fmt: skip
        outcomes.append(outcome)
        if outcome.caller_still_up:
            await leg.play(fallback)

    return app


@pytest.fixture
def rig(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock, tmp_path: Path
) -> Iterator[BridgeRig]:
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=2.0)
    route_103_to_the_menu(s, directory, rules_clock)
    outcomes: list[BridgeOutcome] = []
    plan = {"target": "102"}
    mailboxes = StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    app = extension_key(s, outcomes, plan)
    server = MediaServerThread(s, mailboxes=mailboxes, applications={"aa-": app})
    server.start()
    try:
        yield BridgeRig(s, server, outcomes, plan, tmp_path)
    finally:
        server.stop()


def _windows(stream: Stream, seconds: float = 0.1) -> list[tuple[float, np.ndarray]]:
    """(start, audio) of consecutive windows of what a phone received, by arrival time."""
    audio = [r for r in stream.received if r.payload_type in (0, 8)]
    if not audio:
        return []
    out, start = [], audio[0].at
    while start < audio[-1].at:
        out.append((start, stream.audio(start, start + seconds)))
        start += seconds
    return out


def _hears(pcm: np.ndarray, *freqs: float, level: float = 0.01) -> bool:
    return all(goertzel(pcm, f) > level for f in freqs)


def _label(pcm: np.ndarray) -> str:
    """What a 100 ms window sounds like: the callee, the caller, music, ringback, fallback."""
    if len(pcm) < 400:
        return "-"
    powers = {
        "callee": goertzel(pcm, CALLEE_HZ),
        "caller": goertzel(pcm, CALLER_HZ),
        "fallback": goertzel(pcm, FALLBACK_HZ),
        "ringback": min(goertzel(pcm, f) for f in RINGBACK_HZ),
        "music": max(goertzel(pcm, f) for f in MELODY_HZ),
    }
    best = max(powers, key=lambda k: powers[k])
    return best if powers[best] > 0.005 else "-"


def _sequence(stream: Stream) -> list[str]:
    """The labels of successive windows with repeats collapsed (short blips dropped)."""
    labels = [_label(pcm) for _, pcm in _windows(stream)]
    runs: list[list[Any]] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    out: list[str] = []
    for label, count in runs:
        if count >= 3 and label != "-" and (not out or out[-1] != label):
            out.append(label)
    return out


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

    heard_by_caller = _sequence(caller.stream)
    assert heard_by_caller[:2] == ["ringback", "callee"], heard_by_caller
    heard_by_callee = _sequence(callee.stream)
    assert heard_by_callee == ["caller"], heard_by_callee
    # transcoded: the callee receives PCMA (8), the caller PCMU (0), clean tones
    assert {r.payload_type for r in callee.stream.received} <= {8, 101}
    assert {r.payload_type for r in caller.stream.received} == {0}
    callee_audio = callee.stream.audio()
    assert goertzel(callee_audio[-8000:], CALLER_HZ) > 0.05  # a clean tone after two codecs
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
    assert "callee" in _sequence(caller.stream) and _sequence(callee.stream) == ["caller"]
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
    heard = _sequence(caller.stream)
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
    heard = _sequence(callee.stream)
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
    assert _sequence(caller.stream)[-1] == "fallback"
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
    assert _sequence(caller.stream) == ["ringback"]
    rows = cdr_rows(rig.settings, at_least=2)
    leg = next(r for r in rows if r["callee"] == "102")
    assert leg["sip_code"] == 487 and leg["origin_call_id"] is not None
