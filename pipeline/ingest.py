"""Ingest: accounting spool → call rows → lake, exactly once.

``ingest_once`` reads every accounting row after the lake's watermark in
batches of ``settings.ingest_batch``, interprets each batch with the pure
``pipeline.calls.build_calls`` and commits it with ``pipeline.lake.Lake``.
The watermark lives only in the lake's file names, so there is no counter to
get out of step with the data (see ``pipeline.lake`` for the protocol).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from pipeline.acc import AccRow, open_acc, read_acc_rows, spool_has_table
from pipeline.calls import (
    Call,
    CallBatch,
    Directory,
    build_calls,
    calls_to_table,
    legs_to_table,
    partition_key,
)
from pipeline.lake import Lake, StepHook
from pipeline.replay_log import finish_interrupted_replay
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    calls: int
    quarantined: int
    watermark: int
    # calls whose recording the policy asked for but rtpengine could not make (alerted)
    missing_recordings: int = 0


def load_directory(settings: Settings) -> Directory:
    """Tenants and user names from the provisioning store, read once per pass."""
    store = ProvisioningStore(settings.provisioning_db)
    try:
        return Directory.from_users(store.users(), [t.domain for t in store.tenants()])
    finally:
        store.close()


def _partitions(
    calls: list[Call], to_table: Callable[[list[Call]], pa.Table] = calls_to_table
) -> dict[tuple[str, date], pa.Table]:
    groups: dict[tuple[str, date], list[Call]] = defaultdict(list)
    for call in calls:
        groups[partition_key(call)].append(call)
    return {key: to_table(rows) for key, rows in groups.items()}


def ingest_rows(
    lake: Lake,
    rows: list[AccRow],
    directory: Directory,
    *,
    after: int,
    on_step: StepHook | None = None,
) -> CallBatch:
    """Interpret one batch of rows (ids all > ``after``) and commit it."""
    batch = build_calls(rows, directory)
    for q in batch.quarantined:
        log.warning("accounting row %d quarantined: %s", q.acc_id, q.reason)
    for call in missing_recordings(batch):
        # the alert: the policy said "always" and the call went on unrecorded (rtpengine down)
        origin = call.get("origin_call_id")  # a bridged leg: named with the call it belongs to
        what = f"leg {call['call_id']} of call {origin}" if origin else f"call {call['call_id']}"
        log.warning(
            "recording missing: %s of %s (%s -> %s) was not recorded (rtpengine failed)",
            what,
            call["tenant"],
            call["caller"],
            call["callee"],
        )
    lake.write_batch(
        after=after,
        first=rows[0]["id"],
        last=rows[-1]["id"],
        partitions=_partitions(batch.calls),
        quarantine=batch.quarantine_table() if batch.quarantined else None,
        legs=_partitions(batch.legs, legs_to_table),
        on_step=on_step,
    )
    return batch


def missing_recordings(batch: CallBatch) -> list[Call]:
    """The batch's calls and bridged legs whose recording was asked for and could not be
    made (a leg's is asked by its target's policy: pipeline.recording_alerts)."""
    return [c for c in (*batch.calls, *batch.legs) if c["recording_outcome"] == "missing"]


def ingest_once(settings: Settings, *, on_step: StepHook | None = None) -> IngestResult:
    """Ingest every pending accounting row; safe to call again after any crash.

    ``on_step`` is called with the name of each step reached ("read",
    "pending", "file", "strays", "manifest", "done"); tests use it to crash the
    process at a chosen point.
    """
    step = on_step or (lambda _name: None)
    lake = Lake(settings.lake_dir)
    calls = quarantined = missing = 0
    with lake.writer_lock():
        finish_interrupted_replay(lake)  # its pending.json is not an ingest batch's
        lake.remove_temp_files()
        db = open_acc(settings.acc_db)
        if db is None or not spool_has_table(db):
            if db is not None:
                db.close()
            return IngestResult(0, 0, lake.watermark())
        try:
            # Read the provisioning store only when there is something to ingest:
            # the worker ticks every second, and most ticks find no new rows.
            directory = functools.cache(lambda: load_directory(settings))
            pending = lake.pending()
            if pending is not None and not lake.finish_pending(pending):
                # An interrupted batch: read exactly its range again.
                rows = read_acc_rows(
                    db, pending.after, pending.last - pending.after, up_to_id=pending.last
                )
                log.info("redoing interrupted batch %d..%d", pending.first, pending.last)
                step("read")
                if rows:
                    batch = ingest_rows(lake, rows, directory(), after=pending.after, on_step=step)
                    calls += len(batch.calls)
                    quarantined += len(batch.quarantined)
                    missing += len(missing_recordings(batch))
                else:
                    log.error(
                        "rows %d..%d vanished from the spool; dropping their partial files",
                        pending.first,
                        pending.last,
                    )
                    lake.abandon_pending(pending)
            watermark = lake.watermark()
            while rows := read_acc_rows(db, watermark, settings.ingest_batch):
                step("read")
                batch = ingest_rows(lake, rows, directory(), after=watermark, on_step=step)
                calls += len(batch.calls)
                quarantined += len(batch.quarantined)
                missing += len(missing_recordings(batch))
                watermark = rows[-1]["id"]
                log.info(
                    "ingested accounting rows %d..%d: %d calls, %d quarantined",
                    rows[0]["id"],
                    watermark,
                    len(batch.calls),
                    len(batch.quarantined),
                )
        finally:
            db.close()
        return IngestResult(calls, quarantined, lake.watermark(), missing)
