"""Calls through a real Kamailio: each outcome's accounting row and lake row.

Every test places one real call with SIPp (proxy auth, Record-Route, CANCEL,
ACK as a phone would), then checks what the caller saw, the row Kamailio
wrote to the accounting spool, and the call the pipeline put in the lake.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_user
from kamailio.traffic import SippUAS, scenario
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.fixtures.sip import (
    TEST_RING_TIMEOUT,
    call,
    call_102_until_its_mailbox_answers,
    cdr_rows,
    lake_calls,
    register_at,
)

pytestmark = pytest.mark.kamailio

ACME = "acme.example"
NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)


def test_answered_call_has_answer_and_end_times(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        result = call(s, "101@acme.example", "102@acme.example", duration_ms=1000)
        assert result.returncode == 0, result.errors
        assert any("bye" in line for line in phone_102.log_lines())
    [(call_id, code)] = result.finals.items()
    assert code == 200

    [row] = cdr_rows(s)
    assert row["call_id"] == call_id
    assert (row["tenant"], row["direction"]) == (ACME, "internal")
    assert (row["caller"], row["caller_name"], row["caller_domain"]) == ("101", "Front Desk", ACME)
    assert (row["callee"], row["callee_domain"], row["answered_by"]) == ("102", ACME, "102")
    assert (row["sip_code"], row["disposition_hint"]) == (200, "answered")
    assert row["src_ip"] == "127.0.0.1" and row["user_agent"] == "SIPp switchboard"
    assert row["invite_at"] <= row["answer_at"] < row["end_at"]
    assert 0.9 <= row["end_at"] - row["answer_at"] < 3  # talked about a second, then BYE
    assert abs(row["end_at"] - time.time()) < 30

    [lake] = lake_calls(s, ACME)
    assert lake["call_id"] == call_id and lake["disposition"] == "answered"
    assert lake["answered_by"] == "102" and lake["sip_code"] == 200
    assert 0.9 <= lake["talk_seconds"] < 3


def test_unanswered_call_without_a_rule_goes_to_voicemail(kamailio: KamailioProcess) -> None:
    """The default (no answering rule): ring for the ring timeout, then the callee's mailbox."""
    s = kamailio.settings
    result, invite = call_102_until_its_mailbox_answers(s)
    assert list(result.finals.values()) == [200]  # the caller hears the mailbox
    assert invite.startswith("invite vm-acme.example-102 diversion <sip:102@acme.example>")
    assert "reason=no-answer" in invite

    [row] = cdr_rows(s)
    assert (row["sip_code"], row["answered_by"]) == (200, "vm-acme.example-102")
    assert row["disposition_hint"] == "voicemail"
    assert (row["rule"], row["frame"]) == (None, None)  # no rule decided the call
    assert row["answer_at"] - row["invite_at"] == pytest.approx(TEST_RING_TIMEOUT, abs=1)

    [lake] = lake_calls(s, ACME)
    assert (lake["disposition"], lake["answered_by"]) == ("voicemail", "vm-acme.example-102")
    assert (lake["rule"], lake["frame"]) == (None, None)


def test_unanswered_call_with_a_rule_ending_unavailable_is_missed(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    """A rule whose no-answer fallback is "unavailable": the caller hears 480, a missed call."""
    s = kamailio.settings
    user = directory.users["102@acme.example"]
    ring = 5  # the shortest ring time a rule may have
    rule = AnsweringRule("No mailbox", 1, ring_seconds=ring, fallback=Destination("unavailable"))
    directory.store.save_rule(user, rule)
    rules_clock.pin(NOW)
    push_user(s, directory.store, user, now=NOW)
    with SippUAS(scenario("uas_ring.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        started = time.monotonic()
        result = call(s, "101@acme.example", "102@acme.example")
        waited = time.monotonic() - started
    assert result.returncode == 0, result.errors
    assert list(result.finals.values()) == [480]  # the caller hears "unavailable"
    assert ring - 0.5 < waited < ring + 3

    [row] = cdr_rows(s)
    assert (row["sip_code"], row["answered_by"], row["answer_at"]) == (480, None, None)
    assert (row["rule"], row["frame"]) == ("No mailbox", None)
    assert row["end_at"] - row["invite_at"] == pytest.approx(ring, abs=0.5)

    [lake] = lake_calls(s, ACME)
    assert (lake["disposition"], lake["answered_by"], lake["talk_seconds"]) == ("missed", None, 0)


def test_busy_callee(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_busy.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        result = call(s, "101@acme.example", "102@acme.example")
    assert list(result.finals.values()) == [486]

    [row] = cdr_rows(s)
    assert (row["sip_code"], row["sip_reason"], row["answer_at"]) == (486, "Busy Here", None)
    [lake] = lake_calls(s, ACME)
    assert lake["disposition"] == "busy"


def test_caller_hangs_up_while_ringing(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_ring.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        result = call(s, "101@acme.example", "102@acme.example", scenario="uac_cancel.xml",
                      duration_ms=500)  # fmt: skip
    assert result.returncode == 0, result.errors
    assert list(result.finals.values()) == [487]

    [row] = cdr_rows(s)
    assert (row["sip_code"], row["answer_at"]) == (487, None)
    assert row["end_at"] - row["invite_at"] < TEST_RING_TIMEOUT
    [lake] = lake_calls(s, ACME)
    assert lake["disposition"] == "cancelled"


def test_cross_tenant_call_is_refused(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as globex_101:
        assert register_at(s, "101@globex.example", globex_101).returncode == 0
        result = call(s, "101@acme.example", "101@globex.example")
        assert globex_101.log_lines() == []  # the callee never heard of it
    assert list(result.finals.values()) == [403]

    [row] = cdr_rows(s)
    assert (row["tenant"], row["callee"], row["callee_domain"]) == (ACME, "101", "globex.example")
    assert (row["sip_code"], row["sip_reason"]) == (403, "Cross-tenant call refused")
    assert (row["disposition_hint"], row["answer_at"]) == ("refused", None)

    [lake] = lake_calls(s, ACME)
    assert lake["disposition"] in ("failed", "blocked") and lake["sip_code"] == 403
    assert lake_calls(s, "globex.example") == []


def test_unregistered_and_unknown_extensions(kamailio: KamailioProcess) -> None:
    """No device registered: straight to the mailbox (no rule); an unknown extension: 404."""
    s = kamailio.settings
    with SippUAS(scenario("uas_media.xml"), port=s.media_port) as voicemail:
        offline = call(s, "101@acme.example", "103@acme.example", duration_ms=500)
        unknown = call(s, "101@acme.example", "999@acme.example")
        [invite] = [line for line in voicemail.log_lines() if line.startswith("invite")]
    assert list(offline.finals.values()) == [200]
    assert list(unknown.finals.values()) == [404]
    assert invite.startswith("invite vm-acme.example-103 diversion <sip:103@acme.example>")
    assert "reason=unavailable" in invite

    rows = cdr_rows(s, at_least=2)
    assert [(r["callee"], r["sip_code"], r["answered_by"]) for r in rows] == [
        ("103", 200, "vm-acme.example-103"),
        ("999", 404, None),
    ]
    assert {c["disposition"] for c in lake_calls(s, ACME)} == {"voicemail", "failed"}
