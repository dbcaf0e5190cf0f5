"""The provisioning store: the only writer of ``switchboard.sqlite``.

Kamailio reads ``subscriber`` from the same file (digest auth), the portal
and the pipeline read tenants and users through this module. Migrations are
the numbered ``migrations/*.sql`` files, applied once each at open.

Errors: every refusal is a ``ProvisioningError`` whose message says what is
wrong, so the CLI and the portal can show it as-is.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from switchboard.identifiers import EXTENSION_RE, TENANT_RE
from switchboard.rules import AnsweringRule, Override, RuleError, forward_chain_loop, validate_rule
from switchboard.rules_codec import (
    actions_to_json,
    frame_from_row,
    periods_to_json,
    rule_from_row,
)
from switchboard.timeframes import TimeFrame, TimeFrameError, validate
from switchboard.voicemail import (
    FOLDERS,
    GREETING_KINDS,
    MESSAGE_ORDERS,
    TRASH_SECONDS,
    MailboxSettings,
    VoicemailMessage,
    pin_problem,
)

Role = Literal["manager", "supervisor", "agent", "user"]
ROLES: tuple[Role, ...] = ("manager", "supervisor", "agent", "user")
# Roles that see every call of their tenant; the others see only their own.
TENANT_WIDE_ROLES: frozenset[str] = frozenset({"manager", "supervisor"})

_hasher = PasswordHasher()
# Rule tables and the column naming their owner; identifiers cannot be bound
# parameters, so they come from this fixed map only.
_RULE_OWNER: dict[str, str] = {"answering_rule": "user_id", "did_rule": "did_id"}


class ProvisioningError(ValueError):
    """A provisioning request was refused; the message is for the user."""


@dataclass(frozen=True)
class Did:
    """A main number of a tenant; routed by its own time-frame rules."""

    id: int
    tenant_domain: str
    number: str
    name: str


@dataclass(frozen=True)
class RoutingInputs:
    """Everything ``active_rule_at`` needs for one user, read in one go."""

    rules: list[AnsweringRule]
    frames: dict[str, TimeFrame]
    override: Override | None


@dataclass(frozen=True)
class Tenant:
    id: int
    domain: str
    name: str
    timezone: str


@dataclass(frozen=True)
class User:
    id: int
    tenant_id: int
    tenant_domain: str
    extension: str
    name: str
    email: str
    role: Role
    timezone: str
    status_message: str

    @property
    def login(self) -> str:
        return f"{self.extension}@{self.tenant_domain}"

    @property
    def sees_whole_tenant(self) -> bool:
        return self.role in TENANT_WIDE_ROLES


def sip_ha1(username: str, domain: str, password: str) -> tuple[str, str]:
    """HA1 and HA1B as Kamailio's auth_db expects them (RFC 2617 MD5)."""
    ha1 = hashlib.md5(f"{username}:{domain}:{password}".encode()).hexdigest()
    ha1b = hashlib.md5(f"{username}@{domain}:{domain}:{password}".encode()).hexdigest()
    return ha1, ha1b


def _check_timezone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ProvisioningError(f"unknown time zone {tz!r} (use an IANA name)") from exc
    return tz


class ProvisioningStore:
    """Owns the provisioning SQLite file; open one per process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma busy_timeout=5000")
        self._db.execute("pragma foreign_keys=on")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("begin immediate")
        try:
            yield self._db
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

    # -- tenants -------------------------------------------------------------
    def add_tenant(self, domain: str, timezone: str, name: str | None = None) -> Tenant:
        domain = domain.strip().lower()
        if not TENANT_RE.match(domain):
            raise ProvisioningError(f"{domain!r} is not a valid SIP domain")
        _check_timezone(timezone)
        with self._tx() as db:
            if db.execute("select 1 from tenant where domain = ?", (domain,)).fetchone():
                raise ProvisioningError(f"tenant {domain} already exists")
            db.execute(
                "insert into tenant (domain, name, timezone) values (?, ?, ?)",
                (domain, name or domain, timezone),
            )
        return self.tenant(domain)

    def tenant(self, domain: str) -> Tenant:
        row = self._db.execute("select * from tenant where domain = ?", (domain,)).fetchone()
        if row is None:
            raise ProvisioningError(f"no tenant {domain}")
        return Tenant(row["id"], row["domain"], row["name"], row["timezone"])

    def tenants(self) -> list[Tenant]:
        rows = self._db.execute("select * from tenant order by domain")
        return [Tenant(r["id"], r["domain"], r["name"], r["timezone"]) for r in rows]

    # -- users ---------------------------------------------------------------
    def add_user(
        self,
        *,
        tenant: str,
        extension: str,
        name: str,
        email: str,
        password: str,
        sip_password: str,
        role: str = "user",
        timezone: str | None = None,
    ) -> User:
        t = self.tenant(tenant)
        if not EXTENSION_RE.match(extension):
            raise ProvisioningError(f"extension {extension!r} must be 2 to 8 digits")
        if role not in ROLES:
            raise ProvisioningError(f"role {role!r} must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise ProvisioningError("portal password must be at least 8 characters")
        if len(sip_password) < 8:
            raise ProvisioningError("SIP password must be at least 8 characters")
        if timezone:
            _check_timezone(timezone)
        ha1, ha1b = sip_ha1(extension, t.domain, sip_password)
        with self._tx() as db:
            if db.execute(
                "select 1 from user where tenant_id = ? and extension = ?", (t.id, extension)
            ).fetchone():
                raise ProvisioningError(f"extension {extension} already exists in {t.domain}")
            db.execute(
                "insert into user (tenant_id, extension, name, email, password_hash, role,"
                " timezone) values (?, ?, ?, ?, ?, ?, ?)",
                (t.id, extension, name, email, _hasher.hash(password), role, timezone),
            )
            db.execute(
                "insert into subscriber (username, domain, ha1, ha1b) values (?, ?, ?, ?)",
                (extension, t.domain, ha1, ha1b),
            )
        return self.user(t.domain, extension)

    _USER_SQL = (
        "select u.*, t.domain as tenant_domain, coalesce(u.timezone, t.timezone) as tz"
        " from user u join tenant t on t.id = u.tenant_id"
    )

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            id=row["id"],
            tenant_id=row["tenant_id"],
            tenant_domain=row["tenant_domain"],
            extension=row["extension"],
            name=row["name"],
            email=row["email"],
            role=cast(Role, row["role"]),
            timezone=row["tz"],
            status_message=row["status_message"],
        )

    def user(self, tenant: str, extension: str) -> User:
        row = self._db.execute(
            self._USER_SQL + " where t.domain = ? and u.extension = ?", (tenant, extension)
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no extension {extension} in {tenant}")
        return self._user(row)

    def user_by_id(self, user_id: int) -> User | None:
        row = self._db.execute(self._USER_SQL + " where u.id = ?", (user_id,)).fetchone()
        return None if row is None else self._user(row)

    def users(self, tenant: str | None = None) -> list[User]:
        if tenant is None:
            rows = self._db.execute(self._USER_SQL + " order by t.domain, u.extension")
        else:
            rows = self._db.execute(
                self._USER_SQL + " where t.domain = ? order by u.extension", (tenant,)
            )
        return [self._user(r) for r in rows]

    def set_status_message(self, user_id: int, message: str) -> None:
        message = message.strip()
        if len(message) > 140:
            raise ProvisioningError("status message is limited to 140 characters")
        with self._tx() as db:
            db.execute("update user set status_message = ? where id = ?", (message, user_id))

    # -- portal login --------------------------------------------------------
    def authenticate(
        self, login: str, password: str, address: str, max_attempts: int, window: float
    ) -> User:
        """Check a portal login; refuse after too many recent failures."""
        login = login.strip().lower()
        now = time.time()
        recent = self._db.execute(
            "select count(*) from login_attempt where login = ? and address = ? and at > ?",
            (login, address, now - window),
        ).fetchone()[0]
        if recent >= max_attempts:
            raise ProvisioningError("too many failed attempts; try again in a few minutes")
        extension, _, domain = login.partition("@")
        row = self._db.execute(
            self._USER_SQL + " where t.domain = ? and u.extension = ?", (domain, extension)
        ).fetchone()
        ok = False
        if row is not None:
            try:
                ok = _hasher.verify(row["password_hash"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        if not ok:
            with self._tx() as db:
                db.execute(
                    "insert into login_attempt (login, address, at) values (?, ?, ?)",
                    (login, address, now),
                )
            raise ProvisioningError("wrong extension@domain or password")
        with self._tx() as db:
            db.execute(
                "delete from login_attempt where login = ? and address = ?", (login, address)
            )
        return self._user(row)

    # -- time frames and answering rules -----------------------------------
    def save_frame(self, tenant: str, frame: TimeFrame, user_id: int | None = None) -> TimeFrame:
        """Create or replace (by id) a frame; tenant-wide when ``user_id`` is None."""
        t = self.tenant(tenant)
        try:
            validate(frame)
        except TimeFrameError as exc:
            raise ProvisioningError(str(exc)) from exc
        with self._tx() as db:
            # Rules refer to frames by name: a tenant frame must not share its name
            # with anyone's personal frame, nor a personal frame with a tenant one.
            clash = db.execute(
                "select id from time_frame where tenant_id = ? and name = ? and id is not ?"
                " and (? is null or user_id is null or user_id is ?)",
                (t.id, frame.name, frame.id, user_id, user_id),
            ).fetchone()
            if clash:
                raise ProvisioningError(f"a time frame named {frame.name!r} already exists")
            values = (frame.name, frame.timezone, periods_to_json(frame.periods))
            if frame.id is None:
                cur = db.execute(
                    "insert into time_frame (tenant_id, user_id, name, timezone, periods_json)"
                    " values (?, ?, ?, ?, ?)",
                    (t.id, user_id, *values),
                )
                frame_id = cur.lastrowid
            else:
                cur = db.execute(
                    "update time_frame set name = ?, timezone = ?, periods_json = ?"
                    " where id = ? and tenant_id = ? and user_id is ?",
                    (*values, frame.id, t.id, user_id),
                )
                if cur.rowcount == 0:
                    raise ProvisioningError("no such time frame (or it is not yours to edit)")
                frame_id = frame.id
        return TimeFrame(frame.name, frame.timezone, frame.periods, frame_id)

    def frames(self, tenant: str, user_id: int | None = None) -> dict[str, TimeFrame]:
        """Tenant-wide frames plus the user's own."""
        rows = self._db.execute(
            "select f.* from time_frame f join tenant t on t.id = f.tenant_id"
            " where t.domain = ? and (f.user_id is null or f.user_id is ?) order by f.name",
            (tenant, user_id),
        )
        return {
            r["name"]: frame_from_row(r["name"], r["timezone"], r["periods_json"], r["id"])
            for r in rows
        }

    def delete_frame(self, tenant: str, frame_id: int) -> None:
        t = self.tenant(tenant)
        with self._tx() as db:
            used = db.execute(
                "select 'rule', name from answering_rule where frame_id = ?"
                " union all select 'main number route', name from did_rule where frame_id = ?",
                (frame_id, frame_id),
            ).fetchone()
            if used:
                raise ProvisioningError(f"time frame is used by {used[0]} {used[1]!r}")
            db.execute("delete from time_frame where id = ? and tenant_id = ?", (frame_id, t.id))

    def routing_inputs(self, user: User) -> RoutingInputs:
        frames = self.frames(user.tenant_domain, user.id)
        rules = self._read_rules("answering_rule", user.id, frames)
        o = self._db.execute("select * from rule_override where user_id = ?", (user.id,)).fetchone()
        override = None
        if o is not None:
            rule = rule_from_row("Manual override", 0, None, True, o["actions_json"], None)
            override = Override(rule, datetime.fromisoformat(o["until_utc"]))
        return RoutingInputs(rules, frames, override)

    def save_rule(self, user: User, rule: AnsweringRule) -> AnsweringRule:
        """Create or replace (by id) one of the user's rules, after validating it."""
        inputs = self.routing_inputs(user)
        extensions = {u.extension for u in self.users(user.tenant_domain)}
        try:
            validate_rule(rule, inputs.frames, extensions)
        except RuleError as exc:
            raise ProvisioningError(str(exc)) from exc
        self._refuse_forward_loop(user, rule)
        rule_id = self._write_rule("answering_rule", user.id, rule, inputs.frames, "rule")
        return next(r for r in self.routing_inputs(user).rules if r.id == rule_id)

    def _write_rule(
        self, table: str, owner_id: int, rule: AnsweringRule, frames: dict[str, TimeFrame],
        noun: str,
    ) -> int:  # fmt: skip
        """Insert or update (by id) a validated rule row; refuse a duplicate name."""
        owner = _RULE_OWNER[table]
        frame_id = frames[rule.frame].id if rule.frame else None
        values = (rule.name, rule.priority, frame_id, int(rule.enabled), actions_to_json(rule))
        with self._tx() as db:
            clash = db.execute(
                f"select 1 from {table} where {owner} = ? and name = ? and id is not ?",
                (owner_id, rule.name, rule.id),
            ).fetchone()
            if clash:
                raise ProvisioningError(f"a {noun} named {rule.name!r} already exists")
            if rule.id is None:
                cur = db.execute(
                    f"insert into {table} (name, priority, frame_id, enabled, actions_json,"
                    f" {owner}) values (?, ?, ?, ?, ?, ?)",
                    (*values, owner_id),
                )
                return int(cur.lastrowid or 0)
            db.execute(
                f"update {table} set name = ?, priority = ?, frame_id = ?, enabled = ?,"
                f" actions_json = ? where id = ? and {owner} = ?",
                (*values, rule.id, owner_id),
            )
            return rule.id

    def _read_rules(
        self, table: str, owner_id: int, frames: dict[str, TimeFrame]
    ) -> list[AnsweringRule]:
        owner = _RULE_OWNER[table]
        by_id = {f.id: name for name, f in frames.items()}
        rows = self._db.execute(
            f"select * from {table} where {owner} = ? order by priority, name", (owner_id,)
        )
        return [
            rule_from_row(
                r["name"],
                r["priority"],
                by_id.get(r["frame_id"]),
                bool(r["enabled"]),
                r["actions_json"],
                r["id"],
            )
            for r in rows
        ]

    def delete_rule(self, user: User, rule_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "delete from answering_rule where id = ? and user_id = ?", (rule_id, user.id)
            )

    def set_override(self, user: User, rule: AnsweringRule | None, until: datetime) -> None:
        """Switch a manual override on until ``until`` (UTC), or off with ``rule=None``."""
        if rule is not None:
            inputs = self.routing_inputs(user)
            extensions = {u.extension for u in self.users(user.tenant_domain)}
            try:
                validate_rule(rule, inputs.frames, extensions)
            except RuleError as exc:
                raise ProvisioningError(str(exc)) from exc
            fwd = rule.forward_always
            if fwd is not None and fwd.kind == "extension" and fwd.target == user.extension:
                raise ProvisioningError("an override cannot forward calls to yourself")
            self._refuse_forward_loop(user, rule)
        with self._tx() as db:
            db.execute("delete from rule_override where user_id = ?", (user.id,))
            if rule is not None:
                db.execute(
                    "insert into rule_override (user_id, actions_json, until_utc) values (?, ?, ?)",
                    (user.id, actions_to_json(rule), until.isoformat()),
                )

    def _refuse_forward_loop(self, user: User, rule: AnsweringRule) -> None:
        """Refuse a forward-always chain that comes back to where it started."""
        if rule.forward_always is None or rule.forward_always.kind != "extension":
            return
        forward_of: dict[str, str | None] = {user.extension: rule.forward_always.target}
        rows = self._db.execute(
            "select u.extension, r.actions_json, r.name, r.priority, r.enabled"
            " from answering_rule r join user u on u.id = r.user_id"
            " where u.tenant_id = ? and u.id != ? order by r.priority",
            (user.tenant_id, user.id),
        )
        for r in rows:
            if r["extension"] in forward_of or not r["enabled"]:
                continue
            other = rule_from_row(r["name"], r["priority"], None, True, r["actions_json"], None)
            fwd = other.forward_always
            if fwd is not None and fwd.kind == "extension":
                forward_of[r["extension"]] = fwd.target
        loop = forward_chain_loop(user.extension, forward_of)
        if loop is not None:
            raise ProvisioningError("forwarding loop: " + " → ".join(loop))

    # -- analytics -------------------------------------------------------------
    # Callback-worklist marks and scheduled reports (migration 0005_analytics).
    # Types and due-time rules live in switchboard.report_schedules. Imported in
    # this section (not at the top) so the section stays self-contained while
    # another engineer edits the file; the lead may hoist it to the imports.
    from switchboard.report_schedules import ReportRun, ReportSchedule

    def mark_callback_handled(
        self, tenant: str, number: str, user_id: int | None = None, at: float | None = None
    ) -> None:
        """Hide ``number`` from the tenant's callback worklist until it misses another call."""
        digits = re.sub(r"[^0-9]", "", number)
        if not digits:
            raise ProvisioningError(f"{number!r} is not a phone number")
        t = self.tenant(tenant)
        with self._tx() as db:
            db.execute(
                "insert into callback_handled (tenant_id, number, handled_at, handled_by)"
                " values (?, ?, ?, ?) on conflict (tenant_id, number) do update set"
                " handled_at = excluded.handled_at, handled_by = excluded.handled_by",
                (t.id, digits, time.time() if at is None else at, user_id),
            )

    def callback_marks(self, tenant: str) -> dict[str, datetime]:
        """Number (digits) → when it was marked handled (UTC)."""
        from datetime import UTC

        rows = self._db.execute(
            "select c.number, c.handled_at from callback_handled c"
            " join tenant t on t.id = c.tenant_id where t.domain = ?",
            (tenant,),
        )
        return {r[0]: datetime.fromtimestamp(r[1], UTC) for r in rows}

    def add_schedule(self, schedule: ReportSchedule, user_id: int | None = None) -> ReportSchedule:
        """Save a new scheduled report (validated: cron, zone, destination, recipients)."""
        import json

        from switchboard.report_schedules import ScheduleError, validate_schedule

        t = self.tenant(schedule.tenant)
        try:
            validate_schedule(schedule)
        except ScheduleError as exc:
            raise ProvisioningError(str(exc)) from exc
        with self._tx() as db:
            if db.execute(
                "select 1 from report_schedule where tenant_id = ? and name = ?",
                (t.id, schedule.name),
            ).fetchone():
                raise ProvisioningError(f"a schedule named {schedule.name!r} exists")
            cur = db.execute(
                "insert into report_schedule (tenant_id, name, kind, query_json, format, cron,"
                " timezone, to_folder, emails, created_by, created_at)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t.id,
                    schedule.name,
                    schedule.kind,
                    json.dumps(schedule.query, sort_keys=True),
                    schedule.format,
                    schedule.cron,
                    schedule.timezone,
                    int(schedule.to_folder),
                    ",".join(schedule.emails),
                    user_id,
                    time.time(),
                ),
            )
            schedule_id = int(cur.lastrowid or 0)
        return self.schedule(schedule_id)

    @staticmethod
    def _schedule(row: sqlite3.Row) -> ReportSchedule:
        import json
        from datetime import UTC

        def instant(value: float | None) -> datetime | None:
            return None if value is None else datetime.fromtimestamp(value, UTC)

        return ProvisioningStore.ReportSchedule(
            tenant=row["domain"],
            name=row["name"],
            kind=row["kind"],
            format=row["format"],
            cron=row["cron"],
            timezone=row["timezone"],
            query=json.loads(row["query_json"]),
            to_folder=bool(row["to_folder"]),
            emails=tuple(e for e in row["emails"].split(",") if e),
            id=row["id"],
            created_at=instant(row["created_at"]),
            last_due_at=instant(row["last_due_at"]),
        )

    def schedule(self, schedule_id: int, tenant: str | None = None) -> ReportSchedule:
        """One schedule (of ``tenant`` when given: a manager never reaches another tenant's)."""
        row = self._db.execute(
            "select s.*, t.domain from report_schedule s join tenant t on t.id = s.tenant_id"
            " where s.id = ? and (? is null or t.domain = ?)",
            (schedule_id, tenant, tenant),
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no schedule {schedule_id}")
        return self._schedule(row)

    def schedules(self, tenant: str | None = None) -> list[ReportSchedule]:
        """Every schedule (of one tenant, or all for the worker), oldest first."""
        rows = self._db.execute(
            "select s.*, t.domain from report_schedule s join tenant t on t.id = s.tenant_id"
            " where ? is null or t.domain = ? order by s.id",
            (tenant, tenant),
        )
        return [self._schedule(r) for r in rows]

    def delete_schedule(self, tenant: str, schedule_id: int) -> None:
        """Delete a schedule of ``tenant`` and its run history."""
        self.schedule(schedule_id, tenant)
        with self._tx() as db:
            db.execute("delete from report_run where schedule_id = ?", (schedule_id,))
            db.execute("delete from report_schedule where id = ?", (schedule_id,))

    def claim_run(self, schedule_id: int, due_at: datetime, started_at: float) -> int | None:
        """Record that the run for ``due_at`` starts; None if that due time was handled already.

        One transaction moves the schedule's ``last_due_at`` forward and inserts
        the run, so two workers (or a restart) can never run one due time twice.
        """
        due = due_at.timestamp()
        with self._tx() as db:
            moved = db.execute(
                "update report_schedule set last_due_at = ?"
                " where id = ? and (last_due_at is null or last_due_at < ?)",
                (due, schedule_id, due),
            ).rowcount
            if not moved:
                return None
            cur = db.execute(
                "insert into report_run (schedule_id, due_at, started_at) values (?, ?, ?)",
                (schedule_id, due, started_at),
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        rows: int | None,
        file: str | None,
        emailed_to: str | None,
        error: str | None,
    ) -> None:
        """Record how a run ended (``error`` None: it succeeded)."""
        with self._tx() as db:
            db.execute(
                "update report_run set finished_at = ?, rows = ?, file = ?, emailed_to = ?,"
                " error = ? where id = ?",
                (time.time(), rows, file, emailed_to, error, run_id),
            )

    def report_runs(
        self, tenant: str, schedule_id: int | None = None, limit: int = 50
    ) -> list[ReportRun]:
        """The latest runs of a tenant's schedules, newest first."""
        from datetime import UTC

        rows = self._db.execute(
            "select r.*, s.name from report_run r join report_schedule s on s.id = r.schedule_id"
            " join tenant t on t.id = s.tenant_id where t.domain = ?"
            " and (? is null or s.id = ?) order by r.started_at desc, r.id desc limit ?",
            (tenant, schedule_id, schedule_id, limit),
        )

        def instant(value: float | None) -> datetime | None:
            return None if value is None else datetime.fromtimestamp(value, UTC)

        return [
            ProvisioningStore.ReportRun(
                id=r["id"],
                schedule_id=r["schedule_id"],
                schedule_name=r["name"],
                due_at=datetime.fromtimestamp(r["due_at"], UTC),
                started_at=datetime.fromtimestamp(r["started_at"], UTC),
                finished_at=instant(r["finished_at"]),
                rows=r["rows"],
                file=r["file"],
                emailed_to=r["emailed_to"],
                error=r["error"],
            )
            for r in rows
        ]

    # -- main numbers (DIDs) --------------------------------------------------
    def add_did(self, tenant: str, number: str, name: str) -> Did:
        t = self.tenant(tenant)
        if not re.fullmatch(r"\+?[0-9]{3,15}", number):
            raise ProvisioningError(f"{number!r} is not a phone number (digits, optional +)")
        with self._tx() as db:
            if db.execute("select 1 from did where number = ?", (number,)).fetchone():
                raise ProvisioningError(f"number {number} is already in use")
            db.execute(
                "insert into did (tenant_id, number, name) values (?, ?, ?)", (t.id, number, name)
            )
        return self.did(number)

    def did(self, number: str) -> Did:
        row = self._db.execute(
            "select d.*, t.domain from did d join tenant t on t.id = d.tenant_id"
            " where d.number = ?",
            (number,),
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no main number {number}")
        return Did(row["id"], row["domain"], row["number"], row["name"])

    def dids(self, tenant: str) -> list[Did]:
        rows = self._db.execute(
            "select d.*, t.domain from did d join tenant t on t.id = d.tenant_id"
            " where t.domain = ? order by d.number",
            (tenant,),
        )
        return [Did(r["id"], r["domain"], r["number"], r["name"]) for r in rows]

    def did_routing_inputs(self, did: Did) -> RoutingInputs:
        frames = self.frames(did.tenant_domain)
        rules = self._read_rules("did_rule", did.id, frames)
        return RoutingInputs(rules, frames, None)

    def save_did_rule(self, did: Did, rule: AnsweringRule) -> AnsweringRule:
        """A DID route: during ``rule.frame``, send calls to ``rule.forward_always``."""
        inputs = self.did_routing_inputs(did)
        extensions = {u.extension for u in self.users(did.tenant_domain)}
        if rule.forward_always is None:
            raise ProvisioningError(f"route {rule.name!r}: choose where the calls go")
        try:
            validate_rule(rule, inputs.frames, extensions)
        except RuleError as exc:
            raise ProvisioningError(str(exc)) from exc
        rule_id = self._write_rule("did_rule", did.id, rule, inputs.frames, "route")
        return next(r for r in self.did_routing_inputs(did).rules if r.id == rule_id)

    # -- voicemail -------------------------------------------------------------
    # Message state and mailbox settings (migration 0004). Every message method
    # takes (tenant, mailbox): a message outside that mailbox is "not found", so a
    # caller that passes the signed-in user's own mailbox cannot reach another's.
    _VM_SQL = (
        "select m.*, t.domain as tenant_domain from voicemail_message m"
        " join tenant t on t.id = m.tenant_id"
    )

    @staticmethod
    def _vm_message(row: sqlite3.Row) -> VoicemailMessage:
        return VoicemailMessage(
            message_id=row["message_id"],
            tenant=row["tenant_domain"],
            mailbox=row["mailbox"],
            source_id=row["source_id"],
            forwarded_by=row["forwarded_by"],
            folder=row["folder"],
            is_read=bool(row["is_read"]),
            deleted_at=row["deleted_at"],
            started_at=row["started_at"],
            duration=row["duration"],
            audio_path=row["audio_path"],
            transcribed_at=row["transcribed_at"],
            email_state=row["email_state"],
        )

    def record_voicemail(
        self,
        tenant: str,
        mailbox: str,
        message_id: str,
        *,
        started_at: float,
        duration: float,
        audio_path: str,
    ) -> bool:
        """Put a message the pipeline committed into its mailbox; False if it was there."""
        t = self.tenant(tenant)
        with self._tx() as db:
            cur = db.execute(
                "insert into voicemail_message (message_id, tenant_id, mailbox, source_id,"
                " started_at, duration, audio_path, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)"
                " on conflict (message_id) do nothing",
                (message_id, t.id, mailbox, message_id, started_at, duration, audio_path,
                 time.time()),
            )  # fmt: skip
        return cur.rowcount == 1

    def voicemail_known(self, message_ids: list[str]) -> set[str]:
        """Which of these ids already have a mailbox row (a spool item seen twice)."""
        known: set[str] = set()
        for i in range(0, len(message_ids), 500):
            chunk = message_ids[i : i + 500]
            rows = self._db.execute(
                "select message_id from voicemail_message where message_id in"
                f" ({', '.join('?' * len(chunk))})",
                chunk,
            )
            known.update(r[0] for r in rows)
        return known

    def voicemail_message(self, tenant: str, mailbox: str, message_id: str) -> VoicemailMessage:
        row = self._db.execute(
            self._VM_SQL + " where t.domain = ? and m.mailbox = ? and m.message_id = ?",
            (tenant, mailbox, message_id),
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no message {message_id} in mailbox {mailbox}")
        return self._vm_message(row)

    def voicemail_messages(
        self,
        tenant: str,
        mailbox: str,
        folders: tuple[str, ...] = ("new", "saved"),
        order: str | None = None,
    ) -> list[VoicemailMessage]:
        """A mailbox's messages in ``folders``, in the mailbox's order unless ``order`` says."""
        bad = set(folders) - set(FOLDERS)
        if bad or not folders:
            raise ProvisioningError(f"folders are {', '.join(FOLDERS)}")
        order = order or self.mailbox_settings(tenant, mailbox).message_order
        direction = "asc" if order == "oldest" else "desc"  # whitelisted, never user text
        rows = self._db.execute(
            self._VM_SQL + " where t.domain = ? and m.mailbox = ?"
            f" and m.folder in ({', '.join('?' * len(folders))})"
            f" order by m.started_at {direction}, m.message_id",
            (tenant, mailbox, *folders),
        )
        return [self._vm_message(r) for r in rows]

    def voicemail_message_in_tenant(self, tenant: str, message_id: str) -> VoicemailMessage:
        """A message of any mailbox of ``tenant`` (for a manager, or to check the owner)."""
        row = self._db.execute(
            self._VM_SQL + " where t.domain = ? and m.message_id = ?", (tenant, message_id)
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no message {message_id}")
        return self._vm_message(row)

    def set_message_folder(
        self, tenant: str, mailbox: str, message_id: str, folder: str, *, now: float | None = None
    ) -> VoicemailMessage:
        """Move a message: to ``trash`` (restorable for TRASH_DAYS), or to new/saved."""
        if folder not in FOLDERS:
            raise ProvisioningError(f"folder must be one of {', '.join(FOLDERS)}")
        msg = self.voicemail_message(tenant, mailbox, message_id)
        with self._tx() as db:
            if folder == "trash" and msg.folder != "trash":
                db.execute(
                    "update voicemail_message set folder = 'trash', folder_before_trash = ?,"
                    " deleted_at = ? where message_id = ?",
                    (msg.folder, time.time() if now is None else now, message_id),
                )
            elif folder != "trash":
                db.execute(
                    "update voicemail_message set folder = ?, folder_before_trash = null,"
                    " deleted_at = null where message_id = ?",
                    (folder, message_id),
                )
        return self.voicemail_message(tenant, mailbox, message_id)

    def restore_message(self, tenant: str, mailbox: str, message_id: str) -> VoicemailMessage:
        """Take a message out of the trash, back to the folder it was deleted from."""
        msg = self.voicemail_message(tenant, mailbox, message_id)
        if msg.folder != "trash":
            return msg
        row = self._db.execute(
            "select folder_before_trash from voicemail_message where message_id = ?",
            (message_id,),
        ).fetchone()
        return self.set_message_folder(tenant, mailbox, message_id, row[0] or "saved")

    def mark_read(
        self, tenant: str, mailbox: str, message_id: str, read: bool = True
    ) -> VoicemailMessage:
        self.voicemail_message(tenant, mailbox, message_id)  # refuses other mailboxes
        with self._tx() as db:
            db.execute(
                "update voicemail_message set is_read = ? where message_id = ?",
                (int(read), message_id),
            )
        return self.voicemail_message(tenant, mailbox, message_id)

    def forward_message(
        self, tenant: str, mailbox: str, message_id: str, to_mailbox: str
    ) -> VoicemailMessage:
        """Copy a message into another mailbox of the same tenant, as a new unread message."""
        msg = self.voicemail_message(tenant, mailbox, message_id)
        target = self.user(tenant, to_mailbox)  # refuses an unknown extension
        if target.extension == mailbox:
            raise ProvisioningError("the message is already in this mailbox")
        copy_id = f"vm-{uuid.uuid4().hex}"
        with self._tx() as db:
            db.execute(
                "insert into voicemail_message (message_id, tenant_id, mailbox, source_id,"
                " forwarded_by, started_at, duration, audio_path, transcribed_at, created_at)"
                " select ?, tenant_id, ?, source_id, ?, started_at, duration, audio_path,"
                " transcribed_at, ? from voicemail_message where message_id = ?",
                (copy_id, target.extension, mailbox, time.time(), msg.message_id),
            )
        return self.voicemail_message(tenant, target.extension, copy_id)

    def purge_voicemail_trash(self, now: float | None = None) -> list[str]:
        """Drop messages trashed more than TRASH_DAYS ago; the audio paths nothing uses now."""
        cutoff = (time.time() if now is None else now) - TRASH_SECONDS
        with self._tx() as db:
            paths = [
                r[0]
                for r in db.execute(
                    "select distinct audio_path from voicemail_message"
                    " where folder = 'trash' and deleted_at < ?",
                    (cutoff,),
                )
            ]
            db.execute(
                "delete from voicemail_message where folder = 'trash' and deleted_at < ?",
                (cutoff,),
            )
            still_used = {
                r[0]
                for r in db.execute("select distinct audio_path from voicemail_message")
                if r[0] in paths
            }
        return [p for p in paths if p not in still_used]

    # Work queues of the pipeline: transcription and email, both keyed by message id.
    def messages_to_transcribe(self, limit: int) -> list[VoicemailMessage]:
        """Originals (not forwarded copies) without a transcript, oldest first."""
        rows = self._db.execute(
            self._VM_SQL + " where m.transcribed_at is null and m.message_id = m.source_id"
            " order by m.created_at limit ?",
            (limit,),
        )
        return [self._vm_message(r) for r in rows]

    def mark_transcribed(self, source_id: str, at: float | None = None) -> None:
        """Record the transcript on the original and every forwarded copy of it."""
        with self._tx() as db:
            db.execute(
                "update voicemail_message set transcribed_at = ? where source_id = ?",
                (time.time() if at is None else at, source_id),
            )

    def messages_to_email(self, limit: int) -> list[VoicemailMessage]:
        rows = self._db.execute(
            self._VM_SQL + " where m.email_state = 'pending' order by m.created_at limit ?",
            (limit,),
        )
        return [self._vm_message(r) for r in rows]

    def set_email_state(self, message_id: str, state: str) -> None:
        if state not in ("pending", "sent", "skipped", "failed"):
            raise ProvisioningError(f"unknown email state {state!r}")
        with self._tx() as db:
            db.execute(
                "update voicemail_message set email_state = ?, emailed_at = ? where message_id = ?",
                (state, time.time(), message_id),
            )

    def set_message_state(self, tenant: str, mailbox: str, message_id: str, state: str) -> None:
        """The phone menu's verbs; a message not ingested yet keeps no state (stays new)."""
        if state not in ("read", "saved", "deleted"):
            raise ProvisioningError(f"unknown message state {state!r}")
        try:
            self.mark_read(tenant, mailbox, message_id)
        except ProvisioningError:
            return
        if state != "read":
            folder = "saved" if state == "saved" else "trash"
            self.set_message_folder(tenant, mailbox, message_id, folder)

    def mailbox_settings(self, tenant: str, mailbox: str) -> MailboxSettings:
        """A mailbox's settings (defaults until changed); the mailbox is the user's extension."""
        owner = self.user(tenant, mailbox)
        row = self._db.execute(
            "select * from voicemail_box where tenant_id = ? and mailbox = ?",
            (owner.tenant_id, mailbox),
        ).fetchone()
        if row is None:
            return MailboxSettings(
                tenant, mailbox, "unavailable", None, {}, None, "newest", True, True, True,
                owner.email,
            )  # fmt: skip
        greetings = {
            kind: row[f"greeting_{kind}"] for kind in GREETING_KINDS if row[f"greeting_{kind}"]
        }
        active = greetings.get(row["active_greeting"])
        return MailboxSettings(
            tenant=tenant,
            mailbox=mailbox,
            greeting=row["active_greeting"],
            # data_dir is where this file lives (Settings.provisioning_db).
            active_greeting=str(self.path.parent / active) if active else None,
            greetings=greetings,
            pin_hash=row["pin_hash"],
            message_order=row["message_order"],
            announce_timestamp=bool(row["announce_timestamp"]),
            email_enabled=bool(row["email_enabled"]),
            email_attach_audio=bool(row["email_attach_audio"]),
            email_address=owner.email,
        )

    def _box_update(self, tenant: str, mailbox: str, column: str, value: object) -> None:
        # ``column`` comes from the callers below, never from a request.
        owner = self.user(tenant, mailbox)
        with self._tx() as db:
            db.execute(
                "insert into voicemail_box (tenant_id, mailbox) values (?, ?)"
                " on conflict (tenant_id, mailbox) do nothing",
                (owner.tenant_id, mailbox),
            )
            db.execute(
                f"update voicemail_box set {column} = ? where tenant_id = ? and mailbox = ?",
                (value, owner.tenant_id, mailbox),
            )

    def update_mailbox_settings(
        self,
        tenant: str,
        mailbox: str,
        *,
        greeting: str | None = None,
        message_order: str | None = None,
        announce_timestamp: bool | None = None,
        email_enabled: bool | None = None,
        email_attach_audio: bool | None = None,
    ) -> MailboxSettings:
        """Change the settings given (None: leave as is)."""
        if greeting is not None:
            if greeting not in GREETING_KINDS:
                raise ProvisioningError(f"greeting must be one of {', '.join(GREETING_KINDS)}")
            self._box_update(tenant, mailbox, "active_greeting", greeting)
        if message_order is not None:
            if message_order not in MESSAGE_ORDERS:
                raise ProvisioningError("message order must be newest or oldest")
            self._box_update(tenant, mailbox, "message_order", message_order)
        flags = {
            "announce_timestamp": announce_timestamp,
            "email_enabled": email_enabled,
            "email_attach_audio": email_attach_audio,
        }
        for column, flag in flags.items():
            if flag is not None:
                self._box_update(tenant, mailbox, column, int(flag))
        return self.mailbox_settings(tenant, mailbox)

    def set_greeting(
        self,
        tenant: str,
        mailbox: str,
        kind: str,
        path: str | Path | None,
        *,
        activate: bool = False,
    ) -> None:
        """Record (or with None forget) the WAV of a greeting; kept relative to data_dir."""
        if kind not in GREETING_KINDS:
            raise ProvisioningError(f"greeting must be one of {', '.join(GREETING_KINDS)}")
        rel: str | None = None
        if path is not None:
            data_dir = self.path.parent.resolve()
            full = Path(path) if Path(path).is_absolute() else data_dir / path
            if not full.resolve().is_relative_to(data_dir / "greetings"):
                raise ProvisioningError("greetings must be kept under data_dir/greetings")
            rel = str(full.resolve().relative_to(data_dir))
        self._box_update(tenant, mailbox, f"greeting_{kind}", rel)
        if activate:
            self._box_update(tenant, mailbox, "active_greeting", kind)

    def set_voicemail_pin(self, tenant: str, mailbox: str, pin: str) -> None:
        problem = pin_problem(pin)
        if problem:
            raise ProvisioningError(problem)
        self._box_update(tenant, mailbox, "pin_hash", _hasher.hash(pin))

    def verify_voicemail_pin(self, tenant: str, mailbox: str, pin: str) -> bool:
        """True when ``pin`` opens the mailbox; a mailbox without a PIN opens for nobody."""
        try:
            owner = self.user(tenant, mailbox)
        except ProvisioningError:
            return False
        row = self._db.execute(
            "select pin_hash from voicemail_box where tenant_id = ? and mailbox = ?",
            (owner.tenant_id, mailbox),
        ).fetchone()
        if row is None or row[0] is None:
            return False
        try:
            return bool(_hasher.verify(row[0], pin))
        except (VerificationError, InvalidHashError):
            return False

    def delete_did_rule(self, did: Did, rule_id: int) -> None:
        with self._tx() as db:
            db.execute("delete from did_rule where id = ? and did_id = ?", (rule_id, did.id))

    # -- what Kamailio loads ---------------------------------------------------
    def write_decisions(self, decisions: dict[str, str]) -> None:
        """Upsert compiled decisions into Kamailio's htable table (before pushing them)."""
        with self._tx() as db:
            db.executemany(
                "insert into rule_decision (key_name, key_value) values (?, ?)"
                " on conflict (key_name) do update set key_value = excluded.key_value",
                list(decisions.items()),
            )

    def decisions(self) -> dict[str, str]:
        rows = self._db.execute("select key_name, key_value from rule_decision")
        return {r[0]: r[1] for r in rows}


def open_store(path: Path) -> ProvisioningStore:
    return ProvisioningStore(path)
