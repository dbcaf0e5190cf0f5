"""Reading Kamailio's ``dlg.list`` (the JSON-RPC answer), pure: one owner for its shapes.

A dialog is an object with ``from_uri``/``to_uri`` (what the caller wrote), ``state``
(1 unconfirmed, 2 early, 3 confirmed without ACK, 4 confirmed, 5 deleted) and
``variables``, a list of one-key objects: the dialog variables our routes set
(``tenant``, ``asserted``, ``answered_by``, ``direction`` … route CALL_START). What
Kamailio established is in the variables; the URIs are only what a caller wrote.
"""

from __future__ import annotations

from typing import Any

EARLY_OR_ANSWERED = (1, 2, 3, 4)
CONFIRMED = 4


def listed(answer: Any) -> list[dict[str, Any]]:
    """The dialogs of a ``dlg.list`` answer (anything else: none)."""
    return [d for d in answer if isinstance(d, dict)] if isinstance(answer, list) else []


def uri_party(uri: Any) -> tuple[str, str]:
    """(user, host in lower case) of a ``sip:`` URI as ``dlg.list`` gives it."""
    user, _, host = str(uri or "").removeprefix("sip:").partition("@")
    return user, host.split(";")[0].split(":")[0].lower()


def variables(dialog: dict[str, Any]) -> dict[str, str]:
    """A dialog's variables (``dlg.list`` gives each as a one-key object)."""
    found: dict[str, str] = {}
    for item in dialog.get("variables") or ():
        if isinstance(item, dict):
            found.update({str(k): str(v) for k, v in item.items()})
    return found
