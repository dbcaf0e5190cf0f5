"""Voicemail as the portal shows it, shared by the Voicemail page and Home.

:func:`mailbox_for` is the one place that decides whose mailbox a request may
open: your own, or — for a manager — any mailbox of your tenant. Every
voicemail callback and the audio route go through it (or the same rule in
:func:`may_open`), so a crafted URL or callback naming someone else's box
gets nothing.
"""

from __future__ import annotations

from typing import Any

from dash_app.auth import portal, provisioning
from switchboard.store import ProvisioningError, User
from switchboard.store.voicemail import may_open_mailbox
from switchboard.voicemail import VoicemailMessage, caller_label

AUDIO_PATH = "/voicemail/audio/<message_id>"
NOT_YOURS = "You can only open your own mailbox."


def audio_url(message_id: str, *, download: bool = False) -> str:
    return f"/voicemail/audio/{message_id}" + ("?download=1" if download else "")


def may_open(user: User, tenant: str, mailbox: str) -> bool:
    """The mailbox owner, or a manager of the same tenant (the store's rule, which the
    warehouse's voicemail views follow too)."""
    return may_open_mailbox(user, tenant, mailbox)


def mailbox_for(user: User, requested: str | None) -> str:
    """The mailbox a request may open; PermissionError for anyone else's."""
    if not requested or requested == user.extension:
        return user.extension
    if not may_open(user, user.tenant_domain, requested):
        raise PermissionError(NOT_YOURS)
    with provisioning() as store:
        try:
            store.user(user.tenant_domain, requested)
        except ProvisioningError as exc:
            raise PermissionError(str(exc)) from exc
    return requested


def extension_names(tenant: str) -> dict[str, str]:
    with provisioning() as store:
        return {u.extension: u.name for u in store.users(tenant)}


def mailbox_rows(
    user: User, mailbox: str, folders: tuple[str, ...], search: str | None = None
) -> list[dict[str, Any]]:
    """The messages of a mailbox ``user`` may open, with caller, transcript and state.

    Each row has ``caller_label`` (a colleague's name when the caller is one).
    """
    from pipeline.voicemail_query import mailbox_messages, open_mailbox

    if not may_open(user, user.tenant_domain, mailbox):
        raise PermissionError(NOT_YOURS)
    with provisioning() as store:
        messages: list[VoicemailMessage] = store.voicemail_messages(
            user.tenant_domain, mailbox, folders
        )
        callers = store.contact_names(user.tenant_domain, user)  # shared + the viewer's own
    if not messages:
        return []
    conn = open_mailbox(portal().settings, user.tenant_domain, mailbox, messages, callers)
    try:
        rows = mailbox_messages(conn, messages, search)
    finally:
        conn.close()
    names = extension_names(user.tenant_domain)
    for row in rows:
        row["caller_label"] = caller_label(
            row.get("caller"), row.get("caller_name"), names, row.get("from_carrier")
        )
    return rows
