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

Each result records its owner: who caused it, as plain text the caller sets
(:data:`CACHE_OWNER`; the portal names the signed-in user, a CLI run or notebook
leaves it empty). Why: both tiers are shared, and with plain LRU ~400 Analytics
requests of one user evicted everyone's results. Over its bound, a tier evicts
the least recently used result of the owner furthest over their share (the bound
split evenly between the owners holding results), and only once nobody is over
their share the least recently used one overall (:func:`eviction_victims`): one
owner's flood then mostly evicts their own results. On disk the owner is in the
file's metadata, read once per file by the process that evicts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from contextvars import ContextVar
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import PurePath

import pyarrow as pa

from pipeline.file_spans import may_hold
from pipeline.lake_layout import TableSnapshot

Listing = tuple[tuple[str, str, int], ...]

_SUFFIX = ".arrow"
_KEY_METADATA = b"switchboard_cache_key"
_OWNER_METADATA = b"switchboard_cache_owner"
_OURS = (_KEY_METADATA, _OWNER_METADATA)
# Eviction lists the folder only after this share of the bound was written since the last
# listing (by this process), so the folder stays within ~1/16 of its bound per writer.
_SCAN_EVERY_FRACTION = 16
_STALE_TEMP_SECONDS = 300.0


# Who the results computed now are for (plain text; "" when nobody in particular). Set by
# the caller around its queries: the portal, per request, to the signed-in user.
CACHE_OWNER: ContextVar[str] = ContextVar("switchboard_cache_owner", default="")


def eviction_victims(
    entries: Sequence[tuple[str, int]], max_bytes: int, max_entries: int | None = None
) -> list[int]:
    """Which of ``entries`` (owner, bytes; least recently used first) to evict, in order,
    for the rest to fit ``max_bytes`` (and ``max_entries``).

    The least recently used entry of the owner most over their share goes first (a
    share: the bound split evenly between the owners present); when nobody is over
    theirs, the least recently used entry overall. With one owner: plain LRU.
    """
    total, count = sum(size for _, size in entries), len(entries)
    by_owner: dict[str, deque[int]] = {}
    held: dict[str, list[int]] = {}  # owner -> [bytes, entries]
    for i, (owner, size) in enumerate(entries):
        by_owner.setdefault(owner, deque()).append(i)
        held.setdefault(owner, [0, 0])[0] += size
        held[owner][1] += 1
    owners = max(1, len(by_owner))
    gone: set[int] = set()
    oldest = 0  # the next candidate in overall LRU order
    victims: list[int] = []
    while total > max_bytes or (max_entries is not None and count > max_entries):
        measure, bound = (0, max_bytes) if total > max_bytes else (1, max_entries or 0)
        heaviest = max((o for o in by_owner if by_owner[o]), key=lambda o: held[o][measure])
        if held[heaviest][measure] * owners > bound:
            victim = by_owner[heaviest].popleft()
        else:
            while oldest in gone:
                oldest += 1
            victim = oldest
            by_owner[entries[victim][0]].remove(victim)
        gone.add(victim)
        victims.append(victim)
        owner, size = entries[victim]
        held[owner][0] -= size
        held[owner][1] -= 1
        total -= size
        count -= 1
    return victims


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
        # The owner of each file seen, by (path, inode): a file is written once under an
        # inode (temp name, then rename), so its footer is read once per evicting process.
        self._owners: dict[tuple[str, int], str] = {}

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
            {k: v for k, v in metadata.items() if k not in _OURS} or None
        )

    def put(self, key_text: str, table: pa.Table, owner: str = "") -> None:
        path = self._path(key_text)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        stored = table.replace_schema_metadata(
            {
                **(table.schema.metadata or {}),
                _KEY_METADATA: key_text.encode(),
                _OWNER_METADATA: owner.encode(),
            }
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

    def _owner(self, path: str, inode: int) -> str:
        known = self._owners.get((path, inode))
        if known is None:
            try:
                with pa.memory_map(path) as source:
                    metadata = pa.ipc.open_file(source).schema.metadata or {}
                known = metadata.get(_OWNER_METADATA, b"").decode(errors="replace")
            except (FileNotFoundError, pa.ArrowInvalid, OSError):
                known = ""  # gone meanwhile (then skipped) or unreadable: nobody's
            self._owners[(path, inode)] = known
        return known

    def evict(self) -> int:
        """Delete results until the folder fits its bound (:func:`eviction_victims`); how many."""
        entries: list[tuple[float, int, str, int]] = []
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
                entries.append((st.st_mtime, st.st_size, entry.path, st.st_ino))
        entries.sort()
        with self._lock:  # one eviction at a time reads and prunes the owners memo
            owners = [self._owner(path, inode) for _, _, path, inode in entries]
            self._owners = {(e[2], e[3]): o for e, o in zip(entries, owners, strict=True)}
        sized = [(owner, e[1]) for e, owner in zip(entries, owners, strict=True)]
        victims = eviction_victims(sized, self.max_bytes)
        for i in victims:
            with contextlib.suppress(FileNotFoundError):  # another process evicted it
                os.unlink(entries[i][2])
        return len(victims)

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
        self._entries: OrderedDict[Hashable, tuple[pa.Table, str]] = OrderedDict()  # (, owner)
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
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return kept[0]
        disk = self.disk
        key_text = canonical_text(key) if disk is not None else None
        found = disk.get(key_text) if disk is not None and key_text is not None else None
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self.disk_hits += 1
        self._remember(key, found, CACHE_OWNER.get())  # in this process's memory for them
        return found

    def put(self, key: Hashable, table: pa.Table, owner: str | None = None) -> None:
        """Keep ``table`` under ``key``, caused by ``owner`` (default: :data:`CACHE_OWNER`)."""
        owner = CACHE_OWNER.get() if owner is None else owner
        self._remember(key, table, owner)
        disk = self.disk
        if disk is not None and table.nbytes <= disk.max_bytes:
            key_text = canonical_text(key)
            if key_text is not None:
                disk.put(key_text, table, owner)

    def _remember(self, key: Hashable, table: pa.Table, owner: str) -> None:
        size = table.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[0].nbytes
            self._entries[key] = (table, owner)
            self._bytes += size
            if len(self._entries) <= self.max_entries and self._bytes <= self.max_bytes:
                return
            keys = list(self._entries)
            sized = [(o, t.nbytes) for t, o in self._entries.values()]
            for i in eviction_victims(sized, self.max_bytes, self.max_entries):
                evicted, _ = self._entries.pop(keys[i])
                self._bytes -= evicted.nbytes

    def owned_bytes(self) -> dict[str, int]:
        """Bytes of results in this process's memory, by owner."""
        with self._lock:
            held: dict[str, int] = {}
            for table, owner in self._entries.values():
                held[owner] = held.get(owner, 0) + table.nbytes
            return held

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
