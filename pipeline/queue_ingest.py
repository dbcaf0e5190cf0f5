"""Queue ingest: media spool batches → lake tables ``queue_events`` and ``agent_events``.

Input contract: ``switchboard.queue_events``. The media server writes
``spool/queue_events/<tenant>/<batch_id>.json`` (temp + rename) about every
second. Each batch is ingested exactly once by the call-step ingest's protocol
(:class:`pipeline.steps_ingest.StepsIngest`: pending → files → manifest → move
to ``spool/done/queue_events/``), with its own commit log ``_queue_batches/``
shared by both tables (like ``calls`` and ``legs``). A batch that cannot be
read — bad JSON, an unknown event kind, a tenant that is not provisioned or
does not match its folder, a batch id seen before — goes to
``spool/quarantine/queue_events/`` with a ``.reason.txt``; the others go on.

Files: ``<table>/tenant=<domain>/date=<YYYY-MM-DD>/qeb-<hash>.parquet``, one
per table and UTC date of the events in a pass.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.lake_layout import AGENT_EVENTS, QUEUE_EVENTS, partition_dir
from pipeline.queue_schema import AGENT_EVENTS_SCHEMA, QUEUE_EVENTS_SCHEMA
from pipeline.schema import TENANT_RE
from pipeline.steps_ingest import (
    BATCH_ID_RE,
    StepHook,
    StepsBatchError,
    StepsIngest,
    StepsIngestResult,
)
from switchboard.queue_events import AGENT_EVENT_KINDS, QUEUE_EVENT_KINDS
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

SPOOL_KIND = "queue_events"
_QUEUE_TEXT = ("caller", "agent", "key", "target", "outcome")
_QUEUE_NUMBERS = ("wait", "talk")


@dataclass(frozen=True)
class QueueBatch:
    """One checked spool batch of queue and agent events."""

    json_path: Path
    tenant: str
    batch_id: str
    queue: tuple[dict[str, Any], ...]
    agent: tuple[dict[str, Any], ...]


def _instant(where: str, raw: dict[str, Any]) -> float:
    at = raw.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise StepsBatchError(f"{where}: 'at' must be a finite, non-negative number")
    return float(at)


def _int_or_none(where: str, raw: dict[str, Any], key: str, *, required: bool = False) -> Any:
    value = raw.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StepsBatchError(f"{where}: {key!r} must be an integer")
    return value


def _text_or_none(where: str, raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise StepsBatchError(f"{where}: {key!r} must be a string or null")
    return value


def _check_queue_event(index: int, raw: Any) -> dict[str, Any]:
    where = f"queue event {index}"
    if not isinstance(raw, dict):
        raise StepsBatchError(f"{where} is not an object")
    if raw.get("kind") not in QUEUE_EVENT_KINDS:
        raise StepsBatchError(f"{where}: unknown queue event {raw.get('kind')!r}")
    if not isinstance(raw.get("call_id"), str):
        raise StepsBatchError(f"{where}: 'call_id' must be a string")
    row = {
        "at": _instant(where, raw),
        "kind": raw["kind"],
        "queue_id": _int_or_none(where, raw, "queue_id", required=True),
        "call_id": raw["call_id"],
        "position": _int_or_none(where, raw, "position"),
        **{key: _text_or_none(where, raw, key) for key in _QUEUE_TEXT},
    }
    for key in _QUEUE_NUMBERS:
        value = raw.get(key)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (numeric and math.isfinite(value)):
            raise StepsBatchError(f"{where}: {key!r} must be a number or null")
        row[key] = None if value is None else float(value)
    return row


def _check_agent_event(index: int, raw: Any) -> dict[str, Any]:
    where = f"agent event {index}"
    if not isinstance(raw, dict):
        raise StepsBatchError(f"{where} is not an object")
    if raw.get("kind") not in AGENT_EVENT_KINDS:
        raise StepsBatchError(f"{where}: unknown agent event {raw.get('kind')!r}")
    if not isinstance(raw.get("agent"), str) or not raw["agent"]:
        raise StepsBatchError(f"{where}: 'agent' must be a non-empty string")
    return {
        "at": _instant(where, raw),
        "kind": raw["kind"],
        "agent": raw["agent"],
        "queue_id": _int_or_none(where, raw, "queue_id"),
        "reason": _text_or_none(where, raw, "reason"),
    }


def parse_queue_batch(json_path: Path) -> QueueBatch:
    """Read and check one batch against the contract; StepsBatchError says what is wrong."""
    try:
        doc = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StepsBatchError(f"unreadable JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise StepsBatchError("the JSON is not an object")
    for key in ("batch_id", "tenant"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise StepsBatchError(f"{key!r} is missing or not a string")
    if not BATCH_ID_RE.match(doc["batch_id"]) or doc["batch_id"] != json_path.stem:
        raise StepsBatchError("batch_id is not a plain name or does not match the file name")
    if not TENANT_RE.match(doc["tenant"]) or doc["tenant"] != json_path.parent.name:
        raise StepsBatchError("tenant is not a SIP domain or does not match the folder")
    queue, agent = doc.get("queue_events", []), doc.get("agent_events", [])
    if not isinstance(queue, list) or not isinstance(agent, list):
        raise StepsBatchError("'queue_events' and 'agent_events' must be lists")
    if not queue and not agent:
        raise StepsBatchError("the batch holds no events")
    return QueueBatch(
        json_path,
        doc["tenant"],
        doc["batch_id"],
        tuple(_check_queue_event(i, raw) for i, raw in enumerate(queue)),
        tuple(_check_agent_event(i, raw) for i, raw in enumerate(agent)),
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def event_rows(batch: QueueBatch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(queue rows, agent rows) of one batch; ``seq`` counts queue events, then agent events."""
    queue = [
        {"batch_id": batch.batch_id, "seq": seq, **event, "at": _utc(event["at"])}
        for seq, event in enumerate(batch.queue)
    ]
    base = len(batch.queue)
    agent = [
        {"batch_id": batch.batch_id, "seq": base + seq, **event, "at": _utc(event["at"])}
        for seq, event in enumerate(batch.agent)
    ]
    return queue, agent


class QueueIngest(StepsIngest):
    """One ingest pass over ``spool/queue_events`` (the call-step protocol, two tables)."""

    spool_kind = SPOOL_KIND
    commit_table = QUEUE_EVENTS
    prefix = "qeb"
    what = "queue events"

    def parse(self, json_path: Path) -> QueueBatch:
        return parse_queue_batch(json_path)

    def count(self, batches: list[Any]) -> int:
        return sum(len(b.queue) + len(b.agent) for b in batches)

    def lake_files(self, batches: list[Any], name: str) -> dict[str, pa.Table]:
        groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
        for batch in batches:
            queue, agent = event_rows(batch)
            for table, rows in ((QUEUE_EVENTS.name, queue), (AGENT_EVENTS.name, agent)):
                for row in rows:
                    groups[(table, batch.tenant, row["at"].date())].append(row)
        schemas = {QUEUE_EVENTS.name: QUEUE_EVENTS_SCHEMA, AGENT_EVENTS.name: AGENT_EVENTS_SCHEMA}
        files = {}
        for (table, tenant, day), rows in sorted(groups.items()):
            rows.sort(key=lambda r: (r["at"], r["batch_id"], r["seq"]))
            folder = partition_dir(self.lake_dir, table, tenant, day)
            files[str((folder / f"{name}.parquet").relative_to(self.lake_dir))] = (
                pa.Table.from_pylist(rows, schema=schemas[table])
            )
        return files


def ingest_queue_events(settings: Settings, on_step: StepHook | None = None) -> StepsIngestResult:
    """One pass over ``spool/queue_events`` (the worker calls this every tick)."""

    def tenants() -> frozenset[str]:
        store = ProvisioningStore(settings.provisioning_db)
        try:
            return frozenset(t.domain for t in store.tenants())
        finally:
            store.close()

    return QueueIngest(settings, tenants).run(on_step)
