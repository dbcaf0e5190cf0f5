"""Phone access to a mailbox, guarded across calls: wrong PINs are counted, then it locks.

Migration 0007. A caller gets a few PIN tries per call (``media.mailbox``), but
hanging up and calling again must not reset the count, or a script guesses a
4-digit PIN in an afternoon. So every wrong PIN is a row here; after
``max_failures`` of them within ``window_seconds`` the mailbox's phone access
is locked for ``lock_seconds`` — the right PIN is refused too until then — and
the owner and the tenant's managers see the lock in the portal and may lift it.

The media server asks ``check_voicemail_pin`` (never ``verify_voicemail_pin``,
which only compares the hash): the lock is enforced here, where it is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from switchboard.store.connection import ProvisioningError
from switchboard.store.voicemail import VoicemailSection


@dataclass(frozen=True)
class PinLockPolicy:
    """How many wrong PINs, within how long, lock phone access for how long (settings)."""

    max_failures: int
    window_seconds: float
    lock_seconds: float


@dataclass(frozen=True)
class PinLock:
    """A mailbox's phone access is refused until ``locked_until`` (epoch seconds)."""

    locked_at: float
    locked_until: float
    failures: int


class PinLocksSection(VoicemailSection):
    """Wrong phone PINs per mailbox, the lock they lead to, and lifting it."""

    def pin_lock(self, tenant: str, mailbox: str, now: float | None = None) -> PinLock | None:
        """The lock on the mailbox's phone access, or None (never locked, or expired)."""
        now = time.time() if now is None else now
        row = self._db.execute(
            "select l.locked_at, l.locked_until, l.failures from voicemail_pin_lock l"
            " join tenant t on t.id = l.tenant_id"
            " where t.domain = ? and l.mailbox = ? and l.locked_until > ?",
            (tenant, mailbox, now),
        ).fetchone()
        return None if row is None else PinLock(row[0], row[1], row[2])

    def check_voicemail_pin(
        self,
        tenant: str,
        mailbox: str,
        pin: str,
        policy: PinLockPolicy,
        now: float | None = None,
    ) -> bool:
        """True when ``pin`` opens the mailbox now: refused while locked, counted when wrong."""
        now = time.time() if now is None else now
        if self.pin_lock(tenant, mailbox, now) is not None:
            return False  # not even compared: a guess during the lock teaches nothing
        try:
            owner = self.user(tenant, mailbox)
        except ProvisioningError:
            return False
        if self.verify_voicemail_pin(tenant, mailbox, pin):
            with self._tx() as db:
                db.execute(
                    "delete from voicemail_pin_failure where tenant_id = ? and mailbox = ?",
                    (owner.tenant_id, mailbox),
                )
            return True
        with self._tx() as db:
            key = (owner.tenant_id, mailbox)
            db.execute(
                "delete from voicemail_pin_failure where tenant_id = ? and mailbox = ? and at <= ?",
                (*key, now - policy.window_seconds),
            )
            db.execute(
                "insert into voicemail_pin_failure (tenant_id, mailbox, at) values (?, ?, ?)",
                (*key, now),
            )
            failures = db.execute(
                "select count(*) from voicemail_pin_failure where tenant_id = ? and mailbox = ?",
                key,
            ).fetchone()[0]
            if failures >= policy.max_failures:
                # The count starts again after the lock: the next N tries are fresh ones.
                db.execute(
                    "delete from voicemail_pin_failure where tenant_id = ? and mailbox = ?", key
                )
                db.execute(
                    "insert into voicemail_pin_lock (tenant_id, mailbox, locked_at, locked_until,"
                    " failures) values (?, ?, ?, ?, ?) on conflict (tenant_id, mailbox) do update"
                    " set locked_at = excluded.locked_at, locked_until = excluded.locked_until,"
                    " failures = excluded.failures",
                    (*key, now, now + policy.lock_seconds, failures),
                )
        return False

    def unlock_pin(self, tenant: str, mailbox: str) -> None:
        """Lift the lock and forget the wrong PINs counted so far (owner or manager asked)."""
        owner = self.user(tenant, mailbox)
        with self._tx() as db:
            for table in ("voicemail_pin_lock", "voicemail_pin_failure"):
                db.execute(
                    f"delete from {table} where tenant_id = ? and mailbox = ?",  # fixed names
                    (owner.tenant_id, mailbox),
                )
