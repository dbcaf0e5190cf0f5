"""Accounting rows → call rows: a pure interpreter, no I/O.

Kamailio writes one accounting row per call attempt; each becomes exactly one
call row, one leg row or one quarantined row (with the reason), never two,
never none. A leg is a row whose ``origin_call_id`` is set: Kamailio's record
of a new leg the media server placed for a caller (a bridge from an attendant),
carrying the caller's Call-ID (``switchboard.call_steps``). It has the fields
of a call, but it is not a call of its own: the warehouse folds it into its
call's final outcome (``pipeline/sql/warehouse/calls_with_legs.sql``), so no
metric counts a bridged call twice. The interpreter is a dispatch table in the
manner of wazo-call-logd:

* ``STEPS`` — each step reads the accounting row and fills some fields of the
  call, or raises ``Quarantine`` with a reason a person can act on;
* ``DISPOSITION_RULES`` — ordered ``(disposition, predicate)`` pairs, first
  match wins. Voicemail slots in as one more rule placed before "answered"
  (a call the media server answered for a mailbox), without touching the rest;
  ``SIP_CODE_DISPOSITIONS`` maps final failure codes.

Times are Unix epoch seconds (floats, microsecond precision) in the spool;
they are turned into integer microseconds first so that ring and talk
seconds agree exactly with the stored timestamps.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from pipeline.acc import AccRow
from pipeline.schema import (
    CALLS_SCHEMA,
    DIRECTIONS,
    LEGS_SCHEMA,
    QUARANTINE_SCHEMA,
    RECORDING_OUTCOMES,
    TENANT_RE,
)
from switchboard.days import LAST_DAY, LATEST_EPOCH

Call = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Quarantine(Exception):
    """An accounting row cannot become a call; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Directory:
    """What the interpreter knows of provisioning: tenants and user names."""

    tenants: frozenset[str] = frozenset()
    # (tenant, extension) → name; None never matches, it just keeps lookups simple
    names: Mapping[tuple[str, str | None], str] = field(default_factory=dict)

    @classmethod
    def from_users(cls, users: Iterable[Any], tenants: Iterable[str] = ()) -> Directory:
        """Build from ``switchboard.store.User`` objects (and tenants without users)."""
        names = {(u.tenant_domain, u.extension): u.name for u in users}
        return cls(frozenset(tenants) | {t for t, _ in names}, names)


@dataclass(frozen=True)
class QuarantinedRow:
    acc_id: int
    reason: str
    row: Mapping[str, Any]


@dataclass
class CallBatch:
    """The interpretation of one batch of accounting rows."""

    calls: list[Call]
    quarantined: list[QuarantinedRow]
    # Legs the media server placed (call fields + ``origin_call_id``): not calls.
    legs: list[Call] = field(default_factory=list)

    def calls_table(self) -> pa.Table:
        """All calls as one Arrow table: CALLS_SCHEMA plus ``tenant`` and ``date``."""
        return calls_to_table(self.calls)

    def quarantine_table(self) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {
                    "acc_id": q.acc_id,
                    "reason": q.reason,
                    "row_json": json.dumps(dict(q.row), default=repr, sort_keys=True),
                }
                for q in self.quarantined
            ],
            schema=QUARANTINE_SCHEMA,
        )


def calls_to_table(calls: list[Call], file_schema: pa.Schema = CALLS_SCHEMA) -> pa.Table:
    """Columnar Arrow table of call rows (partition keys as extra columns).

    ``file_schema``: ``LEGS_SCHEMA`` for leg rows.
    """
    schema = file_schema.append(pa.field("tenant", pa.string())).append(
        pa.field("date", pa.date32())
    )
    columns = {name: [c[name] for c in calls] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


# -- steps ----------------------------------------------------------------------
Step = Callable[[AccRow, "Directory", Call], None]


def _identity(row: AccRow, directory: Directory, call: Call) -> None:
    call_id = row.get("call_id")
    if not isinstance(call_id, str) or not call_id.strip():
        raise Quarantine("call_id is empty")
    call["call_id"] = call_id
    call["acc_id"] = row["id"]


def _tenant(row: AccRow, directory: Directory, call: Call) -> None:
    tenant = row.get("tenant")
    if tenant is None or tenant == "":
        raise Quarantine("tenant is missing")
    if tenant not in directory.tenants:
        raise Quarantine(f"tenant {tenant!r} is unknown")
    if not TENANT_RE.match(tenant):  # it names a lake directory: never a path trick
        raise Quarantine(f"tenant {tenant!r} is not a valid domain")
    call["tenant"] = tenant


def _epoch_us(row: AccRow, column: str, *, required: bool) -> int | None:
    value = row.get(column)
    if value is None:
        if required:
            raise Quarantine(f"{column} is missing")
        return None
    # bool is an int subclass; a text value means SQLite could not store a number.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Quarantine(f"{column} is not a number: {str(value)[:40]!r}")
    if not 0 <= value <= LATEST_EPOCH:  # past it, the instant overflowed (a blocked spool)
        raise Quarantine(f"{column} is not an instant from 1970 to {LAST_DAY}: {value!r}")
    return round(value * 1_000_000)


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _times(row: AccRow, directory: Directory, call: Call) -> None:
    invite = _epoch_us(row, "invite_at", required=True)
    answer = _epoch_us(row, "answer_at", required=False)
    end = _epoch_us(row, "end_at", required=True)
    assert invite is not None and end is not None  # required=True guarantees it
    if end < invite:
        raise Quarantine("end_at is before invite_at")
    if answer is not None and not invite <= answer <= end:
        raise Quarantine("answer_at is outside invite_at..end_at")
    started = _instant(invite)
    call["started_at"] = started
    call["answered_at"] = None if answer is None else _instant(answer)
    call["ended_at"] = _instant(end)
    # Ringing lasts until the answer, or until the end for an unanswered call.
    call["ring_seconds"] = ((end if answer is None else answer) - invite) / 1_000_000
    call["talk_seconds"] = 0.0 if answer is None else (end - answer) / 1_000_000
    call["date"] = started.date()


def _direction(row: AccRow, directory: Directory, call: Call) -> None:
    direction = row.get("direction")
    if direction not in DIRECTIONS:
        raise Quarantine(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    call["direction"] = direction


def _sip(row: AccRow, directory: Directory, call: Call) -> None:
    code = row.get("sip_code")
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 699:
        raise Quarantine(f"sip_code {code!r} is not a SIP status code")
    call["sip_code"] = code
    call["sip_reason"] = _text(row.get("sip_reason"))
    call["rule"] = _text(row.get("rule"))
    call["frame"] = _text(row.get("frame"))


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _parties(row: AccRow, directory: Directory, call: Call) -> None:
    tenant = call["tenant"]
    caller = _text(row.get("caller"))
    callee = _text(row.get("callee"))
    call["caller"] = caller
    call["callee"] = callee
    # Kamailio's answered_by is the AoR whose device answered, never a Contact's user part.
    call["answered_by"] = _text(row.get("answered_by"))
    # An extension of the tenant is shown by its provisioned name (a phone may
    # send its number or nothing as display name); outside callers keep theirs.
    # Only internal and outbound calls are placed by a colleague: an outside
    # caller whose number equals an extension is not that colleague.
    placed_by_colleague = call["direction"] in ("internal", "outbound")
    colleague = directory.names.get((tenant, caller)) if placed_by_colleague else None
    call["caller_name"] = colleague or _text(row.get("caller_name"))
    call["callee_name"] = directory.names.get((tenant, callee))


# Final failure codes that say what happened to the call (RFC 3261 §21).
SIP_CODE_DISPOSITIONS: Mapping[int, str] = {
    486: "busy",  # Busy Here
    600: "busy",  # Busy Everywhere
    603: "busy",  # Decline: the callee pressed "reject"
    487: "cancelled",  # Request Terminated: the caller hung up while ringing
    408: "missed",  # Request Timeout: nobody answered in time
    480: "missed",  # Temporarily Unavailable: not registered / no answer
}

DispositionRule = tuple[str, Callable[[AccRow, Call], bool]]

# First match wins. Voicemail goes first when the media server reports
# answering for a mailbox: ("voicemail", lambda row, call: <answered by vm-…>).
DISPOSITION_RULES: tuple[DispositionRule, ...] = (
    # Kamailio marks a call it relayed to a mailbox; the media server answers it,
    # so it must be told apart before "answered".
    ("voicemail", lambda row, call: row.get("disposition_hint") == "voicemail"),
    ("answered", lambda row, call: call["answered_at"] is not None),
    ("blocked", lambda row, call: row.get("disposition_hint") == "blocked"),
    ("busy", lambda row, call: SIP_CODE_DISPOSITIONS.get(call["sip_code"]) == "busy"),
    ("cancelled", lambda row, call: SIP_CODE_DISPOSITIONS.get(call["sip_code"]) == "cancelled"),
    ("missed", lambda row, call: SIP_CODE_DISPOSITIONS.get(call["sip_code"]) == "missed"),
)
FALLBACK_DISPOSITION = "failed"


def classify_disposition(
    row: AccRow, call: Call, rules: tuple[DispositionRule, ...] = DISPOSITION_RULES
) -> str:
    """The disposition of a call whose other fields are already filled."""
    for disposition, matches in rules:
        if matches(row, call):
            return disposition
    return FALLBACK_DISPOSITION


def _disposition(row: AccRow, directory: Directory, call: Call) -> None:
    call["disposition"] = classify_disposition(row, call)


def _origin(row: AccRow, directory: Directory, call: Call) -> None:
    # The caller's Call-ID on a leg the media server placed; absent on every other row
    # (and on spools from before the column existed: ``get``).
    origin = _text(row.get("origin_call_id"))
    if origin is not None and origin == call["call_id"]:
        raise Quarantine("origin_call_id is the row's own call_id")
    call["origin_call_id"] = origin


def _recording(row: AccRow, directory: Directory, call: Call) -> None:
    # Set only when the policy asked for a recording at call time (``get``: spools from
    # before the column); "missing" is what the worker alerts on (pipeline.ingest).
    outcome = _text(row.get("recording_outcome"))
    if outcome is not None and outcome not in RECORDING_OUTCOMES:
        raise Quarantine(
            f"recording_outcome {outcome!r} is not one of {', '.join(RECORDING_OUTCOMES)}"
        )
    call["recording_outcome"] = outcome


STEPS: tuple[Step, ...] = (
    _identity,
    _tenant,
    _times,
    _direction,
    _sip,
    _parties,
    _disposition,
    _origin,
    _recording,
)


def call_from_acc(row: AccRow, directory: Directory, steps: tuple[Step, ...] = STEPS) -> Call:
    """One call row (CALLS_SCHEMA fields + ``tenant``, ``date``, ``origin_call_id``)
    or ``Quarantine``."""
    call: Call = {}
    for step in steps:
        step(row, directory, call)
    return call


def build_calls(rows: Iterable[AccRow], directory: Directory) -> CallBatch:
    """Interpret a batch: every row becomes a call, a leg or a quarantined row."""
    calls: list[Call] = []
    legs: list[Call] = []
    quarantined: list[QuarantinedRow] = []
    for row in rows:
        try:
            call = call_from_acc(row, directory)
        except Quarantine as q:
            quarantined.append(QuarantinedRow(row["id"], q.reason, row))
            continue
        (calls if call["origin_call_id"] is None else legs).append(call)
    return CallBatch(calls, quarantined, legs)


def legs_to_table(legs: list[Call]) -> pa.Table:
    """Columnar Arrow table of leg rows (LEGS_SCHEMA plus ``tenant`` and ``date``)."""
    return calls_to_table(legs, LEGS_SCHEMA)


def partition_key(call: Call) -> tuple[str, date]:
    """(tenant, UTC date of started_at): where the call lives in the lake."""
    return call["tenant"], call["date"]
