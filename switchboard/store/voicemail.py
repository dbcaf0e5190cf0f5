"""Voicemail state: messages and their folders, mailbox settings, greetings and the PIN.

Migration 0004. The audio lives in the lake; this section keeps which mailbox
a message is in, its folder and read flag, and the pipeline's work queues
(transcription, email), all keyed by message id. Every message method takes
(tenant, mailbox): a message outside that mailbox is "not found", so a caller
that passes the signed-in user's own mailbox cannot reach another's.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from switchboard.store.access_log import Access, AccessLogSection, Actor
from switchboard.store.accounts import User
from switchboard.store.connection import ProvisioningError
from switchboard.store.passwords import hash_secret, secret_matches
from switchboard.voicemail import (
    FOLDERS,
    GREETING_KINDS,
    MESSAGE_ORDERS,
    TRASH_SECONDS,
    MailboxSettings,
    VoicemailMessage,
    greeting_relpath,
    pin_problem,
)

# Roles that may open every mailbox of their tenant; anyone else opens only their own.
# Narrower than the roles that see every call (a supervisor sees the tenant's calls and
# recordings, not their colleagues' voicemail).
MAILBOX_READER_ROLES: frozenset[str] = frozenset({"manager"})


def may_open_mailbox(user: User, tenant: str, mailbox: str) -> bool:
    """Who may read a mailbox: its owner, or a manager of the same tenant (the one rule)."""
    if tenant != user.tenant_domain:
        return False
    return mailbox == user.extension or user.role in MAILBOX_READER_ROLES


def readable_mailbox(user: User) -> str | None:
    """The one mailbox ``user`` may read (their own); None: every mailbox of their tenant."""
    return None if user.role in MAILBOX_READER_ROLES else user.extension


class VoicemailSection(AccessLogSection):
    """Mailboxes of a tenant's users: messages, settings, greetings, PIN.

    Built on the audit trail: the trash purge logs each message it removes.
    """

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
            email_attempts=row["email_attempts"],
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
        """Drop messages trashed more than TRASH_DAYS ago; the audio paths nothing uses now.

        Each message dropped is a deletion by ``system:retention`` in the audit trail,
        logged just before the delete commits: a crash in between logs it again at the
        next purge (the same message twice), never a purge that left no trace.
        """
        cutoff = (time.time() if now is None else now) - TRASH_SECONDS
        expired = self._db.execute(
            "select t.domain, m.mailbox, m.message_id from voicemail_message m"
            " join tenant t on t.id = m.tenant_id"
            " where m.folder = 'trash' and m.deleted_at < ? order by m.deleted_at",
            (cutoff,),
        ).fetchall()
        for tenant, mailbox, message_id in expired:
            deletion = Access("voicemail", message_id, "delete", f"mailbox {mailbox}")
            self.log_access(Actor.system(tenant, "retention"), deletion, now)
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

    def messages_to_email(self, limit: int, now: float | None = None) -> list[VoicemailMessage]:
        """Pending messages, and failed ones whose retry time has come, oldest first."""
        rows = self._db.execute(
            self._VM_SQL + " where m.email_state = 'pending'"
            " or (m.email_state = 'failed' and m.email_retry_at <= ?)"
            " order by m.created_at limit ?",
            (time.time() if now is None else now, limit),
        )
        return [self._vm_message(r) for r in rows]

    def set_email_state(self, message_id: str, state: str) -> None:
        if state not in ("pending", "sent", "skipped", "failed"):
            raise ProvisioningError(f"unknown email state {state!r}")
        with self._tx() as db:
            db.execute(
                "update voicemail_message set email_state = ?, emailed_at = ?,"
                " email_retry_at = null where message_id = ?",
                (state, time.time(), message_id),
            )

    def record_email_failure(
        self,
        message_id: str,
        error: str,
        *,
        max_attempts: int,
        retry_seconds: float,
        now: float | None = None,
    ) -> float | None:
        """Mark one message's email failed; when to try again (doubling waits), None: give up."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute(
                "select email_attempts from voicemail_message where message_id = ?",
                (message_id,),
            ).fetchone()
            if row is None:
                raise ProvisioningError(f"no message {message_id}")
            attempts = row[0] + 1
            wait = retry_seconds * 2 ** (attempts - 1)
            retry_at = now + wait if attempts < max_attempts else None
            db.execute(
                "update voicemail_message set email_state = 'failed', email_attempts = ?,"
                " email_retry_at = ?, email_error = ?, emailed_at = ? where message_id = ?",
                (attempts, retry_at, error[:500], now, message_id),
            )
        return retry_at

    def set_message_state(self, tenant: str, mailbox: str, message_id: str, state: str) -> bool:
        """The phone menu's verbs; a message not ingested yet keeps no state (stays new).

        False when there was no such message to change.
        """
        if state not in ("read", "saved", "deleted"):
            raise ProvisioningError(f"unknown message state {state!r}")
        try:
            self.mark_read(tenant, mailbox, message_id)
        except ProvisioningError:
            return False
        if state != "read":
            folder = "saved" if state == "saved" else "trash"
            self.set_message_folder(tenant, mailbox, message_id, folder)
        return True

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
        if active != greeting_relpath(tenant, mailbox, row["active_greeting"]):
            active = None  # only the box's own file plays (a row from before set_greeting checked)
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
        """Record (or with None forget) the WAV of a greeting; kept relative to data_dir.

        Only the mailbox's own greeting file of ``kind`` (``greeting_relpath``) is
        taken: the media server plays what is stored to every caller of the box,
        so another mailbox's or tenant's file must never be.
        """
        if kind not in GREETING_KINDS:
            raise ProvisioningError(f"greeting must be one of {', '.join(GREETING_KINDS)}")
        rel: str | None = None
        if path is not None:
            data_dir = self.path.parent.resolve()
            full = Path(path) if Path(path).is_absolute() else data_dir / path
            if not full.resolve().is_relative_to(data_dir / "greetings"):
                raise ProvisioningError("greetings must be kept under data_dir/greetings")
            rel = str(full.resolve().relative_to(data_dir))
            if rel != greeting_relpath(tenant, mailbox, kind):
                raise ProvisioningError(f"that file is not mailbox {mailbox}'s {kind} greeting")
        self._box_update(tenant, mailbox, f"greeting_{kind}", rel)
        if activate:
            self._box_update(tenant, mailbox, "active_greeting", kind)

    def set_voicemail_pin(self, tenant: str, mailbox: str, pin: str) -> None:
        problem = pin_problem(pin)
        if problem:
            raise ProvisioningError(problem)
        self._box_update(tenant, mailbox, "pin_hash", hash_secret(pin))

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
        return secret_matches(row[0], pin)
