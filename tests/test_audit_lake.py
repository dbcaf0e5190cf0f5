"""The audit trail in the lake: each tenant's closed days written once, as ``access_log``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pyarrow.parquet as pq

from pipeline.access_log_export import DAY_FILE, export_access_log
from pipeline.lake_layout import ACCESS_LOG, partition_dir
from switchboard.settings import Settings
from switchboard.store.access_log import Access, Actor
from tests.fixtures.core import Directory

DAY = datetime(2026, 11, 3, tzinfo=UTC)


def test_closed_days_are_written_once_per_tenant(settings: Settings, directory: Directory) -> None:
    store = directory.store
    bob = Actor.of(directory.users["102@acme.example"])
    globex = Actor.of(directory.users["100@globex.example"])
    at = DAY.timestamp()
    store.log_access(bob, Access("recording", "rec-1", "play", "call 101 to 102", "10.0.0.2"), at)
    store.log_access(
        bob, Access("recording", "rec-1", "play", "call 101 to 102", "10.0.0.2"), at + 60
    )
    store.log_access(bob, Access("voicemail", "vm-1", "download"), at + 3600)
    store.log_access(globex, Access("voicemail", "vm-g", "delete"), at + 7200)
    store.log_access(bob, Access("recording", "rec-2", "play"), at + 86400 + 30)  # the next day

    # Just after midnight the day is not settled yet: a listening may still be counting.
    assert export_access_log(settings, store, datetime(2026, 11, 4, 0, 5, tzinfo=UTC)) == 0
    assert export_access_log(settings, store, datetime(2026, 11, 4, 2, 0, tzinfo=UTC)) == 3
    acme = partition_dir(settings.lake_dir, ACCESS_LOG.name, "acme.example", DAY.date())
    rows = pq.read_table(acme / DAY_FILE).to_pylist()
    assert [(r["object_id"], r["action"], r["requests"]) for r in rows] == [
        ("rec-1", "play", 2),
        ("vm-1", "download", 1),
    ]
    assert rows[0]["actor"] == "102@acme.example" and rows[0]["client"] == "10.0.0.2"
    assert pq.read_table(acme / DAY_FILE).schema.equals(ACCESS_LOG.schema)
    globex_day = partition_dir(settings.lake_dir, ACCESS_LOG.name, "globex.example", DAY.date())
    assert [r["object_id"] for r in pq.read_table(globex_day / DAY_FILE).to_pylist()] == ["vm-g"]

    # Again: nothing twice; two days later the next day follows.
    assert export_access_log(settings, store, datetime(2026, 11, 4, 3, 0, tzinfo=UTC)) == 0
    assert export_access_log(settings, store, datetime(2026, 11, 6, tzinfo=UTC)) == 1


def test_a_damaged_row_neither_stops_its_tenant_nor_the_next(
    settings: Settings, directory: Directory
) -> None:
    """A row no store call could write (a ``last_at`` of 1e20, a client that is not UTF-8:
    a damaged file) stopped the export there, and every later tenant's with it."""
    store = directory.store
    bob = Actor.of(directory.users["102@acme.example"])
    globex = Actor.of(directory.users["100@globex.example"])
    at = DAY.timestamp()
    store.log_access(bob, Access("recording", "rec-1", "play", client="10.0.0.2"), at)
    store.log_access(bob, Access("voicemail", "vm-1", "download"), at + 60)
    store.log_access(globex, Access("voicemail", "vm-g", "delete"), at + 7200)
    db = sqlite3.connect(settings.provisioning_db, isolation_level=None)
    db.execute("update access_log set last_at = 1e20 where object_id = 'rec-1'")
    db.execute("update access_log set client = cast(x'e9' as text) where object_id = 'vm-1'")
    db.close()

    assert export_access_log(settings, store, datetime(2026, 11, 4, 2, 0, tzinfo=UTC)) == 3
    acme = partition_dir(settings.lake_dir, ACCESS_LOG.name, "acme.example", DAY.date())
    rows = {r["object_id"]: r for r in pq.read_table(acme / DAY_FILE).to_pylist()}
    assert rows["rec-1"]["last_at"] == rows["rec-1"]["at"]  # no clock made 1e20
    assert rows["vm-1"]["client"] == "\ufffd"
    globex_day = partition_dir(settings.lake_dir, ACCESS_LOG.name, "globex.example", DAY.date())
    assert [r["object_id"] for r in pq.read_table(globex_day / DAY_FILE).to_pylist()] == ["vm-g"]
