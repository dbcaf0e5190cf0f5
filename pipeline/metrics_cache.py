"""A process-level LRU of metric results over unchanged lake files.

Lake files are immutable once committed (:mod:`pipeline.lake` writes a new
file per batch, :mod:`pipeline.compaction` a new generation, neither rewrites
one in place), so a metric result is a pure function of the query (metric,
scope, period, zone, filters, parameters), of whose data the connection shows
(tenant, extension, forwarded messages) and of the files its views read in the
date partitions the query covers. :func:`lake_listing` is that last part,
taken from the connection's snapshot (:mod:`pipeline.lake_layout`): a new
ingest or a compaction changes it for the next connection, so nothing needs
invalidating by hand.

Results are Arrow tables (immutable, shared between readers without copying).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import date, timedelta

import pyarrow as pa

from pipeline.lake_layout import TableSnapshot

Listing = tuple[tuple[str, str, int], ...]


def lake_listing(snapshots: Sequence[TableSnapshot], first: date, last: date | None) -> Listing:
    """(folder/partition, file, inode) of every file a connection's views read in
    ``date=first..last`` (:attr:`pipeline.warehouse.ConnectionScope.snapshots`).

    Lake files are written once under a name (an atomic rewrite is a new inode),
    so the listing names the data. ``last`` None: every partition from ``first``
    on. A partition is a UTC or a local day depending on the table, so callers
    widen their range by a day.
    """
    return tuple(sorted(f for snap in snapshots for f in snap.listing(first, last)))


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
