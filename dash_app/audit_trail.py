"""Writing the audit trail from a portal request: the one call every audio route makes.

Who is the signed-in user, where is the request's client address (the peer,
or ``X-Forwarded-For`` as far as ``portal_proxy_hops`` vouches for it — see
:mod:`dash_app.auth`), what and which action the route says. The store
(:mod:`switchboard.store.access_log`) counts repeats of one listening on one
row. Only requests that hand out bytes (or delete) are logged: a ``HEAD``
serves nothing.
"""

from __future__ import annotations

from flask import has_request_context, request

from dash_app.auth import provisioning
from switchboard.store import User
from switchboard.store.access_log import Access, AccessAction, AccessKind, Actor


def client_address() -> str:
    """The address this request came from, as far as the portal can vouch for it."""
    return (request.remote_addr or "") if has_request_context() else ""


def log_access(
    user: User, kind: AccessKind, object_id: str, action: AccessAction, label: str = ""
) -> None:
    """One access by ``user`` in this request, in the audit trail."""
    if has_request_context() and request.method == "HEAD":
        return
    access = Access(kind, object_id, action, label, client_address())
    with provisioning() as store:
        store.log_access(Actor.of(user), access)
