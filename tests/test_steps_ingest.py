"""Call-step ingest: spool batches written per the contract land in ``call_steps`` exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import CALL_STEPS, live_paths, partition_dir
from pipeline.steps_ingest import ingest_steps
from switchboard.call_steps import CallStep, steps_document
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

ACME = "acme.example"
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC).timestamp()


def menu_call(offset: float = 0.0) -> list[CallStep]:
    """A caller enters menu 1, presses 1 and is bridged to 102, who answers and hangs up."""
    t = T0 + offset
    return [
        CallStep(t, "menu_entered", attendant_id=1),
        CallStep(t + 4, "menu_key", attendant_id=1, key="1", target="extension:102"),
        CallStep(t + 4.1, "bridge_attempt", target="extension:102", leg_call_id="leg-1"),
        CallStep(t + 9, "bridge_answered", target="extension:102", outcome="answered"),
        CallStep(t + 70, "bridge_ended", outcome="callee_hangup", leg_call_id="leg-1"),
    ]


def write_batch(
    settings: Settings,
    steps: list[CallStep],
    *,
    tenant: str = ACME,
    call_id: str | None = None,
    batch_id: str | None = None,
) -> Path:
    """A batch as the media server writes it (docs/spool.md): temp file, then rename."""
    batch_id = batch_id or f"stb-{uuid.uuid4().hex}"
    folder = settings.spool_dir / "steps" / tenant
    folder.mkdir(parents=True, exist_ok=True)
    doc = steps_document(batch_id, tenant, call_id or f"call-{batch_id}", steps)
    tmp = folder / f".{batch_id}.tmp"
    tmp.write_text(json.dumps(doc))
    path = folder / f"{batch_id}.json"
    tmp.rename(path)
    return path


def lake_rows(settings: Settings) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in live_paths(settings.lake_dir, CALL_STEPS.name):
        rows.extend(pq.read_table(path).to_pylist())
    return sorted(rows, key=lambda r: (r["batch_id"], r["seq"]))


def test_a_batch_becomes_one_row_per_step_in_order(
    settings: Settings, store: ProvisioningStore
) -> None:
    path = write_batch(settings, menu_call(), call_id="caller-leg-1", batch_id="b1")

    result = ingest_steps(settings)

    assert (result.batches, result.steps, result.quarantined) == (1, 5, 0)
    rows = lake_rows(settings)
    assert [(r["seq"], r["kind"], r["key"], r["target"], r["outcome"]) for r in rows] == [
        (0, "menu_entered", None, None, None),
        (1, "menu_key", "1", "extension:102", None),
        (2, "bridge_attempt", None, "extension:102", None),
        (3, "bridge_answered", None, "extension:102", "answered"),
        (4, "bridge_ended", None, None, "callee_hangup"),
    ]
    assert {r["call_id"] for r in rows} == {"caller-leg-1"}
    assert rows[0]["attendant_id"] == 1 and rows[2]["leg_call_id"] == "leg-1"
    assert rows[0]["at"] == datetime.fromtimestamp(T0, tz=UTC)
    # partitioned like every table: tenant, UTC date of the first step
    folder = partition_dir(settings.lake_dir, CALL_STEPS.name, ACME, date(2026, 3, 2))
    assert len(list(folder.glob("stb-*.parquet"))) == 1
    assert not path.exists()
    assert (settings.spool_dir / "done" / "steps" / ACME / "b1.json").is_file()
    # nothing new: nothing written
    assert ingest_steps(settings).batches == 0
    assert len(lake_rows(settings)) == 5


def test_a_batch_sent_again_is_quarantined_never_a_second_set_of_facts(
    settings: Settings, store: ProvisioningStore
) -> None:
    write_batch(settings, menu_call(), batch_id="again")
    ingest_steps(settings)
    write_batch(settings, menu_call(), batch_id="again")

    result = ingest_steps(settings)

    assert (result.batches, result.quarantined) == (0, 1)
    reason = settings.spool_dir / "quarantine" / "steps" / f"{ACME}_again.reason.txt"
    assert reason.read_text().strip() == "batch id already ingested"
    assert len(lake_rows(settings)) == 5


def test_corrupt_batches_are_quarantined_with_a_reason_and_the_others_go_in(
    settings: Settings, store: ProvisioningStore
) -> None:
    folder = settings.spool_dir / "steps" / ACME
    write_batch(settings, menu_call(), batch_id="good")
    write_batch(settings, menu_call(), tenant="nobody.example", batch_id="stranger")
    (folder / "broken.json").write_text('{"batch_id": "broken", ')
    doc = steps_document("badkind", ACME, "c", [CallStep(T0, "menu_entered", attendant_id=1)])
    doc["steps"][0]["kind"] = "teleported"  # type: ignore[index]
    (folder / "badkind.json").write_text(json.dumps(doc))
    doc = steps_document("elsewhere", "globex.example", "c", menu_call())
    (folder / "elsewhere.json").write_text(json.dumps(doc))
    (folder / "empty.json").write_text(json.dumps(steps_document("empty", ACME, "c", [])))
    doc = steps_document("late", ACME, "c", menu_call())
    doc["steps"][1]["at"] = "soon"  # type: ignore[index]
    (folder / "late.json").write_text(json.dumps(doc))

    result = ingest_steps(settings)

    assert (result.batches, result.quarantined) == (1, 6)
    reasons = {
        p.name.removesuffix(".reason.txt"): p.read_text().strip()
        for p in (settings.spool_dir / "quarantine" / "steps").glob("*.reason.txt")
    }
    assert reasons == {
        "nobody.example_stranger": "tenant 'nobody.example' is unknown",
        f"{ACME}_broken": reasons[f"{ACME}_broken"],
        f"{ACME}_badkind": "step 0: unknown step kind 'teleported'",
        f"{ACME}_elsewhere": "tenant is not a SIP domain or does not match the folder",
        f"{ACME}_empty": "'steps' is missing or empty",
        f"{ACME}_late": "step 1: 'at' must be epoch seconds from 1970 to 2999-12-31",
    }
    assert reasons[f"{ACME}_broken"].startswith("unreadable JSON")
    assert {r["batch_id"] for r in lake_rows(settings)} == {"good"}
    assert list(folder.glob("*.json")) == []


class Crash(Exception):
    pass


@pytest.mark.parametrize("at", ["pending", "file", "manifest", "item", "done"])
def test_a_pass_killed_anywhere_lands_every_step_exactly_once(
    settings: Settings, store: ProvisioningStore, at: str
) -> None:
    for i in range(3):
        write_batch(settings, menu_call(i * 86_400.0), batch_id=f"b{i}")  # three days

    def crash(step: str) -> None:
        if step == at:
            raise Crash(step)

    with pytest.raises(Crash):
        ingest_steps(settings, on_step=crash)
    write_batch(settings, menu_call(600.0), batch_id="later")  # arrives before the redo

    result = ingest_steps(settings)

    rows = lake_rows(settings)
    assert sorted({r["batch_id"] for r in rows}) == ["b0", "b1", "b2", "later"]
    assert len(rows) == 4 * 5
    assert len({(r["batch_id"], r["seq"]) for r in rows}) == len(rows)
    assert result.quarantined == 0
    assert list((settings.spool_dir / "steps" / ACME).glob("*.json")) == []


def test_call_steps_compact_like_every_table(settings: Settings, store: ProvisioningStore) -> None:
    for i in range(6):  # six passes: six files in one partition
        write_batch(settings, menu_call(i * 60.0), batch_id=f"b{i}")
        ingest_steps(settings)
    folder = partition_dir(settings.lake_dir, CALL_STEPS.name, ACME, date(2026, 3, 2))
    before = lake_rows(settings)
    assert len(list(folder.glob("stb-*.parquet"))) == 6

    later = date(2026, 3, 2) + timedelta(days=2)
    report = compact_lake(
        settings.lake_dir, CompactionPolicy(grace_seconds=0, durable=False), today=later
    )

    assert report.partitions >= 1
    assert [p.name for p in live_paths(settings.lake_dir, CALL_STEPS.name)] == ["c-000001.parquet"]
    assert lake_rows(settings) == before
    merged = pq.read_table(folder / "c-000001.parquet").to_pylist()
    assert [r["at"] for r in merged] == sorted(r["at"] for r in merged)


def test_a_poison_batch_is_quarantined_and_never_blocks_the_spool(
    settings: Settings, store: ProvisioningStore
) -> None:
    """Values a check let through and a later step refused (building a datetime, an Arrow
    column) aborted the whole pass, every pass: nothing after them was ever ingested.
    Each is now quarantined alone; the good batches of the same pass go in exactly once."""
    folder = settings.spool_dir / "steps" / ACME
    write_batch(settings, menu_call(), batch_id="good-1")

    def poisoned(batch_id: str, **changes: Any) -> None:
        doc = steps_document(batch_id, ACME, f"c-{batch_id}", menu_call(1))
        doc["steps"][1].update(changes)  # type: ignore[index]
        (folder / f"{batch_id}.json").write_text(json.dumps(doc))

    (folder / "digits.json").write_text('{"batch_id": "digits", "at": ' + "9" * 4400 + "}")
    (folder / "huge.json").write_text('{"batch_id": "huge", "x": "' + "x" * 9 * 2**20 + '"}')
    poisoned("huge-int", at=10**400)  # math.isfinite raised OverflowError
    poisoned("year-10000", at=253402300800)  # datetime past 9999
    poisoned("id-past-64-bits", attendant_id=2**63)
    poisoned("surrogate", key="\ud800")  # JSON takes it; Arrow's UTF-8 does not
    write_batch(settings, menu_call(2), batch_id="good-2")

    result = ingest_steps(settings)

    assert (result.batches, result.quarantined) == (2, 6)
    reasons = {
        p.name.removesuffix(".reason.txt").removeprefix(f"{ACME}_"): p.read_text().strip()
        for p in (settings.spool_dir / "quarantine" / "steps").glob("*.reason.txt")
    }
    assert reasons["digits"].startswith("unreadable JSON")
    assert reasons["huge"] == "the JSON is larger than 8 MB"  # it filled the worker's memory
    assert (
        reasons["huge-int"]
        == reasons["year-10000"]
        == ("step 1: 'at' must be epoch seconds from 1970 to 2999-12-31")
    )
    assert reasons["id-past-64-bits"].startswith("step 1: 'attendant_id' must be an id")
    assert reasons["surrogate"].startswith("its rows could not be built: UnicodeEncodeError")
    assert sorted({r["batch_id"] for r in lake_rows(settings)}) == ["good-1", "good-2"]
    assert len(lake_rows(settings)) == 2 * len(menu_call())
    assert list(folder.glob("*.json")) == []
    assert ingest_steps(settings) == type(result)()  # nothing left, nothing again
