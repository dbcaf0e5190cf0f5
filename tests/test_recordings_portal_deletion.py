"""Deleting recordings: by hand (the file and the facts go) and by the tenant's retention (counted).

Over a real lake (:mod:`tests.fixtures.recorded_calls`), read back through
the same API the portal uses, in a compacted partition as well as in the
per-recording files ingest writes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.files import write_parquet_atomic
from pipeline.lake_deletion import DoomedRecording, apply_retention, delete_recordings
from pipeline.lake_layout import RECORDINGS, generation_file, partition_dir, read_partition
from pipeline.recording_query import get_recording, list_recordings, search_everything
from pipeline.recordings_schema import RECORDINGS_SCHEMA
from pipeline.viewer import open_for_viewer
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from switchboard.store.access_log import AccessQuery
from tests.fixtures.core import Directory
from tests.fixtures.portal import PORTAL_CALLS, build_lake
from tests.fixtures.recorded_calls import (
    REC_C01,
    REC_C04,
    REC_G01,
    RECORDED,
    recording_row,
    seed_recordings,
)


@pytest.fixture
def lake(settings: Settings, directory: Directory) -> Settings:
    build_lake(settings, PORTAL_CALLS)
    seed_recordings(settings)
    return settings


def _ids(settings: Settings, tenant: str = "acme.example") -> set[str]:
    with open_for_viewer(settings, tenant) as viewer:
        return {r["recording_id"] for r in list_recordings(viewer.conn)}


def _doomed(settings: Settings, recording_id: str) -> DoomedRecording:
    with open_for_viewer(settings, "acme.example") as viewer:
        found = get_recording(viewer.conn, recording_id)
    assert found is not None
    return DoomedRecording.from_facts(found.facts)


def test_a_deleted_recording_loses_its_wav_row_and_transcript(lake: Settings) -> None:
    doomed = _doomed(lake, REC_C01)
    wav = lake.data_dir / doomed.audio_path
    assert wav.is_file()
    assert delete_recordings(lake, "acme.example", [doomed]) == 1
    assert not wav.exists()
    assert _ids(lake) == {REC_C04}
    with open_for_viewer(lake, "acme.example") as viewer:
        assert search_everything(viewer.conn, "refund") == []  # its transcript went too
    folder = partition_dir(lake.lake_dir, RECORDINGS.name, "acme.example", doomed.day)
    assert not any(p.name.startswith(REC_C01) for p in folder.iterdir())  # no copy left
    assert _ids(lake, "globex.example") == {REC_G01}  # another tenant: untouched
    # Again (a retry after a kill): nothing left to do, nothing else touched.
    assert delete_recordings(lake, "acme.example", [doomed]) == 0
    assert _ids(lake) == {REC_C04}


def test_a_recording_inside_a_compacted_file_is_deleted_and_its_neighbours_kept(
    lake: Settings,
) -> None:
    # A second recording on c01's day, then compaction merges the two into one file.
    other = "rec-" + "0" * 23 + "7"
    rec_id, tenant, _call, _caller, _callee, at = RECORDED[0]
    folder = partition_dir(lake.lake_dir, RECORDINGS.name, tenant, at.date())
    row = recording_row(other, "c02", "102", "101", at.replace(hour=14))
    write_parquet_atomic(
        folder / f"{other}.parquet", pa.Table.from_pylist([row], schema=RECORDINGS_SCHEMA)
    )
    compact_lake(lake.lake_dir, CompactionPolicy(durable=False), now=0.0)
    assert list(read_partition(folder).live) == [generation_file(1)]
    assert _ids(lake) == {REC_C01, REC_C04, other}

    assert delete_recordings(lake, tenant, [_doomed(lake, rec_id)]) == 1
    assert _ids(lake) == {REC_C04, other}
    assert list(read_partition(folder).live) == [generation_file(2)]


def test_retention_removes_what_is_older_counts_it_and_audits_it(lake: Settings) -> None:
    from switchboard.store import ProvisioningStore

    store = ProvisioningStore(lake.provisioning_db)
    try:
        with pytest.raises(ProvisioningError):
            store.set_recording_retention("acme.example", 0)
        assert apply_retention(lake, store) == {}  # no tenant limits its recordings
        store.set_recording_retention("acme.example", 1)
        assert store.recording_retentions() == {"acme.example": 1}
        # On 2025-03-11 at noon UTC, c01 (10 March) is more than a day old, c04 is not.
        now = datetime(2025, 3, 11, 14, 0, tzinfo=UTC)
        assert apply_retention(lake, store, now) == {"acme.example": 1}
        assert _ids(lake) == {REC_C04}
        assert _ids(lake, "globex.example") == {REC_G01}  # globex keeps its recordings
        trail = store.access_log("acme.example", AccessQuery(action="delete"))
        assert [(r.actor, r.object_id, r.object_label) for r in trail] == [
            ("system:retention", REC_C01, "call 101 to 102")
        ]
        assert apply_retention(lake, store, now) == {}  # nothing more to do
        store.set_recording_retention("acme.example", None)
        assert store.recording_retention("acme.example") is None
    finally:
        store.close()


def test_a_deletion_killed_half_way_is_finished_by_running_it_again(
    lake: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.lake_deletion as deletion

    doomed = _doomed(lake, REC_C01)
    real = deletion.drop_rows
    calls: list[str] = []

    def killed_after_the_transcripts(*args: object, **kwargs: object) -> int:
        table = args[1]
        calls.append(table.name)  # type: ignore[attr-defined]
        if table is RECORDINGS:
            raise KeyboardInterrupt("killed")  # as a kill -9 would: nothing after this runs
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deletion, "drop_rows", killed_after_the_transcripts)
    with pytest.raises(KeyboardInterrupt):
        delete_recordings(lake, "acme.example", [doomed])
    assert calls == ["recording_transcripts", "recordings"]
    assert REC_C01 in _ids(lake)  # still listed: a manager (or retention) finds it again
    monkeypatch.setattr(deletion, "drop_rows", real)
    assert delete_recordings(lake, "acme.example", [_doomed(lake, REC_C01)]) == 1
    assert _ids(lake) == {REC_C04}
    with open_for_viewer(lake, "acme.example") as viewer:
        assert search_everything(viewer.conn, "refund") == []
