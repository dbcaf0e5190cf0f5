"""Compaction: the small files of a lake partition become one, exactly once, for every table.

Ingest commits a file per batch and per partition, so a tenant-day that
receives calls as they trickle in holds hundreds of files, and every query
pays for each (wave 2 measured 13 ms → 1,200 ms for 1 → 500 files a day).
The pipeline worker calls :func:`compact_lake` every ``compaction_interval``:
a partition of a closed day (before today, UTC) is merged as soon as it holds
more than one live file, today's once it holds more than
``compaction_max_files``. Every table of :data:`pipeline.lake_layout.TABLES`
goes through the same code; a table only declares its sort order.

Protocol for one partition (under the compaction lock, and the table writer's
lock so no batch is half written; files go to ``*.tmp`` and are renamed; the
names and the rule readers apply are :mod:`pipeline.lake_layout`'s):

1. ``plan``: the inputs are the partition's live files, minus any named by the
   writer's ``pending.json`` (a batch killed before its commit, which its redo
   rewrites); the new generation ``g`` is one above the current record's.
2. ``file``: write ``c-<g>.parquet``, the inputs' rows sorted by the table's
   time column, in row groups of ``compaction_row_group_rows`` (DuckDB skips a
   row group whose min/max time lies outside a page's range). Readers ignore
   it: it has no record yet.
3. ``commit``: write the record ``c-<g>.json``: the names it absorbed (the
   inputs plus everything the previous record absorbed, so the newest record
   alone decides), its rows, and the id ranges of the call batches it holds.
   From this rename on, readers resolve the partition to ``c-<g>.parquet``
   plus files committed after the plan.
4. ``sweep`` (one hook call per file deleted), once the record is
   ``compaction_grace`` seconds old: delete absorbed files, older generations
   and records; at any time: merged files that never got a record and ``c-*``
   temp files (a killed run's). Until then a reader
   that listed the partition before step 3 still finds every file it listed.

The calls writer's manifests (one per batch, read for the watermark at every
tick) are rolled up the same way after the partitions:
:meth:`pipeline.lake.Lake.roll_up_manifests`, after removing the temp file a killed
roll-up left there (a quiet lake has no ingest batch to remove it).

Then the rollups (:func:`roll_up`; files: :mod:`pipeline.rollup_files`): each
closed UTC day whose next day is closed too gets, computed once, its queue stints
(:func:`pipeline.queue_metrics.day_stints`) into
``queue_stints/tenant=<t>/date=<day>/stints-<fingerprint>.parquet``, its call
paths (``call_paths.sql``, menus as tokens) into ``call_paths/.../paths-<fingerprint>.parquet``,
and its calls' concurrency quarter-hours and KPI cells (:mod:`pipeline.call_rollups`) into
``call_quarters/.../quarters-…`` and ``call_cells/.../cells5s-…``: the fingerprint of
the source files (after this run's merges, the day before to the day after) it was
computed from; written to a temp file and renamed (``stints``, ``paths``, ``quarters``,
``cells5s``), so a reader (:func:`pipeline.rollup_files.rolled_files`) finds the
whole file or none and then computes that day and the ones after. When the sources
change (a late batch, a merge, a deletion) the name no longer matches, the next run
writes the new one, and the old one is swept after the grace like a superseded
file (``sweep``).

kill -9 anywhere: before step 3 the old files are the table and the orphan
``c-<g>.parquet`` is overwritten by the next run (same ``g``) or swept; from
step 3 on the new generation is the table and step 4 only deletes files that
are not. A reader sees either generation, whole, never both. The ingest
watermark comes from the manifests in ``_batches``, which compaction does not
touch; the accounting ids a merged file holds are in its record.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from pipeline.fetch import fetch_table
from pipeline.files import TEMP_SUFFIX, exclusive_lock, write_atomic, write_json_atomic
from pipeline.lake import ROLL_UP_ABOVE, Lake
from pipeline.lake_layout import (
    TABLES,
    LakeTable,
    PartitionState,
    TableSnapshot,
    folder_names,
    generation_file,
    generation_record,
    in_flight,
    parse_batch_name,
    parse_partition_name,
    partition_name,
    partitions,
    read_partition,
    snapshot,
    tenant_folder,
    tenants,
    writer_lock_path,
)
from pipeline.queries import sql_file
from pipeline.rollup_files import (
    CELLS,
    PATHS,
    QUARTERS,
    ROLLUPS,
    STINTS,
    Rollup,
    files_by_day,
    rollup_file_name,
)
from switchboard.settings import Settings, load_settings

log = logging.getLogger(__name__)

StepHook = Callable[[str], None]
LOCK = "_compaction.lock"
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CompactionPolicy:
    """When a partition is merged, how its file is laid out, when old files go."""

    max_files: int = 16  # today's partition is merged above this many live files
    grace_seconds: float = 600.0  # superseded files stay this long for running readers
    row_group_rows: int = 16_384
    durable: bool = True
    manifests_above: int = ROLL_UP_ABOVE  # call batch manifests kept before a roll-up

    @classmethod
    def from_settings(cls, settings: Settings) -> CompactionPolicy:
        return cls(
            max_files=settings.compaction_max_files,
            grace_seconds=settings.compaction_grace,
            row_group_rows=settings.compaction_row_group_rows,
        )


@dataclass
class CompactionReport:
    partitions: int = 0  # partitions merged
    files_in: int = 0  # live files they held
    rows: int = 0
    swept: int = 0  # files deleted
    manifests: int = 0  # call batch manifests rolled up into one
    merged: list[str] = field(default_factory=list)  # lake-relative merged files
    rollups: int = 0  # rollup files written (pipeline.rollup_files.ROLLUPS)


def compact_partition(
    lake_dir: Path,
    table: LakeTable,
    folder: Path,
    policy: CompactionPolicy,
    *,
    on_step: StepHook | None = None,
) -> tuple[int, int]:
    """Steps 1–3 for one partition (caller holds the locks); (files merged, rows)."""
    step = on_step or (lambda _name: None)
    state, inputs = plan_partition(lake_dir, table, folder)
    step("plan")
    if len(inputs) < 2:
        return 0, 0
    rows = commit_generation(
        table, folder, state, inputs, read_inputs(table, folder, inputs),
        row_group_rows=policy.row_group_rows, durable=policy.durable, on_step=step,
    )  # fmt: skip
    return len(inputs), rows


def plan_partition(
    lake_dir: Path, table: LakeTable, folder: Path
) -> tuple[PartitionState, list[str]]:
    """Step 1: the partition's state and its inputs, the live files minus those a killed
    batch named in the writer's ``pending.json`` (caller holds the locks)."""
    state = read_partition(folder)
    prefix = str(folder.relative_to(lake_dir))
    flying = in_flight(lake_dir, table)
    return state, sorted(n for n in state.live if f"{prefix}/{n}" not in flying)


def read_inputs(table: LakeTable, folder: Path, inputs: list[str]) -> pa.Table:
    """The rows of a partition's input files, in the table's schema."""
    return ds.dataset(
        [str(folder / n) for n in inputs], format="parquet", schema=table.schema
    ).to_table()


def commit_generation(
    table: LakeTable,
    folder: Path,
    state: PartitionState,
    inputs: list[str],
    rows: pa.Table,
    *,
    row_group_rows: int,
    durable: bool,
    on_step: StepHook | None = None,
) -> int:
    """Steps 2 and 3: ``rows``, sorted, become the partition's next generation in place of
    ``inputs``; how many rows it holds (deleting rows commits the same way)."""
    step = on_step or (lambda _name: None)
    generation = 1 if state.record is None else state.record.generation + 1
    data = rows.sort_by([(c, "ascending") for c in table.sort_by])

    def write(tmp: Path) -> None:
        pq.write_table(data, tmp, compression="zstd", row_group_size=row_group_rows)

    write_atomic(folder / generation_file(generation), write, durable=durable)
    step("file")
    absorbed = sorted(set(inputs) | (state.record.absorbed if state.record else set()))
    ranges = sorted(r for r in map(parse_batch_name, absorbed) if r is not None)
    write_json_atomic(
        folder / generation_record(generation),
        {
            "generation": generation,
            "rows": data.num_rows,
            "committed_at": time.time(),
            "absorbed": absorbed,
            "acc_id_ranges": [list(r) for r in ranges],
        },
        durable=durable,
    )
    step("commit")
    return data.num_rows


def sweep_partition(
    folder: Path, policy: CompactionPolicy, *, now: float, on_step: StepHook | None = None
) -> int:
    """Step 4: delete what is no longer the table (after the grace); how many files."""
    step = on_step or (lambda _name: None)
    state = read_partition(folder)
    # The caller holds the compaction lock, so merged files without a record and
    # half-written ``c-*`` temp files are orphans of a killed run (only it writes them).
    doomed = [*state.uncommitted, *state.temporary]
    if state.record is not None and now - state.record.committed_at >= policy.grace_seconds:
        doomed += state.superseded
    for name in doomed:
        (folder / name).unlink(missing_ok=True)
        step("sweep")
    return len(doomed)


def _due(day: date | None, live: int, today: date, policy: CompactionPolicy) -> bool:
    if day is None:
        return False
    return live > (1 if day < today else policy.max_files)


def compact_lake(
    lake_dir: Path,
    policy: CompactionPolicy,
    *,
    today: date | None = None,
    now: float | None = None,
    on_step: StepHook | None = None,
    settings: Settings | None = None,
) -> CompactionReport:
    """Merge every partition that is due, in every table, then sweep; safe after any crash.

    ``settings``: the installation's, for the rollups' warehouse reads (None: a lake
    named on its own, as tests and benchmarks do, read with default settings)."""
    today = today or datetime.now(UTC).date()
    report = CompactionReport()
    with exclusive_lock(lake_dir / LOCK):
        for table in TABLES.values():
            for tenant in list(tenants(lake_dir, table.name)):
                base = tenant_folder(lake_dir, table.name, tenant)
                for name in partitions(base):
                    folder = base / name
                    live = len(read_partition(folder).live)
                    if _due(parse_partition_name(name), live, today, policy):
                        with ExitStack() as locks:
                            writer = writer_lock_path(lake_dir, table)
                            if writer is not None:
                                locks.enter_context(exclusive_lock(writer))
                            files, rows = compact_partition(
                                lake_dir, table, folder, policy, on_step=on_step
                            )
                        if files:
                            report.partitions += 1
                            report.files_in += files
                            report.rows += rows
                            report.merged.append(str(folder.relative_to(lake_dir)))
                    report.swept += sweep_partition(
                        folder, policy, now=time.time() if now is None else now, on_step=on_step
                    )
        lake = Lake(lake_dir, durable=policy.durable)
        with lake.writer_lock():
            # A run killed inside a manifest roll-up's write left its temp file in
            # ``_batches``; the next ingest would remove it, but a quiet lake has none.
            report.swept += lake.remove_temp_files()
            report.manifests = lake.roll_up_manifests(above=policy.manifests_above, on_step=on_step)
        written, swept = roll_up(
            lake_dir,
            policy,
            today=today,
            now=time.time() if now is None else now,
            on_step=on_step,
            settings=settings,
        )
        report.rollups += written
        report.swept += swept
    if report.partitions or report.swept or report.manifests or report.rollups:
        log.info(
            "compaction: %d partitions (%d files, %d rows) merged, %d old files deleted,"
            " %d batch manifests rolled up, %d rollup files written",
            report.partitions,
            report.files_in,
            report.rows,
            report.swept,
            report.manifests,
            report.rollups,
        )
    return report


def _day_paths(conn: Any, day: date) -> pa.Table:
    """The paths of the calls whose first step is on UTC ``day`` (a warehouse connection)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return fetch_table(conn, sql_file("warehouse/call_paths_day"), {"day": start})


def roll_up(
    lake_dir: Path,
    policy: CompactionPolicy,
    *,
    today: date,
    now: float,
    on_step: StepHook | None = None,
    settings: Settings | None = None,
) -> tuple[int, int]:
    """Write the missing rollups of closed days (whose next day is closed too), sweep stale
    ones (caller holds the compaction lock); (files written, files deleted)."""
    step = on_step or (lambda _name: None)
    owners = {
        rollup: sorted({*tenants(lake_dir, rollup.name), *tenants(lake_dir, rollup.sources[0])})
        for rollup in ROLLUPS
    }
    if not any(owners.values()):
        return 0, 0
    # Imported here: compaction of a lake with nothing to roll up never pays for the warehouse
    # (the kill -9 tests' children start a fresh Python for each run).
    from pipeline.call_rollups import day_cells, day_quarters
    from pipeline.queue_metrics import day_stints
    from pipeline.warehouse import connect, scope_of

    compute: dict[str, Callable[[Any, date], pa.Table]] = {
        STINTS.name: day_stints,
        PATHS.name: _day_paths,
        QUARTERS.name: day_quarters,
        CELLS.name: day_cells,
    }
    if settings is None:  # the warehouse reads a data dir's lake; only the lake is read here
        settings = load_settings({"SWITCHBOARD_DATA_DIR": str(lake_dir.parent),
                                  "SWITCHBOARD_CONFIG": os.devnull})  # fmt: skip
    if settings.lake_dir.resolve() != lake_dir.resolve():
        raise ValueError(f"{lake_dir} is not the lake of data dir {settings.data_dir}")
    written = swept = 0
    by_tenant: dict[str, list[Rollup]] = {}
    for rollup, names in owners.items():
        for tenant in names:
            by_tenant.setdefault(tenant, []).append(rollup)
    for tenant, rollups in sorted(by_tenant.items()):
        bases = {rollup: tenant_folder(lake_dir, rollup.name, tenant) for rollup in rollups}
        # The lake's own listing first: a tenant whose rollups all match its files needs
        # no warehouse connection (the worker passes every minute); else one connection
        # writes all of the tenant's missing files.
        tables = {table for rollup in rollups for table in rollup.sources}
        listed = {table: snapshot(lake_dir, table, tenant) for table in tables}
        present = {r: _rollup_names(bases[r]) for r in rollups}
        wanted = {r: _wanted_rollups(r, listed, bases[r], present[r], today) for r in rollups}
        if any(missing for _, missing in wanted.values()):
            with closing(connect(settings, tenant)) as conn:
                scope = scope_of(conn)
                assert scope is not None
                snaps = {snap.table: snap for snap in scope.snapshots}
                for rollup in rollups:
                    wanted[rollup] = _wanted_rollups(
                        rollup, snaps, bases[rollup], present[rollup], today
                    )
                    for day, path in wanted[rollup][1]:
                        rows = compute[rollup.name](conn, day)
                        write_atomic(
                            path,
                            partial(pq.write_table, rows, compression="zstd"),
                            durable=policy.durable,
                        )
                        written += 1
                        step(rollup.step)
        for rollup in rollups:
            base, (keep, _) = bases[rollup], wanted[rollup]
            for part, held in present[rollup].items():
                for name in sorted(held - {keep.get(part)}):
                    path = base / part / name
                    try:
                        old = now - path.stat().st_mtime >= policy.grace_seconds
                    except FileNotFoundError:
                        continue
                    if old or name.endswith(TEMP_SUFFIX):
                        path.unlink(missing_ok=True)
                        swept += 1
                        step("sweep")
    return written, swept


def _rollup_names(base: Path) -> dict[str, frozenset[str]]:
    """partition -> the names in it, of one tenant's rollup folder (listed before this
    pass writes: what it writes is kept, so the sweep needs no second listing)."""
    return {part: folder_names(f"{base}/{part}") for part in partitions(base)}


def _wanted_rollups(
    rollup: Rollup,
    snaps: Mapping[str, TableSnapshot],
    base: Path,
    present: Mapping[str, frozenset[str]],
    today: date,
) -> tuple[dict[str, str], list[tuple[date, Path]]]:
    """The rollup file each closed day (whose next day is closed too) needs for the source
    files in ``snaps`` (partition -> name), and the days whose file is not in ``present``."""
    index = files_by_day(rollup, snaps)
    wanted: dict[str, str] = {}
    missing = []
    for day in sorted(d for d in index[rollup.sources[0]] if d + _DAY < today):
        part = partition_name(day)
        name = wanted[part] = rollup_file_name(rollup, index, day)
        if name not in present.get(part, ()):
            missing.append((day, base / part / name))
    return wanted, missing


def compact_due(settings: Settings, *, on_step: StepHook | None = None) -> CompactionReport:
    """:func:`compact_lake` with the settings' policy (the pipeline worker's entry point)."""
    return compact_lake(
        settings.lake_dir,
        CompactionPolicy.from_settings(settings),
        on_step=on_step,
        settings=settings,
    )
