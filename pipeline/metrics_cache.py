"""Metric results over unchanged lake files: an LRU in each process, shared on disk.

Lake files are immutable once committed (:mod:`pipeline.lake` writes a new
file per batch, :mod:`pipeline.compaction` a new generation, neither rewrites
one in place), so a metric result is a pure function of the query (metric,
scope, period, zone, filters, parameters), of whose data the connection shows
(tenant, extension, forwarded messages) and of the files its views read in the
date partitions the query covers. :func:`lake_listing` is that last part,
taken from the connection's snapshot (:mod:`pipeline.lake_layout`): a new
ingest or a compaction changes it for the next connection, so nothing needs
invalidating by hand.

Two tiers behind one :class:`ResultCache`:

- memory: Arrow tables (immutable, shared between a process's threads without
  copying), bounded by entries and bytes;
- disk (once :meth:`ResultCache.share_on_disk` names a folder; the portal does,
  with ``settings.metric_cache_dir``): one Arrow IPC file per result, named by
  the SHA-256 of the key's canonical text, so the portal's worker processes
  (and a CLI run or notebook that opts in) compute a page once between them.
  Arrow IPC rather than Parquet: it round-trips every Arrow type exactly and
  reads without decoding. Files are written to a temp name and renamed (a
  reader sees a whole result or none), carry their key text (a hash collision
  is a miss, never a wrong answer) and are evicted oldest-used first once the
  folder passes its byte bound. A key that has no canonical text (a value
  whose ``repr`` is not stable across processes) stays in memory only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import PurePath

import pyarrow as pa

from pipeline.file_spans import may_hold
from pipeline.lake_layout import TableSnapshot

Listing = tuple[tuple[str, str, int], ...]

_SUFFIX = ".arrow"
_KEY_METADATA = b"switchboard_cache_key"
# Eviction lists the folder only after this share of the bound was written since the last
# listing (by this process), so the folder stays within ~1/16 of its bound per writer.
_SCAN_EVERY_FRACTION = 16
_STALE_TEMP_SECONDS = 300.0


def lake_listing(
    snapshots: Sequence[TableSnapshot],
    first: date,
    last: date | None,
    instants: tuple[datetime, datetime | None] | None = None,
) -> Listing:
    """(folder/partition, file, inode) of every file a connection's views read in
    ``date=first..last`` (:attr:`pipeline.warehouse.ConnectionScope.snapshots`).

    Lake files are written once under a name (an atomic rewrite is a new inode),
    so the listing names the data. ``last`` None: every partition from ``first``
    on. A partition is a UTC or a local day depending on the table, so callers
    widen their range by a day. ``instants``: the calls' [start, end) the result
    reads (end None: open-ended); a calls or legs file that holds none of their rows
    is left out (:func:`pipeline.file_spans.may_hold`).
    """
    return tuple(
        sorted(
            f
            for snap in snapshots
            for f in snap.listing(first, last)
            if instants is None or may_hold(snap.table, f"{f[0]}/{f[1]}", f[2], *instants)
        )
    )


def widened(first: date, last: date | None) -> tuple[date, date | None]:
    """A UTC day range widened by a day each side (partitions may be local days)."""
    return first - timedelta(days=1), None if last is None else last + timedelta(days=1)


def canonical_text(value: object) -> str | None:
    """Text that names ``value`` identically in every process; None if there is none.

    ``repr`` of strings, numbers, dates, zones and paths is stable; containers are
    spelled out (dicts sorted), dataclasses by their fields. Sets and unknown
    objects have no stable spelling (string hashing differs per process).
    """
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return repr(value)
    if isinstance(value, date | datetime | timedelta | tzinfo | PurePath):
        return repr(value)
    if isinstance(value, tuple | list):
        parts = [canonical_text(v) for v in value]
        return None if None in parts else f"{type(value).__name__}({', '.join(parts)})"  # type: ignore[arg-type]
    if isinstance(value, dict):
        items = [(canonical_text(k), canonical_text(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "dict(" + ", ".join(f"{k}: {v}" for k, v in sorted(items)) + ")"  # type: ignore[type-var]
    if is_dataclass(value) and not isinstance(value, type):
        inner = {f.name: getattr(value, f.name) for f in fields(value)}
        text = canonical_text(inner)
        return None if text is None else f"{type(value).__qualname__}{text}"
    return None


class DiskResults:
    """Arrow IPC files under one folder, shared by every process that names it."""

    def __init__(self, directory: os.PathLike[str] | str, max_bytes: int) -> None:
        self.directory = os.fspath(directory)
        self.max_bytes = max_bytes
        self._written_since_scan = 0
        self._lock = threading.Lock()

    def _path(self, key_text: str) -> str:
        digest = hashlib.sha256(key_text.encode()).hexdigest()
        return os.path.join(self.directory, digest[:2], digest + _SUFFIX)

    def get(self, key_text: str) -> pa.Table | None:
        path = self._path(key_text)
        try:
            with pa.OSFile(path, "rb") as source:
                table = pa.ipc.open_file(source).read_all()
        except (FileNotFoundError, pa.ArrowInvalid, OSError):
            return None  # not there, evicted meanwhile, or not an Arrow file: a miss
        metadata = table.schema.metadata or {}
        if metadata.get(_KEY_METADATA) != key_text.encode():
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # eviction goes by last use
        return table.replace_schema_metadata(
            {k: v for k, v in metadata.items() if k != _KEY_METADATA} or None
        )

    def put(self, key_text: str, table: pa.Table) -> None:
        path = self._path(key_text)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        stored = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), _KEY_METADATA: key_text.encode()}
        )
        # A temp name of its own (several threads may store the same key), then rename:
        # a reader in another process opens the whole file or none.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as sink, pa.ipc.new_file(sink, stored.schema) as writer:
                writer.write_table(stored)
            size = os.path.getsize(tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with self._lock:
            self._written_since_scan += size
            due = self._written_since_scan * _SCAN_EVERY_FRACTION >= self.max_bytes
            if due:
                self._written_since_scan = 0
        if due:
            self.evict()

    def evict(self) -> int:
        """Delete least recently used results until the folder fits its bound; how many."""
        entries: list[tuple[float, int, str]] = []
        now = time.time()
        for sub in _scandir(self.directory):
            if not sub.is_dir():
                continue
            for entry in _scandir(sub.path):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                if entry.name.endswith(".tmp"):
                    if now - st.st_mtime > _STALE_TEMP_SECONDS:  # a killed writer's
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                    continue
                entries.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):  # another process evicted it
                os.unlink(path)
            total -= size
            removed += 1
        return removed

    def clear(self) -> None:
        for sub in _scandir(self.directory):
            if sub.is_dir():
                for entry in _scandir(sub.path):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)

    def size(self) -> int:
        """Bytes of results on disk now."""
        return sum(
            e.stat().st_size
            for sub in _scandir(self.directory)
            if sub.is_dir()
            for e in _scandir(sub.path)
            if e.name.endswith(_SUFFIX)
        )


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except FileNotFoundError:
        return []


class ResultCache:
    """A thread-safe LRU of Arrow tables, bounded by entries and by bytes, optionally
    backed by a folder other processes share (:meth:`share_on_disk`)."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 256 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.disk: DiskResults | None = None
        self.hits = 0
        self.misses = 0
        self.disk_hits = 0  # of ``hits``: found on disk (another process computed it)

    def share_on_disk(self, directory: os.PathLike[str] | str, max_bytes: int) -> None:
        """Keep results in ``directory`` too, at most ``max_bytes`` of them; 0: memory only."""
        self.disk = DiskResults(directory, max_bytes) if max_bytes > 0 else None

    def get(self, key: Hashable) -> pa.Table | None:
        with self._lock:
            table = self._entries.get(key)
            if table is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return table
        disk = self.disk
        key_text = canonical_text(key) if disk is not None else None
        found = disk.get(key_text) if disk is not None and key_text is not None else None
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self.disk_hits += 1
        self._remember(key, found)
        return found

    def put(self, key: Hashable, table: pa.Table) -> None:
        self._remember(key, table)
        disk = self.disk
        if disk is not None and table.nbytes <= disk.max_bytes:
            key_text = canonical_text(key)
            if key_text is not None:
                disk.put(key_text, table)

    def _remember(self, key: Hashable, table: pa.Table) -> None:
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = table
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        """Forget every result: this process's, and the shared folder's."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = self.disk_hits = 0
        if self.disk is not None:
            self.disk.clear()

    def __len__(self) -> int:
        return len(self._entries)


# The cache of this process (the portal's workers, a CLI run, a notebook kernel).
RESULTS = ResultCache()
