"""The store's one connection, its migrations and the one transaction helper.

Every section of ``ProvisioningStore`` writes through ``_tx``: one ``begin
immediate`` transaction, rolled back on any error. A constraint the schema
enforces (``unique``, ``not null``, foreign keys) surfaces as a
``ProvisioningError`` whose message a user can read, so no caller above the
store ever catches ``sqlite3`` errors.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any


class ProvisioningError(ValueError):
    """A provisioning request was refused; the message is for the user."""


# What a user calls a row of each table (with its article), for messages built from a constraint.
_NOUNS: dict[str, str] = {
    "tenant": "a tenant",
    "user": "a user",
    "subscriber": "a SIP account",
    "login_attempt": "a login attempt",
    "time_frame": "a time frame",
    "answering_rule": "a rule",
    "rule_override": "an override",
    "did": "a main number",
    "did_rule": "a main number route",
    "rule_decision": "a routing decision",
    "voicemail_message": "a voicemail message",
    "voicemail_box": "a mailbox",
    "voicemail_pin_failure": "a wrong PIN",
    "voicemail_pin_lock": "a mailbox lock",
    "callback_handled": "a callback mark",
    "report_schedule": "a schedule",
    "report_run": "a report run",
}
_CONSTRAINT = re.compile(r"(UNIQUE|NOT NULL) constraint failed: (.*)")


def integrity_message(exc: sqlite3.IntegrityError) -> str:
    """A sentence for a user from SQLite's constraint message (which names tables, not things)."""
    found = _CONSTRAINT.match(str(exc))
    if str(exc).startswith("CHECK"):  # names an expression, not a table
        return "a value is not allowed"
    if found is None:  # foreign keys: SQLite does not say which one
        return "it is still in use, or refers to something that no longer exists"
    kind, columns = found.groups()
    qualified = [c.strip().partition(".") for c in columns.split(",")]
    a_noun = _NOUNS.get(qualified[0][0], "a " + qualified[0][0].replace("_", " "))
    noun = a_noun.partition(" ")[2]
    named = [column for _, _, column in qualified if column != "id" and not column.endswith("_id")]
    if kind == "UNIQUE":
        what = f" with this {' and '.join(named)}" if named else ""
        return f"{a_noun}{what} already exists"
    return f"the {noun} needs a {' and '.join(named) or 'value'}"


_INT64 = range(-(2**63), 2**63)
_COLLECTIONS = (list, tuple, dict, set, frozenset)


def _check_values(params: object) -> None:
    """Refuse a bound value SQLite cannot take as one column's value, as the user's error.

    The values come from callers above the store, some of them from a browser: a crafted
    extension ``["101"]`` or an id ``1e30`` reached SQLite as a list or an int past 64 bits
    and surfaced as ``sqlite3.ProgrammingError`` / ``OverflowError`` (a 500).
    """
    values: Any = params.values() if isinstance(params, dict) else params
    for value in values:
        if isinstance(value, int) and value not in _INT64:
            raise ProvisioningError(f"the number {str(value)[:30]} is too large")
        if isinstance(value, _COLLECTIONS):
            raise ProvisioningError(f"one value was expected, not {type(value).__name__}")


class _CheckedConnection(sqlite3.Connection):
    """The store's connection: every bound value is checked first (:func:`_check_values`)."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        _check_values(parameters)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        rows = list(seq_of_parameters)
        for row in rows:
            _check_values(row)
        return super().executemany(sql, rows)


class StoreConnection:
    """Opens ``switchboard.sqlite``, applies migrations, and runs every write in ``_tx``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, factory=_CheckedConnection
        )
        self._db.row_factory = sqlite3.Row
        # A byte string that is not UTF-8 (only a damaged file holds one) reads with U+FFFD
        # rather than raising on every later read of its row (an export stopped at it).
        self._db.text_factory = lambda raw: raw.decode("utf-8", "replace")
        # The connection may be used from several threads (the media server checks PINs in
        # worker threads); two of them must never open ``begin immediate`` on it at once.
        self._tx_lock = threading.RLock()  # re-entry fails loudly in sqlite, never hangs
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma busy_timeout=5000")
        self._db.execute("pragma foreign_keys=on")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, conflict: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; a broken constraint becomes ``ProvisioningError(conflict)``."""
        with self._tx_lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                self._db.execute("rollback")
                raise ProvisioningError(conflict or integrity_message(exc)) from exc
            except BaseException:
                self._db.execute("rollback")
                raise
            self._db.execute("commit")

    def _migrate(self) -> None:
        self._db.execute(
            "create table if not exists schema_migration (name text primary key, applied_at real)"
        )
        done = {r[0] for r in self._db.execute("select name from schema_migration")}
        scripts = sorted(
            (
                p
                for p in resources.files("switchboard.migrations").iterdir()
                if p.name.endswith(".sql")
            ),
            key=lambda p: p.name,
        )
        for script in scripts:
            if not script.name.endswith(".sql") or script.name in done:
                continue
            with self._tx() as db:
                for statement in script.read_text().split(";\n"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("insert into schema_migration values (?, ?)", (script.name, time.time()))
