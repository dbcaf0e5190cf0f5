"""The replay commit log: how a replay of quarantined rows commits, and how a killed one is undone.

:mod:`pipeline.replay` turns quarantined accounting rows into calls; this
module records it in the calls writer's commit log (``_batches/``,
:mod:`pipeline.lake`), beside the ingest manifests and under the same writer
lock, in a protocol of the same shape (files are written to a temp name and
renamed)::

    calls/tenant=<t>/date=<d>/rpl-<first>-<last>.parquet   the replayed calls
    legs/tenant=<t>/date=<d>/rpl-<first>-<last>.parquet    … and bridged legs
    _batches/pending.json      {"replay": true, …, "files": [...]} while writing
    _batches/rpl-<first>-<last>.json   the commit point: the acc ids replayed

1. ``pending``: ``pending.json`` names every file the replay batch will write,
   so readers and compaction skip them (:mod:`pipeline.lake_layout`) until 4;
2. ``file``: the data files;
3. ``manifest``: ``rpl-<first>-<last>.json`` lists the accounting ids replayed
   (``first``/``last`` are the smallest and largest; a replayed id is never
   replayed again, so the name is never reused);
4. ``done``: ``pending.json`` is removed.

A crash before 3 leaves an uncommitted replay: :func:`finish_interrupted_replay`
(called by the replay itself and by every ingest pass, which must not take it
for an interrupted ingest batch) deletes its files; after 3 it only removes
``pending.json``. A row is replayed iff a manifest lists its id, so running
replay twice, or again after a crash, lands every row once. The manifest names
do not match the ingest's ``acc-*`` names, so the watermark and the manifest
roll-up never see them. Compaction merges ``rpl-*`` files like any other.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipeline.files import write_json_atomic, write_parquet_atomic
from pipeline.lake import Lake
from pipeline.lake_layout import PENDING

log = logging.getLogger(__name__)

StepHook = Callable[[str], None]
_MANIFEST_RE = re.compile(r"^rpl-(\d{12})-(\d{12})\.json$")


def replay_name(first: int, last: int) -> str:
    """``rpl-<first>-<last>``: the stem of a replay batch's files and manifest."""
    return f"rpl-{first:012d}-{last:012d}"


def _read_pending(lake: Lake) -> dict[str, Any] | None:
    path = lake.batches_dir / PENDING
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def finish_interrupted_replay(lake: Lake) -> bool:
    """Undo (before its commit) or finish (after) a replay killed half-way; True if one was.

    The caller holds the lake's writer lock.
    """
    pending = _read_pending(lake)
    if pending is None or not pending.get("replay"):
        return False
    committed = lake.batches_dir / f"{replay_name(pending['first'], pending['last'])}.json"
    if not committed.is_file():
        for rel in pending["files"]:
            (lake.root / rel).unlink(missing_ok=True)
        log.info("removed an interrupted replay of rows %d..%d", pending["first"], pending["last"])
    (lake.batches_dir / PENDING).unlink(missing_ok=True)
    return True


def replayed_ids(lake: Lake) -> set[int]:
    """Accounting ids some committed replay turned into calls."""
    ids: set[int] = set()
    if not lake.batches_dir.is_dir():
        return ids
    for path in lake.batches_dir.iterdir():
        if _MANIFEST_RE.match(path.name):
            ids.update(json.loads(path.read_text())["acc_ids"])
    return ids


def commit_replay(
    lake: Lake,
    ids: list[int],
    planned: dict[str, pa.Table],
    *,
    on_step: StepHook | None = None,
) -> str:
    """Steps 1–4 for one replay batch of accounting ``ids`` (sorted) whose rows are the
    lake-relative files ``planned`` (named :func:`replay_name`); caller holds the writer
    lock. Returns the manifest's name."""
    step = on_step or (lambda _name: None)
    stem = replay_name(ids[0], ids[-1])
    write_json_atomic(
        lake.batches_dir / PENDING,
        {
            "replay": True,
            "after": lake.watermark(),  # the shape of an ingest pending (lake.Lake.pending)
            "first": ids[0],
            "last": ids[-1],
            "files": sorted(planned),
        },
        durable=lake.durable,
    )
    step("pending")
    for rel, table in planned.items():
        write_parquet_atomic(lake.root / rel, table, durable=lake.durable)
        step("file")
    manifest = f"{stem}.json"
    write_json_atomic(
        lake.batches_dir / manifest,
        {"first": ids[0], "last": ids[-1], "acc_ids": ids, "files": sorted(planned)},
        durable=lake.durable,
    )
    step("manifest")
    (lake.batches_dir / PENDING).unlink(missing_ok=True)
    step("done")
    return manifest
