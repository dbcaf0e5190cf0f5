"""CLI for devices (parity with the Phones page): add (credential printed once), list, revoke.

A revoke takes the credential out of the store first (the next REGISTER is
refused), then unregisters what the phone registered (``kamailio.devices``);
when Kamailio is not running there is nothing to unregister.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime

from cli.output import printable
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def cmd_device_add(settings: Settings, args: argparse.Namespace) -> int:
    added = _store(settings).add_device(args.tenant, args.ext, args.name)
    d = added.device
    if args.json:
        print(json.dumps({**asdict(d), "password": added.password}, indent=2, sort_keys=True))
        return 0
    print(f"device {d.name} added to {d.extension}@{d.tenant_domain}")
    server = f"{settings.sip_host}:{settings.sip_port}"
    print(f"  server    {server} (UDP/TCP), TLS port {settings.sip_tls_port}")
    print(f"  user      {d.extension}   domain {d.tenant_domain}")
    print(f"  auth user {d.username}")
    print(f"  password  {added.password}   (shown once)")
    return 0


def _when(at: float | None) -> str:
    return "never" if not at else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def cmd_device_list(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.devices import by_username, live_registrations
    from kamailio.rpc import RPCError

    devices = _store(settings).devices(args.tenant, args.ext)
    try:
        live = by_username(live_registrations(settings), args.tenant)
    except RPCError:
        live = None  # Kamailio not running: state unknown
    rows = []
    for d in devices:
        regs = None if live is None else live.get(d.username, [])
        state = "unknown" if regs is None else ("registered" if regs else "offline")
        rows.append({**asdict(d), "state": state, "contacts": [r.contact for r in regs or []]})
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not rows:
        print("no devices", file=sys.stderr)
    for r in rows:
        print(
            f"{r['extension']:>8}  {printable(r['username']):<22} {r['state']:<10}"
            f" {printable(r['name']):<20}"
            f" last seen {_when(r['last_seen_at'])}"
        )
    return 0


def cmd_device_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.devices import forget_device

    d = _store(settings).revoke_device(args.tenant, args.username)
    told = forget_device(settings, args.tenant, d.username)
    note = "" if told else " (Kamailio not running: nothing to unregister)"
    print(f"device {d.name} ({d.username}) of {d.extension} revoked{note}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser("device", help="phones: a SIP credential each").add_subparsers(
        required=True
    )
    da = dev.add_parser("add", help="add a device to an extension (password printed once)")
    da.add_argument("--tenant", required=True)
    da.add_argument("--ext", required=True)
    da.add_argument("--name", required=True, help="e.g. 'Desk phone'")
    da.add_argument("--json", action="store_true")
    da.set_defaults(fn=cmd_device_add)
    dl = dev.add_parser("list", help="devices with their live state")
    dl.add_argument("--tenant", required=True)
    dl.add_argument("--ext")
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(fn=cmd_device_list)
    dr = dev.add_parser("revoke", help="revoke one device; the extension's others stay")
    dr.add_argument("username", help="the device's SIP auth user, e.g. 101-deskphone")
    dr.add_argument("--tenant", required=True)
    dr.set_defaults(fn=cmd_device_revoke)
