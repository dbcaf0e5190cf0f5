"""Removing recordings: one a manager deletes, or every one older than a tenant's retention.

The lake is immutable, so a deletion is a compaction that leaves rows out
(:func:`pipeline.compaction.compact_partition` with ``keep``): the partitions of
``recordings`` and ``recording_transcripts`` holding the recording are rewritten as a
new generation without it, under the compaction lock and the recordings writer's lock,
exactly once and atomic for readers (a reader sees the old generation or the new one).
The superseded files are deleted by the next compaction sweep, after
``compaction_grace`` (readers that listed them may still be reading); the WAV is
deleted right after the commit, and a waiting transcription marker with it.

Who may delete, and the audit trail, are the caller's (the portal logs every deletion).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.compaction import LOCK, CompactionPolicy, compact_partition
from pipeline.files import exclusive_lock
from pipeline.lake_layout import (
    RECORDING_TRANSCRIPTS,
    RECORDINGS,
    parse_partition_name,
    partitions,
    read_partition,
    tenant_folder,
    writer_lock_path,
)
from pipeline.recordings_schema import AUDIO_DIR
from switchboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deleted:
    recording_id: str
    audio_path: str


def _live_rows(folder: Path, columns: list[str]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for name in read_partition(folder).live:
        found.extend(pq.read_table(folder / name, columns=columns).to_pylist())
    return found


def _without(ids: set[str]) -> Callable[[pa.Table], pa.Table]:
    def keep(table: pa.Table) -> pa.Table:
        mask = pc.is_in(table["recording_id"], value_set=pa.array(sorted(ids), pa.string()))
        return table.filter(pc.invert(mask))

    return keep


def delete_recordings(
    settings: Settings,
    tenant: str,
    recording_ids: Iterable[str] = (),
    *,
    before: date | None = None,
) -> list[Deleted]:
    """Remove the given recordings of ``tenant`` and/or all that started before ``before``
    (UTC date: retention); what was removed. Unknown ids are ignored."""
    wanted = set(recording_ids)
    lake = settings.lake_dir
    policy = CompactionPolicy.from_settings(settings)
    removed: list[Deleted] = []
    writer = writer_lock_path(lake, RECORDINGS)
    assert writer is not None
    with exclusive_lock(lake / LOCK), exclusive_lock(writer):
        base = tenant_folder(lake, RECORDINGS.name, tenant)
        for name in partitions(base):
            day = parse_partition_name(name)
            folder = base / name
            rows = _live_rows(folder, ["recording_id", "audio_path"])
            old = before is not None and day is not None and day < before
            doomed = {str(r["recording_id"]) for r in rows if old or r["recording_id"] in wanted}
            if not doomed:
                continue
            compact_partition(lake, RECORDINGS, folder, policy, keep=_without(doomed))
            transcripts = tenant_folder(lake, RECORDING_TRANSCRIPTS.name, tenant) / name
            if read_partition(transcripts).live:
                compact_partition(
                    lake, RECORDING_TRANSCRIPTS, transcripts, policy, keep=_without(doomed)
                )
            removed += [
                Deleted(str(r["recording_id"]), str(r["audio_path"]))
                for r in rows
                if r["recording_id"] in doomed
            ]
    root = (settings.data_dir / AUDIO_DIR).resolve()
    for item in removed:
        wav = (settings.data_dir / item.audio_path).resolve()
        if wav.is_relative_to(root):
            wav.unlink(missing_ok=True)
        marker = settings.recording_spool_dir / "transcribe" / f"{item.recording_id}.json"
        marker.unlink(missing_ok=True)
    if removed:
        log.info("removed %d recordings of %s", len(removed), tenant)
    return removed
