"""A process-level LRU of metric results over unchanged lake files.

Lake files are immutable once committed (:mod:`pipeline.lake` writes a new
file per batch and never rewrites one in place), so a metric result is a pure
function of the query (metric, scope, period, zone, filters, parameters), of
whose data the connection shows (tenant, extension, forwarded messages) and of
the files in the date partitions the query reads, each named with its size
and modification time. :func:`lake_listing` is that last part: a new ingest,
a compaction or a deletion changes it, so nothing needs invalidating by hand.

Results are Arrow tables (immutable, shared between readers without copying).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

Listing = tuple[tuple[str, str, int, int, int], ...]


def lake_listing(folders: Sequence[Path], first: date, last: date | None) -> Listing:
    """(folder/partition, file, size, mtime_ns, inode) of every Parquet file in
    ``date=first..last`` of each folder (an atomic rewrite is a new inode even
    when size and mtime do not tell).

    ``last`` None: every partition from ``first`` on. A partition is a UTC or a
    local day depending on the table, so callers widen their range by a day.
    """
    low, high = f"date={first.isoformat()}", f"date={(last or date.max).isoformat()}"
    found: list[tuple[str, str, int, int, int]] = []
    for folder in folders:
        try:
            partitions = [
                e.name
                for e in os.scandir(folder)
                if e.name.startswith("date=") and low <= e.name <= high
            ]
        except FileNotFoundError:
            continue
        for partition in partitions:
            try:
                entries = list(os.scandir(folder / partition))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not entry.name.endswith(".parquet"):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                found.append(
                    (
                        f"{folder}/{partition}",
                        entry.name,
                        stat.st_size,
                        stat.st_mtime_ns,
                        stat.st_ino,
                    )
                )
    found.sort()
    return tuple(found)


def widened(first: date, last: date | None) -> tuple[date, date | None]:
    """A UTC day range widened by a day each side (partitions may be local days)."""
    return first - timedelta(days=1), None if last is None else last + timedelta(days=1)


class ResultCache:
    """A thread-safe LRU of Arrow tables, bounded by entries and by bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 256 * 2**20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> pa.Table | None:
        with self._lock:
            table = self._entries.get(key)
            if table is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return table

    def put(self, key: Hashable, table: pa.Table) -> None:
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
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


# The cache of this process (the portal's workers, a CLI run, a notebook kernel).
RESULTS = ResultCache()
