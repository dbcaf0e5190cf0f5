"""Devices: a named SIP credential per phone of an extension, and when each was last online.

Why one credential per device: a lost or stolen phone is revoked alone, the
extension's other phones keep working. Each device is its own ``subscriber``
row (HA1 only), username ``<extension>-<slug>`` (``101-desk``): extensions
are digits only, so a device username never collides with one. Kamailio's
route AUTH authenticates it like any subscriber and then lets it speak only
for ``<extension>`` (the part before the ``-``): the AoR a device registers
to and the From it calls as are its own extension, whatever it claims. The
extension's own credential keeps working as before.

Revoking deletes the ``subscriber`` row (and a parked copy, for a disabled
user): the next REGISTER or INVITE with it is refused. Dropping what
Kamailio holds in memory (the device's registrations) is the caller's part:
``kamailio.devices.forget_device``.

Last seen: the live state (registered, user agent, address, expiry) comes
from Kamailio; ``record_device_presence`` keeps the latest of it, so an
offline phone still shows when it was last online.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass

from switchboard.store.accounts import AccountsSection, User
from switchboard.store.connection import ProvisioningError
from switchboard.store.passwords import sip_ha1

MAX_DEVICES_PER_EXTENSION = 20
_SLUG_CHARS = re.compile(r"[^a-z0-9]+")
DEVICE_USERNAME_RE = re.compile(r"^[0-9]{2,8}-[a-z0-9]{1,16}$")


@dataclass(frozen=True)
class Device:
    """One phone's credential and what was last seen of it."""

    id: int
    tenant_domain: str
    extension: str
    name: str
    username: str  # the SIP auth username the phone is set up with
    created_at: float
    last_seen_at: float | None
    last_user_agent: str
    last_address: str


@dataclass(frozen=True)
class NewDevice:
    """A device just added, with its password: shown once, never stored in the clear."""

    device: Device
    password: str


@dataclass(frozen=True)
class Sighting:
    """A device seen registered: when (its last REGISTER), with which user agent, from where."""

    at: float
    user_agent: str
    address: str


def device_slug(name: str) -> str:
    """The username part a device's name gives: lower-case letters and digits, 1 to 12."""
    return _SLUG_CHARS.sub("", name.lower())[:12] or "phone"


def extension_of_username(username: str) -> str:
    """The extension a SIP auth username speaks for (the same rule as Kamailio's route AUTH)."""
    return username.lower().partition("-")[0]


class DevicesSection(AccountsSection):
    """Devices of an extension: add (credential shown once), list, revoke, last seen."""

    _DEVICE_SQL = (
        "select d.*, u.extension, t.domain as tenant_domain from device d"
        " join user u on u.id = d.user_id join tenant t on t.id = u.tenant_id"
    )

    @staticmethod
    def _device(row: sqlite3.Row) -> Device:
        return Device(
            id=row["id"],
            tenant_domain=row["tenant_domain"],
            extension=row["extension"],
            name=row["name"],
            username=row["username"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            last_user_agent=row["last_user_agent"],
            last_address=row["last_address"],
        )

    def devices(self, tenant: str, extension: str | None = None) -> list[Device]:
        """The devices of a tenant (or of one extension), by extension then name."""
        if extension is None:
            rows = self._db.execute(
                self._DEVICE_SQL + " where t.domain = ? order by u.extension, d.name", (tenant,)
            )
        else:
            rows = self._db.execute(
                self._DEVICE_SQL + " where t.domain = ? and u.extension = ? order by d.name",
                (tenant, extension),
            )
        return [self._device(r) for r in rows]

    def device(self, tenant: str, username: str) -> Device:
        row = self._db.execute(
            self._DEVICE_SQL + " where t.domain = ? and d.username = ?", (tenant, username.lower())
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no device {username} in {tenant}")
        return self._device(row)

    def add_device(
        self, tenant: str, extension: str, name: str, password: str | None = None
    ) -> NewDevice:
        """Give ``extension`` a new device credential; the password (generated) is shown once."""
        user = self.user(tenant, extension)
        name = name.strip()
        if not name or len(name) > 40:
            raise ProvisioningError("a device name is 1 to 40 characters")
        password = password or secrets.token_urlsafe(15)
        if len(password) < 12:
            raise ProvisioningError("a device password must be at least 12 characters")
        with self._tx() as db:
            taken = {
                r[0]
                for r in db.execute("select username from device where user_id = ?", (user.id,))
            }
            if len(taken) >= MAX_DEVICES_PER_EXTENSION:
                raise ProvisioningError(
                    f"extension {extension} has {MAX_DEVICES_PER_EXTENSION} devices already"
                )
            if db.execute(
                "select 1 from device where user_id = ? and lower(name) = lower(?)",
                (user.id, name),
            ).fetchone():
                raise ProvisioningError(f"extension {extension} already has a device {name!r}")
            base = f"{extension}-{device_slug(name)}"
            username, n = base, 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            db.execute(
                "insert into device (user_id, name, username, created_at) values (?, ?, ?, ?)",
                (user.id, name, username, time.time()),
            )
            ha1, ha1b = sip_ha1(username, user.tenant_domain, password)
            # A disabled user's credentials wait parked; a device added meanwhile waits too.
            if user.disabled:
                db.execute(
                    "insert or replace into subscriber_parked"
                    " (username, domain, ha1, ha1b, parked_at) values (?, ?, ?, ?, ?)",
                    (username, user.tenant_domain, ha1, ha1b, time.time()),
                )
            else:
                db.execute(
                    "insert into subscriber (username, domain, ha1, ha1b) values (?, ?, ?, ?)",
                    (username, user.tenant_domain, ha1, ha1b),
                )
        return NewDevice(self.device(tenant, username), password)

    def revoke_device(self, tenant: str, username: str) -> Device:
        """Delete the device and its credential: the next REGISTER with it is refused."""
        device = self.device(tenant, username)
        with self._tx() as db:
            for table in ("subscriber", "subscriber_parked"):  # fixed names
                db.execute(
                    f"delete from {table} where username = ? and domain = ?",
                    (device.username, device.tenant_domain),
                )
            db.execute("delete from device where id = ?", (device.id,))
        return device

    def record_device_presence(self, tenant: str, seen: Mapping[str, Sighting]) -> int:
        """Keep the latest sighting of each device (by username); how many rows changed.

        Only a later sighting is written, so a poller may repeat itself at no cost
        beyond one read.
        """
        if not seen:
            return 0
        known = {d.username: d for d in self.devices(tenant)}
        changes = [
            (s.at, s.user_agent[:200], s.address[:100], known[name].id)
            for name, s in seen.items()
            if name in known
            and (
                known[name].last_seen_at is None
                or s.at > (known[name].last_seen_at or 0)
                or (s.user_agent, s.address)
                != (known[name].last_user_agent, known[name].last_address)
            )
        ]
        if not changes:
            return 0
        with self._tx() as db:
            db.executemany(
                "update device set last_seen_at = max(coalesce(last_seen_at, 0), ?),"
                " last_user_agent = ?, last_address = ? where id = ?",
                changes,
            )
        return len(changes)

    # -- hook of AccountsSection: disabling and removing a user cover their devices --
    # (removal deletes the device rows by cascade, after the credentials are gone)
    def _credential_rows(
        self, db: sqlite3.Connection, user: User, *, parked: bool = False
    ) -> list[tuple[str, str]]:
        rows = super()._credential_rows(db, user, parked=parked)
        devices = db.execute("select username from device where user_id = ?", (user.id,))
        return rows + [(r[0], user.tenant_domain) for r in devices]
