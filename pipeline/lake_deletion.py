"""Deleting facts from the lake: a recording by hand, and recordings past their tenant's retention.

The lake is append-only files, so a row goes the way compaction moves rows
(:mod:`pipeline.compaction`, same locks, same commit point): the partition's
live files are rewritten as the next generation ``c-<g>.parquet`` *without*
the doomed rows, and its record ``c-<g>.json`` (the commit) absorbs every file
it replaces. From that rename on, every reader resolves the partition to the
new generation: the rows are gone for all of them at once. A file that held
nothing but deleted rows (``rec-<id>.parquet``, ``rec-<id>.<model>.parquet``)
is unlinked at once; a merged file that also holds other rows stays for
compaction's grace (readers that listed it before may still be reading it),
then compaction's sweep deletes it.

:func:`delete_recordings` removes, per recording: its WAV, its waiting
transcription marker, its ``recordings`` row and its ``recording_transcripts``
rows (partitioned by the same day). :func:`expire_recordings` finds the
tenant's recordings older than its retention and deletes them. Who asked is
the caller's business (the portal and the worker write the audit trail).

kill -9 anywhere: before a record's rename the partition is unchanged (an
orphan ``c-<g>.parquet`` is swept by compaction, or overwritten by the next
run's same generation); after it, the rows are gone. The WAV goes first and the
``recordings`` row last, so a kill leaves the recording listed (its row is how it is
found again) and running the deletion again finishes the job: never an orphan
transcript that nothing points to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.compaction import LOCK as COMPACTION_LOCK
from pipeline.compaction import commit_generation, plan_partition, read_inputs
from pipeline.fetch import fetch_rows
from pipeline.files import exclusive_lock
from pipeline.lake_layout import (
    RECORDING_TRANSCRIPTS,
    RECORDINGS,
    LakeTable,
    partition_dir,
    writer_lock_path,
)
from pipeline.listings import mark_changed
from pipeline.queries import sql_file
from pipeline.recordings_schema import AUDIO_DIR, transcription_marker
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoomedRecording:
    """What deleting one recording needs to know: its id, its partition day, its WAV."""

    recording_id: str
    day: date  # the UTC date of started_at: its partition in both tables
    audio_path: str  # relative to data_dir

    @classmethod
    def from_facts(cls, facts: dict[str, object]) -> DoomedRecording:
        """From a row of :func:`pipeline.recording_query.list_recordings` / ``get_recording``."""
        started = facts["started_at"]
        if not isinstance(started, datetime):
            raise ValueError(f"a recording's start is not a time: {started!r}")
        aware = started if started.tzinfo else started.replace(tzinfo=UTC)
        return cls(
            str(facts["recording_id"]), aware.astimezone(UTC).date(), str(facts["audio_path"])
        )


def drop_rows(
    lake_dir: Path,
    table: LakeTable,
    folder: Path,
    column: str,
    values: Iterable[str],
    *,
    row_group_rows: int = 16_384,
    durable: bool = True,
) -> int:
    """Rewrite one partition without the rows whose ``column`` is in ``values``; rows dropped.

    The caller holds the compaction lock and the table writer's lock.
    """
    doomed = sorted(set(values))
    state, inputs = plan_partition(lake_dir, table, folder)
    if not doomed or not inputs:
        return 0
    data = read_inputs(table, folder, inputs)
    hit = pc.is_in(data[column], value_set=pa.array(doomed, pa.string()))
    dropped = int(pc.sum(hit).as_py() or 0)
    if dropped == 0:
        return 0
    commit_generation(
        table, folder, state, inputs, data.filter(pc.invert(hit)),
        row_group_rows=row_group_rows, durable=durable,
    )  # fmt: skip
    # A file of one deleted recording holds nothing else: it goes now, not after the grace,
    # so no reader may go on with a listing that names it (pipeline.listings).
    gone = [name for name in inputs if any(name.startswith(f"{rid}.") for rid in doomed)]
    if gone:
        mark_changed(lake_dir, folder.parent.name.removeprefix("tenant="))
    for name in gone:
        (folder / name).unlink(missing_ok=True)
    return dropped


def delete_recordings(
    settings: Settings, tenant: str, recordings: Iterable[DoomedRecording]
) -> int:
    """Remove each recording's WAV, marker and lake rows; how many recording rows went."""
    doomed = list(recordings)
    if not doomed:
        return 0
    root = (settings.data_dir / AUDIO_DIR).resolve()
    for rec in doomed:
        wav = (settings.data_dir / rec.audio_path).resolve()
        if wav.is_relative_to(root):  # never a file outside the recordings folder
            wav.unlink(missing_ok=True)
        transcription_marker(settings.recording_spool_dir, rec.recording_id).unlink(missing_ok=True)
    by_day: dict[date, set[str]] = {}
    for rec in doomed:
        by_day.setdefault(rec.day, set()).add(rec.recording_id)
    lake = settings.lake_dir
    rows = 0
    with ExitStack() as locks:
        locks.enter_context(exclusive_lock(lake / COMPACTION_LOCK))
        for table in (RECORDINGS, RECORDING_TRANSCRIPTS):
            writer = writer_lock_path(lake, table)
            if writer is not None:
                locks.enter_context(exclusive_lock(writer))
        for day, ids in sorted(by_day.items()):
            # Transcripts first: the recording's row is what a retry finds it by.
            for table in (RECORDING_TRANSCRIPTS, RECORDINGS):
                dropped = drop_rows(
                    lake,
                    table,
                    partition_dir(lake, table.name, tenant, day),
                    "recording_id",
                    ids,
                    row_group_rows=settings.compaction_row_group_rows,
                )
                rows += dropped if table is RECORDINGS else 0
    return rows


def expired_recordings(
    settings: Settings, tenant: str, keep_days: int, now: datetime | None = None
) -> list[tuple[DoomedRecording, str]]:
    """The tenant's recordings that started more than ``keep_days`` ago, with a label each."""
    from pipeline.warehouse import connect

    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    sql = sql_file("expired_recordings")
    conn = connect(settings, tenant)
    try:
        rows = fetch_rows(conn, sql, {"cutoff": cutoff})
    finally:
        conn.close()
    return [
        (DoomedRecording.from_facts(r), f"call {r['caller'] or '?'} to {r['callee'] or '?'}")
        for r in rows
    ]


def apply_retention(
    settings: Settings, store: ProvisioningStore, now: datetime | None = None
) -> dict[str, int]:
    """Delete every tenant's recordings past its retention, each in the audit trail; counts."""
    from switchboard.store.access_log import Access, Actor

    removed: dict[str, int] = {}
    for tenant, keep_days in store.recording_retentions().items():
        expired = expired_recordings(settings, tenant, keep_days, now)
        if not expired:
            continue
        removed[tenant] = delete_recordings(settings, tenant, [rec for rec, _ in expired])
        actor = Actor.system(tenant, "retention")
        for rec, label in expired:
            store.log_access(actor, Access("recording", rec.recording_id, "delete", label))
        log.info(
            "retention: %d recordings of %s older than %d days removed",
            removed[tenant],
            tenant,
            keep_days,
        )
    return removed
