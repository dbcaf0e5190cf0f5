"""Queue spool batches → lake tables ``queue_events`` and ``agent_events``, exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import AGENT_EVENTS, QUEUE_EVENTS, live_paths, partition_dir
from pipeline.queue_ingest import ingest_queue_events
from switchboard.queue_events import AgentEvent, QueueEvent, events_document
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

ACME = "acme.example"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC).timestamp()


def answered_call(offset: float = 0.0, call_id: str = "c1") -> list[QueueEvent]:
    t = T0 + offset
    return [
        QueueEvent(t, "enter", 1, call_id, "+15550100", position=1),
        QueueEvent(t + 1, "offer", 1, call_id, "+15550100", agent="102", position=1, wait=1),
        QueueEvent(t + 6, "connect", 1, call_id, "+15550100", agent="102", wait=6),
        QueueEvent(
            t + 66,
            "complete",
            1,
            call_id,
            "+15550100",
            agent="102",
            wait=6,
            talk=60,
            outcome="caller_hangup",
        ),
    ]


def agent_day(offset: float = 0.0) -> list[AgentEvent]:
    t = T0 + offset
    return [AgentEvent(t - 60, "login", "102", 1), AgentEvent(t + 66, "wrapup_start", "102", 1)]


def write_batch(
    settings: Settings,
    queue: list[QueueEvent],
    agent: list[AgentEvent] | None = None,
    *,
    tenant: str = ACME,
    batch_id: str | None = None,
) -> Path:
    """A batch as media/queue_spool.py writes it: temp file, then rename."""
    batch_id = batch_id or f"qe-{uuid.uuid4().hex}"
    folder = settings.spool_dir / "queue_events" / tenant
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{batch_id}.tmp"
    tmp.write_text(json.dumps(events_document(batch_id, tenant, queue, agent or [])))
    path = folder / f"{batch_id}.json"
    tmp.rename(path)
    return path


def lake_rows(settings: Settings, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in live_paths(settings.lake_dir, table):
        rows.extend(pq.read_table(path).to_pylist())
    return sorted(rows, key=lambda r: (r["batch_id"], r["seq"]))


def test_a_batch_becomes_one_row_per_event_in_both_tables(
    settings: Settings, store: ProvisioningStore
) -> None:
    path = write_batch(settings, answered_call(), agent_day(), batch_id="qe-1")

    result = ingest_queue_events(settings)

    assert (result.batches, result.steps, result.quarantined) == (1, 6, 0)
    queue = lake_rows(settings, QUEUE_EVENTS.name)
    assert [(r["seq"], r["kind"], r["agent"], r["wait"]) for r in queue] == [
        (0, "enter", None, None),
        (1, "offer", "102", 1.0),
        (2, "connect", "102", 6.0),
        (3, "complete", "102", 6.0),
    ]
    assert queue[3]["talk"] == 60.0 and queue[0]["position"] == 1
    agent = lake_rows(settings, AGENT_EVENTS.name)
    assert [(r["seq"], r["kind"], r["queue_id"]) for r in agent] == [
        (4, "login", 1),
        (5, "wrapup_start", 1),
    ]
    assert not path.exists()
    assert (settings.spool_dir / "done" / "queue_events" / ACME / "qe-1.json").exists()
    assert ingest_queue_events(settings).batches == 0  # nothing twice


def test_a_batch_sent_again_is_quarantined(settings: Settings, store: ProvisioningStore) -> None:
    write_batch(settings, answered_call(), batch_id="qe-1")
    ingest_queue_events(settings)
    write_batch(settings, answered_call(), batch_id="qe-1")

    result = ingest_queue_events(settings)

    assert result.quarantined == 1
    assert len(lake_rows(settings, QUEUE_EVENTS.name)) == 4
    reason = settings.spool_dir / "quarantine" / "queue_events" / f"{ACME}_qe-1.reason.txt"
    assert "already ingested" in reason.read_text()


def test_corrupt_batches_are_quarantined_with_a_reason_and_the_others_go_in(
    settings: Settings, store: ProvisioningStore
) -> None:
    folder = settings.spool_dir / "queue_events" / ACME
    write_batch(settings, answered_call(), batch_id="good")
    (folder / "broken.json").write_text("{not json")
    bad_kind = events_document("badkind", ACME, [], [])
    bad_kind["queue_events"] = [{"at": T0, "kind": "teleport", "queue_id": 1, "call_id": "x"}]
    (folder / "badkind.json").write_text(json.dumps(bad_kind))
    other = events_document("other", "nobody.example", answered_call(), [])
    (settings.spool_dir / "queue_events" / "nobody.example").mkdir(parents=True)
    (settings.spool_dir / "queue_events" / "nobody.example" / "other.json").write_text(
        json.dumps(other)
    )
    bad_at = events_document("badat", ACME, [], [AgentEvent(T0, "login", "102", 1)])
    bad_at["agent_events"][0]["at"] = "yesterday"  # type: ignore[index]
    (folder / "badat.json").write_text(json.dumps(bad_at))

    result = ingest_queue_events(settings)

    assert (result.batches, result.quarantined) == (1, 4)
    reasons = {
        p.name.split("_", 1)[1]: p.read_text()
        for p in (settings.spool_dir / "quarantine" / "queue_events").glob("*.reason.txt")
    }
    assert "unreadable JSON" in reasons["broken.reason.txt"]
    assert "unknown queue event 'teleport'" in reasons["badkind.reason.txt"]
    assert "unknown" in reasons["other.reason.txt"]
    assert "'at'" in reasons["badat.reason.txt"]
    assert {r["batch_id"] for r in lake_rows(settings, QUEUE_EVENTS.name)} == {"good"}


class Crash(Exception):
    pass


@pytest.mark.parametrize("at", ["pending", "file", "manifest", "item", "done"])
def test_a_pass_killed_anywhere_lands_every_event_exactly_once(
    settings: Settings, store: ProvisioningStore, at: str
) -> None:
    for i in range(3):  # three days, both tables
        write_batch(
            settings,
            answered_call(i * 86_400.0, f"c{i}"),
            agent_day(i * 86_400.0),
            batch_id=f"b{i}",
        )

    def crash(step: str) -> None:
        if step == at:
            raise Crash(step)

    with pytest.raises(Crash):
        ingest_queue_events(settings, on_step=crash)
    write_batch(settings, answered_call(600.0, "late"), batch_id="later")

    result = ingest_queue_events(settings)

    queue = lake_rows(settings, QUEUE_EVENTS.name)
    agent = lake_rows(settings, AGENT_EVENTS.name)
    assert sorted({r["batch_id"] for r in queue}) == ["b0", "b1", "b2", "later"]
    assert len(queue) == 4 * 4 and len(agent) == 3 * 2
    assert len({(r["batch_id"], r["seq"]) for r in queue + agent}) == len(queue) + len(agent)
    assert result.quarantined == 0
    assert list((settings.spool_dir / "queue_events" / ACME).glob("*.json")) == []


def test_queue_tables_compact_like_every_table(
    settings: Settings, store: ProvisioningStore
) -> None:
    for i in range(6):
        write_batch(
            settings, answered_call(i * 60.0, f"c{i}"), agent_day(i * 60.0), batch_id=f"b{i}"
        )
        ingest_queue_events(settings)
    before = {t: lake_rows(settings, t) for t in (QUEUE_EVENTS.name, AGENT_EVENTS.name)}
    folder = partition_dir(settings.lake_dir, QUEUE_EVENTS.name, ACME, date(2026, 3, 2))
    assert len(list(folder.glob("qeb-*.parquet"))) == 6

    later = date(2026, 3, 2) + timedelta(days=2)
    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0, durable=False), today=later)

    for table in (QUEUE_EVENTS.name, AGENT_EVENTS.name):
        assert [p.name for p in live_paths(settings.lake_dir, table)] == ["c-000001.parquet"]
        assert lake_rows(settings, table) == before[table]
    merged = pq.read_table(folder / "c-000001.parquet").to_pylist()
    assert [r["at"] for r in merged] == sorted(r["at"] for r in merged)


def test_numbers_out_of_their_range_are_quarantined_not_a_blocked_spool(
    settings: Settings, store: ProvisioningStore
) -> None:
    """A position past its int32 column failed the whole pass when its table was built (the
    spool blocked for good); negative or overflowing seconds went in, or raised."""
    folder = settings.spool_dir / "queue_events" / ACME
    write_batch(settings, answered_call(), batch_id="good")
    for batch_id, key, value in (
        ("position", "position", 2**31),
        ("talk", "talk", -5),
        ("wait", "wait", 10**400),
        ("queue", "queue_id", 2**63),
    ):
        doc = events_document(batch_id, ACME, answered_call(call_id=batch_id), [])
        doc["queue_events"][-1][key] = value  # type: ignore[index]
        (folder / f"{batch_id}.json").write_text(json.dumps(doc))

    result = ingest_queue_events(settings)

    assert (result.batches, result.quarantined) == (1, 4)
    reasons = {
        p.name.split("_", 1)[1].removesuffix(".reason.txt"): p.read_text()
        for p in (settings.spool_dir / "quarantine" / "queue_events").glob("*.reason.txt")
    }
    assert "'position' must be an integer from 0 to 2147483647" in reasons["position"]
    assert "'talk' must be seconds" in reasons["talk"]
    assert "'wait' must be seconds" in reasons["wait"]
    assert "'queue_id' must be an integer" in reasons["queue"]
    assert {r["batch_id"] for r in lake_rows(settings, QUEUE_EVENTS.name)} == {"good"}
