"""``switchboard recordings list|search|retention``: call recordings from the command line.

The operator's view of one tenant (the whole tenant, like the other CLI
reports), through the same read API as the Recordings page
(:mod:`pipeline.recording_query`); times in the tenant's zone. ``list``
takes the page's filters (``--missing``: the calls the policy said to record that
were not recorded, rtpengine being down); ``search`` looks for words in recording and
voicemail transcripts alike; ``retention`` shows or sets how many days the
tenant keeps them (the pipeline worker removes older ones, audited). Bad
input is exit 2 with the reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import closing
from typing import Any

from cli.output import print_rows, refuse
from switchboard.settings import Settings


def _tenant(settings: Settings, given: str | None) -> str:
    """The tenant named, or the only one there is; ProvisioningError otherwise."""
    from switchboard.store import ProvisioningError, ProvisioningStore

    if given:
        return given
    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        domains = [t.domain for t in store.tenants()]
    if len(domains) != 1:
        raise ProvisioningError(f"name the tenant with --tenant ({len(domains)} tenants here)")
    return domains[0]


def _when(value: Any, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _filter_query(args: argparse.Namespace) -> dict[str, str]:
    """The ``list`` options as the page's URL query (RecordingFilter.from_query)."""
    return {
        "from": args.date_from or "",
        "to": args.date_to or "",
        "extension": args.ext or "",
        "direction": args.direction or "",
        "number": args.number or "",
        "queue": args.queue or "",
        "has_transcript": args.has_transcript or "",
        "words": args.words or "",
    }


def _read_lake(
    settings: Settings, args: argparse.Namespace, read: Callable[[Any, str], list[dict[str, Any]]]
) -> tuple[list[dict[str, Any]], str] | int:
    """``read(conn, zone)`` on the tenant's lake view: its rows and zone, or the exit status."""
    from pipeline.recording_query import RecordingQueryError
    from pipeline.viewer import open_for_viewer
    from switchboard.store import ProvisioningError

    try:
        with open_for_viewer(settings, _tenant(settings, args.tenant)) as viewer:
            return read(viewer.conn, viewer.timezone), viewer.timezone
    except (RecordingQueryError, ProvisioningError) as exc:
        return refuse(exc)


def cmd_recordings_list(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.recording_query import RecordingFilter, list_missing_recordings, list_recordings

    def read(conn: Any, zone: str) -> list[dict[str, Any]]:
        flt = RecordingFilter.from_query(_filter_query(args), zone)
        lister = list_missing_recordings if args.missing else list_recordings
        return lister(conn, flt, limit=args.limit)

    found = _read_lake(settings, args, read)
    if isinstance(found, int):
        return found
    rows, zone = found
    if args.missing:  # the calls the policy said to record that were not recorded
        print_rows(
            "started\tcaller\tcallee\tdisposition\trecording\tcall_id",
            (
                (
                    _when(r["started_at"], zone),
                    r["caller"] or "",
                    r["callee"] or "",
                    r["disposition"],
                    "missing",
                    r["call_id"],
                )
                for r in rows
            ),
            "calls with a recording missing",
        )
        return 0
    print_rows(
        "started\tcaller\tcallee\tseconds\ttranscript\trecording_id\tcall_id",
        (
            (
                _when(r["started_at"], zone),
                r["caller"] or "",
                r["callee"] or "",
                f"{r['duration']:.1f}",
                "yes" if r["has_transcript"] else "no",
                r["recording_id"],
                r["call_id"],
            )
            for r in rows
        ),
        "recordings",
    )
    return 0


def cmd_recordings_search(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.recording_query import search_everything

    found = _read_lake(
        settings, args, lambda conn, _zone: search_everything(conn, args.text, limit=args.limit)
    )
    if isinstance(found, int):
        return found
    hits, zone = found
    print_rows(
        "kind\tstarted\tcaller\tcallee\tid\ttranscript",
        (
            (
                h["kind"],
                _when(h["started_at"], zone),
                h["caller"] or "",
                h["callee"] or "",
                h["item_id"],
                " ".join(str(h["transcript"] or "").split()),
            )
            for h in hits
        ),
        f"recordings and voicemails match {args.text!r}",
    )
    return 0


def cmd_recordings_retention(settings: Settings, args: argparse.Namespace) -> int:
    """Show or set how long the tenant keeps recordings (the worker removes older ones)."""
    from switchboard.store import ProvisioningError, ProvisioningStore

    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        try:
            tenant = _tenant(settings, args.tenant)
            if args.forever:
                store.set_recording_retention(tenant, None)
            elif args.days is not None:
                store.set_recording_retention(tenant, args.days)
            days = store.recording_retention(tenant)
        except ProvisioningError as exc:
            return refuse(exc)
    print(f"{tenant}: " + ("kept until deleted" if days is None else f"kept {days} days"))
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``recordings list`` and ``recordings search`` to the top-level subparsers."""
    recordings = sub.add_parser("recordings", help="call recordings").add_subparsers(required=True)
    ls = recordings.add_parser("list", help="recordings of a tenant, newest first")
    ls.add_argument("--tenant", help="its SIP domain (needed when there are several)")
    ls.add_argument("--from", dest="date_from", help="first day (YYYY-MM-DD, tenant's zone)")
    ls.add_argument("--to", dest="date_to", help="last day (YYYY-MM-DD), included")
    ls.add_argument("--ext", help="calls of this extension")
    ls.add_argument("--direction", help="inbound, outbound or internal")
    ls.add_argument("--number", help="calls with a number containing these digits")
    ls.add_argument("--queue", help="calls through this queue (its number)")
    ls.add_argument("--has-transcript", choices=("yes", "no"))
    ls.add_argument("--words", help="words said (all of them)")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument(
        "--missing",
        action="store_true",
        help="calls the policy said to record that were not recorded (rtpengine down)",
    )
    ls.set_defaults(fn=cmd_recordings_list)
    se = recordings.add_parser("search", help="words in recording and voicemail transcripts")
    se.add_argument("text", help="words that must all appear in the transcript")
    se.add_argument("--tenant", help="its SIP domain (needed when there are several)")
    se.add_argument("--limit", type=int, default=50)
    se.set_defaults(fn=cmd_recordings_search)
    rt = recordings.add_parser("retention", help="how long recordings are kept")
    rt.add_argument("--tenant", help="its SIP domain (needed when there are several)")
    keep = rt.add_mutually_exclusive_group()
    keep.add_argument("--days", type=int, help="remove recordings older than this many days")
    keep.add_argument("--forever", action="store_true", help="keep them until deleted")
    rt.set_defaults(fn=cmd_recordings_retention)
