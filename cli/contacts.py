"""CLI for contacts (parity with the Contacts page): list, import (CSV or vCard), export.

Contacts are always seen as one user sees them (``--ext``): the tenant's shared
ones and that user's own. ``--shared`` imports shared contacts, which only a
manager or supervisor may do (the store refuses the rest). Import prints the
entries it leaves out, with why, and adds the others in one transaction;
``--dry-run`` only prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from cli.output import printable
from switchboard.contact_files import contacts_csv, contacts_vcard, parse_contacts
from switchboard.csv_rows import file_bytes
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.contacts import SCOPES


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def cmd_contact_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    viewer = store.user(args.tenant, args.ext)
    contacts = store.contacts(viewer, search=args.search or "", scope=args.scope)
    if args.json:
        print(json.dumps([asdict(c) for c in contacts], indent=2, sort_keys=True))
        return 0
    for c in contacts:
        star = "*" if c.favourite else " "
        kind = "shared" if c.shared else "personal"
        name, phone, company = (printable(v) for v in (c.name, c.phone or c.mobile, c.company))
        print(f"{star} {c.id:>5}  {name:<28} {phone:<20} {company:<20} {kind}")
    return 0


def cmd_contact_import(settings: Settings, args: argparse.Namespace) -> int:
    preview = parse_contacts(file_bytes(args.file).decode("utf-8", errors="replace"))
    for line in preview.errors:
        label, error = printable(line.label), printable(line.error)
        print(f"left out: line {line.line} ({label}): {error}", file=sys.stderr)
    if args.dry_run:
        print(f"{len(preview.contacts)} contacts would be imported ({preview.kind})")
        return 0
    store = _store(settings)
    viewer = store.user(args.tenant, args.ext)
    added = store.import_contacts(viewer, preview.contacts, shared=args.shared)
    print(f"{added} contacts imported, {len(preview.errors)} left out")
    return 0


def cmd_contact_export(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.export import defuse_formula  # the one spreadsheet formula guard

    store = _store(settings)
    viewer = store.user(args.tenant, args.ext)
    contacts = store.contacts(viewer, scope=args.scope)
    vcard = args.format == "vcard" or str(args.output).lower().endswith((".vcf", ".vcard"))
    text = contacts_vcard(contacts) if vcard else contacts_csv(contacts, defuse_formula)
    Path(args.output).write_text(text, encoding="utf-8", newline="")
    print(f"{len(contacts)} contacts written to {args.output}", file=sys.stderr)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    con = sub.add_parser("contact", help="personal and shared contacts").add_subparsers(
        required=True
    )

    def who(p: argparse.ArgumentParser) -> None:
        p.add_argument("--tenant", required=True)
        p.add_argument("--ext", required=True, help="whose view: shared + this user's own")

    cl = con.add_parser("list")
    who(cl)
    cl.add_argument("--search")
    cl.add_argument("--scope", choices=SCOPES, default="all")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(fn=cmd_contact_list)
    ci = con.add_parser("import", help="a CSV or vCard file; bad entries are left out")
    ci.add_argument("file")
    who(ci)
    ci.add_argument("--shared", action="store_true", help="as the tenant's shared contacts")
    ci.add_argument("--dry-run", action="store_true", help="only say what would be imported")
    ci.set_defaults(fn=cmd_contact_import)
    ce = con.add_parser("export", help="as CSV, or vCard (--format vcard or a .vcf name)")
    who(ce)
    ce.add_argument("--scope", choices=SCOPES, default="all")
    ce.add_argument("--format", choices=("csv", "vcard"), default="csv")
    ce.add_argument("-o", "--output", required=True)
    ce.set_defaults(fn=cmd_contact_export)
