"""The databases :func:`pipeline.warehouse.connect` built, kept per process by scope.

Why: opening DuckDB and binding views over a year of daily files costs ~60 ms
of CPU, more than the page query itself; a reader of the same scope and the
same files gets a new connection (cursor) to the same database, whose views,
lock-down and scope are the ones built for it. Temp tables are per connection,
so each cursor gets its own menu names and contact names. An entry dropped
here stays alive while a cursor of it is open. Cost of an entry (measured on
DuckDB 2.0): ~7 MB and ~9 idle threads (one at ``portal_query_threads`` = 1).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb


@dataclass(frozen=True)
class OpenDatabase:
    """A database built for one scope, and its contact names' rows."""

    root: duckdb.DuckDBPyConnection  # never handed out: readers get cursors of it
    contact_rows: tuple[tuple[str, str], ...]
    # The live files its macros name (pipeline.warehouse_sources): a connection that
    # reads others names them itself.
    live_files: Mapping[str, Any] = field(default_factory=dict)


class DatabaseCache:
    """The last ``kept`` databases built, by scope (exact files included)."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._entries: OrderedDict[Hashable, OpenDatabase] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: Hashable) -> OpenDatabase | None:
        with self._lock:
            found = self._entries.get(scope)
            if found is not None:
                self._entries.move_to_end(scope)
            return found

    def put(self, scope: Hashable, database: OpenDatabase) -> None:
        with self._lock:
            self._entries[scope] = database
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)

    def cursor(self, database: OpenDatabase) -> duckdb.DuckDBPyConnection:
        with self._lock:  # one thread at a time asks a root connection for a cursor
            return database.root.cursor()
