"""The Auto Attendants page in headless Chromium, then a real call follows what it saved.

The manager (100) builds "Sales" (key 1 → extension 102) in the page, sees a
refusal for a key to an extension that does not exist and for an upload that
is not audio, simulates "1", and the main number's route is pointed at the
menu; then the carrier calls through the real Kamailio and media server,
presses 1 and reaches 102's phone with audio both ways. Who may use the
page is tests/security/test_portal_authz.py's matrix.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_all
from media.mailbox import StoreMailboxes
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.fixtures.main_number import ACME, MAIN, OPEN, MainNumber
from tests.fixtures.media import MediaServerThread
from tests.fixtures.portal import PortalServer, log_in

pytestmark = [pytest.mark.browser, pytest.mark.kamailio, pytest.mark.media]


def _picker(page: Any, field: str, part: str) -> Any:
    cid = json.dumps({"field": field, "type": f"attendants-mdest-{part}"}, separators=(",", ":"))
    return page.locator(f"[id='{cid}']")


def _send_key(page: Any, key: str, kind: str, target: str) -> None:
    _picker(page, key, "kind").click()
    page.get_by_role("option", name=kind, exact=True).click()
    if target:  # a kind without a target greys its box out
        _picker(page, key, "target").fill(target)


def test_a_menu_built_in_the_page_answers_a_real_call(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock,
    portal: PortalServer, page: Any, tmp_path: Path,
) -> None:  # fmt: skip
    log_in(page, portal.url, "100@acme.example")
    page.goto(f"{portal.url}/attendants")
    # the first page of a fresh portal compiles its callbacks: slow on a busy machine
    expect(page.locator("#attendants-empty")).to_be_visible(timeout=30_000)
    page.locator("#attendants-name").fill("Sales")
    page.locator("#attendants-greeting-text").fill("Press 1 for Bob.")
    _send_key(page, "1", "Extension", "102")
    _send_key(page, "2", "Extension", "999")
    page.locator("#attendants-save").click()
    expect(page.locator("#attendants-refused")).to_have_text("Key 2: extension 999 does not exist")
    _send_key(page, "2", "Not used", "")
    not_audio = tmp_path / "greeting.wav"
    not_audio.write_text("this is not audio")
    page.locator("#attendants-greeting-upload input[type=file]").set_input_files(str(not_audio))
    expect(page.locator("#attendants-upload-refused")).to_contain_text(
        "Greetings must be an MP3 or WAV audio file; greeting.wav is not."
    )
    page.locator("#attendants-save").click()
    expect(page.locator("#attendants-saved")).to_contain_text("Saved menu “Sales”")
    expect(page.locator("#attendants-list")).to_contain_text("1 → extension 102")
    page.locator("#attendants-sim-keys").fill("1")
    page.locator("#attendants-simulate").click()
    expect(page.locator("#attendants-sim-steps")).to_have_text("Sales → 1 → extension 102")

    # the main number's route goes to the menu the page made; a real call follows it
    store = directory.store
    [menu] = store.attendants(ACME)
    assert menu.greeting_file  # spoken when saved, never at call time
    did = store.add_did(ACME, MAIN, "Main line")
    to_menu = Destination("auto_attendant", str(menu.id))
    store.save_did_rule(did, AnsweringRule("Always", 1, forward_always=to_menu))
    rules_clock.pin(OPEN)
    push_all(kamailio.settings, store, now=OPEN)
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=2.0)
    server = MediaServerThread(s, mailboxes=StoreMailboxes(store, s.data_dir, s.spool_dir))
    server.start()
    try:
        line = MainNumber(s, store, menu, menu, None, tmp_path)  # type: ignore[arg-type]
        with RtpBank() as bank:
            caller = bank.add(RtpPhone(0, 600.0, dtmf_payload_type=101))
            phone_102 = bank.add(RtpPhone(0, 1400.0))
            callee = callee_scenario(tmp_path / "102.xml", phone_102, hangup_after_ms=1500)
            result = line.call(caller, "1", callee=callee)
        assert result.returncode == 0, result.errors
        assert strongest(caller.stream.audio(), 1400.0) > 0.05
        assert strongest(phone_102.stream.audio(), 600.0) > 0.05
        assert [s["kind"] for s in line.steps()][:3] == [
            "menu_entered", "menu_key", "bridge_attempt",
        ]  # fmt: skip
    finally:
        server.stop()

    # the menu is in use: deleting it is refused, naming the route
    delete = json.dumps({"id": menu.id, "type": "attendants-delete"}, separators=(",", ":"))
    page.locator(f"[id='{delete}']").click()
    expect(page.locator("#attendants-delete-refused")).to_contain_text(f"main number {MAIN}")
