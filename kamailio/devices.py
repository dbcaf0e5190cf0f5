"""Which device each registration belongs to, live from Kamailio; forgetting a revoked one.

usrloc keeps no auth user, so route REGISTRAR writes one into the htable
``regdev``: the registration's Call-ID → the auth username that made it
(``101`` for the extension's own credential, ``101-desk`` for a device).
Phones keep one Call-ID across their refreshes (RFC 3261 10.2.4), and
``ul.dump`` shows each contact's Call-ID, so one ``ul.dump`` and one
``htable.dump`` name every registration of every tenant (sub-millisecond
each, measured: cheap enough for a page refreshing every few seconds).

Revoking a device (``forget_device``) removes its contacts one by one
(``ul.rm_contact``): the extension's other phones stay registered. The
store has already deleted the credential, so the phone's next REGISTER
is refused.

Last seen (``record_presence``): who writes it is the pipeline worker's
presence step, every ``PRESENCE_EVERY_SECONDS``. Why there: the worker
runs whether or not anyone has the portal open, so a phone that registers
and leaves overnight is still recorded; it already holds the store. The
value is the contact's ``Last-Modified`` (its last REGISTER), not the poll
time, so the poll interval does not blur it as long as it is shorter than
a registration's expiry.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kamailio.rpc import KamailioRPC, RPCError, RPCFault
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.devices import Sighting

log = logging.getLogger(__name__)

HTABLE = "regdev"  # kamailio-security.cfg, route REGISTRAR
PRESENCE_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class LiveRegistration:
    """One registered contact and the credential (device) that registered it."""

    username: str  # "" when Kamailio did not note it (should not happen)
    extension: str
    tenant: str
    contact: str
    user_agent: str
    address: str  # where the phone is: the NAT's address if Kamailio saw one, else the Contact's
    expires_in: int
    last_modified: float  # unix time of its last REGISTER


def _not_set(value: Any) -> bool:
    return value in (None, "", "[not set]")


def _contact_address(uri: str) -> str:
    """``host:port`` of a Contact URI (``sip:101@192.0.2.7:5060;transport=udp``)."""
    rest = uri.split(":", 1)[-1].split(";", 1)[0].split(">", 1)[0]
    return rest.rsplit("@", 1)[-1]


def parse_registrations(ul_dump: Any, regdev_dump: Any) -> list[LiveRegistration]:
    """Every registered contact from ``ul.dump`` named by ``htable.dump regdev`` (pure)."""
    by_call_id: dict[str, str] = {}
    for entry in regdev_dump if isinstance(regdev_dump, list) else []:
        for slot in (entry or {}).get("slot") or []:
            if isinstance(slot, dict) and "name" in slot:
                by_call_id[str(slot["name"])] = str(slot.get("value", ""))
    found: list[LiveRegistration] = []
    domains = ul_dump.get("Domains", []) if isinstance(ul_dump, dict) else []
    for domain in domains:
        for aor in ((domain or {}).get("Domain") or {}).get("AoRs") or []:
            info = (aor or {}).get("Info") or {}
            extension, _, tenant = str(info.get("AoR", "")).partition("@")
            for item in info.get("Contacts") or []:
                c = (item or {}).get("Contact") or {}
                address = str(c.get("Address", ""))
                received = c.get("Received")
                expires = c.get("Expires")
                found.append(
                    LiveRegistration(
                        username=by_call_id.get(str(c.get("Call-ID", "")), ""),
                        extension=extension,
                        tenant=tenant.lower(),
                        contact=address,
                        user_agent="" if _not_set(c.get("User-Agent")) else str(c["User-Agent"]),
                        address=_contact_address(address if _not_set(received) else str(received)),
                        expires_in=int(expires) if isinstance(expires, int | float) else -1,
                        last_modified=float(c.get("Last-Modified") or 0),
                    )
                )
    return found


def live_registrations(settings: Settings) -> list[LiveRegistration]:
    """Every registration Kamailio holds now; ``RPCError`` when it cannot be asked."""
    with KamailioRPC(settings.rpc_url) as rpc:
        return parse_registrations(rpc.call("ul.dump"), rpc.call("htable.dump", HTABLE))


def by_username(
    registrations: list[LiveRegistration], tenant: str
) -> dict[str, list[LiveRegistration]]:
    """A tenant's registrations grouped by the credential that made them."""
    grouped: dict[str, list[LiveRegistration]] = defaultdict(list)
    for reg in registrations:
        if reg.tenant == tenant:
            grouped[reg.username or f"{reg.extension}?"].append(reg)
    return dict(grouped)


def forget_device(settings: Settings, tenant: str, username: str) -> bool:
    """Unregister the contacts a revoked device made; False: Kamailio could not be told."""
    username = username.lower()
    try:
        with KamailioRPC(settings.rpc_url) as rpc:
            regs = parse_registrations(rpc.call("ul.dump"), rpc.call("htable.dump", HTABLE))
            for reg in regs:
                if reg.tenant == tenant and reg.username == username:
                    try:
                        rpc.call(
                            "ul.rm_contact", "location", f"{reg.extension}@{tenant}", reg.contact
                        )
                    except RPCFault as fault:  # expired meanwhile
                        if fault.code != 404 and "not found" not in fault.message.lower():
                            raise
    except RPCError as exc:
        log.info("Kamailio not told about revoked %s@%s (%s)", username, tenant, exc)
        return False
    return True


def record_presence(settings: Settings, store: ProvisioningStore) -> int:
    """Persist the last sighting of every registered device; how many rows changed."""
    try:
        regs = live_registrations(settings)
    except RPCError as exc:
        log.debug("device presence skipped: %s", exc)
        return 0
    changed = 0
    for tenant in {r.tenant for r in regs}:
        seen: dict[str, Sighting] = {}
        for name, group in by_username(regs, tenant).items():
            latest = max(group, key=lambda r: r.last_modified)
            seen[name] = Sighting(latest.last_modified, latest.user_agent, latest.address)
        changed += store.record_device_presence(tenant, seen)
    return changed
