"""Every SQL statement the warehouse runs, in one place.

Only three kinds of text are ever put into SQL by formatting: identifiers taken
from the whitelists below, the lake file paths of a validated tenant (DuckDB
cannot bind a table function's file names), and a viewer's validated extension and
message ids in a view's scope (:func:`scope_literal`). Every other value is bound.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path

import pyarrow as pa

from pipeline.schema import CALLS_PARTITIONS, CALLS_SCHEMA, EXPORT_COLUMNS, TIMESTAMP_UTC

_DUCKDB_TYPES = {
    pa.string(): "varchar",
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.float64(): "double",
    TIMESTAMP_UTC: "timestamptz",
    pa.date32(): "date",
    pa.bool_(): "boolean",
}

# The view's columns: the file columns, then the Hive partition columns.
VIEW_COLUMNS: tuple[str, ...] = (*CALLS_SCHEMA.names, *CALLS_PARTITIONS.names)

# The session: UTC so that no conversion depends on the server's zone.
# Global, not per session: every cursor of a cached database (pipeline.warehouse) has it.
# Parquet footers cached: lake files are immutable (written aside, renamed into place,
# replaced only by new names), and a view with union_by_name reads every file's footer
# at each query (366 daily files: 33 ms of a one-day count, 20 ms with the cache).
SESSION_SETUP = "set global timezone = 'UTC'; set global parquet_metadata_cache = true"

# The calls of one tenant: the live Hive-partitioned Parquet files of its folder
# (pipeline.lake_layout decides which files those are).
CALLS_VIEW_OVER_FILES = """
create view calls as
select
    {columns}
from {calls_source}
{scope}
"""

# A table's rows when every file holds every column of its schema: the columns are
# bound from one file's footer.
FILES_CURRENT = """read_parquet(
    {files},
    hive_partitioning = true,
    hive_types = {{'tenant': varchar, 'date': date}}
)"""

# A table's rows when some files were written before a column was appended
# (calls.recording_outcome, transcript confidence): union_by_name reads NULL for it in older
# files, and the typed-null branch gives every column of today's schema even when no file
# has it, instead of the view failing with "column not found" until a new file arrives.
# Only then: union_by_name reads every file's footer each time the view is bound, which is
# at every query (measured, 366 daily files: a one-day count of calls 8.5 -> 28 ms; binding
# call_steps 23 -> 7 ms, and call_history, which binds it twice, 58 -> 38 ms).
FILES_BY_NAME = """(
    select *
    from read_parquet(
        {files},
        hive_partitioning = true,
        hive_types = {{'tenant': varchar, 'date': date}},
        union_by_name = true
    )
    union all by name
    select
        {typed_nulls}
    where false
)"""


def files_source(files: str, schema: pa.Schema, *, current: bool) -> str:
    """The rows of a table's files (``files``: a DuckDB list of validated paths, a literal
    or :func:`pipeline.warehouse_sources.files_expr`);
    ``current``: every file holds every column of ``schema``."""
    if current:
        return FILES_CURRENT.format(files=files)
    return FILES_BY_NAME.format(files=files, typed_nulls=typed_nulls_of(schema))


# The same columns with no rows, for a tenant that has no calls yet.
CALLS_VIEW_EMPTY = """
create view calls as
select
    {typed_nulls}
where false
"""


# Views over the views, each in its file (each file's comment says what it holds):
# ``calls_with_legs`` (the calls of a tenant whose lake holds bridged legs: the same
# columns, one row per call with the legs folded into its outcome), ``call_paths`` and
# ``call_history`` (the calls with their path through the media server),
# ``recordings_with_call`` (each recording with the call it belongs to) and
# ``latest_transcripts`` (the newest transcript of each item, one view per table below).
WAREHOUSE_VIEWS: frozenset[str] = frozenset(
    {
        "calls_with_legs",
        "call_path_templates",
        "call_paths",
        "call_history",
        "recordings_with_call",
        "latest_transcripts",
    }
)

# latest_transcripts.sql's views: (view name, transcripts view, the item it transcribes).
LATEST_TRANSCRIPTS: tuple[tuple[str, str, str], ...] = (
    ("latest_transcripts", "transcripts", "message_id"),
    ("latest_recording_transcripts", "recording_transcripts", "recording_id"),
)


@cache
def sql_file(name: str) -> str:
    """``pipeline/sql/<name>.sql`` (read once per process); ``name`` is a constant of the
    calling module, never input."""
    return (Path(__file__).resolve().parent / "sql" / f"{name}.sql").read_text()


@cache
def warehouse_sql(name: str) -> str:
    """``pipeline/sql/warehouse/<name>.sql`` (read once per process)."""
    if name not in WAREHOUSE_VIEWS:
        raise ValueError(f"no warehouse view {name!r}")
    return sql_file(f"warehouse/{name}")


# The menus' names for the paths (pipeline.history.name_menus fills it, bound values).
ATTENDANT_NAMES_TABLE = (
    "create temp table attendant_names (attendant_id bigint primary key, name varchar not null)"
)


# A plain user sees the calls they placed, were called on, or answered.
# The extension is a literal of the view (see scope_literal): a view body cannot
# hold a bound parameter, and a session variable could be changed by raw SQL on
# the connection, so the scope a connection was opened with is the one it keeps.
# An inbound call's caller is what the carrier's From says, which anyone outside can
# set: an outside caller presenting "102" is not 102's call (nor its recording).
EXTENSION_SCOPE = """
where (caller = {extension} and direction <> 'inbound')
    or callee = {extension}
    or answered_by = {extension}
"""

# The same over calls with legs (pipeline/sql/warehouse/calls_with_legs.sql, whose
# leg_rows this reads): also the calls a bridged leg rang them on.
LEGS_EXTENSION_SCOPE = (
    EXTENSION_SCOPE.rstrip()
    + "\n    or call_id in (select origin_call_id from leg_rows where callee = {extension})\n"
)

# A plain user sees the legs and steps of the calls their ``calls`` view shows.
IN_VISIBLE_CALLS = """
where {column} in (select call_id from calls)
"""

# What a scope literal may contain: extensions (digits) and message ids (vm-<hex>)
# are far narrower, and are checked against their own patterns before this.
_SCOPE_VALUE = re.compile(r"[0-9A-Za-z-]{1,64}")


def scope_literal(value: str) -> str:
    """``'value'`` as SQL, for a view's scope; refuses anything but letters, digits, dashes."""
    if not _SCOPE_VALUE.fullmatch(value):
        raise ValueError(f"{value!r} cannot be written into a view")
    return f"'{value}'"


def scope_list_literal(values: Sequence[str]) -> str:
    """A ``varchar[]`` SQL literal of :func:`scope_literal` values."""
    return f"cast([{', '.join(scope_literal(v) for v in values)}] as varchar[])"


# After the view exists, DuckDB itself refuses any other file: even raw SQL
# on this connection cannot read another tenant's folder or change this back.
LOCK_DOWN = (
    "set allowed_directories = ['{tenant_dir}/']",
    "set enable_external_access = false",
    "set lock_configuration = true",
)


# Columns a user may sort the call history by (grid column ids): every exported one.
SORTABLE_COLUMNS: frozenset[str] = frozenset(EXPORT_COLUMNS) - {"call_id"}

# Newest first; acc_id breaks ties so that pages never overlap or skip a row.
DEFAULT_ORDER: tuple[tuple[str, str], ...] = (("started_at", "desc"),)
TIE_BREAKER = "acc_id desc"


# The days call_history covers (warehouse/call_history.sql): a page that cannot name its days.
FIRST_DAY, LAST_DAY = date(1, 1, 1), date(9999, 12, 30)


def select_calls(select_list: str, where_sql: str, order_by: str) -> str:
    """The one call-history query: the grid pages it, the exports stream it."""
    return f"select\n    {select_list}\nfrom call_history\nwhere {where_sql}\norder by {order_by}"


def select_call_page(select_list: str, where_sql: str, order_by: str) -> str:
    """``select_calls`` with ``limit ? offset ?``, keys first, reading the rows (and the
    paths) of the UTC days ``? to ?`` (the bounds come last: the days the filter can match,
    or :data:`FIRST_DAY` to :data:`LAST_DAY`).

    Same rows, same order as ``select_calls`` sliced; but the sort and the
    offset run over two narrow columns, and the wide rows are read for the
    page's 100 keys only (measured: half the time of one wide top-N query on
    3.3 M calls). acc_id is unique in the lake, so the join cannot add rows.
    """
    return (
        "with page_keys as (\n"
        f"    select date, acc_id from calls where {where_sql}\n"
        f"    order by {order_by}\n"
        "    limit ? offset ?\n"
        ")\n"
        f"select\n    {select_list}\nfrom call_history_of_days(?, ?)\n"
        "semi join page_keys using (date, acc_id)\n"
        f"order by {order_by}"
    )


def select_call_window(select_list: str, where_sql: str, order_by: str) -> str:
    """``select_calls`` of the UTC days ``? to ?`` (``call_history_of_days``: those days'
    paths only) with ``limit ? offset ?`` in one wide top-N, for a page asked of the newest
    days only (``pipeline.history.page_rows``): over a few days' files the keys-first
    query's second pass costs more than it saves (measured: 40 -> 22 ms of CPU)."""
    return (
        f"select\n    {select_list}\nfrom call_history_of_days(?, ?)\nwhere {where_sql}\n"
        f"order by {order_by}\nlimit ? offset ?"
    )


def count_calls(where_sql: str) -> str:
    """How many calls of the UTC days ``? to ?`` (bound after the filter's values) the
    filter matches (the grid's row count)."""
    return f"select count(*) from calls where ({where_sql}) and date between ? and ?"


# -- voicemail views ------------------------------------------------------------------
# ``voicemails`` and ``transcripts`` of one tenant, built like ``calls``: the Hive
# folder of the tenant only, or typed nulls while the folder holds no file yet.
TABLE_VIEW_OVER_FILES = """
create view {name} as
select
    {columns}
from {source}
{scope}
"""

TABLE_VIEW_EMPTY = """
create view {name} as
select
    {typed_nulls}
where false
"""

# A plain user (and a supervisor: switchboard.store.voicemail.may_open_mailbox) sees their
# own mailbox, plus the originals of copies forwarded to them (a forwarded copy shows the
# original's audio and transcript). Both are literals of the view, like EXTENSION_SCOPE's.
MAILBOX_SCOPE = """
where mailbox = {extension}
    or list_contains({message_ids}, message_id)
"""


def typed_nulls_of(schema: pa.Schema) -> str:
    """``cast(null as <type>) as <column>`` for a lake table plus its partition columns."""
    fields = [*schema, *CALLS_PARTITIONS]
    return ",\n    ".join(f'cast(null as {_DUCKDB_TYPES[f.type]}) as "{f.name}"' for f in fields)
