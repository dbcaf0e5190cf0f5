"""What the running Kamailio must forget when a user is disabled or removed.

The store has already taken the user's credentials out of ``subscriber`` (the
next REGISTER or INVITE is refused) and, on removal, their decision out of
``rule_decision``. What Kamailio holds in memory is cleared here: the phones
registered to the user's AoR (``ul.rm``, so calls to them stop ringing a
phone now) and, on removal, the decision in the ``rules`` htable
(``htable.delete``, which a reload would do anyway since the row is gone)
and the name their colleagues' phones showed (htable ``names``).
"""

from __future__ import annotations

import logging

from kamailio.caller_names import NAMES_HTABLE
from kamailio.rpc import KamailioRPC, RPCError, RPCFault
from switchboard.settings import Settings

log = logging.getLogger(__name__)

HTABLE = "rules"  # the same table as kamailio.rules_push


def forget_user(settings: Settings, tenant: str, extension: str, *, removed: bool) -> bool:
    """Drop the user's registrations (and decision, when ``removed``); False: Kamailio is down."""
    aor = f"{extension}@{tenant}"
    try:
        with KamailioRPC(settings.rpc_url) as rpc:
            _ignore_missing(rpc, "ul.rm", "location", aor)
            if removed:
                _ignore_missing(rpc, "htable.delete", HTABLE, f"{tenant}:{extension}")
                _ignore_missing(rpc, "htable.delete", NAMES_HTABLE, aor.lower())
    except RPCError as exc:
        log.info("Kamailio not told about %s (%s); it follows the DB when it starts", aor, exc)
        return False
    return True


def forget_main_number(settings: Settings, number: str) -> bool:
    """Drop a removed main number's decision from the running Kamailio."""
    try:
        with KamailioRPC(settings.rpc_url) as rpc:
            _ignore_missing(rpc, "htable.delete", HTABLE, f"did:{number}")
    except RPCError as exc:
        log.info("Kamailio not told about main number %s (%s)", number, exc)
        return False
    return True


def _ignore_missing(rpc: KamailioRPC, method: str, *params: str) -> None:
    """Call ``method``; "nothing to remove" is not an error (no phone registered, no key)."""
    try:
        rpc.call(method, *params)
    except RPCFault as fault:
        if fault.code != 404 and "not found" not in fault.message.lower():
            raise
