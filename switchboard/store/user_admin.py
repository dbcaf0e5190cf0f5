"""Running users after they exist: edit, disable, remove, passwords, caller IDs, bulk import.

What each change means for the rest of the system, stated once here:

- **Disable**: the user cannot sign in to the portal (``authenticate`` and the
  session loader refuse them) and their phones cannot register or call:
  Kamailio authenticates only against ``subscriber``, so the user's rows there
  move to ``subscriber_parked`` (and back on enable). Rules, mailbox and
  history are untouched.
- **Remove**: history stays in the lake (calls name the extension, not the
  user row); the user's answering rules, override, personal time frames and
  caller-ID grants are deleted; the mailbox is either **reassigned** (its
  messages move to another extension's mailbox) or **kept** ``keep_days``
  (``removed_mailbox``; ``purge_removed_mailboxes`` drops it afterwards, and
  the extension cannot be reused until then; each message it drops is a deletion
  in the audit trail by whoever removed the user, else ``system:retention``).
  Removal is refused while a rule, route or menu still sends calls to the extension.
- **The only manager** of a tenant (among enabled users) can be neither
  demoted, disabled nor removed: someone must be left to run the office.
- **One-time passwords** (a manager's reset, a new user from the portal or an
  import): stored like any password (Argon2id), expiring after
  ``one_time_hours``; the user must choose a new one at the next sign-in.
- **Portal sessions** end (``_end_sessions``) on a reset, disabling and a role
  change; removal ends them with the row. The user's own password change
  (``AccountsSection.change_password``) ends all but the changer's.

Sections that keep more per user (devices, contacts) join in through two
hooks of ``AccountsSection``: ``_credential_rows`` (which ``subscriber`` rows
are the user's) and ``_forget_user`` (delete their rows before the user goes).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard.store.accounts import (
    NewUser,
    Tenant,
    User,
    _check_email,
    _check_timezone,
    check_name,
    check_new_user,
    check_password,
    check_role,
)
from switchboard.store.attendants import AttendantsSection, labelled_destinations
from switchboard.store.connection import ProvisioningError
from switchboard.store.passwords import hash_secret, sip_ha1
from switchboard.store.removed_mailboxes import purge_due_mailboxes, removal_actor
from switchboard.store.routing import Did

# Letters and digits nobody misreads on a screen or a phone call (no 0/O, 1/l/I).
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# What Home shows unless the user hides it (the preference keeps the hidden ones).
HOME_SECTIONS: tuple[str, ...] = ("recent", "phones", "status", "colleagues", "messages", "rule")


def one_time_code() -> str:
    """A one-time password a manager can read out: ``xxxx-xxxx-xxxx`` (~59 bits)."""
    chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


def generated_sip_password() -> str:
    """A SIP password for a phone to store (typed once into a phone, if at all)."""
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class Credentials:
    """What a manager must hand over once: neither is stored in the clear."""

    extension: str
    one_time_password: str
    sip_password: str


@dataclass(frozen=True)
class Removal:
    """What removing a user did, in words the CLI and the portal show as-is."""

    extension: str
    mailbox: str  # "reassigned to 102" or "kept until 2027-01-01"
    rules_removed: int


class UserAdminSection(AttendantsSection):
    """Edit, disable, remove and import users; passwords, caller IDs and preferences."""

    # -- the only-manager guard ------------------------------------------------
    def _refuse_last_manager(self, db: sqlite3.Connection, user: User, what: str) -> None:
        if user.role != "manager" or user.disabled:
            return
        others = db.execute(
            "select count(*) from user where tenant_id = ? and role = 'manager'"
            " and disabled_at is null and id != ?",
            (user.tenant_id, user.id),
        ).fetchone()[0]
        if others == 0:
            raise ProvisioningError(
                f"{user.name} is the only manager of {user.tenant_domain}: cannot {what}"
                " (make someone else a manager first)"
            )

    # -- edit ------------------------------------------------------------------
    def update_user(
        self,
        tenant: str,
        extension: str,
        *,
        name: str | None = None,
        email: str | None = None,
        role: str | None = None,
        timezone: str | None = None,
    ) -> User:
        """Change what is given (``timezone=""``: the tenant's); the rest stays."""
        user = self.user(tenant, extension)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = check_name(name)
        if email is not None:
            changes["email"] = _check_email(email)
        if timezone is not None:
            changes["timezone"] = _check_timezone(timezone) if timezone else None
        if role is not None:
            changes["role"] = check_role(role)
        with self._tx() as db:
            if role is not None and role != "manager":
                self._refuse_last_manager(db, user, "take the manager role away")
            if role is not None and role != user.role:  # sessions signed in with the old rights
                self._end_sessions(db, user.id)
            for column, value in changes.items():  # columns from the fixed names above
                db.execute(f"update user set {column} = ? where id = ?", (value, user.id))
        return self.user(tenant, extension)

    def own_timezone(self, user: User) -> str:
        """The zone set on the user itself ('' : they follow the tenant's)."""
        row = self._db.execute("select timezone from user where id = ?", (user.id,)).fetchone()
        return (row[0] if row else None) or ""

    def update_tenant(
        self, domain: str, *, name: str | None = None, timezone: str | None = None
    ) -> Tenant:
        """Rename a tenant or change its time zone (users without their own zone follow)."""
        t = self.tenant(domain)
        with self._tx() as db:
            if name is not None:
                db.execute("update tenant set name = ? where id = ?", (check_name(name), t.id))
            if timezone is not None:
                db.execute(
                    "update tenant set timezone = ? where id = ?", (_check_timezone(timezone), t.id)
                )
        return self.tenant(domain)

    # -- disable / enable ----------------------------------------------------------
    def set_user_disabled(self, tenant: str, extension: str, disabled: bool) -> User:
        """Disable (no portal, no phones) or enable a user; see the module docstring."""
        user = self.user(tenant, extension)
        if user.disabled == disabled:
            return user
        with self._tx() as db:
            if disabled:
                self._refuse_last_manager(db, user, "disable them")
                for username, domain in self._credential_rows(db, user):
                    db.execute(
                        "insert or replace into subscriber_parked"
                        " (username, domain, password, ha1, ha1b, parked_at)"
                        " select username, domain, password, ha1, ha1b, ? from subscriber"
                        " where username = ? and domain = ?",
                        (time.time(), username, domain),
                    )
                    db.execute(
                        "delete from subscriber where username = ? and domain = ?",
                        (username, domain),
                    )
                db.execute("update user set disabled_at = ? where id = ?", (time.time(), user.id))
                self._end_sessions(db, user.id)  # not back to life if enabled again
            else:
                parked = db.execute(
                    "select * from subscriber_parked where domain = ?", (user.tenant_domain,)
                ).fetchall()
                mine = {(r["username"], r["domain"]) for r in parked} & set(
                    self._credential_rows(db, user, parked=True)
                )
                for username, domain in mine:
                    db.execute(
                        "insert into subscriber (username, domain, password, ha1, ha1b)"
                        " select username, domain, password, ha1, ha1b from subscriber_parked"
                        " where username = ? and domain = ?",
                        (username, domain),
                    )
                    db.execute(
                        "delete from subscriber_parked where username = ? and domain = ?",
                        (username, domain),
                    )
                db.execute("update user set disabled_at = null where id = ?", (user.id,))
        return self.user(tenant, extension)

    # -- remove ----------------------------------------------------------------
    def references_to_extension(self, tenant: str, extension: str) -> list[str]:
        """What still sends calls to ``extension`` (other users' rules, routes, menus), in words."""
        t = self.tenant(tenant)
        found: list[str] = []
        rows = self._db.execute(
            "select 'main number ' || d.number || ' route', r.name, r.actions_json"
            " from did_rule r join did d on d.id = r.did_id where d.tenant_id = ?"
            " union all select 'rule of ' || u.extension, r.name, r.actions_json"
            " from answering_rule r join user u on u.id = r.user_id"
            " where u.tenant_id = ? and u.extension != ?"
            " union all select 'override of ' || u.extension, '', o.actions_json"
            " from rule_override o join user u on u.id = o.user_id"
            " where u.tenant_id = ? and u.extension != ?",
            (t.id, t.id, extension, t.id, extension),
        )
        for owner, name, actions_json in rows:
            if _names_extension(json.loads(actions_json), extension):
                found.append(f"{owner} {name!r}" if name else owner)
        for menu in self.attendants(tenant):
            if any(
                d.kind in ("extension", "voicemail") and d.target == extension
                for _, d in labelled_destinations(menu)
            ):
                found.append(f'auto attendant "{menu.name}"')
        return found

    def remove_user(
        self,
        tenant: str,
        extension: str,
        *,
        keep_days: float,
        reassign_mailbox_to: str | None = None,
        now: float | None = None,
        removed_by: User | None = None,
    ) -> Removal:
        """Remove a user (see the module docstring for what stays and what goes).

        ``removed_by``: who asked (the audit trail names them when the kept mailbox is
        purged); None: the operator's tools, logged then as ``system:retention``.
        """
        user = self.user(tenant, extension)
        now = time.time() if now is None else now
        heir = None
        if reassign_mailbox_to:
            heir = self.user(tenant, reassign_mailbox_to)
            if heir.id == user.id:
                raise ProvisioningError("reassign the mailbox to another extension")
        pointing = self.references_to_extension(tenant, extension)
        if pointing:
            raise ProvisioningError(
                f"calls are still sent to {extension} by {', '.join(pointing)}; change those first"
            )
        with self._tx() as db:
            self._refuse_last_manager(db, user, "remove them")
            self._forget_user(db, user)
            rules = db.execute("delete from answering_rule where user_id = ?", (user.id,)).rowcount
            db.execute("delete from rule_override where user_id = ?", (user.id,))
            db.execute("delete from time_frame where user_id = ?", (user.id,))
            db.execute("delete from caller_id_allowed where user_id = ?", (user.id,))
            for username, domain in self._credential_rows(db, user):
                for table in ("subscriber", "subscriber_parked"):  # fixed names
                    db.execute(
                        f"delete from {table} where username = ? and domain = ?",
                        (username, domain),
                    )
            db.execute("delete from rule_decision where key_name = ?", (f"{tenant}:{extension}",))
            if heir is not None:
                db.execute(
                    "update voicemail_message set mailbox = ? where tenant_id = ? and mailbox = ?",
                    (heir.extension, user.tenant_id, extension),
                )
                db.execute(
                    "delete from voicemail_box where tenant_id = ? and mailbox = ?",
                    (user.tenant_id, extension),
                )
                mailbox = f"reassigned to {heir.extension}"
            else:
                keep_until = now + keep_days * 86400
                db.execute(
                    "insert or replace into removed_mailbox"
                    " (tenant_id, mailbox, user_name, removed_at, keep_until,"
                    " removed_by, removed_by_name, removed_by_role)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.tenant_id,
                        extension,
                        user.name,
                        now,
                        keep_until,
                        *removal_actor(removed_by),
                    ),
                )
                mailbox = "kept until " + time.strftime("%Y-%m-%d", time.gmtime(keep_until))
            db.execute("delete from user where id = ?", (user.id,))
        return Removal(extension, mailbox, rules)

    def purge_removed_mailboxes(self, now: float | None = None) -> list[str]:
        """Drop the kept mailboxes of removed users past their date, audited; the audio paths
        to delete (:func:`switchboard.store.removed_mailboxes.purge_due_mailboxes`)."""
        with self._tx() as db:
            return purge_due_mailboxes(db, time.time() if now is None else now)

    # -- passwords -------------------------------------------------------------
    def reset_password(self, tenant: str, extension: str, *, hours: float) -> str:
        """A one-time password for ``extension`` (shown once); the old password stops working.

        Every session ends too: only one signed in with the code may then choose the
        new password (``dash_app.first_password``), not one from before the reset.
        """
        user = self.user(tenant, extension)
        code = one_time_code()
        with self._tx() as db:
            db.execute(
                "update user set password_hash = ?, must_change_password = 1,"
                " password_expires_at = ? where id = ?",
                (hash_secret(code), time.time() + hours * 3600, user.id),
            )
            self._end_sessions(db, user.id)
        return code

    def set_sip_password(self, tenant: str, extension: str, password: str | None = None) -> str:
        """Set (or generate, with None) the extension's SIP password; returned to show once."""
        user = self.user(tenant, extension)
        password = password or generated_sip_password()
        check_password(password, "SIP password")
        ha1, ha1b = sip_ha1(extension, user.tenant_domain, password)
        table = "subscriber_parked" if user.disabled else "subscriber"  # fixed names
        with self._tx() as db:
            db.execute(
                f"update {table} set ha1 = ?, ha1b = ?, password = ''"
                " where username = ? and domain = ?",
                (ha1, ha1b, extension, user.tenant_domain),
            )
        return password

    # -- caller ID ---------------------------------------------------------------
    def allowed_caller_ids(self, user: User) -> list[Did]:
        """The tenant's main numbers the manager lets ``user`` show when calling out."""
        rows = self._db.execute(
            "select d.*, t.domain from caller_id_allowed a join did d on d.id = a.did_id"
            " join tenant t on t.id = d.tenant_id where a.user_id = ? order by d.number",
            (user.id,),
        )
        return [Did(r["id"], r["domain"], r["number"], r["name"]) for r in rows]

    def set_allowed_caller_ids(self, user: User, numbers: list[str]) -> User:
        """The manager's grant; a chosen caller ID no longer granted falls back to the default."""
        user = self.user(user.tenant_domain, user.extension)  # its choice as stored now
        dids = {d.number: d for d in self.dids(user.tenant_domain)}
        unknown = [n for n in numbers if n not in dids]
        if unknown:
            raise ProvisioningError(f"not a main number of {user.tenant_domain}: {unknown[0]}")
        with self._tx() as db:
            db.execute("delete from caller_id_allowed where user_id = ?", (user.id,))
            db.executemany(
                "insert into caller_id_allowed (user_id, did_id) values (?, ?)",
                [(user.id, dids[n].id) for n in dict.fromkeys(numbers)],
            )
            if user.caller_id and user.caller_id not in numbers:
                db.execute("update user set caller_id = '' where id = ?", (user.id,))
        return self.user(user.tenant_domain, user.extension)

    def set_caller_id(self, user: User, number: str) -> User:
        """The user's choice among the allowed numbers ('' : the default)."""
        if number and number not in {d.number for d in self.allowed_caller_ids(user)}:
            raise ProvisioningError(f"{number} is not a caller ID you may use")
        with self._tx() as db:
            db.execute("update user set caller_id = ? where id = ?", (number, user.id))
        return self.user(user.tenant_domain, user.extension)

    # -- portal preferences ----------------------------------------------------------
    def home_sections(self, user_id: int) -> list[str]:
        """The Home sections the user shows, in Home's order."""
        row = self._db.execute(
            "select preferences_json from user where id = ?", (user_id,)
        ).fetchone()
        hidden = set(json.loads(row[0]).get("hidden_home_sections", [])) if row else set()
        return [s for s in HOME_SECTIONS if s not in hidden]

    def set_home_sections(self, user_id: int, shown: list[str]) -> None:
        unknown = set(shown) - set(HOME_SECTIONS)
        if unknown:
            raise ProvisioningError(f"unknown Home section {sorted(unknown)[0]!r}")
        hidden = [s for s in HOME_SECTIONS if s not in shown]
        with self._tx() as db:
            row = db.execute("select preferences_json from user where id = ?", (user_id,))
            prefs = json.loads(row.fetchone()[0])
            prefs["hidden_home_sections"] = hidden
            db.execute(
                "update user set preferences_json = ? where id = ?", (json.dumps(prefs), user_id)
            )

    # -- bulk import ---------------------------------------------------------------
    def import_problems(self, tenant: str, rows: list[NewUser]) -> dict[int, str]:
        """Row index → why it cannot be added to ``tenant`` (checks against the store)."""
        existing = {u.extension for u in self.users(tenant)}
        t = self.tenant(tenant)
        kept = {
            r[0]
            for r in self._db.execute(
                "select mailbox from removed_mailbox where tenant_id = ?", (t.id,)
            )
        }
        problems: dict[int, str] = {}
        for i, row in enumerate(rows):
            if row.extension in existing:
                problems[i] = f"extension {row.extension} already exists in {tenant}"
            elif row.extension in kept:
                problems[i] = f"extension {row.extension} was removed; its mailbox is still kept"
        return problems

    def import_users(
        self,
        tenant: str,
        rows: list[NewUser],
        *,
        one_time_hours: float,
        on_row: Callable[[], None] | None = None,
    ) -> list[Credentials]:
        """Add every row or none (one transaction); each gets a one-time and a SIP password.

        ``on_row`` is called after each row is written (a progress bar; hashing is slow).
        """
        t = self.tenant(tenant)
        for row in rows:
            check_new_user(row)
        credentials = [
            Credentials(r.extension, one_time_code(), generated_sip_password()) for r in rows
        ]
        with self._tx() as db:
            for row, cred in zip(rows, credentials, strict=True):
                self._insert_user(
                    db, t, row, cred.one_time_password, cred.sip_password, one_time_hours
                )
                if on_row is not None:
                    on_row()
        return credentials

    # -- main numbers ------------------------------------------------------------------
    def remove_did(self, tenant: str, number: str) -> Did:
        """Remove a main number and its routes (still allocated); users showing it: the default."""
        did = self.did(number)
        if did.tenant_domain != tenant:
            raise ProvisioningError(f"no main number {number} in {tenant}")
        with self._tx() as db:
            db.execute(
                "update user set caller_id = '' where tenant_id = ? and caller_id = ?",
                (self.tenant(tenant).id, number),
            )
            db.execute("delete from did_rule where did_id = ?", (did.id,))
            db.execute("delete from did where id = ?", (did.id,))
            db.execute("delete from rule_decision where key_name = ?", (f"did:{number}",))
        return did


def _names_extension(actions: dict[str, Any], extension: str) -> bool:
    """True when a rule's actions send calls to ``extension`` (forward, ring, fallback)."""
    sends_to = [
        str(v.get("target", ""))
        for v in actions.values()
        if isinstance(v, dict) and v.get("kind") in ("extension", "voicemail")
    ]
    rings = [str(v) for v in actions.get("simultaneous") or ()]
    return extension in sends_to or extension in rings


__all__ = [
    "HOME_SECTIONS",
    "Credentials",
    "NewUser",
    "Removal",
    "UserAdminSection",
    "generated_sip_password",
    "one_time_code",
]
