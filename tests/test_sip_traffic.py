"""Demo traffic: real calls between demo extensions, each accounted and ingested."""

from __future__ import annotations

import logging

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.traffic import (
    ABORTED,
    SippResult,
    SippUAS,
    TrafficSummary,
    place_demo_calls,
    scenario,
    tally,
)
from tests.fixtures.core import Directory
from tests.fixtures.sip import cdr_rows, lake_calls

pytestmark = pytest.mark.kamailio


def test_demo_traffic_mixes_outcomes_and_lands_in_the_lake(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    acme = [(ext, "acme.example", Directory.SIP_PASSWORD) for ext in ("100", "101", "102", "103")]
    lone = [("101", "globex.example", Directory.SIP_PASSWORD)]  # nobody to call: skipped
    users = acme + lone
    # the voicemail server: the "no answer" callee (103, no answering rule) ends there
    with SippUAS(scenario("uas_media.xml"), port=s.media_port) as voicemail:
        summary = place_demo_calls(s, users, calls=12, rate=10, talk_ms=300)
        invites = [line for line in voicemail.log_lines() if line.startswith("invite")]

    assert summary.placed == 12
    assert set(summary.outcomes) == {"answered", "busy", "voicemail"}
    assert len(invites) == summary.outcomes["voicemail"]
    assert all(i.startswith("invite vm-acme.example-103 diversion") for i in invites)
    rows = cdr_rows(s, at_least=12)
    assert sorted(r["call_id"] for r in rows) == sorted(summary.call_ids)
    assert {r["tenant"] for r in rows} == {"acme.example"}
    lake = lake_calls(s, "acme.example")
    dispositions = {d: sum(1 for c in lake if c["disposition"] == d) for d in summary.outcomes}
    assert dispositions == dict(summary.outcomes)
    # callees were unregistered when the traffic ended
    assert kamailio.rpc.registrations("102", "acme.example") == []


def test_a_call_sipp_aborted_is_counted_and_its_error_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three busy calls planned, two logged a final response: the third is "aborted" (the
    summary's total is still what was placed), and SIPp's error goes to the log."""
    summary = TrafficSummary()
    error = "Aborting call on unexpected message for Call-Id '3-77@127.0.0.1'"
    lines = ["final 486 1-77@127.0.0.1", "final 486 2-77@127.0.0.1"]
    with caplog.at_level(logging.WARNING, logger="kamailio.traffic"):
        tally(summary, "busy", 3, SippResult(0, lines, error))
        tally(summary, "answered", 1, SippResult(0, ["final 200 4-77@127.0.0.1"], ""))
    assert summary.placed == 4
    assert dict(summary.outcomes) == {"busy": 2, ABORTED: 1, "answered": 1}
    assert summary.call_ids == ["1-77@127.0.0.1", "2-77@127.0.0.1", "4-77@127.0.0.1"]
    (record,) = caplog.records
    assert "1 busy call(s) aborted by SIPp" in record.getMessage()
    assert error in record.getMessage()
