"""The lake's layout: table folders, partition names, file names, and which files are the table.

Every module that builds a lake path or lists lake files asks here (the ingest
writers in :mod:`pipeline.lake` and :mod:`pipeline.voicemail_ingest`,
:mod:`pipeline.transcribe`, :mod:`pipeline.compaction`, the warehouse's views
and the metric cache's keys). Layout under ``settings.lake_dir``::

    <table>/tenant=<domain>/date=<YYYY-MM-DD>/<file>.parquet
    quarantine/acc-<first>-<last>.parquet      accounting rows that are not calls
    _batches/                                  commit log of call batches (pipeline.lake),
                                               ``calls`` and ``legs`` alike
    _voicemail_batches/                        commit log of voicemail batches
    _steps_batches/                            commit log of call-step batches
    _queue_batches/                            commit log of queue spool batches
                                               (``queue_events`` and ``agent_events`` alike)
    _recordings/                               the recordings writer's lock (no commit log:
                                               a recording's file is its own commit)
    queue_stints/tenant=<domain>/date=<day>/   rollup of a closed day's stints, written by
                                               compaction (pipeline.compaction); not a table:
                                               ``stints-<fingerprint>.parquet``, the fingerprint
                                               of the event files it was computed from
    call_paths/tenant=<domain>/date=<day>/     rollup of a closed day's call paths, the same
                                               way: ``paths-<fingerprint>.parquet``

File names inside a partition (each name is written once, never reused):

- ``acc-<first>-<last>.parquet``: a call batch holding accounting ids
  ``first..last`` (12 digits each) — the ids the ingest watermark counts;
- ``vmb-<hash>.parquet``: a voicemail batch; ``vm-<hex>.parquet``: one transcript;
- ``stb-<hash>.parquet``: a batch of call steps (:mod:`pipeline.steps_ingest`);
- ``qeb-<hash>.parquet``: a batch of queue or agent events (:mod:`pipeline.queue_ingest`);
- ``rec-<hex>.parquet``: one call recording; ``rec-<hex>.<model>.parquet`` its transcript
  (:mod:`pipeline.recording_ingest`, :mod:`pipeline.recording_transcripts`);
- ``day.parquet``: the audit trail of one closed tenant-day (:mod:`pipeline.access_log_export`);
- ``c-<generation>.parquet``: the merged file of a compaction, and
  ``c-<generation>.json`` its record (the commit point): the names of the
  files it absorbed (so the id ranges of the batches it holds), its row count.

Which files are the table — :func:`live_names` — in one partition: the
``c-<g>.parquet`` of the highest ``g`` that has a record, plus every other
``.parquet`` that this record did not absorb, minus the files of a batch still
being written (named by its writer's ``pending.json``). Older generations,
absorbed files and a merged file without its record (a compaction killed
before its commit) are present on disk but are not the table. Readers list the
partition first and read ``pending.json`` after, so a file they list is either
named there or was committed before they looked.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from pipeline.access_log_schema import ACCESS_LOG_SCHEMA
from pipeline.files import temp_target
from pipeline.queue_schema import AGENT_EVENTS_SCHEMA, QUEUE_EVENTS_SCHEMA
from pipeline.recordings_schema import RECORDING_TRANSCRIPTS_SCHEMA, RECORDINGS_SCHEMA
from pipeline.schema import (
    CALL_STEPS_SCHEMA,
    CALLS_SCHEMA,
    LEGS_SCHEMA,
    TENANT_RE,
    TRANSCRIPTS_SCHEMA,
    VOICEMAILS_SCHEMA,
)

PARQUET = ".parquet"
PENDING = "pending.json"
QUARANTINE_DIR = "quarantine"
_PARTITION_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_BATCH_RE = re.compile(r"^acc-(\d{12})-(\d{12})\.(parquet|json)$")
_GENERATION_RE = re.compile(r"^c-(\d{6})\.(parquet|json)$")
# Names the lake's writers produce: safe inside a quoted SQL literal and not glob syntax.
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.parquet$")


@dataclass(frozen=True)
class LakeTable:
    """One lake table: its folder, schema, how compaction orders it, who writes it."""

    name: str
    schema: pa.Schema
    # Compacted files are sorted by these columns: time first, so DuckDB's
    # row-group zone maps skip what a time-bounded page does not need.
    sort_by: tuple[str, ...]
    # The folder of the writer's commit log (its lock and ``pending.json``), if any.
    batches_dir: str | None


CALLS = LakeTable("calls", CALLS_SCHEMA, ("started_at", "acc_id"), "_batches")
# Written by the call ingest in the same batches as ``calls`` (one commit log).
LEGS = LakeTable("legs", LEGS_SCHEMA, ("started_at", "acc_id"), "_batches")
VOICEMAILS = LakeTable(
    "voicemails", VOICEMAILS_SCHEMA, ("started_at", "message_id"), "_voicemail_batches"
)
# One file per message, committed by its rename alone: no commit log.
TRANSCRIPTS = LakeTable("transcripts", TRANSCRIPTS_SCHEMA, ("transcribed_at", "message_id"), None)
CALL_STEPS = LakeTable("call_steps", CALL_STEPS_SCHEMA, ("at", "batch_id", "seq"), "_steps_batches")
# Written by the queue ingest in the same batches (one commit log, like calls and legs).
QUEUE_EVENTS = LakeTable(
    "queue_events", QUEUE_EVENTS_SCHEMA, ("at", "batch_id", "seq"), "_queue_batches"
)
AGENT_EVENTS = LakeTable(
    "agent_events", AGENT_EVENTS_SCHEMA, ("at", "batch_id", "seq"), "_queue_batches"
)
# One file per recording, committed by its rename (pipeline.recording_ingest); the folder
# holds only the writer's lock, which compaction takes too.
RECORDINGS = LakeTable(
    "recordings", RECORDINGS_SCHEMA, ("started_at", "recording_id"), "_recordings"
)
# One file per (recording, model), committed by its rename alone, like ``transcripts``.
RECORDING_TRANSCRIPTS = LakeTable(
    "recording_transcripts",
    RECORDING_TRANSCRIPTS_SCHEMA,
    ("transcribed_at", "recording_id"),
    None,
)
# One file per closed tenant-day, written once by its rename (pipeline.access_log_export).
ACCESS_LOG = LakeTable("access_log", ACCESS_LOG_SCHEMA, ("at", "access_id"), None)
# Rollups: derived from tables by compaction, one file per tenant-day, never compacted.
QUEUE_STINTS_ROLLUP = "queue_stints"
CALL_PATHS_ROLLUP = "call_paths"
CALL_QUARTERS_ROLLUP = "call_quarters"
CALL_CELLS_ROLLUP = "call_cells"
ROLLUPS: tuple[str, ...] = (
    QUEUE_STINTS_ROLLUP,
    CALL_PATHS_ROLLUP,
    CALL_QUARTERS_ROLLUP,
    CALL_CELLS_ROLLUP,
)
TABLES: dict[str, LakeTable] = {
    t.name: t
    for t in (
        CALLS,
        LEGS,
        VOICEMAILS,
        TRANSCRIPTS,
        CALL_STEPS,
        QUEUE_EVENTS,
        AGENT_EVENTS,
        RECORDINGS,
        RECORDING_TRANSCRIPTS,
        ACCESS_LOG,
    )
}


# -- names ------------------------------------------------------------------------------
def partition_name(day: date) -> str:
    return f"date={day.isoformat()}"


@lru_cache(maxsize=16_384)  # a page asks for a year of partitions' days
def parse_partition_name(name: str) -> date | None:
    m = _PARTITION_RE.match(name)
    return None if m is None else date.fromisoformat(m.group(1))


def tenant_folder(lake_dir: Path, table: str, tenant: str) -> Path:
    """``<lake>/<table>/tenant=<tenant>``; refuses a tenant that is not a strict domain."""
    if table not in TABLES and table not in ROLLUPS:
        raise ValueError(f"no lake table {table!r}")
    if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
        raise ValueError(f"tenant {tenant!r} cannot be a lake partition")
    return lake_dir / table / f"tenant={tenant}"


def partition_dir(lake_dir: Path, table: str, tenant: str, day: date) -> Path:
    return tenant_folder(lake_dir, table, tenant) / partition_name(day)


def batch_name(first: int, last: int) -> str:
    """``acc-<first>-<last>``: the stem every file of a call batch shares."""
    return f"acc-{first:012d}-{last:012d}"


def parse_batch_name(name: str) -> tuple[int, int] | None:
    """(first, last) from a call batch's file or manifest name, None for any other name."""
    m = _BATCH_RE.match(name)
    return None if m is None else (int(m.group(1)), int(m.group(2)))


def generation_file(generation: int) -> str:
    return f"c-{generation:06d}{PARQUET}"


def generation_record(generation: int) -> str:
    return f"c-{generation:06d}.json"


def parse_generation(name: str) -> tuple[int, str] | None:
    """(generation, "parquet" | "json") for a compaction's file or record."""
    m = _GENERATION_RE.match(name)
    return None if m is None else (int(m.group(1)), m.group(2))


def pending_path(lake_dir: Path, table: LakeTable) -> Path | None:
    return None if table.batches_dir is None else lake_dir / table.batches_dir / PENDING


def writer_lock_path(lake_dir: Path, table: LakeTable) -> Path | None:
    """The lock the table's writer holds while it commits (None: no commit log)."""
    return None if table.batches_dir is None else lake_dir / table.batches_dir / ".lock"


# -- which files are the table -------------------------------------------------------------
@dataclass(frozen=True)
class GenerationRecord:
    generation: int
    absorbed: frozenset[str]
    committed_at: float


@lru_cache(maxsize=4096)
def _read_record(path: str, inode: int) -> GenerationRecord:
    # A record is written once under a name never reused: (path, inode) keys its content.
    data = json.loads(Path(path).read_text())
    return GenerationRecord(data["generation"], frozenset(data["absorbed"]), data["committed_at"])


@dataclass(frozen=True)
class PartitionState:
    """One listing of a partition: what is on disk and what of it is the table."""

    live: dict[str, int]  # file name -> inode, before removing in-flight files
    record: GenerationRecord | None
    # On disk but no longer the table: absorbed files, older generations and records.
    superseded: tuple[str, ...]
    uncommitted: tuple[str, ...]  # merged files without a record (a killed compaction)
    # compaction's half-written merged files and records (files.temp_target: a generation)
    temporary: tuple[str, ...] = ()


_EMPTY_PARTITION = PartitionState({}, None, (), ())
_Listing = TypeVar("_Listing")
# Listings of folders unchanged since (see read_partition): (kind, path) -> (mtime, inode,
# listing). A folder's mtime moves with every name created, renamed or removed in it.
_LISTINGS: OrderedDict[tuple[str, str], tuple[int, int, Any]] = OrderedDict()
_LISTINGS_LOCK = threading.Lock()
_LISTINGS_KEPT = 65_536
# A listing is kept only once its folder has been still this long: two changes within one
# tick of the file system's clock can leave the same mtime, so a fresh mtime proves nothing.
_SETTLED_NS = 2_000_000_000


def read_partition(folder: str | os.PathLike[str]) -> PartitionState:
    """List one partition and apply the rule of the module docstring (without pending).

    A folder whose mtime and inode are those of a listing kept earlier holds the same
    names, and lake files are never rewritten in place (a new generation, a record or
    a batch is a new name), so that listing is returned: a page's connection then
    costs one ``stat`` per day of the year instead of a ``scandir``. The ``stat`` comes
    first: a change after it moves the mtime past the key the listing is kept under.
    """
    state = _kept_listing(str(folder), _list_partition)
    return _EMPTY_PARTITION if state is None else state


def folder_names(folder: str) -> frozenset[str]:
    """The names in ``folder`` (none when it is missing), kept as :func:`read_partition`
    keeps a partition's listing: compaction's pass each minute asks for a rollup folder
    per tenant-day, and a ``stat`` is what an unchanged one costs."""
    names = _kept_listing(folder, _names)
    return frozenset() if names is None else names


def _names(folder: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(folder))
    except FileNotFoundError:
        return frozenset()


def _kept_listing(folder: str, lister: Callable[[str], _Listing]) -> _Listing | None:
    """``lister(folder)``, or the result it gave for this folder's mtime and inode (None:
    no such folder)."""
    try:
        stat = os.stat(folder)
    except FileNotFoundError:
        return None
    key = (lister.__name__, folder)
    with _LISTINGS_LOCK:
        kept = _LISTINGS.get(key)
        if kept is not None and kept[:2] == (stat.st_mtime_ns, stat.st_ino):
            _LISTINGS.move_to_end(key)
            listing: _Listing = kept[2]
            return listing
    listing = lister(folder)
    if time.time_ns() - stat.st_mtime_ns > _SETTLED_NS:
        with _LISTINGS_LOCK:
            _LISTINGS[key] = (stat.st_mtime_ns, stat.st_ino, listing)
            while len(_LISTINGS) > _LISTINGS_KEPT:
                _LISTINGS.popitem(last=False)
    return listing


def _list_partition(folder: str) -> PartitionState:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return _EMPTY_PARTITION
    data: dict[str, int] = {}
    generations: dict[int, int] = {}
    records: dict[int, int] = {}
    temporary: list[str] = []
    for entry in entries:
        parsed = parse_generation(entry.name)
        if parsed is not None:
            (records if parsed[1] == "json" else generations)[parsed[0]] = entry.inode()
        elif entry.name.endswith(PARQUET):
            data[entry.name] = entry.inode()
        elif parse_generation(temp_target(entry.name) or ""):
            temporary.append(entry.name)  # a generation being written (files.write_atomic)
    top = max(records, default=None)
    if top is None:
        merged = tuple(generation_file(g) for g in sorted(generations))
        return PartitionState(data, None, (), merged, tuple(sorted(temporary)))
    record = _read_record(os.path.join(folder, generation_record(top)), records[top])
    live = {n: i for n, i in data.items() if n not in record.absorbed}
    superseded = sorted(set(data) - set(live))
    superseded += [generation_record(g) for g in sorted(records) if g < top]
    uncommitted = []
    for g, inode in sorted(generations.items()):
        if g == top:
            live[generation_file(g)] = inode
        elif g < top:
            superseded.append(generation_file(g))
        else:
            uncommitted.append(generation_file(g))
    return PartitionState(
        live, record, tuple(superseded), tuple(uncommitted), tuple(sorted(temporary))
    )


def in_flight(lake_dir: Path, table: LakeTable) -> frozenset[str]:
    """Lake-relative paths of the batch the table's writer has not committed yet."""
    path = pending_path(lake_dir, table)
    if path is None:
        return frozenset()
    try:
        return frozenset(json.loads(path.read_text())["files"])
    except FileNotFoundError:
        return frozenset()


@dataclass(frozen=True)
class LiveFile:
    partition: str  # "date=YYYY-MM-DD"
    name: str
    inode: int  # an atomic rewrite is a new inode (the metric cache keys on it)


@dataclass(frozen=True)
class TableSnapshot:
    """The files that are one tenant's table at one moment (see the module docstring)."""

    folder: Path  # <lake>/<table>/tenant=<t>
    files: tuple[LiveFile, ...]

    def paths(self) -> list[str]:
        return [f"{self.folder}/{f.partition}/{f.name}" for f in self.files]

    @property
    def table(self) -> str:
        """The table it is of (its folder is ``<lake>/<table>/tenant=<t>``)."""
        return self.folder.parent.name

    def between(self, first: date, last: date) -> TableSnapshot:
        """The same snapshot, only its files in ``date=first..last`` (first > last: none)."""
        low, high = partition_name(first), partition_name(last)
        return TableSnapshot(
            self.folder, tuple(f for f in self.files if low <= f.partition <= high)
        )

    def listing(self, first: date, last: date | None) -> tuple[tuple[str, str, int], ...]:
        """(folder/partition, name, inode) of the files in ``date=first..last``."""
        return tuple(
            (f"{self.folder}/{f.partition}", f.name, f.inode)
            for f in self.between(first, last or date.max).files
        )


def partitions(folder: Path, first: date | None = None, last: date | None = None) -> list[str]:
    """The ``date=`` partition names under a tenant folder, within ``first..last``, sorted."""
    low = partition_name(first or date.min)
    high = partition_name(last or date.max)
    try:
        names = [e.name for e in os.scandir(folder) if e.is_dir()]
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _PARTITION_RE.match(n) and low <= n <= high)


def snapshot(
    lake_dir: Path,
    table: str,
    tenant: str,
    *,
    first: date | None = None,
    last: date | None = None,
    folder: Path | None = None,
) -> TableSnapshot:
    """The live files of one tenant's table (``folder``: that folder, already resolved)."""
    spec = TABLES[table]
    base = folder if folder is not None else tenant_folder(lake_dir, table, tenant)
    # strings, not Paths: a year of ten tables is ~3,700 partitions at every connection
    states = [(p, read_partition(f"{base}/{p}")) for p in partitions(base, first, last)]
    # After the listing, never before: see the module docstring.
    flying = in_flight(lake_dir, spec)
    rel = f"{table}/{base.name}"
    files = tuple(
        LiveFile(p, name, inode)
        for p, state in states
        for name, inode in sorted(state.live.items())
        if f"{rel}/{p}/{name}" not in flying and SAFE_FILE_NAME.match(name)
    )
    return TableSnapshot(base, files)


def tenants(lake_dir: Path, table: str) -> Iterator[str]:
    """Every tenant that has a folder in ``table``."""
    try:
        entries = list(os.scandir(lake_dir / table))
    except FileNotFoundError:
        return
    for entry in sorted(entries, key=lambda e: e.name):
        name = entry.name.removeprefix("tenant=")
        if entry.is_dir() and name != entry.name and TENANT_RE.match(name):
            yield name


def live_paths(lake_dir: Path, table: str, tenant_names: Iterable[str] | None = None) -> list[Path]:
    """Every live file of ``table`` (all tenants by default): what readers read."""
    found: list[Path] = []
    for tenant in tenant_names if tenant_names is not None else list(tenants(lake_dir, table)):
        found.extend(Path(p) for p in snapshot(lake_dir, table, tenant).paths())
    return found


# Where the rows of the calls of one UTC day can be, in days from it: a call lasts at
# most Kamailio's dialog time-out, 12 h, so its legs and steps are on its own day or the
# next; the day either side of the steps lets the path rollups' fingerprints match
# (pipeline.rollup_files).
DAY_REACH: dict[str, tuple[int, int]] = {
    CALLS.name: (0, 0),
    LEGS.name: (0, 1),
    CALL_STEPS.name: (-1, 2),
}
# The same to the instant, for the tables whose rows start at ``started_at``: how long
# after its call's start a row can start (its legs, during the call: at most 12 h).
# pipeline.file_spans leaves out of a metric result's key the files beyond it.
INSTANT_REACH: dict[str, timedelta] = {CALLS.name: timedelta(0), LEGS.name: timedelta(hours=12)}
# How long a call can be active after its start, with room to spare: Kamailio ends a
# dialog 12 h after its answer, and the ring before it is minutes. The concurrency
# rollups (pipeline.call_rollups) read the calls of the day before for the levels.
LONGEST_CALL = timedelta(days=1)


def snapshots_of_days(
    snapshots: Iterable[TableSnapshot], first: date, last: date, tables: tuple[str, ...]
) -> tuple[TableSnapshot, ...]:
    """The files of ``tables`` (of :data:`DAY_REACH`) in ``snapshots`` that the calls of
    days ``first..last`` can read."""
    out = []
    for snap in snapshots:
        if snap.table in tables:
            low, high = DAY_REACH[snap.table]
            out.append(snap.between(first + timedelta(low), last + timedelta(high)))
    return tuple(out)
