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
from importlib import resources
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["manager", "supervisor", "agent", "user"]
ROLES: tuple[Role, ...] = ("manager", "supervisor", "agent", "user")
# Roles that see every call of their tenant; the others see only their own.
TENANT_WIDE_ROLES: frozenset[str] = frozenset({"manager", "supervisor"})

_DOMAIN_RE = re.compile(
    r"^(?=.{1,64}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
)
_EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")
_hasher = PasswordHasher()


class ProvisioningError(ValueError):
    """A provisioning request was refused; the message is for the user."""


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
        if not _DOMAIN_RE.match(domain):
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
        if not _EXTENSION_RE.match(extension):
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


def open_store(path: Path) -> ProvisioningStore:
    return ProvisioningStore(path)
