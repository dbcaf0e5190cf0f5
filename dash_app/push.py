"""Tell Kamailio about an edit right after it is saved.

Kamailio never asks Python per call: it enforces what ``kamailio.rules_push``
last pushed. So every successful save, delete or override in the portal is
followed by a push for whoever it affects. The saved edit is the truth; when
Kamailio is unreachable the edit stays saved and the pusher's start-up and
transition pushes bring the phones in line later, so the page only says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from dash_app.auth import portal
from dash_app.editing import alert
from switchboard.store import Did, ProvisioningStore, User

log = logging.getLogger(__name__)

PHONES_WILL_FOLLOW = "phones will follow when the phone system is back"
PUSH_FAILED = "the phone system could not be updated yet (see the portal log)"


def push_after_edit(
    store: ProvisioningStore,
    users: Iterable[User] = (),
    dids: Iterable[Did] = (),
    *,
    tenant: str | None = None,
) -> str:
    """Push the new decisions of ``users``, ``dids`` (or a whole ``tenant``); "" or a caveat.

    Call with the provisioning lock held (``store`` from ``provisioning()``):
    the pusher reads the rules it compiles from the same connection.
    """
    try:
        # Lazy: the portal must start (and save edits) even before the pusher exists.
        from kamailio.rules_push import push_change
    except ImportError:
        log.warning("kamailio.rules_push is not available; edit saved without a push")
        return ""
    try:
        # The one path every writer (CLI, portal) takes; a tenant: a company
        # time frame can change anyone's decision.
        pushed = push_change(portal().settings, store, users=users, dids=dids, tenant=tenant)
    except Exception:  # the edit is saved; a pusher bug must not look like a failed save
        log.exception("push after edit failed")
        return PUSH_FAILED
    return "" if pushed else PHONES_WILL_FOLLOW


def saved_message(done: str, caveat: str) -> tuple[str, str]:
    """(text, colour) of the banner after a save: green, or yellow with the push caveat."""
    if caveat:
        return f"{done}; {caveat}.", "yellow"
    return f"{done}.", "green"


def saved_banner(done: str, caveat: str, *, alert_id: str) -> Any:
    """The banner after a save (:func:`saved_message`), with the id the page's tests look for."""
    text, color = saved_message(done, caveat)
    return alert(text, color=color, alert_id=alert_id)
