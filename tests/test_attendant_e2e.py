"""The main number answers, through the real parts: carrier → Kamailio → menu → bridge → 102.

Acme's main number routes by time frame: open hours → the "Day" menu (1 →
extension 102, 9 → dial by extension, an invalid key twice → the "Sorry"
announcement), otherwise → the "Night" menu. The carrier is SIPp on the
trunk port; each phone's RTP is a Python socket (``benchmarks.rtp_phones``):
the caller plays 600 Hz, 102 plays 1400 Hz, and what each side receives is
checked for the other's tone. Keys are RFC 2833 events on payload type 101
or 96. The media server writes each call's steps to the spool, which the
funnel counts (docs/spool.md). The main number, its menus and the carrier are
tests/fixtures/main_number.py's.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.rules_push import RulesClock, push_all
from switchboard.attendants import Announcement, Attendant, MenuDestination
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.fixtures.main_number import (
    ACME,
    CALLEE_HZ,
    CALLER_HZ,
    MAIN,
    NIGHT,
    OPEN,
    MainNumber,
)

pytestmark = [pytest.mark.kamailio, pytest.mark.media]


@pytest.mark.parametrize("dtmf_pt", [101, 96])
def test_key_1_bridges_the_carrier_caller_to_102(main_number: MainNumber, dtmf_pt: int) -> None:
    result, caller, phone_102 = main_number.press_1_for_102(dtmf_pt)
    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye") for line in result.log_lines)  # 102 hung up: both end
    # audio both ways: each side received the other's tone
    assert strongest(caller.stream.audio(), CALLEE_HZ) > 0.05
    assert strongest(phone_102.stream.audio(), CALLER_HZ) > 0.05
    steps = main_number.steps()
    assert [s["kind"] for s in steps] == [
        "menu_entered", "menu_key", "bridge_attempt", "bridge_answered", "bridge_ended",
    ]  # fmt: skip
    assert steps[0]["attendant_id"] == main_number.day.id
    assert (steps[1]["key"], steps[1]["target"]) == ("1", "extension:102")
    assert steps[4]["outcome"] == "callee_hangup" and steps[3]["leg_call_id"]


def test_after_hours_plays_the_night_menu_and_a_hang_up_in_it_is_a_step(
    main_number: MainNumber, rules_clock: RulesClock
) -> None:
    rules_clock.pin(NIGHT)
    push_all(main_number.settings, main_number.store, now=NIGHT)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = main_number.call(caller, talk_ms=2500)
    assert result.returncode == 0, result.errors
    steps = main_number.steps()
    assert [s["kind"] for s in steps] == ["menu_entered", "menu_hangup"]
    assert steps[0]["attendant_id"] == main_number.night.id


def test_an_invalid_key_twice_plays_the_announcement_and_hangs_up(main_number: MainNumber) -> None:
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = main_number.call(caller, "77")
    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye") for line in result.log_lines)
    steps = main_number.steps()
    assert [(s["kind"], s["key"]) for s in steps[:3]] == [
        ("menu_entered", None), ("menu_invalid", "7"), ("menu_invalid", "7"),
    ]  # fmt: skip
    assert steps[2]["target"] == f"announcement:{main_number.sorry.id}"
    assert [s["kind"] for s in steps[3:]] == ["announcement", "hangup"]


def test_dial_by_extension_reaches_103_whose_rule_forwards_to_102(
    main_number: MainNumber, directory: Directory, tmp_path: Path
) -> None:
    """9, then 103#: 103 forwards every call to 102 — its own rule applies to the bridged leg."""
    sue = directory.users[f"103@{ACME}"]
    to_102 = Destination("extension", "102")
    directory.store.save_rule(sue, AnsweringRule("Away", 1, forward_always=to_102))
    push_all(main_number.settings, main_number.store, now=OPEN)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        phone_102 = bank.add(RtpPhone(0, CALLEE_HZ))
        callee = callee_scenario(tmp_path / "102.xml", phone_102, hangup_after_ms=1500)
        result = main_number.call(caller, "9,103#", callee=callee)
    assert result.returncode == 0, result.errors
    assert strongest(caller.stream.audio(), CALLEE_HZ) > 0.05
    steps = main_number.steps()
    assert [(s["kind"], s["key"]) for s in steps[:3]] == [
        ("menu_entered", None), ("menu_key", "9"), ("menu_key", "103"),
    ]  # fmt: skip
    assert [s["kind"] for s in steps[3:]] == ["bridge_attempt", "bridge_answered", "bridge_ended"]
    [invite] = [line for line in main_number.callee_lines if line.startswith("invite")]
    assert re.search(r"sip:\+15551234567@", invite), invite  # 102 sees the carrier's caller


def test_a_caller_who_sends_no_rtp_is_hung_up(main_number: MainNumber) -> None:
    with RtpBank() as bank:
        silent = bank.add(RtpPhone(0, None))
        result = main_number.call(silent)
    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye") for line in result.log_lines)
    steps = main_number.steps()
    assert steps[-1]["kind"] == "menu_hangup" and steps[-1]["outcome"] == "rtp_timeout"


def test_a_route_to_a_menu_that_does_not_exist_is_answered_not_404(
    main_number: MainNumber,
) -> None:
    """The store refuses a route to a missing menu and deleting a menu in use; a menu can
    still vanish under a route (a restored backup, an edit by hand): callers get an answer."""
    store = main_number.store
    did = store.did(MAIN)
    doomed = store.save_attendant(Attendant(ACME, "Doomed", greeting_text="Soon gone."))
    gone = Destination("auto_attendant", str(doomed.id))
    store.save_did_rule(did, AnsweringRule("Gone", 0, forward_always=gone))
    with sqlite3.connect(main_number.settings.provisioning_db) as db:
        db.execute("delete from attendant where id = ?", (doomed.id,))
    push_all(main_number.settings, main_number.store, now=OPEN)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = main_number.call(caller)
    assert result.returncode == 0, result.errors  # 200, apology, our BYE: never a 404
    assert any(line.startswith("server_bye") for line in result.log_lines)
    assert [(s["kind"], s["outcome"]) for s in main_number.steps()] == [("hangup", "not_found")]


def test_a_main_number_routed_to_an_announcement_plays_it_then_its_menu(
    main_number: MainNumber,
) -> None:
    """Kamailio's ``announcement`` destination (ann-<tenant>-<id>), then its ``then``."""
    store = main_number.store
    closed = store.save_announcement(
        Announcement(ACME, "Holidays", "Closed.", main_number.sorry.audio_file,
                     MenuDestination("attendant", str(main_number.night.id)))
    )  # fmt: skip
    did = store.did(MAIN)
    to_notice = Destination("announcement", str(closed.id))
    store.save_did_rule(did, AnsweringRule("Holiday notice", 0, forward_always=to_notice))
    push_all(main_number.settings, store, now=OPEN)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        result = main_number.call(caller, talk_ms=3000)
    assert result.returncode == 0, result.errors
    steps = main_number.steps()
    assert [s["kind"] for s in steps] == ["announcement", "menu_entered", "menu_hangup"]
    assert steps[0]["target"] == f"announcement:{closed.id}"
    assert steps[1]["attendant_id"] == main_number.night.id
