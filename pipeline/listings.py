"""The lake listings a reader may reuse for a few seconds (the portal's ``portal_listing_seconds``).

Why: in a live office the pipeline worker adds a file to today's partitions every few
seconds, and everything the portal keeps is keyed by the exact files a connection reads:
the databases built per scope (:mod:`pipeline.warehouse_cache`), the grid's counts and the
metric results (:mod:`pipeline.metrics_cache`). Listed anew for every request, each new
file made every user's next page build a new database and compute its metrics again
(``benchmarks/portal_load.py --ingest-every``). Reused for a few seconds, a page is as
fresh as its listing, whose age is bounded by the setting, and exact for the files it
names: the caches stay keyed by the files read.

Safe because every file of a listing stays readable for longer than the reuse:

- compaction keeps merged-away files for ``compaction_grace`` seconds (the reuse must
  be under half of it: :func:`set_listing_reuse` refuses more);
- the one writer that unlinks live data at once (:mod:`pipeline.lake_deletion`: the file
  of a deleted recording) calls :func:`mark_changed` after its commit and before the
  unlink. That touches the tenant's stamp, a file, so every worker process sees it:
  a listing is reused only while the stamp is the one read before it was taken.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from pipeline.lake_layout import TableSnapshot, snapshot

# <lake>/_listing_stamps/<tenant>: not a table folder (tables are lake_layout.TABLES')
STAMPS_DIR = "_listing_stamps"

_reuse_seconds = 0.0  # 0: list for every connection (the default outside the portal)


class ListingError(ValueError):
    """A reuse the lake's guarantees do not cover was asked for."""


ListingKey = tuple[str, str, tuple[str, ...]]  # (lake, tenant, table names)


@dataclass(frozen=True)
class Listing:
    """The files of a tenant's tables as listed at one moment."""

    lake_dir: Path
    tenant: str
    folders: Mapping[str, Path]  # table -> its tenant folder
    taken: float  # time.monotonic() when it was taken
    taken_at: float  # time.time() then (what a page says its data is as of)
    stamp: int  # the tenant's stamp (mtime in ns, 0: none) read before it was taken
    snapshots: dict[str, TableSnapshot]

    def readable_for(self, seconds: float) -> bool:
        """Taken under ``seconds`` ago and no file of it unlinked since (the stamp)."""
        age = time.monotonic() - self.taken
        return age < seconds and self.stamp == _stamp(self.lake_dir, self.tenant)


_LISTED: dict[ListingKey, Listing] = {}
_lock = threading.Lock()
# pipeline.served_pages: the listings a page reads again, and those a page read
_PINNED: ContextVar[Mapping[ListingKey, Listing] | None] = ContextVar("pinned", default=None)
_READ: ContextVar[dict[ListingKey, Listing] | None] = ContextVar("read", default=None)


def set_listing_reuse(seconds: float, *, grace: float) -> None:
    """Reuse a listing for up to ``seconds`` (0: never) in this process; ``grace`` is
    compaction's (``compaction_grace``), which must outlast twice the reuse."""
    global _reuse_seconds
    if not (seconds >= 0 and 2 * seconds <= grace):  # NaN too
        raise ListingError(
            f"a listing can be reused 0 to {grace / 2:g} seconds"
            f" (half of compaction_grace), not {seconds:g}"
        )
    with _lock:
        _reuse_seconds = float(seconds)
        _LISTED.clear()


def stamp_path(lake_dir: Path, tenant: str) -> Path:
    return lake_dir / STAMPS_DIR / tenant


def mark_changed(lake_dir: Path, tenant: str) -> None:
    """Let no reader reuse a listing of ``tenant`` taken before now (before unlinking a
    file that was live; after the commit that made it dead, so a listing taken from now
    on no longer names it)."""
    path = stamp_path(lake_dir, tenant)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _stamp(lake_dir: Path, tenant: str) -> int:
    try:
        return stamp_path(lake_dir, tenant).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def tables_listed(
    lake_dir: Path, tenant: str, folders: Mapping[str, Path]
) -> dict[str, TableSnapshot]:
    """The live files of each table in ``folders`` (table -> its tenant folder, resolved):
    listed now, or as listed at most ``portal_listing_seconds`` ago (inside
    :func:`reading`: the pinned listing of these tables, if any)."""
    key = (str(lake_dir), tenant, tuple(folders))
    pinned = _PINNED.get()
    listing = pinned.get(key) if pinned is not None else None
    if listing is None:
        listing = _listing(lake_dir, tenant, folders)
    read = _READ.get()
    if read is not None:
        read.setdefault(key, listing)
    return listing.snapshots


def listed_again(listing: Listing) -> Listing:
    """The same tables as :func:`tables_listed` would list them now (no pin)."""
    return _listing(listing.lake_dir, listing.tenant, listing.folders)


def _listing(lake_dir: Path, tenant: str, folders: Mapping[str, Path]) -> Listing:
    key = (str(lake_dir), tenant, tuple(folders))
    stamp = _stamp(lake_dir, tenant)
    with _lock:
        seconds = _reuse_seconds
        kept = _LISTED.get(key)
    if kept is not None and kept.stamp == stamp and time.monotonic() - kept.taken < seconds:
        return kept
    taken, taken_at = time.monotonic(), time.time()
    snapshots = {
        name: snapshot(lake_dir, name, tenant, folder=folder) for name, folder in folders.items()
    }
    listing = Listing(lake_dir, tenant, dict(folders), taken, taken_at, stamp, snapshots)
    if seconds > 0:
        with _lock:
            _LISTED[key] = listing
    return listing


@contextmanager
def reading(
    pinned: Mapping[ListingKey, Listing] | None = None,
) -> Iterator[dict[ListingKey, Listing]]:
    """Inside: :func:`tables_listed` returns ``pinned``'s listing of the tables it holds,
    and the yielded dict collects every listing it returned (this thread and context)."""
    read: dict[ListingKey, Listing] = {}
    pin_token, read_token = _PINNED.set(pinned), _READ.set(read)
    try:
        yield read
    finally:
        _PINNED.reset(pin_token)
        _READ.reset(read_token)
