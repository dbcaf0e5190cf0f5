"""Removing accounting rows the lake already holds from Kamailio's spool.

Kamailio appends a row per call to ``kamailio-acc.sqlite`` for ever; the
pipeline worker calls :func:`clean_acc_spool` every ``acc_cleanup_interval``
seconds so the file stops growing. The one write Python ever makes to
Kamailio's file, under these rules (DESIGN.md, Kamailio accounting facts):

- **Only what the lake committed.** Every id up to the lake's watermark is in
  the lake, as a call or as a quarantined row that carries its whole spool row
  (``row_json``: :mod:`pipeline.replay` replays from that copy, never from the
  spool), fsynced before its manifest. The watermark never goes back, and an
  interrupted batch's redo reads only ids above it. ``acc_keep_rows`` more
  rows below it are kept for a person to inspect.
- **Ids are never reused**: the table is AUTOINCREMENT, so deleting even the
  newest row cannot make Kamailio hand its id out again and have the ingest's
  ``id > watermark`` skip a call.
- **Never racing Kamailio's writer.** Each chunk is one ``BEGIN IMMEDIATE``
  transaction (the write lock taken up front, so it cannot fail half-way on a
  lock upgrade) deleting at most ``chunk_rows`` rows by primary key — a few
  milliseconds. Kamailio's single writer (an rtimer process) gets "database is
  locked" meanwhile and retries its INSERT every 50 ms (``CDR_RETRIES`` times,
  see ``kamailio-accounting.cfg``); a short pause between chunks lets it in. On our side
  the connection waits for Kamailio's lock (busy timeout) instead of failing.

Freed pages are reused by Kamailio's next inserts, so the file's size levels
off; it is not vacuumed (that would hold the lock for the whole file).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from pipeline.acc import spool_has_table
from pipeline.lake import Lake
from switchboard.acc_spool import ACC_TABLE
from switchboard.settings import Settings

log = logging.getLogger(__name__)

CHUNK_ROWS = 500  # rows per transaction: ~1-5 ms of Kamailio's writer waiting
PAUSE_SECONDS = 0.02  # between chunks: Kamailio's writer retries within 50 ms
BUSY_TIMEOUT_SECONDS = 5.0  # we wait for Kamailio's lock; it never waits for ours


@dataclass(frozen=True)
class CleanupResult:
    deleted: int
    up_to_id: int  # every row with an id up to this one is gone (0: nothing was due)


def clean_acc_spool(
    settings: Settings,
    *,
    keep_rows: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    pause: float = PAUSE_SECONDS,
) -> CleanupResult:
    """Delete spool rows with ``id <= watermark - keep_rows``, in short transactions."""
    keep = settings.acc_keep_rows if keep_rows is None else keep_rows
    limit = Lake(settings.lake_dir).watermark() - max(0, keep)
    if limit <= 0 or not settings.acc_db.is_file():
        return CleanupResult(0, 0)
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    db = sqlite3.connect(settings.acc_db, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
    deleted = 0
    try:
        if not spool_has_table(db):
            return CleanupResult(0, 0)
        # A spool whose ids restarted (the file was replaced) holds rows the lake has
        # never seen under ids it has: deleting them would destroy the only copy.
        issued = db.execute("select seq from sqlite_sequence where name = ?", (ACC_TABLE,))
        (highest,) = issued.fetchone() or (0,)
        if highest < limit:
            log.error(
                "accounting spool ids end at %d, below the lake's watermark %d: the spool was"
                " replaced; not removing anything",
                highest,
                limit + max(0, keep),
            )
            return CleanupResult(0, 0)
        while True:
            (low,) = db.execute(f"select min(id) from {ACC_TABLE}").fetchone()
            if low is None or low > limit:
                break
            high = min(low + chunk_rows - 1, limit)
            db.execute("begin immediate")
            try:
                cursor = db.execute(f"delete from {ACC_TABLE} where id <= ?", (high,))
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
            deleted += cursor.rowcount
            if high >= limit:
                break
            time.sleep(pause)
    finally:
        db.close()
    if deleted:
        log.info("accounting spool: removed %d rows up to id %d (in the lake)", deleted, limit)
    return CleanupResult(deleted, limit)
