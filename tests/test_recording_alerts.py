"""Calls that went on unrecorded (rtpengine down) reach the tenant's managers by email.

Kamailio's CDR rows say ``recording_outcome = 'missing'`` (tests/test_relay_missing.py
makes one through the real Kamailio and rtpengine); here they are written into the
accounting spool as Kamailio writes them, the real worker ingests them, and a real
SMTP server (aiosmtpd) receives what the managers get; a leg the media server bridged
(attendant transfer) whose own recording went missing is in it too, as a leg of its call
naming whom it rang. Then, with the clock in the
test's hands: the window (one email per tenant per ``recording_alert_minutes``), a
restart (nothing alerted twice), a kill before the send (sent after it), and a
deployment without SMTP (said once in the log, not retried).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.message import Message
from typing import Any

import pytest

from pipeline.ingest import ingest_once
from pipeline.recording_alerts import alert_missing_recordings
from pipeline.worker import run_worker
from switchboard.settings import Settings
from tests.fixtures.core import Directory, insert_acc_rows

T0 = time.time() - 3600  # calls an hour ago
ACME, GLOBEX = "acme.example", "globex.example"
WINDOW = 15 * 60


def call(serial: int, tenant: str, outcome: str | None) -> dict[str, Any]:
    return {
        "id": serial, "call_id": f"call-{serial}", "tenant": tenant, "direction": "internal",
        "caller": "101", "callee": "102", "invite_at": T0 + serial,
        "answer_at": T0 + serial + 2, "end_at": T0 + serial + 30, "sip_code": 200,
        "recording_outcome": outcome,
    }  # fmt: skip


def bridged_leg(serial: int, origin: dict[str, Any], outcome: str | None) -> dict[str, Any]:
    """The leg the media server placed to 102 for ``origin`` (answered by an attendant)."""
    return {
        **call(serial, str(origin["tenant"]), outcome), "call_id": f"leg-{serial}",
        "origin_call_id": origin["call_id"],
    }  # fmt: skip


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def alerted(inbox: Any, tenant: str) -> list[Message]:
    return [m for m in inbox.messages if tenant in str(m["Subject"])]


@pytest.fixture
def mailed(settings: Settings, smtp_server: tuple[Any, Any]) -> Iterator[tuple[Settings, Any]]:
    controller, inbox = smtp_server
    yield replace(settings, smtp_host="127.0.0.1", smtp_port=controller.port), inbox


def test_the_worker_emails_each_tenants_managers_once(
    mailed: tuple[Settings, Any], directory: Directory
) -> None:
    settings, inbox = mailed
    transferred = {**call(6, ACME, None), "callee": "103", "answered_by": "aa-1"}
    insert_acc_rows(
        settings,
        [call(1, ACME, "missing"), call(2, ACME, "started"), call(3, ACME, "missing"),
         call(4, GLOBEX, "missing"), call(5, ACME, None),
         bridged_leg(7, transferred, "missing"), transferred],  # the leg's row lands first
    )  # fmt: skip
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(replace(settings, ingest_interval=0.2), stop)
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while len(inbox.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=60)
    [acme] = alerted(inbox, ACME)
    [globex] = alerted(inbox, GLOBEX)
    assert acme["To"] == "100@acme.example"  # the manager; not the users or the supervisor
    assert globex["To"] == "100@globex.example"
    text = body(acme)
    assert "call-1" in text and "call-3" in text
    assert "call-2" not in text and "call-5" not in text and "call-4" not in text
    [leg_line] = [line for line in text.splitlines() if "call-6" in line]
    assert "101 -> 102  (leg leg-7 of call call-6)" in leg_line
    assert "3 call recording(s) missing" in str(acme["Subject"])

    # a restart: the worker's first pass finds nothing new to say
    assert alert_missing_recordings(settings, directory.store) == 0
    assert len(inbox.messages) == 2


def test_one_email_per_window_and_nothing_twice(
    mailed: tuple[Settings, Any], directory: Directory
) -> None:
    settings, inbox = mailed
    store, now = directory.store, time.time()
    insert_acc_rows(settings, [call(1, ACME, "missing")])
    ingest_once(settings)
    assert alert_missing_recordings(settings, store, now=now) == 1

    insert_acc_rows(settings, [call(2, ACME, "missing"), call(3, ACME, "missing")])
    ingest_once(settings)
    assert alert_missing_recordings(settings, store, now=now + 60) == 0  # the window is shut
    assert alert_missing_recordings(settings, store, now=now + WINDOW - 1) == 0
    assert alert_missing_recordings(settings, store, now=now + WINDOW) == 1
    first, second = alerted(inbox, ACME)
    assert "call-1" in body(first) and "call-2" not in body(first)
    assert "call-1" not in body(second) and "call-2" in body(second) and "call-3" in body(second)
    assert alert_missing_recordings(settings, store, now=now + 3 * WINDOW) == 0
    assert len(inbox.messages) == 2


class Killed(BaseException):
    """The worker killed between opening the outbox and sending it."""


def test_a_kill_before_the_send_sends_it_at_the_next_pass(
    mailed: tuple[Settings, Any], directory: Directory
) -> None:
    settings, inbox = mailed
    insert_acc_rows(settings, [call(1, ACME, "missing")])
    ingest_once(settings)

    def killed(host: str, port: int) -> Any:
        raise Killed

    with pytest.raises(Killed):
        alert_missing_recordings(settings, directory.store, smtp_factory=killed)
    assert inbox.messages == []
    assert alert_missing_recordings(settings, directory.store) == 1
    assert alert_missing_recordings(settings, directory.store) == 0
    [message] = inbox.messages
    assert "call-1" in body(message)


def test_without_smtp_it_is_said_once_and_not_retried(
    settings: Settings, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    store, now = directory.store, time.time()
    insert_acc_rows(settings, [call(1, ACME, "missing")])
    ingest_once(settings)
    with caplog.at_level(logging.WARNING, logger="pipeline.recording_alerts"):
        assert alert_missing_recordings(settings, store, now=now) == 0
        insert_acc_rows(settings, [call(2, ACME, "missing")])
        ingest_once(settings)
        for later in (60, WINDOW, 2 * WINDOW):
            assert alert_missing_recordings(settings, store, now=now + later) == 0
    said = [r.getMessage() for r in caplog.records if "no SMTP server" in r.getMessage()]
    assert len(said) == 1 and ACME in said[0]


def test_a_failed_send_is_tried_again_later_and_goes_once(
    mailed: tuple[Settings, Any], directory: Directory
) -> None:
    settings, inbox = mailed
    settings = replace(settings, smtp_retry_seconds=100.0)
    store, now = directory.store, time.time()
    insert_acc_rows(settings, [call(1, ACME, "missing")])
    ingest_once(settings)

    def refused(host: str, port: int) -> Any:
        raise ConnectionRefusedError("the server is down")

    assert alert_missing_recordings(settings, store, now=now, smtp_factory=refused) == 0
    assert alert_missing_recordings(settings, store, now=now + 99) == 0  # not yet
    assert alert_missing_recordings(settings, store, now=now + 100) == 1
    assert alert_missing_recordings(settings, store, now=now + 200) == 0
    [message] = inbox.messages
    assert "call-1" in body(message)


def test_the_ingest_warning_names_a_legs_call(
    settings: Settings, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    transferred = {**call(6, ACME, None), "callee": "103", "answered_by": "aa-1"}
    insert_acc_rows(settings, [call(1, ACME, "missing"), bridged_leg(7, transferred, "missing"),
                               transferred])  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest"):
        assert ingest_once(settings).missing_recordings == 2
    warnings = sorted(
        r.getMessage() for r in caplog.records if "recording missing" in r.getMessage()
    )
    assert [w.split(" of acme.example")[0] for w in warnings] == [
        "recording missing: call call-1",
        "recording missing: leg leg-7 of call call-6",
    ]
