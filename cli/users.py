"""CLI for tenants and users beyond ``add``: list/show (``--json``), edit, disable, remove.

Every change that moves routing is pushed to Kamailio at once (``push_now``,
the portal's path too); disabling or removing a user also drops their
registrations from the running Kamailio (``kamailio.user_state``). Secrets a
command creates (one-time passwords, SIP passwords) are printed once on
stdout and stored hashed only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cli.output import print_json, printable, row, write_data
from cli.progress import Progress
from cli.recording_flags import add_recording_argument, apply_recording_flag
from cli.routing import push_now
from switchboard.csv_rows import file_bytes, utf8_text
from switchboard.settings import Settings
from switchboard.store import ROLES, ProvisioningStore, User


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def _user_dict(store: ProvisioningStore, u: User) -> dict[str, Any]:
    data = asdict(u)
    data["login"] = u.login
    data["allowed_caller_ids"] = [d.number for d in store.allowed_caller_ids(u)]
    return data


# -- tenants -------------------------------------------------------------------------------
def cmd_tenant_list(settings: Settings, args: argparse.Namespace) -> int:
    tenants = _store(settings).tenants()
    if args.json:
        print_json([asdict(t) for t in tenants])
        return 0
    for t in tenants:
        print(row(t.domain, t.timezone, t.name))
    return 0


def cmd_tenant_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    t = store.update_tenant(args.domain, name=args.name, timezone=args.timezone)
    print(f"tenant {t.domain}: {t.name} ({t.timezone})")
    apply_recording_flag(settings, store, args, t.domain, "tenant")
    if args.timezone:  # users without their own zone now evaluate their rules in the new one
        push_now(settings, store, tenant=t.domain)
    return 0


# -- users ---------------------------------------------------------------------------------
def cmd_user_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    users = store.users(args.tenant)
    if args.search:
        needle = args.search.lower()
        users = [u for u in users if needle in f"{u.extension} {u.name} {u.email}".lower()]
    if args.json:
        print_json([_user_dict(store, u) for u in users])
        return 0
    for u in users:
        print(row(u.login, u.name, u.role, u.email, *(["disabled"] if u.disabled else [])))
    return 0


def cmd_user_show(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    u = store.user(args.tenant, args.ext)
    data = _user_dict(store, u)
    data["rules"] = [r.name for r in store.routing_inputs(u).rules]
    if args.json:
        print_json(data)
        return 0
    for key in ("login", "name", "email", "role", "timezone", "disabled", "caller_id"):
        print(row(f"{key}:", data[key]))
    print(row("allowed caller IDs:", ", ".join(data["allowed_caller_ids"]) or "-"))
    print(row("rules:", ", ".join(data["rules"]) or "-"))
    return 0


def cmd_user_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    u = store.update_user(
        args.tenant,
        args.ext,
        name=args.name,
        email=args.email,
        role=args.role,
        timezone=args.timezone,
    )
    if args.allow_caller_id is not None:
        u = store.set_allowed_caller_ids(u, [n for n in args.allow_caller_id if n])
    if args.caller_id is not None:
        u = store.set_caller_id(u, args.caller_id)
    print(f"user {u.login} ({u.name}, {u.role}, {u.timezone}) saved")
    apply_recording_flag(settings, store, args, u.tenant_domain, "user", u.extension)
    # The decision carries the zone the rules run in and the caller ID the carrier sees
    # (a grant withdrawn drops the chosen one too)
    if args.timezone is not None or args.caller_id is not None or args.allow_caller_id is not None:
        push_now(settings, store, users=(u,))
    return 0


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.user_state import forget_user

    store = _store(settings)
    u = store.set_user_disabled(args.tenant, args.ext, True)
    forget_user(settings, u.tenant_domain, u.extension, removed=False)
    print(f"user {u.login} disabled: no portal sign-in, phones refused")
    return 0


def cmd_user_enable(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    u = store.set_user_disabled(args.tenant, args.ext, False)
    push_now(settings, store, users=(u,))
    print(f"user {u.login} enabled")
    return 0


def cmd_user_remove(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.user_state import forget_user

    store = _store(settings)
    keep = settings.removed_mailbox_keep_days if args.keep_days is None else args.keep_days
    removal = store.remove_user(
        args.tenant, args.ext, keep_days=keep, reassign_mailbox_to=args.reassign_mailbox
    )
    forget_user(settings, args.tenant, args.ext, removed=True)
    print(
        f"user {args.ext}@{args.tenant} removed: {removal.rules_removed} rules removed,"
        f" mailbox {removal.mailbox}, call history kept"
    )
    return 0


def cmd_user_passwd(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    hours = settings.one_time_password_hours
    code = store.reset_password(args.tenant, args.ext, hours=hours)
    print(code)
    print(
        f"one-time password for {args.ext}@{args.tenant}: valid {hours:g} h;"
        " a new password is chosen at the next sign-in",
        file=sys.stderr,
    )
    from pipeline.password_email import ResetEmailError, email_one_time_password

    try:  # when SMTP is set, the user gets it by email too (the reset is done either way)
        sent_to = email_one_time_password(settings, store.user(args.tenant, args.ext), code,
                                          hours=hours)  # fmt: skip
    except ResetEmailError as exc:
        print(f"not emailed: {exc}", file=sys.stderr)
        return 0
    if sent_to:
        print(f"emailed to {sent_to}", file=sys.stderr)
    return 0


def cmd_user_sip_passwd(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    secret = _store(settings).set_sip_password(args.tenant, args.ext, password or None)
    if not password:
        print(secret)  # generated: shown this once
    print(f"SIP password of {args.ext}@{args.tenant} set", file=sys.stderr)
    return 0


def cmd_user_import(settings: Settings, args: argparse.Namespace) -> int:
    from switchboard.user_csv import preview_import

    store = _store(settings)
    text = utf8_text(file_bytes(args.file))
    preview = preview_import(store, args.tenant, text)
    for line in preview.errors:
        print(f"{args.file}:{line.line}: {printable(line.error)}", file=sys.stderr)
    if not preview.ready:
        print(f"nothing imported: {len(preview.errors)} lines to fix", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"{len(preview.users)} users would be added", file=sys.stderr)
        return 0
    with Progress(len(preview.users), "importing") as bar:
        creds = store.import_users(
            args.tenant,
            preview.users,
            one_time_hours=settings.one_time_password_hours,
            on_row=bar.advance,
        )
    added = tuple(store.user(args.tenant, c.extension) for c in creds)
    push_now(settings, store, users=added)
    print("extension,one_time_password,sip_password")
    for c in creds:
        print(f"{c.extension},{c.one_time_password},{c.sip_password}")
    print(f"{len(creds)} users added to {args.tenant}", file=sys.stderr)
    return 0


def cmd_user_export(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.export import defuse_formula
    from switchboard.user_csv import users_csv

    users = _store(settings).users(args.tenant)
    with Progress(len(users), "exporting") as bar:
        text = users_csv(users, defuse_formula)
        bar.advance(len(users))
    if args.output in (None, "-"):
        write_data(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(users)} users written to {args.output}", file=sys.stderr)
    return 0


def add_parsers(
    tenant: argparse._SubParsersAction[argparse.ArgumentParser],
    user: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``tenant list/edit`` and ``user list/show/edit/…`` beside the ``add`` commands."""
    tl = tenant.add_parser("list")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(fn=cmd_tenant_list)
    te = tenant.add_parser("edit", help="rename a tenant or change its time zone")
    te.add_argument("domain")
    te.add_argument("--name")
    te.add_argument("--timezone")
    add_recording_argument(te, "tenant (its default)")
    te.set_defaults(fn=cmd_tenant_edit)

    ul = user.add_parser("list")
    ul.add_argument("--tenant")
    ul.add_argument("--search", help="part of an extension, name or email")
    ul.add_argument("--json", action="store_true")
    ul.set_defaults(fn=cmd_user_list)

    def one(name: str, fn: Any, help: str) -> argparse.ArgumentParser:
        p = user.add_parser(name, help=help)
        p.add_argument("ext")
        p.add_argument("--tenant", required=True)
        p.set_defaults(fn=fn)
        return p

    one("show", cmd_user_show, "a user's details").add_argument("--json", action="store_true")
    ue = one("edit", cmd_user_edit, "change name, email, role, time zone, caller ID")
    ue.add_argument("--name")
    ue.add_argument("--email")
    ue.add_argument("--role", choices=ROLES)
    ue.add_argument("--timezone", help="IANA zone; '' for the tenant's")
    ue.add_argument("--caller-id", help="one of the allowed main numbers; '' for the default")
    ue.add_argument(
        "--allow-caller-id", action="append", metavar="NUMBER",
        help="main numbers the user may show (repeat; replaces the list; '' for none)",
    )  # fmt: skip
    add_recording_argument(ue, "user's calls")
    one("disable", cmd_user_disable, "no portal sign-in, phones refused")
    one("enable", cmd_user_enable, "undo disable")
    ur = one("remove", cmd_user_remove, "remove a user (call history stays)")
    ur.add_argument("--reassign-mailbox", metavar="EXT", help="move their voicemail to EXT")
    ur.add_argument("--keep-days", type=float, help="keep the mailbox this long (setting)")
    one("passwd", cmd_user_passwd, "print a one-time portal password (reset)")
    us = one("sip-passwd", cmd_user_sip_passwd, "set the SIP password (generated if not given)")
    us.add_argument("--password", help="the new SIP password (visible in ps; prefer --stdin)")
    us.add_argument("--stdin", action="store_true", help="read the password from stdin")
    ui = user.add_parser("import", help="add users from a CSV: all rows or none")
    ui.add_argument("file")
    ui.add_argument("--tenant", required=True)
    ui.add_argument("--dry-run", action="store_true", help="only check the file")
    ui.set_defaults(fn=cmd_user_import)
    ux = user.add_parser("export", help="the user list as CSV")
    ux.add_argument("--tenant", required=True)
    ux.add_argument("-o", "--output", help="file; default: stdout")
    ux.set_defaults(fn=cmd_user_export)
