"""The instants a lake file's calls started in, read from its Parquet footer once per file.

Why: the metric result cache keys a result by the files of the date partitions it
reads, widened by a day each side (a table may be partitioned by local days). So a
call ingested this morning was in the key of yesterday's numbers too (west of UTC,
yesterday's last local hours are in today's UTC partition), and a one-day Analytics
page recomputed yesterday after each worker tick. A file whose calls all started
outside a result's instants cannot change it: :func:`may_hold` says so from the
file's row-group statistics, and :func:`pipeline.metrics_cache.lake_listing` leaves
such files out of the key (the tables of :data:`pipeline.lake_layout.INSTANT_REACH`;
the others are keyed by partition only).

A lake file is written once under its name (a rewrite is a new inode), so its span
never changes: it is kept per (path, inode) for the life of the process. A file
that cannot be read (swept after its grace period) or has no statistics may hold
anything, so it stays in the key; one without rows holds nothing.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lake_layout import INSTANT_REACH

_COLUMN = "started_at"  # both tables' time column (their partitions are its UTC days)

Span = tuple[datetime, datetime]  # (first, last) start of a file's rows
# A file without rows: a span no instant is in.
_EMPTY: Span = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))
_KEPT: dict[tuple[str, int], Span] = {}
_KEEP_AT_MOST = 200_000  # ~40 MB; a year of a busy tenant before compaction is ~200k files
_LOCK = threading.Lock()


def span(path: str, inode: int) -> Span | None:
    """The first and last start of the file's rows; None: not known (may hold anything)."""
    key = (path, inode)
    with _LOCK:
        found = _KEPT.get(key)
    if found is not None:
        return found
    try:
        found = _read_span(path)
    except (OSError, pa.ArrowException):
        return None  # not kept: a file being swept or unreadable is asked again next time
    if found is not None:
        with _LOCK:
            if len(_KEPT) >= _KEEP_AT_MOST:
                _KEPT.clear()
            _KEPT[key] = found
    return found


def _read_span(path: str) -> Span | None:
    meta = pq.read_metadata(path)
    column = meta.schema.to_arrow_schema().get_field_index(_COLUMN)
    if column < 0:
        return None
    first, last = _EMPTY
    for group in range(meta.num_row_groups):
        chunk = meta.row_group(group)
        if chunk.num_rows == 0:
            continue
        stats = chunk.column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        low, high = stats.min, stats.max
        if not isinstance(low, datetime) or not isinstance(high, datetime) or not low.tzinfo:
            return None
        first, last = min(first, low), max(last, high)
    return first, last


def may_hold(table: str, path: str, inode: int, start: datetime, end: datetime | None) -> bool:
    """Whether the file may hold a row of a call that started in [``start``, ``end``)
    (``end`` None: open-ended). Tables without a reach: always."""
    reach = INSTANT_REACH.get(table)
    if reach is None:
        return True
    found = span(path, inode)
    if found is None:
        return True
    first, last = found
    return last >= start and (end is None or first < end + reach)
