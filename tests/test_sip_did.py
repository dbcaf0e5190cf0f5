"""Main numbers (DIDs) through a real Kamailio: the carrier calls, the time frame decides.

A SIPp UAC plays the carrier from the trunk address; the real media server
answers the auto attendant and the mailbox (what it answered is read from what
it wrote: the menu's steps, the voicemail message). The instant is chosen by
pushing with ``now=`` (and pinning the scheduler's clock), never by waiting for it.
"""

from __future__ import annotations

import json
import time as clock
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_all
from kamailio.traffic import SippUAS, register, scenario
from media.audio_library import save_speech
from media.mailbox import StoreMailboxes
from switchboard.attendants import Attendant
from switchboard.rules import AnsweringRule, Destination
from switchboard.timeframes import DatePeriod, TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory
from tests.fixtures.media import MediaServerThread
from tests.fixtures.sip import account, carrier_call, cdr_rows, lake_calls, register_at

pytestmark = pytest.mark.kamailio

ACME = "acme.example"
MAIN = "+15550001000"
CALLER = "+15551234567"
OPEN = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
HOLIDAY = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # Friday 10:00 New York, Christmas


def _main_number(directory: Directory, data_dir: Path) -> None:
    """Acme's main number: auto attendant in Open Hours, mailbox 100 on holidays and after."""
    store = directory.store
    weekdays = WeeklyPeriod(frozenset(range(5)), time(9), time(17))
    store.save_frame(ACME, TimeFrame("Open Hours", "America/New_York", (weekdays,)))
    christmas = DatePeriod(date(2026, 12, 25), date(2026, 12, 25))
    store.save_frame(ACME, TimeFrame("Holidays", "America/New_York", (christmas,)))
    did = store.add_did(ACME, MAIN, "Main line")
    to_mailbox = Destination("voicemail", "100")
    store.save_did_rule(did, AnsweringRule("Holiday", 1, "Holidays", forward_always=to_mailbox))
    greeting = save_speech(data_dir, ACME, "greeting", "Welcome.")
    menu = store.save_attendant(
        Attendant(ACME, "Main menu", greeting_text="Welcome.", greeting_file=greeting)
    )
    to_menu = Destination("auto_attendant", str(menu.id))
    store.save_did_rule(did, AnsweringRule("Open", 2, "Open Hours", forward_always=to_menu))
    store.save_did_rule(did, AnsweringRule("Closed", 3, None, forward_always=to_mailbox))


def menu_id(directory: Directory) -> int:
    [menu] = directory.store.attendants(ACME)
    return menu.id


def _steps(settings: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The steps the media server spooled for acme's calls, once a batch exists."""
    folder = settings.spool_dir / "steps" / ACME
    deadline = clock.monotonic() + timeout
    while not (batches := sorted(folder.glob("st-*.json"))) and clock.monotonic() < deadline:
        clock.sleep(0.1)
    return [step for b in batches for step in json.loads(b.read_text())["steps"]]


def test_main_number_routes_by_open_hours_and_holiday(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    s = kamailio.settings
    _main_number(directory, s.data_dir)
    mailboxes = StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    media = MediaServerThread(s, mailboxes=mailboxes).start()
    try:
        rules_clock.pin(OPEN)
        push_all(s, directory.store, now=OPEN)
        result = carrier_call(s, CALLER, MAIN, duration_ms=1500)
        assert list(result.finals.values()) == [200], result.errors
        entered = [st["attendant_id"] for st in _steps(s) if st["kind"] == "menu_entered"]
        assert entered == [menu_id(directory)], entered  # the menu answered, and played

        rules_clock.pin(HOLIDAY)
        push_all(s, directory.store, now=HOLIDAY)
        result = carrier_call(s, CALLER, MAIN, duration_ms=1500)
        assert list(result.finals.values()) == [200], result.errors
        [message] = media.wait_messages(1)
        assert (message["mailbox"], message["caller"]) == ("100", CALLER)
    finally:
        media.stop()

    open_row, holiday_row = cdr_rows(s, at_least=2)
    for row in (open_row, holiday_row):
        assert (row["tenant"], row["direction"], row["caller"], row["callee"]) == (
            ACME,
            "inbound",
            CALLER,
            MAIN,
        )
    assert (open_row["rule"], open_row["frame"], open_row["answered_by"]) == (
        "Open",
        "Open Hours",
        "aa-acme.example-1",
    )
    assert (holiday_row["rule"], holiday_row["frame"], holiday_row["disposition_hint"]) == (
        "Holiday",
        "Holidays",
        "voicemail",
    )
    lake = lake_calls(s, ACME)
    assert [(c["direction"], c["rule"], c["frame"]) for c in lake] == [
        ("inbound", "Open", "Open Hours"),
        ("inbound", "Holiday", "Holidays"),
    ]


def test_carrier_caller_blocked_by_prefix_on_the_extension(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    """The main number sends calls to 102, whose rule blocks +1900 numbers."""
    s = kamailio.settings
    store = directory.store
    did = store.add_did(ACME, MAIN, "Main line")
    store.save_did_rule(
        did, AnsweringRule("Reception", 1, forward_always=Destination("extension", "102"))
    )
    store.save_rule(
        directory.users["102@acme.example"], AnsweringRule("Screen", 1, block=("+1900*",))
    )
    rules_clock.pin(OPEN)
    push_all(s, store, now=OPEN)
    with SippUAS(scenario("uas_answer.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        blocked = carrier_call(s, "+19005550000", MAIN)
        allowed = carrier_call(s, CALLER, MAIN)
    assert list(blocked.finals.values()) == [603]
    assert list(allowed.finals.values()) == [200]

    blocked_row, allowed_row = cdr_rows(s, at_least=2)
    assert (blocked_row["disposition_hint"], blocked_row["rule"]) == ("blocked", "Reception")
    assert (allowed_row["answered_by"], allowed_row["direction"]) == ("102", "inbound")
    assert [c["disposition"] for c in lake_calls(s, ACME)] == ["blocked", "answered"]


def test_outside_caller_numbered_like_an_extension_is_not_that_colleague(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    """The carrier delivers a call from "101": the lake keeps the name it sent, not Front Desk's.

    The main number rings 102, whose phone registered a device id as its
    Contact user: answered_by is 102 all the same.
    """
    s = kamailio.settings
    store = directory.store
    did = store.add_did(ACME, MAIN, "Main line")
    store.save_did_rule(
        did, AnsweringRule("Reception", 1, forward_always=Destination("extension", "102"))
    )
    rules_clock.pin(OPEN)
    push_all(s, store, now=OPEN)
    with SippUAS(scenario("uas_answer.xml")) as phone_102:
        registered = register(s, [account(f"102@{ACME}")], phone_102.contact, contact_user="desk")
        assert registered.returncode == 0
        result = carrier_call(s, "101", MAIN)
    assert list(result.finals.values()) == [200], result.errors

    [row] = cdr_rows(s)
    assert (row["direction"], row["caller"], row["answered_by"]) == ("inbound", "101", "102")
    [lake] = lake_calls(s, ACME)
    assert (lake["caller"], lake["caller_name"], lake["answered_by"]) == ("101", "101", "102")


def test_unknown_number_from_the_carrier_is_not_found(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    result = carrier_call(s, CALLER, "+15559999999")
    assert list(result.finals.values()) == [404]
    [row] = cdr_rows(s)
    assert (row["direction"], row["sip_code"], row["rule"]) == ("inbound", 404, None)
