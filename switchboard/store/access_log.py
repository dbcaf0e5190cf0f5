"""The data-access audit trail: who played, downloaded or deleted which recording or voicemail.

Migration 0013. Every route that hands out call audio (voicemail, call
recordings) and every deletion of it writes one row here through
:meth:`AccessLogSection.log_access` — who (their login, name and role as they
were then), what (kind, id and a label that reads on its own after the object
is gone), which action, when, and from which client address. Managers read
their tenant's rows (Audit page, CSV export); nothing edits or deletes them.

An ``<audio>`` element fetches a file in byte ranges as the listener seeks, so
one listening is many requests: requests of the same object, action and
client by the same actor within :data:`REPEAT_WINDOW_SECONDS` of the last one
are one access, whose ``requests`` counts them and ``last_at`` moves on. Every
request is counted (none escapes by asking for a range that skips byte 0),
and the trail stays one row per listening.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

from switchboard.store.accounts import AccountsSection, User
from switchboard.store.connection import ProvisioningError

AccessKind = Literal["recording", "voicemail"]
AccessAction = Literal["play", "download", "delete"]
ACCESS_KINDS: tuple[str, ...] = get_args(AccessKind)
ACCESS_ACTIONS: tuple[str, ...] = get_args(AccessAction)
# Ten minutes: longer than a voicemail or a listener's pause between seeks, short
# enough that coming back to a recording later is a new access.
REPEAT_WINDOW_SECONDS = 600.0
# The actor of deletions nobody asked for by hand (retention).
SYSTEM_ACTOR_PREFIX = "system:"


@dataclass(frozen=True)
class Actor:
    """Who accessed: a signed-in user, or the system (``system:retention``)."""

    tenant: str
    login: str
    name: str = ""
    role: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.tenant_domain, user.login, user.name, user.role)

    @classmethod
    def system(cls, tenant: str, what: str) -> Actor:
        return cls(tenant, SYSTEM_ACTOR_PREFIX + what, what.capitalize(), "system")


@dataclass(frozen=True)
class Access:
    """What one request did to one object."""

    kind: AccessKind
    object_id: str
    action: AccessAction
    label: str = ""
    client: str = ""


@dataclass(frozen=True)
class AccessEntry:
    """One row of the trail."""

    id: int
    tenant: str
    at: float
    last_at: float
    actor: str
    actor_name: str
    actor_role: str
    kind: str
    object_id: str
    object_label: str
    action: str
    client: str
    requests: int


@dataclass(frozen=True)
class AccessQuery:
    """Which rows of a tenant's trail to read; every field empty reads them all.

    ``since``/``until`` are epoch seconds (``until`` exclusive); ``actor`` is a
    login (``102@acme.example``). :meth:`where` compiles to bound SQL.
    """

    since: float | None = None
    until: float | None = None
    actor: str = ""
    kind: str = ""
    action: str = ""
    object_id: str = ""

    def __post_init__(self) -> None:
        if self.kind and self.kind not in ACCESS_KINDS:
            raise ProvisioningError(f"kind must be one of {', '.join(ACCESS_KINDS)}")
        if self.action and self.action not in ACCESS_ACTIONS:
            raise ProvisioningError(f"action must be one of {', '.join(ACCESS_ACTIONS)}")

    def where(self) -> tuple[str, list[Any]]:
        """(``and …`` clauses over ``access_log a``, their parameters)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in (
            ("a.at", ">=", self.since),
            ("a.at", "<", self.until),
            ("a.actor", "=", self.actor or None),
            ("a.object_kind", "=", self.kind or None),
            ("a.action", "=", self.action or None),
            ("a.object_id", "=", self.object_id or None),
        ):
            if value is not None:
                clauses.append(f" and {column} {op} ?")  # column and op are fixed above
                params.append(value)
        return "".join(clauses), params


_SELECT = (
    "select a.id, t.domain, a.at, a.last_at, a.actor, a.actor_name, a.actor_role,"
    " a.object_kind, a.object_id, a.object_label, a.action, a.client, a.requests"
    " from access_log a join tenant t on t.id = a.tenant_id where t.domain = ?"
)


def insert_access(
    db: sqlite3.Connection, tenant_id: int, actor: Actor, access: Access, now: float
) -> int:
    """Insert one row of the trail inside the caller's transaction (a deletion that must
    commit with the rows it removes: :meth:`AccessLogSection.log_access` otherwise)."""
    if access.kind not in ACCESS_KINDS or access.action not in ACCESS_ACTIONS:
        raise ProvisioningError(f"cannot log {access.action!r} of {access.kind!r}")
    cursor = db.execute(
        "insert into access_log (tenant_id, actor, object_kind, object_id, action,"
        " at, last_at, actor_name, actor_role, object_label, client)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id,
            actor.login,
            access.kind,
            access.object_id,
            access.action,
            now,
            now,
            actor.name,
            actor.role,
            access.label[:200],
            access.client[:100],
        ),
    )
    return int(cursor.lastrowid or 0)


class AccessLogSection(AccountsSection):
    """Writing the audit trail (once per access) and reading a tenant's part of it."""

    def log_access(self, actor: Actor, access: Access, now: float | None = None) -> int:
        """Record ``access`` by ``actor``; a repeat within the window counts on the same row."""
        if access.kind not in ACCESS_KINDS or access.action not in ACCESS_ACTIONS:
            raise ProvisioningError(f"cannot log {access.action!r} of {access.kind!r}")
        now = time.time() if now is None else now
        tenant_id = self.tenant(actor.tenant).id
        key = (tenant_id, actor.login, access.kind, access.object_id, access.action)
        with self._tx() as db:
            if access.action != "delete":  # a deletion is never a repeat of anything
                row = db.execute(
                    "select id from access_log where tenant_id = ? and actor = ?"
                    " and object_kind = ? and object_id = ? and action = ? and last_at >= ?"
                    " and client = ? order by last_at desc limit 1",
                    (*key, now - REPEAT_WINDOW_SECONDS, access.client),
                ).fetchone()
                if row is not None:
                    db.execute(
                        "update access_log set requests = requests + 1,"
                        " last_at = max(last_at, ?) where id = ?",
                        (now, row[0]),
                    )
                    return int(row[0])
            return insert_access(db, tenant_id, actor, access, now)

    def access_log(
        self,
        tenant: str,
        query: AccessQuery | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        before_id: int | None = None,
    ) -> list[AccessEntry]:
        """The tenant's trail, newest first; ``before_id`` pages a long export stably."""
        where, params = (query or AccessQuery()).where()
        if before_id is not None:
            where += " and a.id < ?"
            params.append(before_id)
        rows = self._db.execute(
            _SELECT + where + " order by a.id desc limit ? offset ?",
            (tenant, *params, max(0, limit), max(0, offset)),
        )
        return [AccessEntry(*row) for row in rows]

    def access_log_count(self, tenant: str, query: AccessQuery | None = None) -> int:
        """How many rows of the tenant's trail ``query`` matches."""
        where, params = (query or AccessQuery()).where()
        sql = "select count(*) from (" + _SELECT + where + ")"
        return int(self._db.execute(sql, (tenant, *params)).fetchone()[0])
