"""The rollups' files: which file a closed tenant-day's rollup is, and which ones readers use.

A rollup is derived from lake tables by compaction (:func:`pipeline.compaction.roll_up`
writes it), one file per tenant-day under ``<lake>/<rollup>/tenant=<t>/date=<day>/``
(:data:`pipeline.lake_layout.ROLLUPS`), named ``<step>-<fingerprint>.parquet``: the
fingerprint of the source files it was computed from (each source table, the day
before to the day after: names and inodes). A reader computes the names from the
files its own snapshot holds (:func:`rolled_files`), so a file is used only while its
sources are exactly the ones the reader sees; otherwise the reader computes that day.
Readers: :mod:`pipeline.queue_metrics` (stints), :mod:`pipeline.warehouse` (paths) and
:mod:`pipeline.call_rollups` (concurrency's quarter-hours, the KPIs' daily cells).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pipeline.lake_layout import (
    AGENT_EVENTS,
    CALL_CELLS_ROLLUP,
    CALL_PATHS_ROLLUP,
    CALL_QUARTERS_ROLLUP,
    CALL_STEPS,
    CALLS,
    PARQUET,
    QUEUE_EVENTS,
    QUEUE_STINTS_ROLLUP,
    TableSnapshot,
    parse_partition_name,
    partition_name,
    tenant_folder,
)

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rollup:
    """A table derived from lake tables, one file per closed tenant-day (not compacted)."""

    name: str  # its folder (pipeline.lake_layout.ROLLUPS)
    step: str  # the on_step name after a file is written
    # The tables it is computed from (files of the day before to the day after); the
    # first decides the days (a day without its files has nothing to roll up) ...
    sources: tuple[str, ...]
    # ... except that, for a rollup whose rows reach into the next day (concurrency: a
    # call of the day before can end in a day without calls of its own), such a day is
    # not covered: readers compute from it on.
    spills: bool = False


STINTS = Rollup(QUEUE_STINTS_ROLLUP, "stints", (QUEUE_EVENTS.name, AGENT_EVENTS.name))
PATHS = Rollup(CALL_PATHS_ROLLUP, "paths", (CALL_STEPS.name,))
QUARTERS = Rollup(CALL_QUARTERS_ROLLUP, "quarters", (CALLS.name,), spills=True)
# Its short abandons are at 5 s (pipeline.call_rollups.SHORT_ABANDON): named in the step,
# so a file written at another threshold never matches.
CELLS = Rollup(CALL_CELLS_ROLLUP, "cells5s", (CALLS.name,))
ROLLUPS = (STINTS, PATHS, QUARTERS, CELLS)  # a warehouse connection may read each one's folder


DayFiles = dict[str, dict[date, list[str]]]  # table -> day -> its files' names and inodes


def files_by_day(rollup: Rollup, snaps: Mapping[str, TableSnapshot]) -> DayFiles:
    """The source files of each day, listed once (a year's readers ask for 365 days)."""
    index: DayFiles = {}
    for table in rollup.sources:
        days = index[table] = {}
        for f in snaps[table].files:
            day = parse_partition_name(f.partition)
            if day is not None:
                days.setdefault(day, []).append(f"{table}/{f.partition}/{f.name}:{f.inode}")
    return index


def rollup_file_name(rollup: Rollup, index: DayFiles, day: date) -> str:
    """``<step>-<fingerprint>.parquet``: the fingerprint of the source files a day's rollup
    is computed from (each source table, the day before to the day after: names, inodes)."""
    digest = hashlib.sha256()
    for table in rollup.sources:
        for d in (day - _DAY, day, day + _DAY):
            for line in sorted(index[table].get(d, ())):
                digest.update(f"{line}\n".encode())
    return f"{rollup.step}-{digest.hexdigest()[:24]}{PARQUET}"


def rolled_files(
    lake_dir: Path,
    rollup: Rollup,
    tenant: str,
    snaps: Mapping[str, TableSnapshot],
    first: date,
    last: date,
) -> tuple[list[Path], date]:
    """The rollup files of ``first``, ``first`` + 1 ... that match the sources in ``snaps``,
    up to the first day that has none (at most ``last``); and that day: from it on, the
    readers compute."""
    index = files_by_day(rollup, snaps)
    driver = index[rollup.sources[0]]
    # The tenant checked once, then strings: every connection asks for a year of days,
    # and Path joins cost more than the rest of this loop.
    base = tenant_folder(lake_dir, rollup.name, tenant)
    files: list[Path] = []
    day = first
    while day <= last:
        if day in driver:
            path = f"{base}/{partition_name(day)}/{rollup_file_name(rollup, index, day)}"
            if not os.path.exists(path):
                break
            files.append(Path(path))
        elif rollup.spills and day - _DAY in driver:
            break
        # else: a day without source files has nothing to roll up
        day += _DAY
    return files, day
