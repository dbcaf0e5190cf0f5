"""Ingest from the accounting spool into the lake: layout, quarantine, idempotence."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.ingest import IngestResult, ingest_once
from pipeline.lake import Lake
from pipeline.schema import CALLS_SCHEMA, QUARANTINE_SCHEMA
from pipeline.worker import run_worker
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.core import Directory, insert_acc_rows, make_settings, seed

T0 = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC
DAY = 86_400.0


def acc(call_id: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": call_id,
        "tenant": "acme.example",
        "direction": "internal",
        "caller": "101",
        "callee": "102",
        "invite_at": T0,
        "answer_at": T0 + 5,
        "end_at": T0 + 65,
        "sip_code": 200,
        "disposition_hint": "answered",
    }
    row.update(overrides)
    return row


def lake_rows(lake_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((lake_dir / table).rglob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def relative_files(lake_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(lake_dir)) for p in lake_dir.rglob("*") if p.is_file())


def test_nothing_to_do_without_a_spool(settings: Settings, directory: Directory) -> None:
    assert ingest_once(settings) == IngestResult(calls=0, quarantined=0, watermark=0)


def test_a_spool_without_the_table_yet_is_nothing_to_do(
    settings: Settings, directory: Directory
) -> None:
    sqlite3.connect(settings.acc_db).close()
    assert ingest_once(settings) == IngestResult(0, 0, 0)


def test_calls_land_in_tenant_and_utc_date_partitions(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", ingest_batch=3)
    seed(ProvisioningStore(settings.provisioning_db))
    insert_acc_rows(
        settings,
        [
            acc("a1"),
            acc("g1", tenant="globex.example"),
            acc("a2", invite_at=T0 + DAY, answer_at=None, end_at=T0 + DAY + 20, sip_code=487),
            acc("a3", end_at="garbage"),
            acc("a4", invite_at=T0 + 15.9 * 3600, answer_at=None, end_at=T0 + 16 * 3600,
                sip_code=486),
        ],
    )  # fmt: skip
    assert ingest_once(settings) == IngestResult(calls=4, quarantined=1, watermark=5)
    files = [f for f in relative_files(settings.lake_dir) if not f.endswith(".lock")]
    assert files == sorted(
        [
            "_batches/acc-000000000001-000000000003.json",
            "_batches/acc-000000000004-000000000005.json",
            "calls/tenant=acme.example/date=2024-03-01/acc-000000000001-000000000003.parquet",
            # 08:00 + 15.9 h is 23:54 UTC on the 1st (though the 2nd in Berlin)
            "calls/tenant=acme.example/date=2024-03-01/acc-000000000004-000000000005.parquet",
            "calls/tenant=acme.example/date=2024-03-02/acc-000000000001-000000000003.parquet",
            "calls/tenant=globex.example/date=2024-03-01/acc-000000000001-000000000003.parquet",
            "quarantine/acc-000000000004-000000000005.parquet",
        ]
    )
    one = settings.lake_dir / "calls/tenant=acme.example/date=2024-03-02"
    table = pq.read_table(next(one.glob("*.parquet")), partitioning=None)
    assert table.schema.names == CALLS_SCHEMA.names  # partition columns live in the path only
    row = table.to_pylist()[0]
    assert (row["call_id"], row["disposition"], row["ring_seconds"]) == ("a2", "cancelled", 20.0)
    assert (row["caller_name"], row["callee_name"]) == ("Front Desk", "Bob Builder")

    quarantined = lake_rows(settings.lake_dir, "quarantine")
    assert [(q["acc_id"], q["reason"]) for q in quarantined] == [
        (4, "end_at is not a number: 'garbage'")
    ]
    assert json.loads(quarantined[0]["row_json"])["call_id"] == "a3"
    manifest = json.loads(
        (settings.lake_dir / "_batches/acc-000000000004-000000000005.json").read_text()
    )
    assert (manifest["calls"], manifest["quarantined"]) == (1, 1)


def test_ingest_twice_and_after_new_rows_never_duplicates(
    settings: Settings, directory: Directory
) -> None:
    insert_acc_rows(settings, [acc(f"c{i}") for i in range(10)])
    assert ingest_once(settings) == IngestResult(10, 0, 10)
    assert ingest_once(settings) == IngestResult(0, 0, 10)
    insert_acc_rows(settings, [acc(f"d{i}") for i in range(3)])
    assert ingest_once(settings) == IngestResult(3, 0, 13)
    ids = [r["acc_id"] for r in lake_rows(settings.lake_dir, "calls")]
    assert sorted(ids) == list(range(1, 14))


def test_corrupt_rows_are_logged_and_the_rest_ingests(
    settings: Settings, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    insert_acc_rows(
        settings,
        [acc("ok1"), acc("", tenant="acme.example"), acc("bad-dir", direction="up"), acc("ok2")],
    )
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest"):
        assert ingest_once(settings) == IngestResult(2, 2, 4)
    assert "accounting row 2 quarantined: call_id is empty" in caplog.text
    assert "accounting row 3 quarantined: direction 'up'" in caplog.text
    assert sorted(r["call_id"] for r in lake_rows(settings.lake_dir, "calls")) == ["ok1", "ok2"]


def test_a_batch_of_only_quarantined_rows_still_advances(
    settings: Settings, directory: Directory
) -> None:
    insert_acc_rows(settings, [acc("x", tenant=None), acc("y", sip_code="oops")])
    assert ingest_once(settings) == IngestResult(0, 2, 2)
    assert ingest_once(settings) == IngestResult(0, 0, 2)
    assert not (settings.lake_dir / "calls").exists()
    q = pq.read_table(settings.lake_dir / "quarantine/acc-000000000001-000000000002.parquet")
    assert q.schema.equals(QUARANTINE_SCHEMA)


def test_temp_files_left_by_a_crash_are_removed_and_never_read(
    settings: Settings, directory: Directory
) -> None:
    part = settings.lake_dir / "quarantine"
    part.mkdir(parents=True)
    leftover = part / "acc-000000000001-000000000001.parquet.999.tmp"
    leftover.write_bytes(b"half a file")
    insert_acc_rows(settings, [acc("a")])
    assert ingest_once(settings).calls == 1
    assert not leftover.exists()


def test_interrupted_batch_is_redone_and_strays_removed(
    settings: Settings, directory: Directory
) -> None:
    """A crash before the manifest, then the tenant gets provisioned: no row twice."""
    insert_acc_rows(settings, [acc("a1"), acc("i1", tenant="initech.example")])

    class Crash(Exception):
        pass

    def crash_before_manifest(step: str) -> None:
        if step == "strays":
            raise Crash

    with pytest.raises(Crash):
        ingest_once(settings, on_step=crash_before_manifest)
    assert Lake(settings.lake_dir).watermark() == 0
    assert (settings.lake_dir / "quarantine/acc-000000000001-000000000002.parquet").exists()

    directory.store.add_tenant("initech.example", "UTC")
    insert_acc_rows(settings, [acc("a2")])  # arrives meanwhile: not part of the redo
    assert ingest_once(settings) == IngestResult(calls=3, quarantined=0, watermark=3)
    assert not (settings.lake_dir / "quarantine").exists() or not any(
        (settings.lake_dir / "quarantine").glob("*.parquet")
    )
    assert sorted(r["call_id"] for r in lake_rows(settings.lake_dir, "calls")) == ["a1", "a2", "i1"]
    assert Lake(settings.lake_dir).committed_batches() == [(1, 2), (3, 3)]


def test_crash_after_the_manifest_keeps_the_batch(settings: Settings, directory: Directory) -> None:
    insert_acc_rows(settings, [acc("a1")])

    def crash(step: str) -> None:
        if step == "manifest":
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        ingest_once(settings, on_step=crash)
    assert (settings.lake_dir / "_batches/pending.json").exists()
    assert ingest_once(settings) == IngestResult(0, 0, 1)
    assert not (settings.lake_dir / "_batches/pending.json").exists()
    assert len(lake_rows(settings.lake_dir, "calls")) == 1


def test_worker_keeps_going_after_a_failed_pass(
    settings: Settings, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    insert_acc_rows(settings, [acc("a1")])
    settings.lake_dir.mkdir(parents=True)
    (settings.lake_dir / "_batches").write_text("not a directory")  # every pass fails
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop))
    with caplog.at_level(logging.INFO):
        worker.start()
        for _ in range(100):
            if caplog.text.count("ingest pass failed") >= 2:
                break
            stop.wait(0.05)
        assert caplog.text.count("ingest pass failed") >= 2  # still looping
        (settings.lake_dir / "_batches").unlink()  # repaired: the next pass ingests
        for _ in range(100):
            if Lake(settings.lake_dir).watermark() == 1:
                break
            stop.wait(0.05)
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert Lake(settings.lake_dir).watermark() == 1


def test_reads_committed_rows_while_kamailio_is_writing(
    settings: Settings, directory: Directory
) -> None:
    """WAL spool, Kamailio mid-transaction: committed rows ingest, the rest waits."""
    insert_acc_rows(settings, [acc("committed")])
    kamailio = sqlite3.connect(settings.acc_db, isolation_level=None)
    kamailio.execute("pragma journal_mode=wal")
    kamailio.execute("begin immediate")
    kamailio.execute(
        "insert into cdr (call_id, tenant, direction, invite_at, end_at, sip_code)"
        " values ('in-flight', 'acme.example', 'internal', 1709280000, 1709280010, 487)"
    )
    assert ingest_once(settings) == IngestResult(1, 0, 1)
    kamailio.execute("commit")
    assert ingest_once(settings) == IngestResult(1, 0, 2)
    kamailio.close()
    assert sorted(r["call_id"] for r in lake_rows(settings.lake_dir, "calls")) == [
        "committed",
        "in-flight",
    ]


def test_a_row_kamailio_wrote_oddly_never_blocks_the_spool(
    settings: Settings, directory: Directory
) -> None:
    """Two rows stopped call ingest for good: text that is not UTF-8 (a Latin-1 header
    Kamailio copied) raised while the rows were read, and an end past year 9999 overflowed
    after the row checks. The first goes in (its bad bytes replaced), the second is
    quarantined, and the watermark moves past both."""
    insert_acc_rows(settings, [acc("ok1"), acc("far", end_at=1e30), acc("latin"), acc("ok2")])
    db = sqlite3.connect(settings.acc_db, isolation_level=None)
    db.execute("update cdr set user_agent = cast(x'4a6f73e9' as text) where call_id = 'latin'")
    db.close()
    assert ingest_once(settings) == IngestResult(3, 1, 4)
    calls = {r["call_id"]: r for r in lake_rows(settings.lake_dir, "calls")}
    assert sorted(calls) == ["latin", "ok1", "ok2"]
    (quarantined,) = lake_rows(settings.lake_dir, "quarantine")
    assert "end_at is not an instant from 1970 to 2999-12-31" in quarantined["reason"]
