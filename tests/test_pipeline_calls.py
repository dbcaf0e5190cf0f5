"""Scenario tests of the pure interpreter: accounting rows in, call rows out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from pipeline.calls import (
    Directory,
    Quarantine,
    build_calls,
    call_from_acc,
)

DIRECTORY = Directory(
    tenants=frozenset({"acme.example", "globex.example"}),
    names={
        ("acme.example", "101"): "Front Desk",
        ("acme.example", "102"): "Bob Builder",
        ("globex.example", "101"): "Globex Desk",
    },
)

T0 = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC


def acc(acc_id: int = 1, **overrides: Any) -> dict[str, Any]:
    """An accounting row as Kamailio writes it: an internal call 101 → 102 that rang out."""
    row: dict[str, Any] = {
        "id": acc_id,
        "call_id": f"call-{acc_id}@pbx",
        "tenant": "acme.example",
        "direction": "internal",
        "caller": "101",
        "caller_name": None,
        "caller_domain": "acme.example",
        "callee": "102",
        "callee_domain": "acme.example",
        "answered_by": None,
        "invite_at": T0,
        "answer_at": None,
        "end_at": T0 + 30,
        "sip_code": 480,
        "sip_reason": "Temporarily Unavailable",
        "disposition_hint": "failed",
        "rule": None,
        "frame": None,
        "src_ip": "10.0.0.5",
        "user_agent": "baresip",
    }
    row.update(overrides)
    return row


# name | accounting row (changes from `acc()`) | the call it must become (subset)
SCENARIOS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "answered after 4 s, talked 60.5 s",
        dict(answer_at=T0 + 4, end_at=T0 + 64.5, answered_by="102", sip_code=200,
             sip_reason="OK", disposition_hint="answered"),
        dict(disposition="answered", ring_seconds=4.0, talk_seconds=60.5, answered_by="102",
             answered_at=datetime(2024, 3, 1, 8, 0, 4, tzinfo=UTC),
             ended_at=datetime(2024, 3, 1, 8, 1, 4, 500000, tzinfo=UTC)),
    ),
    (
        "no answer: 480 is missed, rang until the end",
        dict(sip_code=480, end_at=T0 + 30),
        dict(disposition="missed", ring_seconds=30.0, talk_seconds=0.0, answered_at=None),
    ),
    ("request timeout is missed", dict(sip_code=408), dict(disposition="missed")),
    ("busy here", dict(sip_code=486, end_at=T0 + 1), dict(disposition="busy", ring_seconds=1.0)),
    ("busy everywhere", dict(sip_code=600), dict(disposition="busy")),
    ("declined by the callee", dict(sip_code=603), dict(disposition="busy")),
    ("caller hung up while ringing", dict(sip_code=487, end_at=T0 + 7.25),
     dict(disposition="cancelled", ring_seconds=7.25)),
    ("blocked by the callee's rule wins over the code",
     dict(sip_code=603, disposition_hint="blocked", rule="block-list"),
     dict(disposition="blocked", rule="block-list")),
    ("refused by routing is a failure", dict(sip_code=403, disposition_hint="refused"),
     dict(disposition="failed", sip_code=403)),
    ("server error is a failure", dict(sip_code=503), dict(disposition="failed")),
    (
        "internal caller without display name gets the provisioned names",
        dict(caller="101", callee="102"),
        dict(caller_name="Front Desk", callee_name="Bob Builder"),
    ),
    (
        "an extension is named as provisioned, whatever its phone sends",
        dict(caller="101", caller_name="101"),
        dict(caller_name="Front Desk"),
    ),
    (
        "an outside caller keeps the display name it sent",
        dict(caller="+15557654321", caller_name="Reception (desk 1)"),
        dict(caller_name="Reception (desk 1)"),
    ),
    (
        "an outside caller keeps its display name; the callee is named",
        dict(direction="inbound", caller="+4930123456", caller_name="ACME Supplies",
             callee="101"),
        dict(direction="inbound", caller_name="ACME Supplies", callee_name="Front Desk"),
    ),
    (
        "an outside caller whose number equals an extension is not that colleague",
        dict(direction="inbound", caller="101", caller_name="Acme Supplies", callee="102"),
        dict(caller_name="Acme Supplies", callee_name="Bob Builder"),
    ),
    (
        "... nor is one without a display name",
        dict(direction="inbound", caller="101", caller_name=None),
        dict(caller_name=None),
    ),
    (
        "outside numbers have no names",
        dict(direction="outbound", caller="102", callee="+15550100", caller_name=""),
        dict(caller_name="Bob Builder", callee_name=None),
    ),
    (
        "names resolve inside the call's own tenant only",
        dict(tenant="globex.example", caller="102", callee="101"),
        dict(caller_name=None, callee_name="Globex Desk"),
    ),
    (
        "started just before midnight UTC lands on that day",
        dict(invite_at=1_709_337_599.5, end_at=1_709_337_700.0),
        dict(date=date(2024, 3, 1),
             started_at=datetime(2024, 3, 1, 23, 59, 59, 500000, tzinfo=UTC)),
    ),
    (
        "microseconds survive exactly",
        dict(invite_at=T0 + 0.000001, answer_at=T0 + 2.123457, end_at=T0 + 3.5, sip_code=200),
        dict(ring_seconds=2.123456, talk_seconds=1.376543),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("row", "expected"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_scenario(row: dict[str, Any], expected: dict[str, Any]) -> None:
    call = call_from_acc(acc(7, **row), DIRECTORY)
    assert {k: call[k] for k in expected} == expected
    assert call["acc_id"] == 7
    assert call["call_id"] == "call-7@pbx"


def test_every_call_has_every_column_of_the_lake() -> None:
    from pipeline.schema import CALLS_SCHEMA, LEGS_SCHEMA

    call = call_from_acc(acc(), DIRECTORY)
    # origin_call_id: None on a call, set on a bridged leg (LEGS_SCHEMA)
    assert set(call) == {*LEGS_SCHEMA.names, "tenant", "date"}
    assert set(LEGS_SCHEMA.names) - set(CALLS_SCHEMA.names) == {"origin_call_id"}
    assert call["origin_call_id"] is None
    assert call["started_at"] == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert call["tenant"] == "acme.example"


# name | accounting row (changes from `acc()`) | reason stored with the row
CORRUPT: list[tuple[str, dict[str, Any], str]] = [
    ("empty call-id", dict(call_id=""), "call_id is empty"),
    ("blank call-id", dict(call_id="   "), "call_id is empty"),
    ("no tenant", dict(tenant=None), "tenant is missing"),
    ("unknown tenant", dict(tenant="initech.example"), "tenant 'initech.example' is unknown"),
    ("invite time missing", dict(invite_at=None), "invite_at is missing"),
    ("end time is text", dict(end_at="soon"), "end_at is not a number: 'soon'"),
    ("answer time is text", dict(answer_at="x"), "answer_at is not a number: 'x'"),
    ("end before invite", dict(end_at=T0 - 1), "end_at is before invite_at"),
    ("answer after end", dict(answer_at=T0 + 31), "answer_at is outside invite_at..end_at"),
    ("unknown direction", dict(direction="sideways"),
     "direction 'sideways' is not one of internal, inbound, outbound"),
    ("no direction", dict(direction=None),
     "direction None is not one of internal, inbound, outbound"),
    ("sip code is text", dict(sip_code="busy"), "sip_code 'busy' is not a SIP status code"),
    ("sip code out of range", dict(sip_code=999), "sip_code 999 is not a SIP status code"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "reason"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT])
def test_corrupt_row_is_quarantined_with_its_reason(row: dict[str, Any], reason: str) -> None:
    with pytest.raises(Quarantine) as exc:
        call_from_acc(acc(**row), DIRECTORY)
    assert exc.value.reason == reason


def test_a_batch_keeps_the_good_rows_and_quarantines_the_bad() -> None:
    rows = [acc(1), acc(2, end_at="x"), acc(3, sip_code=200, answer_at=T0 + 1), acc(4, tenant=None)]
    batch = build_calls(rows, DIRECTORY)
    assert [c["acc_id"] for c in batch.calls] == [1, 3]
    assert [(q.acc_id, q.reason) for q in batch.quarantined] == [
        (2, "end_at is not a number: 'x'"),
        (4, "tenant is missing"),
    ]
    table = batch.quarantine_table()
    assert table.column("acc_id").to_pylist() == [2, 4]
    assert '"end_at": "x"' in table.column("row_json")[0].as_py()


def test_a_call_kamailio_sent_to_a_mailbox_is_voicemail_not_answered() -> None:
    """The media server answers a call routed to voicemail: it must not count as answered."""
    row = acc(
        answer_at=T0 + 20, end_at=T0 + 50, answered_by="vm-acme.example-102", sip_code=200,
        disposition_hint="voicemail",
    )  # fmt: skip
    call = call_from_acc(row, DIRECTORY)
    assert (call["disposition"], call["talk_seconds"], call["ring_seconds"]) == (
        "voicemail", 30.0, 20.0
    )  # fmt: skip
