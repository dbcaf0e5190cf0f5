"""Reading Kamailio's ``dlg.list`` (the JSON-RPC answer), pure: one owner for its shapes.

A dialog is an object with ``from_uri``/``to_uri`` (what the caller wrote), ``state``
(1 unconfirmed, 2 early, 3 confirmed without ACK, 4 confirmed, 5 deleted) and
``variables``, a list of one-key objects: the dialog variables our routes set
(``tenant``, ``asserted``, ``answered_by``, ``direction`` … route CALL_START). What
Kamailio established is in the variables; the URIs are only what a caller wrote.
"""

from __future__ import annotations

from typing import Any

from switchboard.identifiers import EXTENSION_RE

EARLY = (1, 2)
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


def engaged_extensions(dialog: dict[str, Any], tenant: str) -> set[str]:
    """Extensions of ``tenant`` that Kamailio itself put on this open dialog (pure).

    Never from the From or To a caller wrote: a carrier's caller sending
    ``From: sip:102@<tenant>`` made 102 look busy to the queues, for as long as it
    liked. Counted instead, from the variables of routes CALL_START and MANAGE_REPLY:
    the caller AUTH established (``asserted`` = ``<ext>@<tenant>``; "trunk" names
    nobody), the extension whose branch answered (``answered_by``), and, while the call
    is still ringing, the extension dialled (``callee``: the Request-URI after AUTH,
    which Kamailio routes; only for an internal call or a leg the media server places,
    as a carrier's call has its DID there) and every extension whose phone it rang
    (``ringing``: route BRANCH_NOTE's owners of phone branches, "102,103,"; a forward, a
    ring group, a main number's rule; a phone that rang and stopped, as before a forward
    on no answer, stays named until the call is answered: it errs toward busy). A dialog
    of another tenant (variable ``tenant``, which the DID's decision sets for a carrier's
    call) names nobody.
    """
    state = dialog.get("state")
    facts = variables(dialog)
    if state not in EARLY_OR_ANSWERED or facts.get("tenant") != tenant:
        return set()
    found = set()
    ext, _, domain = facts.get("asserted", "").partition("@")
    if domain == tenant:
        found.add(ext)
    found.add(facts.get("answered_by", ""))
    if (
        state in EARLY
        and facts.get("direction") == "internal"
        and facts.get("callee_domain") == tenant
    ):
        found.add(facts.get("callee", ""))
    if state in EARLY:
        found.update(facts.get("ringing", "").split(","))
    return {e for e in found if EXTENSION_RE.match(e)}
