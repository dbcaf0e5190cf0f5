"""Call queues, their members (agents) and agent state: who may be offered a queue call.

A queue belongs to a tenant and holds its settings (``CallQueue``); its
members are users of the tenant with a priority (1 is offered first by the
``linear`` strategy). Agent state that must survive a media-server restart
lives here too: a member is logged in to a queue or not
(``queue_member.logged_in``), and an agent is paused with a reason or not
(``agent_pause``, one row per paused agent, for all their queues). What is
only true while the media server runs (ringing, on a call, in wrap-up) is
the media server's (``media.queue``), never stored.

Every destination a queue names (overflow, the exit key's) is checked by the
menus' own rule (``AttendantsSection._destination_problem``); a queue that a
menu, a route or a rule still sends callers to cannot be removed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from switchboard.attendants import MENU_KEYS, MenuDestination, destination_from_dict
from switchboard.identifiers import EXTENSION_RE
from switchboard.store.accounts import check_name
from switchboard.store.attendants import AttendantsSection, _dest_json
from switchboard.store.connection import ProvisioningError

Strategy = Literal["ring_all", "round_robin", "longest_idle", "fewest_calls", "linear"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
PAUSE_REASONS: tuple[str, ...] = (
    "break", "lunch", "training", "meeting", "after-call work", "no-answer",
)  # fmt: skip
LIMITS: dict[str, tuple[int, int]] = {
    "ring_seconds": (5, 120),
    "wrapup_seconds": (0, 600),
    "max_wait_seconds": (5, 7200),
    "max_callers": (1, 500),
    "announce_seconds": (0, 600),  # 0: no position announcements
    "service_level_seconds": (1, 600),
    "short_abandon_seconds": (0, 120),
}
_LIMIT_WORDS = {
    "ring_seconds": "ring time per agent",
    "wrapup_seconds": "wrap-up time",
    "max_wait_seconds": "maximum wait",
    "max_callers": "maximum callers",
    "announce_seconds": "announcement interval",
    "service_level_seconds": "service-level threshold",
    "short_abandon_seconds": "short-abandon threshold",
}
_UNIT = {"max_callers": ""}


@dataclass(frozen=True)
class QueueMember:
    """One agent of a queue; ``logged_in`` is their login to this queue."""

    extension: str
    priority: int = 1
    logged_in: bool = False
    name: str = ""


@dataclass(frozen=True)
class CallQueue:
    """A queue's settings; ``overflow`` takes callers past max wait / max callers / no agents."""

    tenant: str
    name: str
    extension: str | None = None
    strategy: Strategy = "ring_all"
    ring_seconds: int = 15
    wrapup_seconds: int = 10
    max_wait_seconds: int = 300
    max_callers: int = 10
    overflow: MenuDestination | None = None  # None: the caller hears goodbye
    join_empty: bool = True  # join when no agent is logged in (else overflow at once)
    hold_music_id: int | None = None  # None: the tenant's default track
    announce_seconds: int = 30
    exit_key: str | None = None
    exit_destination: MenuDestination | None = None
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    pause_on_no_answer: bool = False
    members: tuple[QueueMember, ...] = field(default_factory=tuple)
    id: int | None = None


@dataclass(frozen=True)
class AgentPause:
    extension: str
    reason: str
    since: float


def _dest(text: str | None) -> MenuDestination | None:
    return None if not text else destination_from_dict(json.loads(text))


class QueuesSection(AttendantsSection):
    """Queues, members, logins and pauses."""

    # -- reading --------------------------------------------------------------------------------
    def _members(self, queue_id: int) -> tuple[QueueMember, ...]:
        rows = self._db.execute(
            "select u.extension, u.name, m.priority, m.logged_in from queue_member m"
            " join user u on u.id = m.user_id where m.queue_id = ?"
            " order by m.priority, u.extension",
            (queue_id,),
        )
        return tuple(
            QueueMember(r["extension"], r["priority"], bool(r["logged_in"]), r["name"])
            for r in rows
        )

    def _queue(self, row: sqlite3.Row, tenant: str) -> CallQueue:
        return CallQueue(
            tenant=tenant,
            name=row["name"],
            extension=row["extension"],
            strategy=row["strategy"],
            ring_seconds=row["ring_seconds"],
            wrapup_seconds=row["wrapup_seconds"],
            max_wait_seconds=row["max_wait_seconds"],
            max_callers=row["max_callers"],
            overflow=_dest(row["overflow_json"]),
            join_empty=bool(row["join_empty"]),
            hold_music_id=row["hold_music_id"],
            announce_seconds=row["announce_seconds"],
            exit_key=row["exit_key"],
            exit_destination=_dest(row["exit_json"]),
            service_level_seconds=row["service_level_seconds"],
            short_abandon_seconds=row["short_abandon_seconds"],
            pause_on_no_answer=bool(row["pause_on_no_answer"]),
            members=self._members(row["id"]),
            id=row["id"],
        )

    def queues(self, tenant: str) -> list[CallQueue]:
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select * from call_queue where tenant_id = ? order by name", (t.id,)
        ).fetchall()
        return [self._queue(r, tenant) for r in rows]

    def queue(self, tenant: str, queue_id: int) -> CallQueue:
        """The tenant's queue ``queue_id``; another tenant's id is "no such queue"."""
        t = self.tenant(tenant)
        row = self._db.execute(
            "select * from call_queue where id = ? and tenant_id = ?", (queue_id, t.id)
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no such queue {queue_id}")
        return self._queue(row, tenant)

    def queues_of_agent(self, tenant: str, extension: str) -> list[CallQueue]:
        """The queues ``extension`` is a member of."""
        return [q for q in self.queues(tenant) if any(m.extension == extension for m in q.members)]

    # -- destinations (menus, rules and routes may now name a queue) ----------------------------
    def _destination_problem(self, tenant: str, dest: MenuDestination) -> str | None:
        if dest.kind != "queue":
            return super()._destination_problem(tenant, dest)
        target = dest.target.strip()
        t = self.tenant(tenant)
        found = (
            target.isdigit()
            and self._db.execute(
                "select 1 from call_queue where id = ? and tenant_id = ?", (int(target), t.id)
            ).fetchone()
        )
        return None if found else f"queue {target or '(none)'} does not exist"

    # -- writing --------------------------------------------------------------------------------
    def _check_queue(self, queue: CallQueue) -> None:
        if not queue.name.strip():
            raise ProvisioningError("a queue needs a name")
        check_name(queue.name, "a queue's name")
        if queue.strategy not in STRATEGIES:
            raise ProvisioningError(
                f"no ring strategy {queue.strategy!r} (use {', '.join(STRATEGIES)})"
            )
        for attr, (low, high) in LIMITS.items():
            value = getattr(queue, attr)
            if not isinstance(value, int) or not low <= value <= high:
                unit = _UNIT.get(attr, " seconds")
                raise ProvisioningError(f"{_LIMIT_WORDS[attr]} must be {low} to {high}{unit}")
        if queue.extension is not None:
            if not EXTENSION_RE.match(queue.extension):
                raise ProvisioningError(f"queue extension {queue.extension!r}: 2 to 8 digits")
            if any(u.extension == queue.extension for u in self.users(queue.tenant)):
                raise ProvisioningError(f"extension {queue.extension} belongs to a user")
        if queue.exit_key is not None:
            if queue.exit_key not in MENU_KEYS:
                raise ProvisioningError(f"no key {queue.exit_key!r} on a phone (use 0-9, * and #)")
            if queue.exit_destination is None:
                raise ProvisioningError(f"exit key {queue.exit_key}: where does it send callers?")
        labelled = [("overflow", queue.overflow), ("exit key", queue.exit_destination)]
        for label, dest in labelled:
            if dest is not None and dest.kind in ("repeat", "dial_by_extension"):
                raise ProvisioningError(f"{label}: a queue cannot {dest.kind.replace('_', ' ')}")
            if dest is not None and dest.kind == "queue" and dest.target == str(queue.id):
                raise ProvisioningError(f"{label}: a queue cannot overflow to itself")
        self._check_destinations(queue.tenant, labelled)
        if queue.hold_music_id is not None and not any(
            m.id == queue.hold_music_id for m in self.hold_music(queue.tenant)
        ):
            raise ProvisioningError(f"no such hold-music track {queue.hold_music_id}")
        seen: set[str] = set()
        users = {u.extension for u in self.users(queue.tenant)}
        for m in queue.members:
            if m.extension not in users:
                raise ProvisioningError(f"member {m.extension}: extension does not exist")
            if m.extension in seen:
                raise ProvisioningError(f"member {m.extension} is listed twice")
            if not 1 <= m.priority <= 99:
                raise ProvisioningError(f"member {m.extension}: priority must be 1 to 99")
            seen.add(m.extension)

    def save_queue(self, queue: CallQueue) -> CallQueue:
        """Create or replace (by id) a queue with its members (a member keeps its login)."""
        queue = replace(queue, name=queue.name.strip(), extension=queue.extension or None)
        self._check_queue(queue)
        t = self.tenant(queue.tenant)
        values = (
            queue.name, queue.extension, queue.strategy, queue.ring_seconds,
            queue.wrapup_seconds, queue.max_wait_seconds, queue.max_callers,
            _dest_json(queue.overflow), int(queue.join_empty), queue.hold_music_id,
            queue.announce_seconds, queue.exit_key, _dest_json(queue.exit_destination),
            queue.service_level_seconds, queue.short_abandon_seconds,
            int(queue.pause_on_no_answer),
        )  # fmt: skip
        columns = (
            "name, extension, strategy, ring_seconds, wrapup_seconds, max_wait_seconds,"
            " max_callers, overflow_json, join_empty, hold_music_id, announce_seconds,"
            " exit_key, exit_json, service_level_seconds, short_abandon_seconds,"
            " pause_on_no_answer"
        )
        conflict = f"a queue named {queue.name!r} or with extension {queue.extension} exists"
        with self._tx(conflict) as db:
            if queue.id is None:
                cur = db.execute(
                    f"insert into call_queue ({columns}, tenant_id)"
                    f" values ({', '.join('?' * (len(values) + 1))})",
                    (*values, t.id),
                )
                queue_id = int(cur.lastrowid or 0)
            else:
                sets = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
                cur = db.execute(
                    f"update call_queue set {sets} where id = ? and tenant_id = ?",
                    (*values, queue.id, t.id),
                )
                if cur.rowcount == 0:
                    raise ProvisioningError(f"no such queue {queue.id}")
                queue_id = queue.id
            self._write_members(db, t.id, queue_id, queue.members)
        return self.queue(queue.tenant, queue_id)

    def _write_members(
        self,
        db: sqlite3.Connection,
        tenant_id: int,
        queue_id: int,
        members: tuple[QueueMember, ...],
    ) -> None:
        ids = {
            r["extension"]: r["id"]
            for r in db.execute("select id, extension from user where tenant_id = ?", (tenant_id,))
        }
        keep = [ids[m.extension] for m in members]
        db.execute(
            f"delete from queue_member where queue_id = ? and user_id not in"
            f" ({', '.join('?' * len(keep)) or 'null'})",
            (queue_id, *keep),
        )
        for m in members:
            db.execute(
                "insert into queue_member (queue_id, user_id, priority) values (?, ?, ?)"
                " on conflict (queue_id, user_id) do update set priority = excluded.priority",
                (queue_id, ids[m.extension], m.priority),
            )

    def delete_queue(self, tenant: str, queue_id: int) -> None:
        """Delete a queue nothing sends callers to; else refuse, naming what does."""
        self.queue(tenant, queue_id)
        users = self.pointing_to(tenant, "queue", queue_id)
        users += [
            f'queue "{q.name}"'
            for q in self.queues(tenant)
            if q.id != queue_id
            and any(
                d is not None and d.kind == "queue" and d.target == str(queue_id)
                for d in (q.overflow, q.exit_destination)
            )
        ]
        if users:
            raise ProvisioningError(
                "the queue is still used by " + ", ".join(users) + "; change those first"
            )
        t = self.tenant(tenant)
        with self._tx() as db:
            db.execute("delete from call_queue where id = ? and tenant_id = ?", (queue_id, t.id))

    def add_queue_member(
        self, tenant: str, queue_id: int, extension: str, priority: int = 1
    ) -> CallQueue:
        queue = self.queue(tenant, queue_id)
        others = tuple(m for m in queue.members if m.extension != extension)
        return self.save_queue(replace(queue, members=(*others, QueueMember(extension, priority))))

    def remove_queue_member(self, tenant: str, queue_id: int, extension: str) -> CallQueue:
        queue = self.queue(tenant, queue_id)
        if not any(m.extension == extension for m in queue.members):
            raise ProvisioningError(f"{extension} is not a member of queue {queue.name!r}")
        members = tuple(m for m in queue.members if m.extension != extension)
        return self.save_queue(replace(queue, members=members))

    # -- agent state ----------------------------------------------------------------------------
    def set_agent_login(
        self, tenant: str, extension: str, logged_in: bool, queue_id: int | None = None
    ) -> list[int]:
        """Log ``extension`` in/out of one queue (or all theirs); the queue ids that changed."""
        user = self.user(tenant, extension)
        queues = self.queues_of_agent(tenant, extension)
        if queue_id is not None:
            queues = [q for q in queues if q.id == queue_id]
            if not queues:
                raise ProvisioningError(f"{extension} is not a member of queue {queue_id}")
        if not queues:
            raise ProvisioningError(f"{extension} is not a member of any queue")
        changed = [
            q.id for q in queues for m in q.members
            if q.id is not None and m.extension == extension and m.logged_in != logged_in
        ]  # fmt: skip
        with self._tx() as db:
            for qid in changed:
                db.execute(
                    "update queue_member set logged_in = ?, changed_at = ?"
                    " where queue_id = ? and user_id = ?",
                    (int(logged_in), time.time(), qid, user.id),
                )
        return changed

    def set_agent_pause(self, tenant: str, extension: str, reason: str | None) -> bool:
        """Pause ``extension`` with ``reason`` (None: unpause) in all queues; True if it changed."""
        user = self.user(tenant, extension)
        if not self.queues_of_agent(tenant, extension):
            raise ProvisioningError(f"{extension} is not a member of any queue")
        current = self.agent_pause(tenant, extension)
        with self._tx() as db:
            if reason is None:
                db.execute("delete from agent_pause where user_id = ?", (user.id,))
                return current is not None
            reason = reason.strip()
            if not reason or len(reason) > 40:
                raise ProvisioningError("a pause needs a reason (up to 40 characters)")
            if current is not None and current.reason == reason:
                return False
            db.execute(
                "insert into agent_pause (user_id, reason, since) values (?, ?, ?)"
                " on conflict (user_id) do update set reason = excluded.reason,"
                " since = excluded.since",
                (user.id, reason, time.time()),
            )
        return True

    def agent_pause(self, tenant: str, extension: str) -> AgentPause | None:
        return self.agent_pauses(tenant).get(extension)

    def agent_pauses(self, tenant: str) -> dict[str, AgentPause]:
        """Paused agents of ``tenant`` by extension."""
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select u.extension, p.reason, p.since from agent_pause p"
            " join user u on u.id = p.user_id where u.tenant_id = ?",
            (t.id,),
        )
        return {r[0]: AgentPause(r[0], r[1], r[2]) for r in rows}

    # -- what Kamailio routes (kamailio.rules_push compiles; this drops what routes nothing) --
    def drop_stale_decisions(self, tenant: str | None = None) -> list[str]:
        """Delete ``<tenant>:<ext>`` decisions that no user and no queue holds; the keys deleted.

        A queue's extension is routed by a decision of its own (``rule_decision``,
        written by ``kamailio.rules_push``); when the queue is deleted or takes
        another extension, the old key would keep sending callers to it. A
        removed user's key is deleted with the user; main numbers (``did:``)
        are not touched. ``tenant``: only that tenant's keys.
        """
        stale = (
            " from rule_decision where key_name not like 'did:%'"
            " and key_name not in (select t.domain || ':' || u.extension from user u"
            "  join tenant t on t.id = u.tenant_id)"
            " and key_name not in (select t.domain || ':' || q.extension from call_queue q"
            "  join tenant t on t.id = q.tenant_id where q.extension is not null)"
            " and (?1 is null or substr(key_name, 1, length(?1) + 1) = ?1 || ':')"
        )
        # a read first: the scheduler asks every pass, and almost always nothing is stale
        if self._db.execute("select 1" + stale + " limit 1", (tenant,)).fetchone() is None:
            return []
        with self._tx() as db:
            rows = db.execute("delete" + stale + " returning key_name", (tenant,)).fetchall()
        return sorted(r[0] for r in rows)

    def tenants_with_queues(self) -> list[str]:
        rows = self._db.execute(
            "select distinct t.domain from call_queue q join tenant t on t.id = q.tenant_id"
        )
        return [r[0] for r in rows]
