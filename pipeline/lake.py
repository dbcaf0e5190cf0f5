"""The Parquet lake on disk, and the exactly-once protocol for call batches.

The files of a batch (names and folders are :mod:`pipeline.lake_layout`'s)::

    calls/tenant=<domain>/date=<YYYY-MM-DD>/acc-<first>-<last>.parquet
    legs/tenant=<domain>/date=<YYYY-MM-DD>/acc-<first>-<last>.parquet   (bridged legs)
    quarantine/acc-<first>-<last>.parquet
    _batches/acc-<first>-<last>.json     one manifest per committed batch
    _batches/pending.json                the batch being written, if any

``first``/``last`` are the accounting ids of the whole batch (12 digits), so a
batch has the same file name in every partition it touches.

Protocol for one batch (each file is written to ``*.tmp`` and renamed, so a
reader listing ``*.parquet`` sees a whole file or nothing):

1. write ``pending.json``: the watermark before the batch, its id range and
   every file it will write (plus the files of an earlier attempt);
2. write the data files;
3. delete files of an earlier attempt that this attempt did not write;
4. write the manifest ``acc-<first>-<last>.json`` — the commit point;
5. delete ``pending.json``.

The watermark is the largest ``last`` among manifest names (compaction rolls
old manifests up into one that covers their ids, ``roll_up_manifests``). After a crash
before step 4, ``pending.json`` says which id range to read again; the batch
is rebuilt from the same rows, so it gets the same file names and the rename
overwrites what the crashed attempt left. Files written by the crashed
attempt but not by the new one (a tenant provisioned in between moves rows
from quarantine to calls) are removed in step 3. Readers skip the files
``pending.json`` names (:mod:`pipeline.lake_layout`), so they see a batch
once it commits; compaction (:mod:`pipeline.compaction`) later merges the
small files of a partition without touching the manifests, so the watermark
is the same before and after it.

One writer at a time: ``writer_lock`` takes an exclusive ``flock``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.files import (
    TEMP_SUFFIX,
    exclusive_lock,
    write_json_atomic,
    write_parquet_atomic,
)
from pipeline.lake_layout import CALLS, LEGS, PENDING, QUARANTINE_DIR, TABLES, partitions
from pipeline.lake_layout import batch_name as batch_name
from pipeline.lake_layout import parse_batch_name as parse_batch_name
from pipeline.lake_layout import partition_dir as layout_partition_dir
from pipeline.lake_layout import writer_lock_path as layout_writer_lock_path
from pipeline.schema import CALLS_SCHEMA, LEGS_SCHEMA

StepHook = Callable[[str], None]
# More manifests than this and compaction rolls them up (roll_up_manifests).
ROLL_UP_ABOVE = 256


@dataclass(frozen=True)
class PendingBatch:
    after: int  # the watermark when the batch was read
    first: int
    last: int
    files: tuple[str, ...]  # paths relative to the lake root


class Lake:
    """One lake root; cheap to create, holds no open files."""

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        # durable: fsync files and directories so a power cut cannot leave a
        # manifest pointing at data that never reached the disk.
        self.durable = durable

    @property
    def calls_dir(self) -> Path:
        return self.root / CALLS.name

    @property
    def quarantine_dir(self) -> Path:
        return self.root / QUARANTINE_DIR

    @property
    def batches_dir(self) -> Path:
        assert CALLS.batches_dir is not None
        return self.root / CALLS.batches_dir

    def partition_dir(self, tenant: str, day: date) -> Path:
        return layout_partition_dir(self.root, CALLS.name, tenant, day)

    # -- reading the state -------------------------------------------------------
    def committed_batches(self) -> list[tuple[int, int]]:
        """(first, last) of every committed batch, from the manifest names."""
        if not self.batches_dir.is_dir():
            return []
        found = []
        for entry in os.scandir(self.batches_dir):
            parsed = parse_batch_name(entry.name)
            if parsed is not None and entry.name.endswith(".json"):
                found.append(parsed)
        return sorted(found)

    def watermark(self) -> int:
        """The last accounting id of the lake: every id up to it is committed."""
        return max((last for _, last in self.committed_batches()), default=0)

    def pending(self) -> PendingBatch | None:
        path = self.batches_dir / PENDING
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return PendingBatch(data["after"], data["first"], data["last"], tuple(data["files"]))

    # -- writing -----------------------------------------------------------------
    def _write_json(self, path: Path, data: dict[str, Any]) -> None:
        write_json_atomic(path, data, durable=self.durable)

    def _write_parquet(self, path: Path, table: pa.Table) -> None:
        write_parquet_atomic(path, table, durable=self.durable)

    def write_batch(
        self,
        *,
        after: int,
        first: int,
        last: int,
        partitions: dict[tuple[str, date], pa.Table],
        quarantine: pa.Table | None,
        legs: dict[tuple[str, date], pa.Table] | None = None,
        on_step: StepHook | None = None,
    ) -> list[str]:
        """Write and commit one batch (see the module docstring); the files written.

        ``legs``: the batch's bridged legs (:mod:`pipeline.calls`), committed with it.
        """
        step = on_step or (lambda _name: None)
        stem = batch_name(first, last)
        planned: dict[str, pa.Table] = {}
        for (tenant, day), table in sorted(partitions.items()):
            path = self.partition_dir(tenant, day) / f"{stem}.parquet"
            planned[str(path.relative_to(self.root))] = table.select(CALLS_SCHEMA.names).cast(
                CALLS_SCHEMA
            )
        for (tenant, day), table in sorted((legs or {}).items()):
            path = layout_partition_dir(self.root, LEGS.name, tenant, day) / f"{stem}.parquet"
            planned[str(path.relative_to(self.root))] = table.select(LEGS_SCHEMA.names).cast(
                LEGS_SCHEMA
            )
        if quarantine is not None and quarantine.num_rows:
            planned[f"quarantine/{stem}.parquet"] = quarantine
        earlier = self.pending()
        earlier_files = set(earlier.files) if earlier else set()
        self._write_json(
            self.batches_dir / PENDING,
            {
                "after": after,
                "first": first,
                "last": last,
                "files": sorted(set(planned) | earlier_files),
            },
        )
        step("pending")
        for rel, table in planned.items():
            self._write_parquet(self.root / rel, table)
            step("file")
        for rel in sorted(earlier_files - set(planned)):
            (self.root / rel).unlink(missing_ok=True)
        step("strays")
        self._write_json(
            self.batches_dir / f"{stem}.json",
            {
                "first": first,
                "last": last,
                "after": after,
                "calls": sum(t.num_rows for k, t in planned.items() if k.startswith("calls/")),
                "quarantined": 0 if quarantine is None else quarantine.num_rows,
                "files": sorted(planned),
            },
        )
        step("manifest")
        (self.batches_dir / PENDING).unlink(missing_ok=True)
        step("done")
        return sorted(planned)

    def abandon_pending(self, pending: PendingBatch) -> None:
        """Remove an interrupted batch whose rows can no longer be read again."""
        for rel in pending.files:
            (self.root / rel).unlink(missing_ok=True)
        (self.batches_dir / PENDING).unlink(missing_ok=True)

    def finish_pending(self, pending: PendingBatch) -> bool:
        """Drop ``pending.json`` when its manifest exists (crash after the commit)."""
        # Its own manifest, never a roll-up: roll_up_manifests waits for pending to go.
        if (self.batches_dir / f"{batch_name(pending.first, pending.last)}.json").is_file():
            (self.batches_dir / PENDING).unlink(missing_ok=True)
            return True
        return False

    # -- housekeeping ------------------------------------------------------------
    def roll_up_manifests(
        self, *, above: int = ROLL_UP_ABOVE, on_step: StepHook | None = None
    ) -> int:
        """Merge all manifests but the newest into one; how many were merged.

        Ingest commits a manifest per batch (~1,500 a day for a 50-seat office) and
        reads the watermark from their names at every tick, so they are rolled up
        like the data files. The roll-up is named by the ids it covers,
        ``acc-<first>-<last>.json``, so the watermark is unchanged. It is written
        before its members are deleted; after a kill in between, members whose id
        range lies inside another manifest's were already rolled up and are only
        deleted. Caller holds the writer lock; nothing happens while a batch is
        pending (its redo looks for its own manifest).
        """
        step = on_step or (lambda _name: None)
        batches = self.committed_batches()
        if len(batches) <= above or self.pending() is not None:
            return 0
        members = batches[:-1]
        # A member inside another's range was rolled up already: by first, widest first,
        # it is the one whose last does not pass the largest last seen before it.
        live: list[tuple[int, int]] = []
        reach = -1
        for b in sorted(members, key=lambda m: (m[0], -m[1])):
            if b[1] > reach:
                live.append(b)
            reach = max(reach, b[1])
        totals = {"calls": 0, "quarantined": 0, "batches": 0}
        for first, last in live:
            data = json.loads((self.batches_dir / f"{batch_name(first, last)}.json").read_text())
            totals["calls"] += data["calls"]
            totals["quarantined"] += data["quarantined"]
            totals["batches"] += data.get("batches", 1)
        first, last = members[0][0], max(b[1] for b in members)
        self._write_json(
            self.batches_dir / f"{batch_name(first, last)}.json",
            {"first": first, "last": last, "after": first - 1, **totals, "files": []},
        )
        step("rollup")
        for member in members:
            if member != (first, last):
                (self.batches_dir / f"{batch_name(*member)}.json").unlink(missing_ok=True)
        step("rollup-done")
        return len(members)

    def remove_temp_files(self, *, everywhere: bool = False) -> int:
        """Delete ``*.tmp`` left by a crash; returns how many.

        Temp files only ever sit next to the files of a batch: in ``_batches``,
        ``quarantine`` and the partitions named by ``pending.json``. The
        ``everywhere`` sweep walks the whole lake (once, at worker start).
        """
        dirs: set[Path] = {self.batches_dir, self.quarantine_dir}
        if everywhere:  # every table's partitions: compaction writes in all of them
            for table in TABLES:
                for tenant_dir in (self.root / table).glob("tenant=*"):
                    dirs |= {tenant_dir / p for p in partitions(tenant_dir)}
        else:
            pending = self.pending()
            if pending:
                dirs |= {(self.root / rel).parent for rel in pending.files}
        removed = 0
        for d in dirs:
            if d.is_dir():
                for tmp in d.glob(f"*{TEMP_SUFFIX}"):
                    tmp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def writer_lock(self) -> AbstractContextManager[None]:
        """Exclusive across processes; released by the kernel if the holder dies."""
        lock = layout_writer_lock_path(self.root, CALLS)
        assert lock is not None
        return exclusive_lock(lock)
