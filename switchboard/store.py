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

Role = Literal["manager", "supervisor", "agent", "user"]
ROLES: tuple[Role, ...] = ("manager", "supervisor", "agent", "user")
# Roles that see every call of their tenant; the others see only their own.
TENANT_WIDE_ROLES: frozenset[str] = frozenset({"manager", "supervisor"})

_hasher = PasswordHasher()


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
            clash = db.execute(
                "select id from time_frame where tenant_id = ? and name = ?"
                " and (user_id is null or user_id is ?) and id is not ?",
                (t.id, frame.name, user_id, frame.id),
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
                db.execute(
                    "update time_frame set name = ?, timezone = ?, periods_json = ?"
                    " where id = ? and tenant_id = ?",
                    (*values, frame.id, t.id),
                )
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
                "select r.name from answering_rule r where r.frame_id = ?", (frame_id,)
            ).fetchone()
            if used:
                raise ProvisioningError(f"time frame is used by rule {used[0]!r}")
            db.execute("delete from time_frame where id = ? and tenant_id = ?", (frame_id, t.id))

    def routing_inputs(self, user: User) -> RoutingInputs:
        frames = self.frames(user.tenant_domain, user.id)
        by_id = {f.id: name for name, f in frames.items()}
        rows = self._db.execute(
            "select * from answering_rule where user_id = ? order by priority, name", (user.id,)
        )
        rules = [
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
        frame_id = inputs.frames[rule.frame].id if rule.frame else None
        values = (rule.name, rule.priority, frame_id, int(rule.enabled), actions_to_json(rule))
        with self._tx() as db:
            clash = db.execute(
                "select 1 from answering_rule where user_id = ? and name = ? and id is not ?",
                (user.id, rule.name, rule.id),
            ).fetchone()
            if clash:
                raise ProvisioningError(f"a rule named {rule.name!r} already exists")
            if rule.id is None:
                cur = db.execute(
                    "insert into answering_rule (name, priority, frame_id, enabled, actions_json,"
                    " user_id) values (?, ?, ?, ?, ?, ?)",
                    (*values, user.id),
                )
                rule_id = cur.lastrowid
            else:
                db.execute(
                    "update answering_rule set name = ?, priority = ?, frame_id = ?, enabled = ?,"
                    " actions_json = ? where id = ? and user_id = ?",
                    (*values, rule.id, user.id),
                )
                rule_id = rule.id
        return next(r for r in self.routing_inputs(user).rules if r.id == rule_id)

    def delete_rule(self, user: User, rule_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "delete from answering_rule where id = ? and user_id = ?", (rule_id, user.id)
            )

    def set_override(self, user: User, rule: AnsweringRule | None, until: datetime) -> None:
        """Switch a manual override on until ``until`` (UTC), or off with ``rule=None``."""
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
        by_id = {f.id: name for name, f in frames.items()}
        rows = self._db.execute(
            "select * from did_rule where did_id = ? order by priority, name", (did.id,)
        )
        rules = [
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
        frame_id = inputs.frames[rule.frame].id if rule.frame else None
        values = (rule.name, rule.priority, frame_id, int(rule.enabled), actions_to_json(rule))
        with self._tx() as db:
            if rule.id is None:
                cur = db.execute(
                    "insert into did_rule (name, priority, frame_id, enabled, actions_json,"
                    " did_id) values (?, ?, ?, ?, ?, ?)",
                    (*values, did.id),
                )
                rule_id = cur.lastrowid
            else:
                db.execute(
                    "update did_rule set name = ?, priority = ?, frame_id = ?, enabled = ?,"
                    " actions_json = ? where id = ? and did_id = ?",
                    (*values, rule.id, did.id),
                )
                rule_id = rule.id
        return next(r for r in self.did_routing_inputs(did).rules if r.id == rule_id)

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
