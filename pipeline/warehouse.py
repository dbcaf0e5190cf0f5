"""The warehouse: the only module that opens DuckDB.

``connect`` returns an in-memory DuckDB connection with the views ``calls``,
``legs``, ``call_steps``, ``voicemails``, ``transcripts``, ``queue_events``,
``agent_events``, ``recordings`` and ``recording_transcripts``, each over one
tenant's folder of the lake (``calls`` folds the bridged ``legs`` into one row
per call: ``pipeline/sql/warehouse/calls_with_legs.sql``)
(optionally narrowed to one extension: its calls, its mailbox, and the
originals of voicemail copies forwarded to it). Views over those show no more than
they do: ``recordings_with_call`` (each recording with the call it belongs to:
``pipeline/sql/warehouse/recordings_with_call.sql``), ``latest_transcripts`` and
``latest_recording_transcripts`` (the newest transcript of each message or recording:
``pipeline/sql/warehouse/latest_transcripts.sql``). The voicemail views follow the
voicemail rule, not the calls' one (:func:`switchboard.store.voicemail.may_open_mailbox`):
a supervisor sees the tenant's calls and recordings but only their own mailbox
(``mailbox``), a manager every mailbox. ``access_log`` (the data-access audit trail,
:mod:`pipeline.access_log_export`) is the managers' alone, like the Audit page: it holds
rows only in a connection that reads every mailbox (no extension, no mailbox: a manager,
or the operator's tools); in any other its view is empty and its folder is not even
among the connection's allowed directories.
Isolation between tenants does not rest on the view alone: once the view
exists, the connection is locked to that tenant's folder
(``allowed_directories`` + ``enable_external_access = false`` +
``lock_configuration``), so even raw SQL on it cannot open another file.

The extension scope is a view filter with the extension (and the forwarded
message ids) written in as validated literals: no session variable holds it,
so ``set variable`` on the connection cannot widen it, and the scope recorded
for the connection (:func:`scope_of`) is the one its views apply. Raw SQL
could still define new views over the tenant's folder: do not hand a plain
user's connection to raw SQL.

Connections of one scope over the same files are cursors of one database, kept per
process (:class:`_DatabaseCache`): their views and lock-down are shared, their temp
tables their own. Raw SQL that creates a view or table would show in the next such
connection: create temp ones.

Readers do not call :func:`connect` themselves: :func:`pipeline.viewer.open_for_viewer`
reads the viewer from the provisioning store first and opens the connection
in their scope.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipeline import queries
from pipeline.contacts import CONTACT_NAMES_TABLE, name_numbers
from pipeline.lake_layout import (
    ACCESS_LOG,
    AGENT_EVENTS,
    CALL_STEPS,
    CALLS,
    LEGS,
    QUEUE_EVENTS,
    RECORDING_TRANSCRIPTS,
    RECORDINGS,
    TableSnapshot,
    parse_partition_name,
    snapshot,
    tenant_folder,
)
from pipeline.rollup_files import PATHS, ROLLUPS, rolled_files
from pipeline.schema import (
    CALL_STEPS_SCHEMA,
    CALLS_SCHEMA,
    EXTENSION_RE,
    LEGS_SCHEMA,
    TENANT_RE,
    TRANSCRIPTS_SCHEMA,
    VOICEMAILS_SCHEMA,
)
from switchboard.settings import Settings
from switchboard.voicemail import MESSAGE_ID_RE

# Characters that would change the meaning of the one formatted path: quotes
# end the literal, the rest are glob syntax.
_UNSAFE_PATH = re.compile(r"['\"*?\[\]{}\\]")


class WarehouseError(ValueError):
    """A warehouse request was refused; the message is for the user."""


@dataclass(frozen=True)
class ConnectionScope:
    """What a connection from :func:`connect` shows: whose data, and from which folders."""

    tenant: str
    extension: str | None
    forwarded_message_ids: tuple[str, ...]
    # The lake folders its views read (calls first) ...
    folders: tuple[Path, ...]
    # ... and the files of each that the views read: the connection's data.
    snapshots: tuple[TableSnapshot, ...] = ()
    # The names its views show numbers as (digits, name), sorted: results depend on them.
    contact_names: tuple[tuple[str, str], ...] = ()
    # The mailbox its voicemails and transcripts views show (None: every mailbox).
    mailbox: str | None = None
    # The closed days' call paths its call_paths view reads (compaction writes them after
    # the files above may have been listed: a new rollup is a new database).
    rolled_paths: str = ""


# The scope of each open connection; an entry goes with its connection.
_SCOPES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, ConnectionScope] = (
    weakref.WeakKeyDictionary()
)


def scope_of(conn: duckdb.DuckDBPyConnection) -> ConnectionScope | None:
    """The scope :func:`connect` gave ``conn`` (None for a connection it did not open)."""
    return _SCOPES.get(conn)


def tenant_table_dir(lake_dir: Path, table: str, tenant: str) -> Path:
    """``<lake>/<table>/tenant=<tenant>`` (absolute) for a strictly valid tenant name."""
    if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
        raise WarehouseError(f"{tenant!r} is not a tenant name")
    path = tenant_folder(lake_dir.resolve(), table, tenant)
    if _UNSAFE_PATH.search(str(path)):
        raise WarehouseError(f"the lake path {str(path)!r} contains quotes or glob characters")
    return path


def tenant_calls_dir(lake_dir: Path, tenant: str) -> Path:
    """``<lake>/calls/tenant=<tenant>``, checked like every table folder."""
    return tenant_table_dir(lake_dir, CALLS.name, tenant)


def _file_list(snap: TableSnapshot) -> str:
    """The snapshot's files as a DuckDB list literal (every part of each path is checked)."""
    return "[" + ", ".join(f"'{path}'" for path in snap.paths()) + "]"


def _call_paths_parts(
    lake_dir: Path, tenant: str, snapshots: Mapping[str, TableSnapshot], scope: str
) -> dict[str, str]:
    """call_paths.sql's placeholders: the closed days' rollup files that match the steps
    (:func:`pipeline.rollup_files.rolled_files`, read with the steps' scope) and the instant
    from which the paths are built from the steps."""
    days = sorted(d for f in snapshots[CALL_STEPS.name].files
                  if (d := parse_partition_name(f.partition)) is not None)  # fmt: skip
    files, live = (
        rolled_files(lake_dir, PATHS, tenant, snapshots, days[0], days[-1]) if days else ([], None)
    )
    if not files or live is None:
        return {
            "rolled": "(select null::varchar as call_id, null::varchar as template,"
            " null::date as date where false)",
            "live_from": "timestamptz '0001-01-01 00:00:00+00'",
        }
    if any(_UNSAFE_PATH.search(str(f)) for f in files):
        raise WarehouseError("the lake's path cannot be read safely")
    listed = ", ".join(f"'{f}'" for f in files)
    return {
        # date: the rollup's day (its Hive folder), so a query of a few days reads a few files
        "rolled": f"(select call_id, template, date from read_parquet([{listed}],"
        f" hive_partitioning = true, hive_types = {{'date': date}})\n{scope})",
        "live_from": f"timestamptz '{live.isoformat()} 00:00:00+00'",
    }


@functools.lru_cache(maxsize=65_536)
def _holds_every_call_column(path: str, inode: int) -> bool:
    """Whether a calls file has every column of today's CALLS_SCHEMA (files are immutable:
    a path and inode are asked once per process)."""
    return set(CALLS_SCHEMA.names) <= set(pq.read_schema(path).names)


def _calls_source(snap: TableSnapshot) -> str:
    """The calls view's source: the plain scan, unless a file predates a column."""
    current = all(
        _holds_every_call_column(path, f.inode)
        for path, f in zip(snap.paths(), snap.files, strict=True)
    )
    return queries.calls_source(_file_list(snap), current=current)


def connect(
    settings: Settings,
    tenant: str,
    *,
    extension: str | None = None,
    mailbox: str | None = None,
    forwarded_message_ids: Sequence[str] = (),
    contact_names: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection whose views show one tenant (or one extension).

    ``mailbox``: the one mailbox the voicemail views show (default: ``extension``'s;
    neither: every mailbox). ``forwarded_message_ids``: with a mailbox, the original
    messages of the voicemail copies forwarded to it (their facts live in the sender's box).
    ``contact_names``: digits → name the views show numbers as (:mod:`pipeline.contacts`).
    """
    tenant_dir = tenant_calls_dir(settings.lake_dir, tenant)
    table_dirs = {
        "voicemails": (
            tenant_table_dir(settings.lake_dir, "voicemails", tenant),
            VOICEMAILS_SCHEMA,
        ),
        "transcripts": (
            tenant_table_dir(settings.lake_dir, "transcripts", tenant),
            TRANSCRIPTS_SCHEMA,
        ),
        LEGS.name: (tenant_table_dir(settings.lake_dir, LEGS.name, tenant), LEGS_SCHEMA),
        CALL_STEPS.name: (
            tenant_table_dir(settings.lake_dir, CALL_STEPS.name, tenant),
            CALL_STEPS_SCHEMA,
        ),
        **{
            t.name: (tenant_table_dir(settings.lake_dir, t.name, tenant), t.schema)
            for t in (QUEUE_EVENTS, AGENT_EVENTS, RECORDINGS, RECORDING_TRANSCRIPTS)
        },
    }
    # The views read the files that are each table now (pipeline.lake_layout): a
    # snapshot, so a compaction or ingest after this line shows in the next connection.
    snapshots = {
        name: snapshot(settings.lake_dir, name, tenant, folder=folder)
        for name, folder in [
            (CALLS.name, tenant_dir),
            *((n, d) for n, (d, _) in table_dirs.items()),
        ]
    }
    if extension is not None and (
        not isinstance(extension, str) or not EXTENSION_RE.match(extension)
    ):
        raise WarehouseError(f"{extension!r} is not an extension")
    # The audit trail: only for a connection that reads every mailbox (module docstring).
    audit = extension is None and mailbox is None
    if audit:
        table_dirs[ACCESS_LOG.name] = (
            tenant_table_dir(settings.lake_dir, ACCESS_LOG.name, tenant),
            ACCESS_LOG.schema,
        )
        snapshots[ACCESS_LOG.name] = snapshot(
            settings.lake_dir, ACCESS_LOG.name, tenant, folder=table_dirs[ACCESS_LOG.name][0]
        )
    if mailbox is None:
        mailbox = extension
    elif not isinstance(mailbox, str) or not EXTENSION_RE.match(mailbox):
        raise WarehouseError(f"{mailbox!r} is not a mailbox")
    elif extension is not None and mailbox != extension:
        raise WarehouseError("a connection bound to an extension shows that extension's mailbox")
    calls_scope = mailbox_scope = legs_calls_scope = ""
    scopes = dict.fromkeys(table_dirs, "")
    if mailbox is not None:
        bad = [m for m in forwarded_message_ids if not MESSAGE_ID_RE.fullmatch(str(m))]
        if bad:
            raise WarehouseError(f"{bad[0]!r} is not a message id")
        mailbox_scope = queries.MAILBOX_SCOPE.format(
            extension=queries.scope_literal(mailbox),
            message_ids=queries.scope_list_literal(forwarded_message_ids),
        )
        scopes["voicemails"] = scopes["transcripts"] = mailbox_scope
    if extension is not None:
        literal = queries.scope_literal(extension)
        calls_scope = queries.EXTENSION_SCOPE.format(extension=literal)
        legs_calls_scope = queries.LEGS_EXTENSION_SCOPE.format(extension=literal)
        scopes = {
            "voicemails": mailbox_scope,
            "transcripts": mailbox_scope,
            LEGS.name: queries.IN_VISIBLE_CALLS.format(column="origin_call_id"),
            CALL_STEPS.name: queries.IN_VISIBLE_CALLS.format(column="call_id"),
            # A plain user: the queue calls they can see, and their own agent events.
            QUEUE_EVENTS.name: queries.IN_VISIBLE_CALLS.format(column="call_id"),
            AGENT_EVENTS.name: f"where agent = {literal}",
            # Recordings of the calls they can see, and of those calls' bridged legs.
            RECORDINGS.name: queries.IN_VISIBLE_CALLS.format(column="call_id")
            + "    or call_id in (select call_id from legs)\n",
            RECORDING_TRANSCRIPTS.name: (
                "where recording_id in (select recording_id from recordings)"
            ),
        }
    paths_parts = _call_paths_parts(settings.lake_dir, tenant, snapshots, scopes[CALL_STEPS.name])
    scope = ConnectionScope(
        tenant,
        extension,
        tuple(forwarded_message_ids) if mailbox is not None else (),
        (tenant_dir, *(d for d, _ in table_dirs.values())),
        tuple(snapshots.values()),
        tuple(sorted((contact_names or {}).items())),
        mailbox,
        paths_parts["rolled"],
    )
    database = _DATABASES.get(scope)
    if database is not None:
        return _session(database, scope)
    conn = duckdb.connect(":memory:")
    try:
        conn.execute(queries.SESSION_SETUP)
        if _QUERY_THREADS:
            conn.execute(f"set threads = {_QUERY_THREADS}")
        if snapshots[CALLS.name].files and snapshots[LEGS.name].files:
            conn.execute(
                queries.warehouse_sql("calls_with_legs").format(
                    columns=",\n    ".join(queries.VIEW_COLUMNS),
                    calls_source=_calls_source(snapshots[CALLS.name]),
                    legs_files=_file_list(snapshots[LEGS.name]),
                    scope=legs_calls_scope,
                )
            )
        elif snapshots[CALLS.name].files:
            conn.execute(
                queries.CALLS_VIEW_OVER_FILES.format(
                    columns=",\n    ".join(queries.VIEW_COLUMNS),
                    calls_source=_calls_source(snapshots[CALLS.name]),
                    scope=calls_scope,
                )
            )
        else:
            conn.execute(queries.CALLS_VIEW_EMPTY.format(typed_nulls=queries.typed_nulls()))
        for name, (_folder, schema) in table_dirs.items():
            if snapshots[name].files:
                conn.execute(
                    queries.TABLE_VIEW_OVER_FILES.format(
                        name=name,
                        # quoted: call_steps has a column named "at", a DuckDB keyword
                        columns=",\n    ".join(f'"{c}"' for c in [*schema.names, "tenant", "date"]),
                        files=_file_list(snapshots[name]),
                        scope=scopes[name],
                        typed_nulls=queries.typed_nulls_of(schema),
                    )
                )
            else:
                conn.execute(
                    queries.TABLE_VIEW_EMPTY.format(
                        name=name, typed_nulls=queries.typed_nulls_of(schema)
                    )
                )
        if not audit:  # not a manager's: the trail's columns, never its rows
            conn.execute(
                queries.TABLE_VIEW_EMPTY.format(
                    name=ACCESS_LOG.name, typed_nulls=queries.typed_nulls_of(ACCESS_LOG.schema)
                )
            )
        name_numbers(conn, contact_names or {})  # before anything reads calls
        # The paths of the Call History (menus named by pipeline.history.name_menus).
        conn.execute(queries.ATTENDANT_NAMES_TABLE)
        conn.execute(queries.warehouse_sql("call_paths").format(**paths_parts))
        conn.execute(queries.warehouse_sql("call_history"))
        conn.execute(queries.warehouse_sql("recordings_with_call"))
        for view, table, item in queries.LATEST_TRANSCRIPTS:
            conn.execute(
                queries.warehouse_sql("latest_transcripts").format(
                    name=view, table=table, item=item
                )
            )
        for statement in queries.LOCK_DOWN:
            conn.execute(
                statement.format(
                    tenant_dir="/', '".join(
                        [str(tenant_dir)]
                        + [f"{d}" for d, _ in table_dirs.values()]
                        + [str(tenant_folder(settings.lake_dir, r.name, tenant)) for r in ROLLUPS]
                    )
                )
            )
        database = _OpenDatabase(conn, _temp_rows(conn, CONTACT_NAMES))
    except BaseException:
        conn.close()
        raise
    _DATABASES.put(scope, database)
    return _session(database, scope)


@dataclass(frozen=True)
class _OpenDatabase:
    """A database :func:`connect` built for one scope, and its contact names' rows."""

    root: duckdb.DuckDBPyConnection  # never handed out: readers get cursors of it
    contact_rows: tuple[tuple[str, str], ...]


class _DatabaseCache:
    """The last few databases :func:`connect` built, by scope (exact files included).

    Why: opening DuckDB and binding views over a year of daily files costs ~60 ms
    of CPU, more than the page query itself; a reader of the same scope and the
    same files gets a new connection (cursor) to the same database, whose views,
    lock-down and scope are the ones built for it. Temp tables are per connection,
    so each cursor gets its own menu names and contact names. An entry dropped
    here stays alive while a cursor of it is open. Cost of an entry (measured on
    DuckDB 2.0): ~7 MB and ~9 idle threads, so 32 kept is ~240 MB per process at most.
    """

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._entries: OrderedDict[ConnectionScope, _OpenDatabase] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: ConnectionScope) -> _OpenDatabase | None:
        with self._lock:
            found = self._entries.get(scope)
            if found is not None:
                self._entries.move_to_end(scope)
            return found

    def put(self, scope: ConnectionScope, database: _OpenDatabase) -> None:
        with self._lock:
            self._entries[scope] = database
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)

    def cursor(self, database: _OpenDatabase) -> duckdb.DuckDBPyConnection:
        with self._lock:  # one thread at a time asks a root connection for a cursor
            return database.root.cursor()


_DATABASES = _DatabaseCache(kept=32)
_QUERY_THREADS = 0  # DuckDB's default: a thread per core


def set_query_threads(threads: int) -> None:
    """DuckDB threads of the databases :func:`connect` builds from now on (0: one per core).

    Why: a server answering many requests at once (the portal) is parallel already;
    a query split over every core there only adds coordination. Measured with 50
    users on 2 cores: 79 -> 64 ms of portal CPU per request at one thread.
    """
    global _QUERY_THREADS
    if threads < 0:
        raise WarehouseError(f"query threads must be 0 or more, not {threads}")
    _QUERY_THREADS = int(threads)


CONTACT_NAMES = "contact_names"  # pipeline.contacts' temp table


def _temp_rows(conn: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple[str, str], ...]:
    """The rows of a temp table of ``conn`` (none if it has no such table)."""
    found = conn.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [table]
    ).fetchall()
    if not found[0][0]:
        return ()
    return tuple(conn.execute(f"select * from {table}").fetchall())


def _session(database: _OpenDatabase, scope: ConnectionScope) -> duckdb.DuckDBPyConnection:
    """A new connection to ``database`` with the temp tables its views read."""
    conn = _DATABASES.cursor(database)
    try:
        conn.execute(queries.ATTENDANT_NAMES_TABLE)
        if database.contact_rows:
            conn.execute(CONTACT_NAMES_TABLE)
            conn.executemany(
                f"insert into {CONTACT_NAMES} values (?, ?)",
                [list(row) for row in database.contact_rows],
            )
    except BaseException:
        conn.close()
        raise
    _SCOPES[conn] = scope
    return conn
