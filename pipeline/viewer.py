"""Opening the warehouse for someone: the one entry point of every reader.

The portal, its downloads, the CLI and the notebooks all need the same three
things before a metric runs: who is looking (their tenant and, for a plain
user, their extension), the zone their days are in, and the tenant's
callback marks. Those come from the provisioning store; the calls come from
the warehouse. :func:`open_for_viewer` reads the store first, lets it go, and
then opens the tenant-bound connection (:func:`pipeline.warehouse.connect`)
in the viewer's scope, so no reader repeats that order or the scope rule.

Who sees what: a manager or supervisor sees the whole tenant, a plain user
(or anyone with ``own_calls_only``) their own extension's calls; a tenant
named without a user (the CLI, notebooks: tools of the operator) sees the
whole tenant. Voicemail follows its own rule
(:func:`switchboard.store.voicemail.readable_mailbox`): a manager reads every
mailbox, anyone else (a supervisor too) only their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from pipeline.history import menu_names, name_menus
from pipeline.warehouse import connect
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, User
from switchboard.store.voicemail import readable_mailbox

# How a caller lends its provisioning store (the portal's is shared under a lock).
BorrowStore = Callable[[], AbstractContextManager[ProvisioningStore]]


@dataclass
class ViewerConnection:
    """A warehouse connection in one viewer's scope, with what the store said about them."""

    conn: duckdb.DuckDBPyConnection
    tenant: str
    timezone: str  # the viewer's zone (a user's own, else the tenant's), unless overridden
    extension: str | None  # None: the whole tenant
    mailbox: str | None = None  # the one mailbox its voicemail views show; None: all
    # Callback marks of the tenant: number (digits) → when it was marked handled (UTC).
    handled: Mapping[str, datetime] = field(default_factory=dict)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ViewerConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def viewer_extension(user: User, *, own_calls_only: bool = False) -> str | None:
    """The extension ``user``'s views are bound to; None: the whole tenant."""
    return None if user.sees_whole_tenant and not own_calls_only else user.extension


def viewer_mailbox(user: User, *, own_calls_only: bool = False) -> str | None:
    """The mailbox ``user``'s voicemail views are bound to; None: every mailbox."""
    return user.extension if own_calls_only else readable_mailbox(user)


@contextmanager
def _own_store(settings: Settings) -> Iterator[ProvisioningStore]:
    store = ProvisioningStore(settings.provisioning_db)
    try:
        yield store
    finally:
        store.close()


def open_for_viewer(
    settings: Settings,
    viewer: User | str,
    *,
    timezone: str | None = None,
    own_calls_only: bool = False,
    borrow_store: BorrowStore | None = None,
) -> ViewerConnection:
    """The warehouse in ``viewer``'s scope: a portal user, or a tenant domain (whole tenant).

    ``timezone`` overrides the viewer's zone; ``borrow_store`` lends an open store
    (held only while the viewer is read), else one is opened from ``settings``.
    Raises ``ProvisioningError`` for an unknown tenant.
    """
    with (borrow_store or (lambda: _own_store(settings)))() as store:
        if isinstance(viewer, User):
            tenant, zone = viewer.tenant_domain, viewer.timezone
            extension = viewer_extension(viewer, own_calls_only=own_calls_only)
            mailbox = viewer_mailbox(viewer, own_calls_only=own_calls_only)
        else:
            found = store.tenant(viewer)
            tenant, zone, extension, mailbox = found.domain, found.timezone, None, None
        handled = store.callback_marks(tenant)
        menus = menu_names(store, tenant)
        # shared contacts, and a signed-in user's own (pipeline.contacts)
        names = store.contact_names(tenant, viewer if isinstance(viewer, User) else None)
    conn = connect(settings, tenant, extension=extension, mailbox=mailbox, contact_names=names)
    name_menus(conn, menus)  # the Call History's paths name the tenant's menus
    return ViewerConnection(conn, tenant, timezone or zone, extension, mailbox, handled)
