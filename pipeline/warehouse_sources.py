"""The files each view of a warehouse database reads: the closed days', named once when
the database is built, and the live days', which a connection may name anew.

Why: a database is built per scope and kept (:mod:`pipeline.warehouse_cache`); building
one binds every view over a year of daily files (~110 ms of CPU at 1 M calls). In a live
office the pipeline worker adds a file to today's partitions every few seconds, and a
database keyed by every file it reads was built again for each new file, for every user
(measured with 50 users browsing while calls came in: the portal's largest cost).

So each table's views read one file list, the concatenation of two:

    read_parquet(list_concat(sb_closed_<table>(),
                             coalesce(getvariable('sb_live_<table>'), sb_live_<table>())))

``sb_closed_<table>()`` and ``sb_live_<table>()`` are macros of the database holding the
files of the closed days and of the live days (:data:`LIVE_DAYS`: yesterday and today,
UTC; late rows of yesterday still arrive after midnight) when it was built. A connection
whose listing names other live files sets the variable ``sb_live_<table>`` to them: a
variable is the connection's own, and DuckDB binds a view (and folds the list, a
constant) at each query, so every view above reads exactly that connection's files,
which its scope (:func:`pipeline.warehouse.scope_of`, what the result caches key on)
names. One ``read_parquet`` over one list, as before: no union for DuckDB to plan around
(a ``union all`` of the two parts made a count of all calls read a column of every row,
38 -> 133 ms on 1 M calls). A new file costs a ``set variable`` (< 1 ms) per changed table
in each connection, not a database.

A database is built again when a closed day's files change (a new day, a closed day
compacted), a day's call paths are rolled up, or a table gets its first live file of the
day or loses its last (a view over no file at all has no rows: :func:`has_files`).
Raw SQL on a connection could set the variables to other files: no further than the
folders the connection is locked to (see :mod:`pipeline.warehouse` on raw SQL).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow.parquet as pq

from pipeline import queries
from pipeline.lake_layout import CALL_STEPS, TABLES, TableSnapshot

# The view of the steps the live paths are built from, and its macro (call_paths.sql).
LIVE_STEPS, LIVE_TEMPLATES = "live_call_steps", "live_path_templates"

# Days before today (UTC) whose files are live: named by a connection, not the database.
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


def has_files(closed: Mapping[str, TableSnapshot], live: Mapping[str, TableSnapshot]) -> str:
    """Which tables have closed files and which live ones (part of a database's key)."""
    parts = [f"{t}:{int(bool(closed[t].files))}{int(bool(live[t].files))}" for t in sorted(closed)]
    return " ".join(parts)


def file_list(snap: TableSnapshot) -> str:
    """The snapshot's files as a DuckDB list literal (their paths are checked by the
    warehouse before any is formatted in)."""
    return "[" + ", ".join(f"'{path}'" for path in snap.paths()) + "]::varchar[]"


@functools.lru_cache(maxsize=65_536)
def _holds_every_column(path: str, inode: int, table: str) -> bool:
    """Whether a file of ``table`` has every column of its schema today (files are
    immutable: a path and inode are asked once per process)."""
    return set(TABLES[table].schema.names) <= set(pq.read_schema(path).names)


def _current(snap: TableSnapshot) -> bool:
    return all(
        _holds_every_column(path, f.inode, snap.table)
        for path, f in zip(snap.paths(), snap.files, strict=True)
    )


def file_macros(table: str, closed: TableSnapshot, live: TableSnapshot) -> list[str]:
    """The macros naming a table's closed and live files when it is built."""
    return [closed_macro(table, closed), f"create macro sb_live_{table}() as {file_list(live)}"]


def closed_macro(table: str, closed: TableSnapshot, part: str = "closed") -> str:
    """The macro naming a table's ``part`` of the closed days' files."""
    return f"create macro sb_{part}_{table}() as {file_list(closed)}"


def files_expr(table: str, part: str = "closed") -> str:
    """A table's file list: its ``part`` macro's files and the connection's live files."""
    return (
        f"list_concat(sb_{part}_{table}(),"
        f" coalesce(getvariable('sb_live_{table}'), sb_live_{table}()))"
    )


def files_source(
    table: str, closed: TableSnapshot, live: TableSnapshot, part: str = "closed"
) -> str:
    """A table's rows from :func:`files_expr` (the plain scan, unless a file predates a
    column)."""
    current = _current(closed) and _current(live)
    return queries.files_source(files_expr(table, part), TABLES[table].schema, current=current)


def name_live_files(table: str, live: TableSnapshot) -> str:
    """What makes a connection read ``live`` as the table's live files."""
    return f"set variable sb_live_{table} = {file_list(live)}"


def table_view(name: str, source: str, scope: str, view: str = "") -> str:
    """The view (``view``, else named ``name``) of one table over ``source``
    (:func:`files_source`)."""
    schema = TABLES[name].schema
    return queries.TABLE_VIEW_OVER_FILES.format(
        name=view or name,
        # quoted: call_steps has a column named "at", a DuckDB keyword
        columns=",\n    ".join(f'"{c}"' for c in [*schema.names, "tenant", "date"]),
        source=source,
        scope=scope,
    )


def empty_view(name: str, view: str = "") -> str:
    """A view with the columns of table ``name`` and no rows."""
    return queries.TABLE_VIEW_EMPTY.format(
        name=view or name, typed_nulls=queries.typed_nulls_of(TABLES[name].schema)
    )


def path_templates(
    conn: duckdb.DuckDBPyConnection,
    closed: TableSnapshot,
    live_steps: TableSnapshot,
    scope: str,
    live: date | None,
) -> None:
    """The macros of call_path_templates.sql: over every step (a closed day's rollup), and
    over the steps of the days the live paths read only (``live``: their first day; the
    closed days' files from the day before, and the live ones)."""
    sql = queries.warehouse_sql("call_path_templates")
    conn.execute(sql.format(name="call_path_templates", steps=CALL_STEPS.name))
    recent = closed.between(live - timedelta(days=1), date.max) if live else None
    if recent is None or not (recent.files or live_steps.files):
        conn.execute(empty_view(CALL_STEPS.name, LIVE_STEPS))
    else:
        conn.execute(closed_macro(CALL_STEPS.name, recent, part="recent"))  # sb_live_ is built
        source = files_source(CALL_STEPS.name, recent, live_steps, part="recent")
        conn.execute(table_view(CALL_STEPS.name, source, scope, view=LIVE_STEPS))
    conn.execute(sql.format(name=LIVE_TEMPLATES, steps=LIVE_STEPS))
