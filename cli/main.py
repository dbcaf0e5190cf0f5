"""The ``switchboard`` command: one entry point that dispatches to each part.

Each sub-command imports its part lazily, so ``switchboard tenant add`` works
without the portal's or the pipeline's dependencies being loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.analytics import add_parsers as add_analytics_parsers
from cli.analytics import day_option
from cli.attendants import add_parsers as add_attendant_parsers
from cli.contacts import add_parsers as add_contact_parsers
from cli.devices import add_parsers as add_device_parsers
from cli.ingest import add_parsers as add_ingest_parsers
from cli.output import guarded_output, row
from cli.queues import add_parsers as add_queue_parsers
from cli.recordings import add_parsers as add_recording_parsers
from cli.routing import add_parsers as add_routing_parsers
from cli.routing import push_now
from cli.routing_edits import add_parsers as add_routing_edit_parsers
from cli.users import add_parsers as add_user_parsers
from cli.voicemail import add_parsers as add_voicemail_parsers
from switchboard.settings import Settings, load_settings
from switchboard.store import ROLES, ProvisioningStore


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    for d in (settings.data_dir, settings.lake_dir, settings.spool_dir, settings.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    _store(settings).close()
    print(f"initialised {settings.data_dir}")
    return 0


def cmd_tenant_add(settings: Settings, args: argparse.Namespace) -> int:
    t = _store(settings).add_tenant(args.domain, args.timezone, name=args.name)
    print(f"tenant {t.domain} ({t.timezone}) added")
    return 0


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    u = store.add_user(
        tenant=args.tenant,
        extension=args.ext,
        name=args.name,
        email=args.email,
        password=args.password,
        sip_password=args.sip_password,
        role=args.role,
        timezone=args.timezone,
    )
    print(f"user {u.login} ({u.name}, {u.role}) added")
    # reachable at once: their default decision (ring, then voicemail) goes to Kamailio now
    push_now(settings, store, users=(u,))
    return 0


def cmd_calls_export(settings: Settings, args: argparse.Namespace) -> int:
    from cli.progress import Progress
    from pipeline.export import export_calls
    from pipeline.filters import CallFilter

    tenant = _store(settings).tenant(args.tenant)
    query = {
        "from": args.date_from,
        "to": args.date_to,
        "direction": args.direction,
        "disposition": args.disposition,
        "extension": args.extension,
        "q": args.search,
    }
    flt = CallFilter.from_query({k: v for k, v in query.items() if v}, tenant.timezone)
    with Progress.ticking("exporting calls"):
        rows = export_calls(settings, tenant.domain, flt, args.format, Path(args.output))
    print(f"{rows} calls written to {args.output} ({flt.describe()})", file=sys.stderr)
    return 0


def cmd_demo_seed(settings: Settings, args: argparse.Namespace) -> int:
    from switchboard.demo import seed_demo

    store = _store(settings)
    for line in seed_demo(store, settings.demo_tenant):
        print(line)
    push_now(settings, store, tenant=settings.demo_tenant)
    return 0


def cmd_demo_traffic(settings: Settings, args: argparse.Namespace) -> int:
    from cli.progress import Progress
    from kamailio.traffic import place_demo_calls
    from switchboard.demo import demo_sip_accounts

    accounts = demo_sip_accounts(_store(settings), settings.demo_tenant)
    # the calls are placed over calls/rate seconds, and the last one talks ~3 s
    with Progress.timed(args.calls / max(args.rate, 0.1) + 3, "placing calls"):
        summary = place_demo_calls(settings, accounts, args.calls, args.rate)
    outcomes = ", ".join(f"{n} {k}" for k, n in summary.outcomes.most_common())
    print(f"placed {summary.placed} calls in {summary.seconds:.1f} s: {outcomes}")
    return 0


def cmd_voicemail_search(settings: Settings, args: argparse.Namespace) -> int:
    """Print the voicemails whose transcript holds every word, newest first."""
    from zoneinfo import ZoneInfo

    from pipeline.voicemail_query import search_transcripts
    from pipeline.warehouse import connect

    tenant = _store(settings).tenant(args.tenant)
    conn = connect(settings, tenant.domain)
    try:
        rows = search_transcripts(conn, args.text, mailbox=args.ext, limit=args.limit)
    finally:
        conn.close()
    zone = ZoneInfo(tenant.timezone)
    for r in rows:
        when = r["started_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
        caller = r["caller"] or "anonymous"
        print(row(when, r["mailbox"], caller, r["message_id"], r["transcript"]))
    print(f"{len(rows)} messages match {args.text!r}", file=sys.stderr)
    return 0


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop child processes."""
    import signal

    def handler(signum: int, frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, handler)


def cmd_kamailio(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.launcher import run_foreground

    _exit_on_sigterm()
    return run_foreground(settings)


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    from relay.launcher import run_foreground

    _exit_on_sigterm()
    return run_foreground(settings)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    import signal
    import threading

    from pipeline.worker import run_worker

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(settings, stop)
    return 0


def cmd_media(settings: Settings, args: argparse.Namespace) -> int:
    from media.server import run_media_server

    return run_media_server(settings)


def cmd_portal(settings: Settings, args: argparse.Namespace) -> int:
    from dash_app.app import serve

    serve(settings)
    return 0


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    import signal

    from cli.run import run_all

    _exit_on_sigterm()
    # A shell without job control starts background commands with SIGINT ignored;
    # `switchboard run` is the one thing Ctrl-C must always stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run_all(settings)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="switchboard", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create the data dir and stores").set_defaults(fn=cmd_init)

    tenant = sub.add_parser("tenant", help="tenants (SIP domains)").add_subparsers(required=True)
    ta = tenant.add_parser("add", help="add a tenant")
    ta.add_argument("domain")
    ta.add_argument("--timezone", required=True, help="IANA zone, e.g. America/New_York")
    ta.add_argument("--name")
    ta.set_defaults(fn=cmd_tenant_add)

    user = sub.add_parser("user", help="users and extensions").add_subparsers(required=True)
    ua = user.add_parser("add", help="add a user with an extension")
    ua.add_argument("--tenant", required=True)
    ua.add_argument("--ext", required=True)
    ua.add_argument("--name", required=True)
    ua.add_argument("--email", required=True)
    ua.add_argument("--password", required=True, help="portal password (stored argon2)")
    ua.add_argument("--sip-password", required=True, help="SIP password (stored as HA1)")
    ua.add_argument("--role", choices=ROLES, default="user")
    ua.add_argument("--timezone")
    ua.set_defaults(fn=cmd_user_add)
    add_user_parsers(tenant, user)  # list, show, edit, disable, remove, passwords, import

    calls = sub.add_parser("calls", help="call history").add_subparsers(required=True)
    ce = calls.add_parser("export", help="write the call history rows the portal grid shows")
    ce.add_argument("--tenant", required=True)
    ce.add_argument("--from", dest="date_from", type=day_option)
    ce.add_argument("--to", dest="date_to", type=day_option)
    ce.add_argument("--direction")
    ce.add_argument("--disposition")
    ce.add_argument("--extension")
    ce.add_argument("--search")
    ce.add_argument("--format", choices=("csv", "parquet"), default="csv")
    ce.add_argument("-o", "--output", required=True)
    ce.set_defaults(fn=cmd_calls_export)

    add_routing_parsers(sub)
    add_routing_edit_parsers(sub)  # rule/frame/did list, edit, remove
    add_attendant_parsers(sub)  # attendant, announcement, holdmusic
    add_queue_parsers(sub)  # queue, queue member, agent
    add_device_parsers(sub)  # device add, list, revoke
    add_contact_parsers(sub)  # contact list, import, export

    voicemail = sub.add_parser("voicemail", help="voicemail messages").add_subparsers(required=True)
    vs = voicemail.add_parser("search", help="search voicemail transcripts")
    vs.add_argument("text", help="words that must all appear in the transcript")
    vs.add_argument("--tenant", required=True)
    vs.add_argument("--ext", help="only this mailbox")
    vs.add_argument("--limit", type=int, default=50)
    vs.set_defaults(fn=cmd_voicemail_search)
    add_voicemail_parsers(voicemail)  # voicemail retranscribe
    add_analytics_parsers(sub)  # kpis, schedule
    add_ingest_parsers(sub)  # ingest replay
    add_recording_parsers(sub)  # recordings list, search

    demo = sub.add_parser("demo", help="the demo tenant").add_subparsers(required=True)
    demo.add_parser("seed", help="create the demo tenant").set_defaults(fn=cmd_demo_seed)
    dt = demo.add_parser("traffic", help="place real SIP calls between demo extensions")
    dt.add_argument("--calls", type=int, default=50)
    dt.add_argument("--rate", type=float, default=5.0, help="calls per second")
    dt.set_defaults(fn=cmd_demo_traffic)

    sub.add_parser("kamailio", help="run Kamailio in the foreground").set_defaults(fn=cmd_kamailio)
    sub.add_parser("relay", help="run rtpengine (media relay) in the foreground").set_defaults(
        fn=cmd_relay
    )
    sub.add_parser("worker", help="run the pipeline worker").set_defaults(fn=cmd_worker)
    sub.add_parser("media", help="run the media server (voicemail)").set_defaults(fn=cmd_media)
    sub.add_parser("portal", help="run the web portal").set_defaults(fn=cmd_portal)
    sub.add_parser("run", help="seed the demo and run every part").set_defaults(fn=cmd_run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # what outsiders wrote (caller names, transcripts, contacts) is printed, never obeyed:
    # log records too, so the handler writes through the guard
    with guarded_output():
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
        )
        # One line per RPC call or per portal request is noise in the terminal.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        settings = load_settings()
        try:
            return int(args.fn(settings, args))
        except ValueError as exc:  # ProvisioningError, FilterError: messages meant for the user
            print(f"switchboard: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
