"""The files each view of a warehouse database reads: the closed days', bound once when the
database is built, and the live days', a small view (a connection's own once they changed).

Why: a database is built per scope and kept (:mod:`pipeline.warehouse_cache`); building
one binds every view over a year of daily files (~110 ms of CPU at 1 M calls). In a live
office the pipeline worker adds a file to today's partitions every few seconds, and a
database keyed by every file it reads was built again for each new file, for every user
(measured with 50 users browsing while calls came in: the portal's largest cost). So a
database is keyed by its closed days' files only, and each table's rows are

    (the closed days' files)  union all by name  "<table>__live"

where ``<table>__live`` is a view over the files of the live days (:data:`LIVE_DAYS`:
yesterday and today, UTC; late rows of yesterday still arrive after midnight), or no rows.

The database's live views are never replaced (a connection may be reading them). A
connection whose listing names other live files (new ones since the database was built)
gets temporary views of the same names over its own: DuckDB binds a view's names at each
query, a connection's temporary objects first, so every view above reads exactly that
connection's files, which its scope (:func:`pipeline.warehouse.scope_of`, what the result
caches key on) names. A new file costs ~1 ms per changed table in each connection, not a
database. The database is built again when a closed day's files change (a new day, a
closed day compacted) or a day's call paths are rolled up.

The live views are not scoped to an extension: the views over them are, as the views
over the closed days' files are (see :mod:`pipeline.warehouse` on raw SQL).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq

from pipeline import queries
from pipeline.lake_layout import TABLES, TableSnapshot

# Days before today (UTC) whose files are live: swapped, not built into the database.
LIVE_DAYS = 1


def first_live_day(now: datetime | None = None) -> date:
    """The first day whose files are live (the days before it are closed)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=LIVE_DAYS)


def split(
    snapshots: Mapping[str, TableSnapshot], first_live: date
) -> tuple[dict[str, TableSnapshot], dict[str, TableSnapshot]]:
    """Each table's files of the closed days, and of the live days (``first_live`` on)."""
    closed = {t: s.between(date.min, first_live - timedelta(days=1)) for t, s in snapshots.items()}
    live = {t: s.between(first_live, date.max) for t, s in snapshots.items()}
    return closed, live


def file_list(snap: TableSnapshot) -> str:
    """The snapshot's files as a DuckDB list literal (their paths are checked by the
    warehouse before any is formatted in)."""
    return "[" + ", ".join(f"'{path}'" for path in snap.paths()) + "]"


@functools.lru_cache(maxsize=65_536)
def _holds_every_column(path: str, inode: int, table: str) -> bool:
    """Whether a file of ``table`` has every column of its schema today (files are
    immutable: a path and inode are asked once per process)."""
    return set(TABLES[table].schema.names) <= set(pq.read_schema(path).names)


def files_source(snap: TableSnapshot) -> str:
    """A table's rows from the snapshot's files: the plain scan, unless a file predates a
    column."""
    table = snap.table
    current = all(
        _holds_every_column(path, f.inode, table)
        for path, f in zip(snap.paths(), snap.files, strict=True)
    )
    return queries.files_source(file_list(snap), TABLES[table].schema, current=current)


def live_view_name(table: str) -> str:
    return f"{table}__live"


def live_view(table: str, live: TableSnapshot, *, temporary: bool = False) -> str:
    """``<table>__live`` over the live days' files (no rows without any): the database's,
    or a connection's own (``temporary``)."""
    source = (
        files_source(live)
        if live.files
        else f"(select {queries.typed_nulls_of(TABLES[table].schema)} where false)"
    )
    kind = "temp view" if temporary else "view"
    return f'create {kind} "{live_view_name(table)}" as select * from {source}'


def rows_source(table: str, closed: TableSnapshot | None) -> str:
    """A table's rows: its closed days' files (``closed``) and its live view."""
    live = f'"{live_view_name(table)}"'
    if closed is None or not closed.files:
        return live
    return f"(select * from {files_source(closed)} union all by name select * from {live})"
