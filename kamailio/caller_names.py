"""The name a colleague's phone shows for who calls: the directory's, never the caller's own.

A phone writes what it likes as its From display name (``"CEO - urgent"
<sip:101@acme.example>``). Route CALLER_NAME (kamailio-security.cfg) replaces
it on every branch to a registered phone with the name the directory gives
the *authenticated* caller, read from the htable ``names``:

* key ``<extension>@<tenant>``, the identity route AUTH asserts (``User.login``);
* value ``display_name(user.name)``: ready to go between double quotes.

A caller Kamailio holds no name for shows as their extension. The carrier's
callers keep the carrier's name (the PSTN's caller name), untouched.

Why an htable of its own, set over JSON-RPC: the names' truth is the ``user``
table, which Kamailio does not read, and ``rule_decision`` holds one compiled
decision per key (``switchboard.routing.DECISION_FIELDS``) whose stale keys
the store drops (``drop_stale_decisions``). So Kamailio holds the names in
memory only, and the pushes that carry the rules carry them too
(``kamailio.rules_push``): a user's edit sets their name at once, a tenant
push and every scheduler pass (at least every minute) compare the whole
table with the store (one ``htable.dump``) and set or drop what differs, and
removing a user drops theirs (``kamailio.user_state``). A Kamailio that
restarts shows extensions until the scheduler's next pass.

Errors: ``RPCError`` from ``kamailio.rpc`` when Kamailio cannot be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kamailio.rpc import KamailioRPC, RPCFault
from switchboard.identifiers import shown_text
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, User

log = logging.getLogger(__name__)

NAMES_HTABLE = "names"  # kamailio.cfg; route CALLER_NAME
MAX_DISPLAY_CHARS = 80  # switchboard.store.accounts.check_name's limit


def display_name(name: str) -> str:
    """``name`` as the inside of a SIP quoted-string (RFC 3261 25.1); '' when nothing is left.

    Control and format characters are dropped, runs of white space become one
    space, and ``\\`` and ``"`` are escaped (quoted-pair), so no name can end the
    quoted string early or break the header: the store's names are typed by
    people, and imported.
    """
    # no control character (no quoted-pair may hold CR or LF), no bidi override
    text = " ".join(shown_text(name).split())[:MAX_DISPLAY_CHARS]
    return text.replace("\\", "\\\\").replace('"', '\\"')


def name_key(user: User) -> str:
    """The htable key of a user's name: the identity route AUTH asserts for them."""
    return f"{user.extension}@{user.tenant_domain}".lower()


def wanted_names(users: Iterable[User]) -> dict[str, str]:
    """What ``names`` must hold for ``users`` (a user whose name leaves nothing: no key)."""
    wanted = {name_key(user): display_name(user.name) for user in users}
    return {key: value for key, value in wanted.items() if value}


def held_names(dump: Any) -> dict[str, str]:
    """The keys and values of an ``htable.dump`` reply (pure)."""
    held: dict[str, str] = {}
    for entry in dump if isinstance(dump, list) else []:
        for slot in (entry or {}).get("slot") or []:
            if isinstance(slot, dict) and "name" in slot:
                held[str(slot["name"])] = str(slot.get("value", ""))
    return held


def push_names(settings: Settings, users: Iterable[User]) -> None:
    """Set the names of ``users`` in the running Kamailio (after an edit of them)."""
    users = list(users)
    if not users:
        return
    wanted = wanted_names(users)
    with KamailioRPC(settings.rpc_url) as rpc:
        for user in users:
            key = name_key(user)
            if key in wanted:
                rpc.call("htable.sets", NAMES_HTABLE, key, wanted[key])
            else:
                _delete(rpc, key)


def sync_names(settings: Settings, store: ProvisioningStore, tenant: str | None = None) -> int:
    """Make ``names`` match the store (``tenant``: only its keys); how many keys changed."""
    wanted = wanted_names(store.users(tenant))
    suffix = f"@{tenant.lower()}" if tenant is not None else ""
    with KamailioRPC(settings.rpc_url) as rpc:
        held = {
            key: value
            for key, value in held_names(rpc.call("htable.dump", NAMES_HTABLE)).items()
            if key.endswith(suffix)
        }
        changed = [key for key, value in wanted.items() if held.get(key) != value]
        gone = [key for key in held if key not in wanted]
        for key in changed:
            rpc.call("htable.sets", NAMES_HTABLE, key, wanted[key])
        for key in gone:
            _delete(rpc, key)
    if changed or gone:
        log.info("caller names: %d set, %d dropped", len(changed), len(gone))
    return len(changed) + len(gone)


def _delete(rpc: KamailioRPC, key: str) -> None:
    try:
        rpc.call("htable.delete", NAMES_HTABLE, key)
    except RPCFault as fault:  # not held (Kamailio restarted since): nothing to drop
        if fault.code != 404 and "not found" not in fault.message.lower():
            raise
