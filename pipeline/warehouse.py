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

Connections of one scope over the same closed days' files are cursors of one database, kept
per process (:mod:`pipeline.warehouse_cache`): their views and lock-down are shared, their
temp tables and the live days' files they read their own (:mod:`pipeline.warehouse_sources`).
Raw SQL that creates a view or table would show in the next such connection: create temp
ones.

Readers do not call :func:`connect` themselves: :func:`pipeline.viewer.open_for_viewer`
reads the viewer from the provisioning store first and opens the connection
in their scope.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipeline import queries
from pipeline.contacts import give_contact_rows, name_numbers
from pipeline.lake_layout import (
    ACCESS_LOG,
    AGENT_EVENTS,
    CALL_STEPS,
    CALLS,
    DAY_REACH,
    LEGS,
    QUEUE_EVENTS,
    RECORDING_TRANSCRIPTS,
    RECORDINGS,
    TRANSCRIPTS,
    VOICEMAILS,
    TableSnapshot,
    parse_partition_name,
    snapshots_of_days,
    tenant_folder,
)
from pipeline.listings import tables_listed
from pipeline.rollup_files import PATHS, ROLLUPS, rolled_files
from pipeline.schema import (
    EXTENSION_RE,
    TENANT_RE,
)
from pipeline.warehouse_cache import DatabaseCache, OpenDatabase
from pipeline.warehouse_sources import (
    LIVE_TEMPLATES,
    empty_view,
    file_macros,
    files_expr,
    files_source,
    first_live_day,
    has_files,
    name_live_files,
    path_templates,
    split,
    table_view,
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
    # Where the lake is (the rollups' folders are found from it).
    lake_dir: Path = Path()
    # A narrowed connection's days (:func:`narrowed`); None: every day.
    days: tuple[date, date] | None = None


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


def _call_paths_parts(
    lake_dir: Path,
    tenant: str,
    snapshots: Mapping[str, TableSnapshot],
    scope: str,
    days: tuple[date, date] | None,
) -> tuple[dict[str, str], date | None]:
    """call_paths.sql's placeholders: the closed days' rollup files that match the steps
    (:func:`pipeline.rollup_files.rolled_files`, read with the steps' scope) and the instant
    from which the paths are built from the steps; and that day (None: no live paths).
    ``days``: a narrowed connection's, whose calls' paths are those of the days
    ``first..last + 1`` (:func:`narrowed`)."""
    if days is not None:
        span: tuple[date, date] | None = (days[0], days[1] + timedelta(days=1))
    else:
        steps = sorted(d for f in snapshots[CALL_STEPS.name].files
                       if (d := parse_partition_name(f.partition)) is not None)  # fmt: skip
        span = (steps[0], steps[-1]) if steps else None
    files, live = rolled_files(lake_dir, PATHS, tenant, snapshots, *span) if span else ([], None)
    if any(_UNSAFE_PATH.search(str(f)) for f in files):
        raise WarehouseError("the lake's path cannot be read safely")
    listed = ", ".join(f"'{f}'" for f in files)
    # A narrowed connection whose days' paths are all rolled up (or have no steps)
    # builds none: planning the templates' query costs ~5 ms even over no steps.
    if live is not None and days is not None and span is not None and live > span[1]:
        live = None
    return {
        # date: the rollup's day (its Hive folder), so a query of a few days reads a few files
        "rolled": f"(select call_id, template, date from read_parquet([{listed}],"
        f" hive_partitioning = true, hive_types = {{'date': date}})\n{scope})"
        if files
        else _NO_PATHS,
        "live": _NO_LIVE_PATHS if live is None else _live_paths(live),
    }, live


# call_paths.sql's parts without rows: no rolled days; no live paths
_NO_PATHS = (
    "(select null::varchar as call_id, null::varchar as template, null::date as date where false)"
)
_NO_LIVE_PATHS = (
    "(select null::varchar as call_id, null::varchar as template,"
    " null::timestamptz as first_at where false)"
)


def _live_paths(day: date) -> str:
    """call_paths.sql's live part: the templates of the calls whose first step is on
    ``day`` or later, built from their steps (read from the day before)."""
    start = f"timestamptz '{day.isoformat()} 00:00:00+00'"
    return (
        "(select call_id, template, first_at"
        f" from {LIVE_TEMPLATES}(cast({start} as date) - 1, date '9999-12-31')"
        f" where first_at >= {start})"
    )


# The tables a connection has a view of besides calls (and the audit trail, only in a
# connection that reads every mailbox: module docstring).
_OTHER_TABLES: tuple[str, ...] = (
    VOICEMAILS.name,
    TRANSCRIPTS.name,
    LEGS.name,
    CALL_STEPS.name,
    QUEUE_EVENTS.name,
    AGENT_EVENTS.name,
    RECORDINGS.name,
    RECORDING_TRANSCRIPTS.name,
)


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
    folders = {CALLS.name: tenant_calls_dir(settings.lake_dir, tenant)} | {
        name: tenant_table_dir(settings.lake_dir, name, tenant) for name in _OTHER_TABLES
    }
    if extension is not None and (
        not isinstance(extension, str) or not EXTENSION_RE.match(extension)
    ):
        raise WarehouseError(f"{extension!r} is not an extension")
    if mailbox is not None and (not isinstance(mailbox, str) or not EXTENSION_RE.match(mailbox)):
        raise WarehouseError(f"{mailbox!r} is not a mailbox")
    if extension is not None and mailbox is not None and mailbox != extension:
        raise WarehouseError("a connection bound to an extension shows that extension's mailbox")
    if _ADMIT is not None:
        _ADMIT()  # the portal: the signed-in user's query slot (dash_app.query_slots)
    # The audit trail: only for a connection that reads every mailbox (module docstring).
    if extension is None and mailbox is None:
        folders[ACCESS_LOG.name] = tenant_table_dir(settings.lake_dir, ACCESS_LOG.name, tenant)
    # The views read the files that are each table now (pipeline.lake_layout): a
    # snapshot, so a compaction or ingest after this line shows in the next connection
    # (in the portal: a listing at most portal_listing_seconds old, pipeline.listings).
    snapshots = tables_listed(settings.lake_dir, tenant, folders)
    mailbox = extension if mailbox is None else mailbox
    return _open(
        ConnectionScope(
            tenant,
            extension,
            tuple(forwarded_message_ids) if mailbox is not None else (),
            tuple(folders.values()),
            tuple(snapshots.values()),
            tuple(sorted((contact_names or {}).items())),
            mailbox,
            lake_dir=settings.lake_dir.resolve(),
        )
    )


def narrowed(
    conn: duckdb.DuckDBPyConnection, first: date, last: date
) -> duckdb.DuckDBPyConnection | None:
    """A connection of ``conn``'s scope whose Call History reads only days ``first..last``.

    Why: a view over a year of daily files pays to prune that list at every query
    (measured: ~6 ms per 366-file view, ~14 ms with ``union_by_name``, against ~1 ms for
    the few files named directly), and a Call History page reads four such views. Its
    ``call_history_of_days(first, last)`` answers as the full connection's does: its
    ``calls`` are those days' files, ``legs`` also the next day's, ``call_steps`` the
    day before to two days after (:data:`pipeline.lake_layout.DAY_REACH`).
    It has no other view (and an empty ``voicemails``): it is for those days' calls only,
    and the fewer views the cheaper a new one (a new batch of those days makes one).
    Its menu names are ``conn``'s. None when ``conn`` is not :func:`connect`'s or is
    narrowed already; the caller closes the connection it gets.
    """
    scope = scope_of(conn)
    if scope is None or scope.days is not None:
        return None
    snapshots = snapshots_of_days(scope.snapshots, first, last, tuple(DAY_REACH))
    # no rows: only for pipeline.contacts' wrapping views
    snapshots += tuple(
        TableSnapshot(s.folder, ()) for s in scope.snapshots if s.table == "voicemails"
    )
    ranged = dataclasses.replace(scope, snapshots=snapshots, days=(first, last))
    out = _open(ranged)
    try:
        names = conn.execute("select * from attendant_names").fetchall()
        if names:
            out.executemany("insert into attendant_names values (?, ?)", names)
    except BaseException:
        out.close()
        raise
    return out


def _open(scope: ConnectionScope) -> duckdb.DuckDBPyConnection:
    """A connection to the database of ``scope`` (built now unless kept: :data:`_DATABASES`)."""
    snapshots = {snap.table: snap for snap in scope.snapshots}
    extension, mailbox = scope.extension, scope.mailbox
    calls_scope = mailbox_scope = legs_calls_scope = ""
    scopes = dict.fromkeys(_OTHER_TABLES, "")
    if mailbox is not None:
        bad = [m for m in scope.forwarded_message_ids if not MESSAGE_ID_RE.fullmatch(str(m))]
        if bad:
            raise WarehouseError(f"{bad[0]!r} is not a message id")
        mailbox_scope = queries.MAILBOX_SCOPE.format(
            extension=queries.scope_literal(mailbox),
            message_ids=queries.scope_list_literal(scope.forwarded_message_ids),
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
    paths_parts, live = _call_paths_parts(
        scope.lake_dir, scope.tenant, snapshots, scopes[CALL_STEPS.name], scope.days
    )
    scope = dataclasses.replace(scope, rolled_paths=paths_parts["rolled"])
    # Kept by its closed days' files: a connection names the live days' (warehouse_sources).
    closed, live_files = split(snapshots, first_live_day())
    filled = has_files(closed, live_files)
    key = (dataclasses.replace(scope, snapshots=tuple(closed.values())), filled, live)
    kept = _RANGED_DATABASES if scope.days is not None else _DATABASES
    database = kept.get(key)
    if database is not None:
        return _session(kept, database, scope, live_files)
    conn = duckdb.connect(":memory:")
    try:
        conn.execute(queries.SESSION_SETUP)
        if _QUERY_THREADS:
            conn.execute(f"set threads = {_QUERY_THREADS}")
        for name in snapshots:
            for statement in file_macros(name, closed[name], live_files[name]):
                conn.execute(statement)
        calls, legs = snapshots[CALLS.name], snapshots[LEGS.name]
        calls_source = files_source(CALLS.name, closed[CALLS.name], live_files[CALLS.name])
        if calls.files and legs.files:
            conn.execute(
                queries.warehouse_sql("calls_with_legs").format(
                    columns=",\n    ".join(queries.VIEW_COLUMNS),
                    calls_source=calls_source,
                    legs_files=files_expr(LEGS.name),
                    scope=legs_calls_scope,
                )
            )
        elif calls.files:
            conn.execute(
                queries.CALLS_VIEW_OVER_FILES.format(
                    columns=",\n    ".join(queries.VIEW_COLUMNS),
                    calls_source=calls_source,
                    scope=calls_scope,
                )
            )
        else:
            conn.execute(
                queries.CALLS_VIEW_EMPTY.format(typed_nulls=queries.typed_nulls_of(CALLS.schema))
            )
        for name, snap in snapshots.items():
            if name == CALLS.name:
                continue
            if snap.files:
                source = files_source(name, closed[name], live_files[name])
                conn.execute(table_view(name, source, scopes.get(name, "")))
            else:
                conn.execute(empty_view(name))
        if ACCESS_LOG.name not in snapshots and scope.days is None:
            # not a manager's: the trail's columns, never its rows
            conn.execute(empty_view(ACCESS_LOG.name))
        contact_rows = name_numbers(conn, dict(scope.contact_names))  # before anything reads calls
        # The paths of the Call History (menus named by pipeline.history.name_menus).
        conn.execute(queries.ATTENDANT_NAMES_TABLE)
        steps = CALL_STEPS.name
        path_templates(conn, closed[steps], live_files[steps], scopes[steps], live)
        conn.execute(queries.warehouse_sql("call_paths").format(**paths_parts))
        conn.execute(queries.warehouse_sql("call_history"))
        if scope.days is None:  # a narrowed connection has none of the tables they read
            conn.execute(queries.warehouse_sql("recordings_with_call"))
            for view, table, item in queries.LATEST_TRANSCRIPTS:
                conn.execute(
                    queries.warehouse_sql("latest_transcripts").format(
                        name=view, table=table, item=item
                    )
                )
        rollup_dirs = [tenant_folder(scope.lake_dir, r.name, scope.tenant) for r in ROLLUPS]
        for statement in queries.LOCK_DOWN:
            conn.execute(
                statement.format(
                    tenant_dir="/', '".join(str(d) for d in [*scope.folders, *rollup_dirs])
                )
            )
        database = OpenDatabase(conn, contact_rows, live_files)
    except BaseException:
        conn.close()
        raise
    kept.put(key, database)
    return _session(kept, database, scope, live_files)


# The databases built (pipeline.warehouse_cache): whole scopes, and narrowed ones apart,
# so that many users' page windows never push out the databases everything else reads.
_DATABASES = DatabaseCache(kept=32)
_RANGED_DATABASES = DatabaseCache(kept=32)
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


# Asked before every connection :func:`connect` opens; None: nobody to ask.
_ADMIT: Callable[[], None] | None = None


def set_admission(admit: Callable[[], None] | None) -> None:
    """Call ``admit()`` before each connection :func:`connect` opens from now on.

    Why: this is the one door every reader's queries pass, so a front end that answers
    many people at once bounds one person's share of the machine here, once, rather than
    in each page (the portal: :mod:`dash_app.query_slots`). ``admit`` may wait, or raise
    to refuse the connection; None: connections open unasked.
    """
    global _ADMIT
    _ADMIT = admit


def _session(
    kept: DatabaseCache,
    database: OpenDatabase,
    scope: ConnectionScope,
    live_files: Mapping[str, TableSnapshot],
) -> duckdb.DuckDBPyConnection:
    """A new connection to ``database`` with the temp tables its views read, naming as its
    own the files of ``live_files`` that are not the database's
    (:mod:`pipeline.warehouse_sources`)."""
    conn = kept.cursor(database)
    try:
        for name, snap in live_files.items():
            if database.live_files.get(name) != snap:
                conn.execute(name_live_files(name, snap))
        conn.execute(queries.ATTENDANT_NAMES_TABLE)
        if database.contact_rows:
            give_contact_rows(conn, database.contact_rows)
    except BaseException:
        conn.close()
        raise
    _SCOPES[conn] = scope
    return conn
