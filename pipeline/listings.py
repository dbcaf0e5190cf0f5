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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.lake_layout import TableSnapshot, snapshot

# <lake>/_listing_stamps/<tenant>: not a table folder (tables are lake_layout.TABLES')
STAMPS_DIR = "_listing_stamps"

_reuse_seconds = 0.0  # 0: list for every connection (the default outside the portal)


class ListingError(ValueError):
    """A reuse the lake's guarantees do not cover was asked for."""


@dataclass(frozen=True)
class _Listed:
    taken: float  # time.monotonic() when it was taken
    stamp: int  # the tenant's stamp (mtime in ns, 0: none) read before it was taken
    snapshots: dict[str, TableSnapshot]


_LISTED: dict[tuple[str, str, tuple[str, ...]], _Listed] = {}
_lock = threading.Lock()


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
    listed now, or as listed at most ``portal_listing_seconds`` ago."""
    key = (str(lake_dir), tenant, tuple(folders))
    stamp = _stamp(lake_dir, tenant)
    with _lock:
        seconds = _reuse_seconds
        kept = _LISTED.get(key)
    if kept is not None and kept.stamp == stamp and time.monotonic() - kept.taken < seconds:
        return kept.snapshots
    taken = time.monotonic()
    snapshots = {
        name: snapshot(lake_dir, name, tenant, folder=folder) for name, folder in folders.items()
    }
    if seconds > 0:
        with _lock:
            _LISTED[key] = _Listed(taken, stamp, snapshots)
    return snapshots
