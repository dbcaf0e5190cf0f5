"""The kept mailboxes of removed users: who removed them, and the audited purge.

:meth:`UserAdminSection.remove_user <switchboard.store.user_admin.UserAdminSection.remove_user>`
keeps a removed user's mailbox ``keep_days`` (``removed_mailbox``, with who removed the
user: migration 0016); :func:`purge_due_mailboxes` drops those past their date. Each
message it drops is a deletion in the audit trail (issue 13) by whoever removed the user,
else ``system:retention`` (as the trash purge and recording retention log theirs),
written in the transaction that drops it: a purge is never unlogged, never logged twice.
"""

from __future__ import annotations

import sqlite3

from switchboard.store.access_log import Access, Actor, insert_access
from switchboard.store.accounts import User


def removal_actor(removed_by: User | None) -> tuple[str, str, str]:
    """The ``removed_by``, ``removed_by_name``, ``removed_by_role`` columns ('': nobody named)."""
    return (removed_by.login, removed_by.name, removed_by.role) if removed_by else ("", "", "")


def purge_due_mailboxes(db: sqlite3.Connection, now: float) -> list[str]:
    """Drop (inside the caller's transaction) the kept mailboxes past their date, each
    message audited; the audio paths no message uses any more."""
    due = db.execute(
        "select r.tenant_id, t.domain, r.mailbox, r.user_name, r.removed_by,"
        " r.removed_by_name, r.removed_by_role from removed_mailbox r"
        " join tenant t on t.id = r.tenant_id where r.keep_until < ?",
        (now,),
    ).fetchall()
    paths: list[str] = []
    for tenant_id, domain, mailbox, user_name, login, name, role in due:
        where = "where tenant_id = ? and mailbox = ?"
        actor = Actor(domain, login, name, role) if login else Actor.system(domain, "retention")
        label = f"mailbox {mailbox} of removed user {user_name}"
        for message_id, audio_path in db.execute(
            f"select message_id, audio_path from voicemail_message {where} order by started_at",
            (tenant_id, mailbox),
        ).fetchall():
            deletion = Access("voicemail", message_id, "delete", label)
            insert_access(db, tenant_id, actor, deletion, now)
            paths.append(audio_path)
        for table in ("voicemail_message", "voicemail_box", "removed_mailbox"):  # fixed names
            db.execute(f"delete from {table} {where}", (tenant_id, mailbox))
    used = {r[0] for r in db.execute("select distinct audio_path from voicemail_message")}
    return [p for p in paths if p not in used]
