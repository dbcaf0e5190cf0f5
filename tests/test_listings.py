"""A reader's reused lake listing (pipeline.listings, the portal's portal_listing_seconds):
as fresh as the setting says, exact for the files it names, never naming a deleted file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import listings
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_deletion import DoomedRecording, delete_recordings
from pipeline.lake_layout import RECORDINGS, partition_dir, read_partition
from pipeline.listings import ListingError, set_listing_reuse
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.recorded_calls import add_recording

TENANT = "acme.example"
AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
FIRST, SECOND = "rec-" + "0" * 23 + "1", "rec-" + "0" * 23 + "2"


@pytest.fixture
def reuse() -> Iterator[None]:
    yield
    set_listing_reuse(0, grace=600)


def recordings(settings: Settings) -> list[str]:
    conn = connect(settings, TENANT)
    try:
        rows = conn.execute("select recording_id from recordings order by 1").fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def test_a_listing_is_reused_for_the_seconds_set_then_taken_again(
    settings: Settings, reuse: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the listings' clock, moved by hand: writing a recording took over the reuse on a
    # busy box, so a wall-clock window made the test's "a moment ago" a lie
    now = [1000.0]
    clock = SimpleNamespace(monotonic=lambda: now[0], time_ns=time.time_ns)
    monkeypatch.setattr(listings, "time", clock)
    set_listing_reuse(0.5, grace=600)
    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    assert recordings(settings) == [FIRST]
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    now[0] += 0.4
    assert recordings(settings) == [FIRST]  # the listing of a moment ago
    now[0] += 0.2
    assert recordings(settings) == [FIRST, SECOND]


def test_without_reuse_every_connection_lists_the_lake(settings: Settings) -> None:
    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    assert recordings(settings) == [FIRST]
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    assert recordings(settings) == [FIRST, SECOND]


def listed_twice(settings: Settings) -> Path:
    """Two recordings of one day, listed by a reader that reuses listings for a minute;
    their partition."""
    set_listing_reuse(60, grace=600)
    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    assert recordings(settings) == [FIRST, SECOND]
    return partition_dir(settings.lake_dir, RECORDINGS.name, TENANT, AT.date())


def test_a_deleted_recording_is_gone_at_once_for_a_reused_listing(
    settings: Settings, reuse: None
) -> None:
    folder = listed_twice(settings)
    delete_recordings(settings, TENANT, [DoomedRecording(SECOND, AT.date(), "")])
    assert f"{SECOND}.parquet" not in {p.name for p in folder.iterdir()}  # unlinked at once
    # the listing that named it is not reused (its file is gone): no error, no row
    assert recordings(settings) == [FIRST]


def test_a_reused_listing_reads_the_same_rows_after_compaction_merged_its_files(
    settings: Settings, reuse: None
) -> None:
    folder = listed_twice(settings)
    before = set(read_partition(folder).live)
    report = compact_lake(
        settings.lake_dir, CompactionPolicy(grace_seconds=600, durable=False), today=date.today()
    )
    assert report.files_in >= 2 and set(read_partition(folder).live) != before
    assert recordings(settings) == [FIRST, SECOND]  # the old files, kept for the grace
    set_listing_reuse(0, grace=600)
    assert recordings(settings) == [FIRST, SECOND]  # the merged file: no call twice


@pytest.mark.parametrize("seconds", [-1.0, 301.0, float("nan")])
def test_a_reuse_compaction_s_grace_does_not_cover_is_refused(seconds: float) -> None:
    with pytest.raises(ListingError, match="half of compaction_grace"):
        set_listing_reuse(seconds, grace=600)
