"""Queue ingest: media spool batches → lake tables ``queue_events`` and ``agent_events``.

Input contract: ``switchboard.queue_events``. The media server writes
``spool/queue_events/<tenant>/<batch_id>.json`` (temp + rename) about every
second. Each batch is ingested exactly once by the spool-ingest protocol
(:mod:`pipeline.spool_ingest`: pending → files → manifest → move to
``spool/done/queue_events/``) as a JSON batch spool
(:class:`pipeline.steps_ingest.JsonBatchIngest`), with its own commit log ``_queue_batches/``
shared by both tables (like ``calls`` and ``legs``). A batch that cannot be
read — bad JSON, an unknown event kind, a tenant that is not provisioned or
does not match its folder, a batch id seen before — goes to
``spool/quarantine/queue_events/`` with a ``.reason.txt``; the others go on.

Files: ``<table>/tenant=<domain>/date=<YYYY-MM-DD>/qeb-<hash>.parquet``, one
per table and UTC date of the events in a pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.lake_layout import AGENT_EVENTS, QUEUE_EVENTS
from pipeline.spool_ingest import SpoolItemError, StepHook, provisioned_tenants
from pipeline.steps_ingest import (
    JsonBatchIngest,
    StepsIngestResult,
    event_files,
    instant,
    is_row_id,
    read_batch,
    utc,
)
from switchboard.queue_events import AGENT_EVENT_KINDS, QUEUE_EVENT_KINDS
from switchboard.settings import Settings

SPOOL_KIND = "queue_events"
_QUEUE_TEXT = ("caller", "agent", "key", "target", "outcome")
_QUEUE_NUMBERS = ("wait", "talk")
# The longest wait or talk an event may report: far past any call, far below overflow.
MAX_SECONDS = 1e7


@dataclass(frozen=True)
class QueueBatch:
    """One checked spool batch of queue and agent events."""

    path: Path
    tenant: str
    batch_id: str
    queue: tuple[dict[str, Any], ...]
    agent: tuple[dict[str, Any], ...]


def _int_or_none(where: str, raw: dict[str, Any], key: str, *, required: bool = False) -> Any:
    value = raw.get(key)
    if value is None and not required:
        return None
    lowest = 0 if key == "position" else 1  # position 0: no longer in line
    if not is_row_id(value, lowest):
        raise SpoolItemError(f"{where}: {key!r} must be an integer from {lowest} to {2**31 - 1}")
    return value


def _text_or_none(where: str, raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise SpoolItemError(f"{where}: {key!r} must be a string or null")
    return value


def _event(what: str, index: int, raw: Any, kinds: tuple[str, ...]) -> dict[str, Any]:
    """An event object of a known kind (``what``: "queue event", "agent event")."""
    where = f"{what} {index}"
    if not isinstance(raw, dict):
        raise SpoolItemError(f"{where} is not an object")
    if raw.get("kind") not in kinds:
        raise SpoolItemError(f"{where}: unknown {what} {raw.get('kind')!r}")
    return raw


def _check_queue_event(index: int, raw: Any) -> dict[str, Any]:
    where = f"queue event {index}"
    raw = _event("queue event", index, raw, QUEUE_EVENT_KINDS)
    if not isinstance(raw.get("call_id"), str):
        raise SpoolItemError(f"{where}: 'call_id' must be a string")
    row = {
        "at": instant(where, raw),
        "kind": raw["kind"],
        "queue_id": _int_or_none(where, raw, "queue_id", required=True),
        "call_id": raw["call_id"],
        "position": _int_or_none(where, raw, "position"),
        **{key: _text_or_none(where, raw, key) for key in _QUEUE_TEXT},
    }
    for key in _QUEUE_NUMBERS:
        value = raw.get(key)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (numeric and 0 <= value <= MAX_SECONDS):
            raise SpoolItemError(f"{where}: {key!r} must be seconds (0 to {MAX_SECONDS:g}) or null")
        row[key] = None if value is None else float(value)
    return row


def _check_agent_event(index: int, raw: Any) -> dict[str, Any]:
    where = f"agent event {index}"
    raw = _event("agent event", index, raw, AGENT_EVENT_KINDS)
    if not isinstance(raw.get("agent"), str) or not raw["agent"]:
        raise SpoolItemError(f"{where}: 'agent' must be a non-empty string")
    return {
        "at": instant(where, raw),
        "kind": raw["kind"],
        "agent": raw["agent"],
        "queue_id": _int_or_none(where, raw, "queue_id"),
        "reason": _text_or_none(where, raw, "reason"),
    }


def parse_queue_batch(json_path: Path) -> QueueBatch:
    """Read and check one batch against the contract; SpoolItemError says what is wrong."""
    doc = read_batch(json_path)
    queue, agent = doc.get("queue_events", []), doc.get("agent_events", [])
    if not isinstance(queue, list) or not isinstance(agent, list):
        raise SpoolItemError("'queue_events' and 'agent_events' must be lists")
    if not queue and not agent:
        raise SpoolItemError("the batch holds no events")
    return QueueBatch(
        json_path,
        doc["tenant"],
        doc["batch_id"],
        tuple(_check_queue_event(i, raw) for i, raw in enumerate(queue)),
        tuple(_check_agent_event(i, raw) for i, raw in enumerate(agent)),
    )


def event_rows(batch: QueueBatch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(queue rows, agent rows) of one batch; ``seq`` counts queue events, then agent events."""
    queue = [
        {"batch_id": batch.batch_id, "seq": seq, **event, "at": utc(event["at"])}
        for seq, event in enumerate(batch.queue)
    ]
    base = len(batch.queue)
    agent = [
        {"batch_id": batch.batch_id, "seq": base + seq, **event, "at": utc(event["at"])}
        for seq, event in enumerate(batch.agent)
    ]
    return queue, agent


class QueueIngest(JsonBatchIngest[QueueBatch]):
    """One ingest pass over ``spool/queue_events`` (the call-step ingest, two tables)."""

    spool_kind = SPOOL_KIND
    table = QUEUE_EVENTS
    prefix = "qeb"
    what = "queue events"

    def parse(self, json_path: Path) -> QueueBatch:
        return parse_queue_batch(json_path)

    def count(self, batches: list[QueueBatch]) -> int:
        return sum(len(b.queue) + len(b.agent) for b in batches)

    def lake_files(self, items: list[QueueBatch], name: str) -> dict[str, pa.Table]:
        groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
        for batch in items:
            queue, agent = event_rows(batch)
            for table, rows in ((QUEUE_EVENTS.name, queue), (AGENT_EVENTS.name, agent)):
                for row in rows:
                    groups[(table, batch.tenant, row["at"].date())].append(row)
        return event_files(self.lake_dir, groups, name)


def ingest_queue_events(settings: Settings, on_step: StepHook | None = None) -> StepsIngestResult:
    """One pass over ``spool/queue_events`` (the worker calls this every tick)."""
    return QueueIngest(settings, provisioned_tenants(settings)).run(on_step)
