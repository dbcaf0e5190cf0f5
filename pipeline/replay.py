"""Replaying quarantined accounting rows once their cause is fixed, exactly once.

Ingest quarantines an accounting row it cannot turn into a call (a tenant not
provisioned yet, a corrupt time …) in ``quarantine/acc-<first>-<last>.parquet``
with the reason and the whole spool row (``row_json``). That copy is what a
replay reads — the spool row itself may be gone (:mod:`pipeline.acc_cleanup`).
``switchboard ingest replay`` runs :func:`replay_quarantine`: every row not
replayed before goes through the same interpreter as ingest
(:func:`pipeline.calls.build_calls`) with today's provisioning; rows that now
make calls (or bridged legs) are committed, the rest stay quarantined with
their current reason. Quarantine files are never rewritten: what was replayed,
and how a replay commits exactly once, is :mod:`pipeline.replay_log`'s.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.calls import Call, Directory, build_calls, calls_to_table, partition_key
from pipeline.ingest import ingest_once, load_directory
from pipeline.lake import Lake
from pipeline.lake_layout import CALLS, LEGS, PENDING, TABLES, partition_dir
from pipeline.replay_log import (
    StepHook,
    commit_replay,
    finish_interrupted_replay,
    replay_name,
    replayed_ids,
)
from switchboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    replayed: int = 0  # rows that became calls (or bridged legs of calls) now
    batches: int = 0
    # Rows still quarantined, by their reason today.
    still_quarantined: Counter[str] = field(default_factory=Counter)


def quarantined_rows(lake: Lake) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(acc id, reason, spool row) of every row in quarantine not replayed yet, by id."""
    done = replayed_ids(lake)
    seen: dict[int, tuple[str, dict[str, Any]]] = {}
    for path in sorted(lake.quarantine_dir.glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            if row["acc_id"] not in done:
                seen[row["acc_id"]] = (row["reason"], json.loads(row["row_json"]))
    for acc_id in sorted(seen):
        yield acc_id, *seen[acc_id]


def _plan(lake: Lake, calls: list[Call], stem: str) -> dict[str, pa.Table]:
    """Lake-relative path → rows: calls to ``calls/``, bridged legs to ``legs/`` (as ingest)."""
    groups: dict[tuple[str, str, date], list[Call]] = defaultdict(list)
    for call in calls:
        table = CALLS if call.get("origin_call_id") is None else LEGS
        groups[(table.name, *partition_key(call))].append(call)
    planned = {}
    for (name, tenant, day), rows in sorted(groups.items()):
        schema = TABLES[name].schema
        path = partition_dir(lake.root, name, tenant, day) / f"{stem}.parquet"
        data = calls_to_table(rows, schema).select(schema.names).cast(schema)
        planned[str(path.relative_to(lake.root))] = data
    return planned


def replay_rows(
    lake: Lake,
    directory: Directory,
    *,
    batch_rows: int = 5000,
    on_step: StepHook | None = None,
) -> ReplayResult:
    """Replay what is quarantined against ``directory`` (caller holds the writer lock)."""
    finish_interrupted_replay(lake)
    if (lake.batches_dir / PENDING).is_file():
        raise RuntimeError("an ingest batch is half written; run ingest first")
    rows = [dict(row, id=acc_id) for acc_id, _reason, row in quarantined_rows(lake)]
    result = ReplayResult()
    batch = build_calls(rows, directory)
    result.still_quarantined.update(q.reason for q in batch.quarantined)
    landed = sorted([*batch.calls, *batch.legs], key=lambda c: int(c["acc_id"]))
    for start in range(0, len(landed), batch_rows):
        chunk = landed[start : start + batch_rows]
        ids = [int(c["acc_id"]) for c in chunk]
        planned = _plan(lake, chunk, replay_name(ids[0], ids[-1]))
        manifest = commit_replay(lake, ids, planned, on_step=on_step)
        result.replayed += len(chunk)
        result.batches += 1
        log.info("replayed %d quarantined rows as calls (%s)", len(chunk), manifest)
    return result


def replay_quarantine(settings: Settings, *, on_step: StepHook | None = None) -> ReplayResult:
    """Ingest what is pending, then replay the quarantine with today's provisioning."""
    # An ingest batch killed half-way is redone first: replay must not take its pending.json.
    ingest_once(settings)
    lake = Lake(settings.lake_dir)
    with lake.writer_lock():
        return replay_rows(
            lake, load_directory(settings), batch_rows=settings.ingest_batch, on_step=on_step
        )
