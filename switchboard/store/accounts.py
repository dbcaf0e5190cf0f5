"""Tenants, their users and portal login: what every other section hangs off.

A user is at once a portal login (Argon2id password), a SIP account (the
``subscriber`` row Kamailio authenticates against) and a mailbox.

Portal sessions are signed cookies the server cannot recall, so each one is
stamped at sign-in with the user's ``session_version`` and honoured only while
the row still holds that number (``dash_app.auth``). :meth:`AccountsSection._end_sessions`
is the one place that bumps it, ending every session signed in before: sign-out,
a password change or a manager's reset, disabling and a role change call it.
A new row starts at a random version, so a removed user's session never matches
a new user who gets the same id (SQLite reuses the highest rowid).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal, cast

from switchboard.identifiers import EMAIL_RE, EXTENSION_RE, TENANT_RE, has_control_characters
from switchboard.store.connection import ProvisioningError, StoreConnection
from switchboard.store.passwords import hash_secret, secret_matches, sip_ha1
from switchboard.zones import require_zone

# The longest login there is: an extension (8 digits), "@", a tenant's domain (64).
MAX_LOGIN_CHARS = 8 + 1 + 64

Role = Literal["manager", "supervisor", "agent", "user"]
ROLES: tuple[Role, ...] = ("manager", "supervisor", "agent", "user")
# Roles that see every call of their tenant; the others see only their own.
TENANT_WIDE_ROLES: frozenset[str] = frozenset({"manager", "supervisor"})


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
    disabled: bool = False
    # Signed in with a one-time password: must choose a new one before anything else.
    must_change_password: bool = False
    caller_id: str = ""
    # Which portal sessions are still honoured: those stamped with this number at sign-in.
    session_version: int = 0

    @property
    def login(self) -> str:
        return f"{self.extension}@{self.tenant_domain}"

    @property
    def sees_whole_tenant(self) -> bool:
        return self.role in TENANT_WIDE_ROLES


def _check_timezone(tz: str) -> str:
    require_zone(tz, ProvisioningError)
    return tz


def _check_email(email: str) -> str:
    """The address voicemail is mailed to; empty means none. Refused unless deliverable."""
    email = email.strip()
    if email and not EMAIL_RE.fullmatch(email):
        raise ProvisioningError(
            f"{email!r} is not an email address we can send to"
            " (name@example.com, plain ASCII letters)"
        )
    return email


@dataclass(frozen=True)
class NewUser:
    """What a manager types (or a CSV row holds) to add a user; checked by ``check_new_user``."""

    extension: str
    name: str
    email: str = ""
    role: str = "user"
    timezone: str = ""  # empty: the tenant's
    # Added disabled (a users export re-imported keeps who was off): no sign-in, and the
    # SIP account starts parked, as ``set_user_disabled`` leaves it.
    disabled: bool = False


def check_new_user(new: NewUser) -> None:
    """Refuse a user that could not be added, whatever the tenant holds (pure)."""
    if not EXTENSION_RE.match(new.extension):
        raise ProvisioningError(f"extension {new.extension!r} must be 2 to 8 digits")
    check_name(new.name)
    check_role(new.role)
    if new.timezone:
        _check_timezone(new.timezone)
    _check_email(new.email)


def check_name(name: str, what: str = "a name") -> str:
    """``name`` stripped: 1 to 80 characters of one line (``what`` names it in the error).

    Every name a person gives (a user, a contact, a menu, a queue, a hold-music track taken
    from an upload's file name) is shown in lists and written to exports."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ProvisioningError(f"{what} is 1 to 80 characters")
    if has_control_characters(name):
        raise ProvisioningError(f"{what} is one line of text (no line breaks, tabs or NUL)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ProvisioningError(f"role {role!r} must be one of {', '.join(ROLES)}")
    return role


def check_password(password: str, what: str = "password") -> None:
    if len(password) < 8:
        raise ProvisioningError(f"{what} must be at least 8 characters")
    if len(password) > 256:
        raise ProvisioningError(f"{what} is limited to 256 characters")


class AccountsSection(StoreConnection):
    """Tenants, users and login; the base of every other section (they all look these up)."""

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
        one_time_hours: float | None = None,
    ) -> User:
        """Add a user; with ``one_time_hours`` the password is a one-time one that expires."""
        t = self.tenant(tenant)
        new = NewUser(extension, name, email, role, timezone or "")
        check_new_user(new)
        check_password(password, "portal password")
        check_password(sip_password, "SIP password")
        with self._tx() as db:
            self._insert_user(db, t, new, password, sip_password, one_time_hours)
        return self.user(t.domain, extension)

    def _insert_user(
        self,
        db: sqlite3.Connection,
        t: Tenant,
        new: NewUser,
        password: str,
        sip_password: str,
        one_time_hours: float | None,
    ) -> None:
        """One user row and its SIP account, inside the caller's transaction."""
        if db.execute(
            "select 1 from user where tenant_id = ? and extension = ?", (t.id, new.extension)
        ).fetchone():
            raise ProvisioningError(f"extension {new.extension} already exists in {t.domain}")
        if db.execute(
            "select 1 from call_queue where tenant_id = ? and extension = ?", (t.id, new.extension)
        ).fetchone():  # the queue's callers would reach this user, or the user nobody
            raise ProvisioningError(f"extension {new.extension} belongs to a queue in {t.domain}")
        kept = db.execute(
            "select keep_until from removed_mailbox where tenant_id = ? and mailbox = ?",
            (t.id, new.extension),
        ).fetchone()
        if kept is not None:
            until = time.strftime("%Y-%m-%d", time.gmtime(kept[0]))
            raise ProvisioningError(
                f"extension {new.extension} was removed; its mailbox is kept until {until}"
                " (purge it first to reuse the extension)"
            )
        now = time.time()
        expires = None if one_time_hours is None else now + one_time_hours * 3600
        db.execute(
            "insert into user (tenant_id, extension, name, email, password_hash, role,"
            " timezone, must_change_password, password_expires_at, disabled_at, session_version)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                t.id, new.extension, new.name.strip(), new.email.strip(), hash_secret(password),
                new.role, new.timezone or None, int(one_time_hours is not None), expires,
                now if new.disabled else None, secrets.randbits(62),
            ),
        )  # fmt: skip
        ha1, ha1b = sip_ha1(new.extension, t.domain, sip_password)
        if new.disabled:  # Kamailio authenticates only against subscriber
            db.execute(
                "insert into subscriber_parked (username, domain, ha1, ha1b, parked_at)"
                " values (?, ?, ?, ?, ?)",
                (new.extension, t.domain, ha1, ha1b, now),
            )
        else:
            db.execute(
                "insert into subscriber (username, domain, ha1, ha1b) values (?, ?, ?, ?)",
                (new.extension, t.domain, ha1, ha1b),
            )

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
            disabled=row["disabled_at"] is not None,
            must_change_password=bool(row["must_change_password"]),
            caller_id=row["caller_id"],
            session_version=row["session_version"],
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

    def set_user_email(self, tenant: str, extension: str, email: str) -> User:
        """Change where a user's voicemail is mailed (checked as when the user was added)."""
        user = self.user(tenant, extension)
        email = _check_email(email)
        with self._tx() as db:
            db.execute("update user set email = ? where id = ?", (email, user.id))
        return self.user(tenant, extension)

    def set_status_message(self, user_id: int, message: str) -> None:
        message = message.strip()
        if len(message) > 140:
            raise ProvisioningError("status message is limited to 140 characters")
        with self._tx() as db:
            db.execute("update user set status_message = ? where id = ?", (message, user_id))

    # -- hooks for sections that keep more per user ----------------------------
    def _credential_rows(
        self, db: sqlite3.Connection, user: User, *, parked: bool = False
    ) -> list[tuple[str, str]]:
        """``(username, domain)`` of the user's ``subscriber`` rows (``parked``: while disabled).

        A section that gives a user more SIP credentials (devices) extends this
        with ``super()``, so disabling and removing a user cover them too.
        """
        return [(user.extension, user.tenant_domain)]

    def _forget_user(self, db: sqlite3.Connection, user: User) -> None:
        """Delete what a section keeps for ``user``, inside the removal's transaction.

        Sections whose rows refer to the user (devices, personal contacts)
        extend this with ``super()``; the user row itself goes afterwards.
        """

    # -- portal login --------------------------------------------------------
    def _end_sessions(self, db: sqlite3.Connection, user_id: int) -> int:
        """End every portal session of ``user_id``, inside the caller's transaction.

        The one owner of the bump (see the module docstring); returns the new
        version, for the one session a password change keeps (re-stamped with it).
        """
        db.execute("update user set session_version = session_version + 1 where id = ?", (user_id,))
        row = db.execute("select session_version from user where id = ?", (user_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def end_sessions(self, user_id: int) -> None:
        """Sign the user out everywhere (the portal's sign-out: every browser, every copy)."""
        with self._tx() as db:
            self._end_sessions(db, user_id)

    def change_password(self, user_id: int, current: str, new: str) -> int:
        """The user's own change (the current password required); the new session version."""
        row = self._db.execute("select password_hash from user where id = ?", (user_id,)).fetchone()
        if row is None or not secret_matches(row[0], current):
            raise ProvisioningError("the current password is wrong")
        if new == current:
            raise ProvisioningError("choose a password different from the current one")
        return self._set_password(user_id, new)

    def set_new_password(self, user_id: int, new: str) -> int:
        """After signing in with a one-time password: the user's own; the new session version."""
        row = self._db.execute(
            "select password_hash, must_change_password from user where id = ?", (user_id,)
        ).fetchone()
        if row is None or not row[1]:
            raise ProvisioningError("no password change is pending")
        if secret_matches(row[0], new):
            raise ProvisioningError("choose a password different from the one-time password")
        return self._set_password(user_id, new)

    def _set_password(self, user_id: int, new: str) -> int:
        """Set the password and end every session; the version to re-stamp the changer's with."""
        check_password(new)
        with self._tx() as db:
            db.execute(
                "update user set password_hash = ?, must_change_password = 0,"
                " password_expires_at = null where id = ?",
                (hash_secret(new), user_id),
            )
            return self._end_sessions(db, user_id)

    def authenticate(
        self,
        login: str,
        password: str,
        address: str,
        max_attempts: int,
        window: float,
        *,
        per_account: int | None = None,
        per_address: int | None = None,
    ) -> User:
        """Check a portal login; refuse after too many recent failures.

        Failures within ``window`` seconds are counted three ways: this login
        from this address (``max_attempts``: a guesser is stopped, the owner
        elsewhere is not), this login from anywhere (``per_account``: guessing
        from many addresses) and this address for any login (``per_address``:
        trying many logins). An unknown login costs what a wrong password does.

        The attempt is counted *before* the password is checked, in the same
        write transaction as the limit check: the check takes ~0.1 s of argon2
        (seconds on a busy box), and counting only after it let every worker
        and thread that started a guess meanwhile through. A right password
        then takes its own attempt back (and clears this address's failures).
        """
        login = login.strip().lower()
        if len(login) > MAX_LOGIN_CHARS:  # no extension@domain is longer: not stored, not hashed
            raise ProvisioningError("wrong extension@domain or password")
        since = (now := time.time()) - window
        limits = (
            ("login = ? and address = ?", (login, address), max_attempts),
            ("login = ?", (login,), per_account),
            ("address = ?", (address,), per_address),
        )
        with self._tx() as db:
            for where, args, limit in limits:
                if limit is None:
                    continue
                recent = db.execute(
                    f"select count(*) from login_attempt where {where} and at > ?",
                    (*args, since),
                ).fetchone()[0]
                if recent >= limit:
                    raise ProvisioningError("too many failed attempts; try again in a few minutes")
            attempt = db.execute(
                "insert into login_attempt (login, address, at) values (?, ?, ?)",
                (login, address, now),
            ).lastrowid
            # attempts past every window count for nothing: the table was never emptied
            db.execute("delete from login_attempt where at <= ?", (since,))
        extension, _, domain = login.partition("@")
        row = self._db.execute(
            self._USER_SQL + " where t.domain = ? and u.extension = ?", (domain, extension)
        ).fetchone()
        ok = secret_matches(None if row is None else row["password_hash"], password)
        expires = None if row is None else row["password_expires_at"]
        if ok and expires is not None and expires < now:  # an expired one-time password
            raise ProvisioningError(
                "this one-time password has expired; ask your manager for a new one"
            )
        if not ok:
            raise ProvisioningError("wrong extension@domain or password")
        with self._tx() as db:
            if row["disabled_at"] is not None:  # the right password: not a guess
                db.execute("delete from login_attempt where id = ?", (attempt,))
            else:
                db.execute(
                    "delete from login_attempt where login = ? and address = ?", (login, address)
                )
        if row["disabled_at"] is not None:
            raise ProvisioningError("this account is disabled; ask your manager")
        return self._user(row)
