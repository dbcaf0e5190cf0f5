"""CLI for time frames, answering rules, main numbers and the routing simulator.

Text forms (shared by every command): a weekly period is ``mon-fri@09:00-17:00``
(days: ``mon,wed`` or ``sat-sun``), a date ``2026-12-25``, a range
``2026-12-24..2026-12-26`` (optionally ``@09:00-12:00``); a destination is
``kind:target`` (``extension:102``, ``voicemail``, ``number:+15551234567``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, time
from typing import cast
from zoneinfo import ZoneInfo

from switchboard.routing import explain_route
from switchboard.rules import (
    OFFERED_KINDS,
    TARGETED_KINDS,
    AnsweringRule,
    Destination,
    DestinationKind,
)
from switchboard.rules_codec import parse_date, parse_time
from switchboard.settings import Settings
from switchboard.store import Did, ProvisioningError, ProvisioningStore, User
from switchboard.timeframes import WEEKDAYS, DatePeriod, Period, TimeFrame, WeeklyPeriod

log = logging.getLogger(__name__)


def parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ProvisioningError(f"{part!r}: days are {', '.join(WEEKDAYS)} (e.g. mon-fri)")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_hours(text: str) -> tuple[time, time]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ProvisioningError(f"{text!r}: hours are HH:MM-HH:MM")
    return parse_time(start), parse_time(end)


def parse_period(text: str) -> Period:
    """``mon-fri@09:00-17:00``, ``2026-12-25``, ``2026-12-24..2026-12-26[@09:00-12:00]``."""
    spec, _, hours = text.partition("@")
    if spec[:1].isdigit():
        first, _, last = spec.partition("..")
        start, end = parse_hours(hours) if hours else (None, None)
        return DatePeriod(parse_date(first), parse_date(last or first), start, end)
    start, end = parse_hours(hours or "00:00-00:00")
    return WeeklyPeriod(parse_days(spec), start, end)


def split_destination(
    text: str, kinds: Sequence[str], targeted: Collection[str]
) -> tuple[str, str]:
    """``KIND:TARGET`` as its two parts; ProvisioningError for another kind or a missing target."""
    kind, _, target = text.partition(":")
    if kind not in kinds:
        raise ProvisioningError(f"{text!r}: destinations are {', '.join(kinds)}")
    if kind in targeted and not target:
        raise ProvisioningError(f"{text!r}: say which {kind} (e.g. {kind}:102)")
    return kind, target


def parse_destination(text: str) -> Destination:
    kind, target = split_destination(text, OFFERED_KINDS, TARGETED_KINDS)
    return Destination(cast(DestinationKind, kind), target)


def push_now(
    settings: Settings,
    store: ProvisioningStore,
    *,
    users: tuple[User, ...] = (),
    dids: tuple[Did, ...] = (),
    tenant: str | None = None,
) -> None:
    """Tell Kamailio now, the way the portal does; if it is not running, its start-up push will."""
    from kamailio.rules_push import push_change  # lazy: only commands that change routing

    push_change(settings, store, users=users, dids=dids, tenant=tenant)


def cmd_frame_add(settings: Settings, args: argparse.Namespace) -> int:
    store = ProvisioningStore(settings.provisioning_db)
    tenant = store.tenant(args.tenant)
    owner = store.user(tenant.domain, args.ext) if args.ext else None
    tz = args.timezone or (owner.timezone if owner else tenant.timezone)
    frame = TimeFrame(args.name, tz, tuple(parse_period(p) for p in args.period))
    store.save_frame(tenant.domain, frame, owner.id if owner else None)
    print(f"time frame {args.name!r} saved ({len(frame.periods) or 'always'} periods, {tz})")
    # a personal frame moves its owner's decision; a tenant's frame anyone's
    if owner is None:
        push_now(settings, store, tenant=tenant.domain)
    else:
        push_now(settings, store, users=(owner,))
    return 0


def _rule_from_args(args: argparse.Namespace) -> AnsweringRule:
    def dest(value: str | None) -> Destination | None:
        return parse_destination(value) if value else None

    return AnsweringRule(
        name=args.name,
        priority=args.priority,
        frame=args.frame,
        ring_seconds=args.ring,
        simultaneous=tuple(args.sim or ()),
        forward_always=dest(args.forward_always),
        forward_busy=dest(args.forward_busy),
        forward_no_answer=dest(args.forward_no_answer),
        forward_offline=dest(args.forward_offline),
        dnd=args.dnd,
        block=tuple(args.block or ()),
        block_anonymous=args.block_anonymous,
        fallback=parse_destination(args.fallback),
    )


def cmd_rule_add(settings: Settings, args: argparse.Namespace) -> int:
    store = ProvisioningStore(settings.provisioning_db)
    user = store.user(args.tenant, args.ext)
    rule = store.save_rule(user, _rule_from_args(args))
    print(f"rule {rule.name!r} saved for {user.login} (priority {rule.priority})")
    push_now(settings, store, users=(user,))
    return 0


def cmd_did_allocate(settings: Settings, args: argparse.Namespace) -> int:
    """The operator gives a number to a tenant; its managers may then add it in the portal."""
    store = ProvisioningStore(settings.provisioning_db)
    store.allocate_did(args.tenant, args.number)
    print(f"number {args.number} allocated to {args.tenant}")
    return 0


def cmd_did_add(settings: Settings, args: argparse.Namespace) -> int:
    store = ProvisioningStore(settings.provisioning_db)
    did = store.add_did(args.tenant, args.number, args.name)
    print(f"main number {did.number} ({did.name}) added to {did.tenant_domain}")
    push_now(settings, store, dids=(did,))  # no route yet: the carrier hears 480, not 404
    return 0


def cmd_did_route(settings: Settings, args: argparse.Namespace) -> int:
    store = ProvisioningStore(settings.provisioning_db)
    did = store.did(args.number)
    rule = AnsweringRule(
        args.name, args.priority, args.frame, forward_always=parse_destination(args.to)
    )
    store.save_did_rule(did, rule)
    print(f"{did.number}: during {args.frame or 'any time'} → {rule.forward_always.describe()}")  # type: ignore[union-attr]
    push_now(settings, store, dids=(did,))
    return 0


def parse_instant(text: str | None, timezone: str) -> datetime:
    """An ISO time; without an offset it is read in ``timezone`` (the tenant's)."""
    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ProvisioningError(f"{text!r} is not a time (e.g. 2026-12-25T10:00)") from exc
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(timezone))


def cmd_route_explain(settings: Settings, args: argparse.Namespace) -> int:
    store = ProvisioningStore(settings.provisioning_db)
    user = store.user(args.tenant, args.to)
    at = parse_instant(args.at, store.tenant(args.tenant).timezone)
    explanation = explain_route(
        user,
        store.routing_inputs(user),
        args.caller,
        at,
        default_ring_seconds=settings.ring_timeout,
    )
    for i, step in enumerate(explanation.steps, 1):
        print(f"{i}. {step}")
    print(f"=> {explanation.outcome}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    frame = sub.add_parser("frame", help="time frames").add_subparsers(required=True)
    fa = frame.add_parser("add", help="add a time frame (tenant-wide, or a user's with --ext)")
    fa.add_argument("name")
    fa.add_argument("--tenant", required=True)
    fa.add_argument("--ext", help="a personal frame of this extension")
    fa.add_argument("--timezone", help="IANA zone; default: the user's, then the tenant's")
    fa.add_argument(
        "--period", action="append", default=[], help="mon-fri@09:00-17:00 | 2026-12-25 | "
        "2026-12-24..2026-12-26[@09:00-12:00]; repeat; none: always",
    )  # fmt: skip
    fa.set_defaults(fn=cmd_frame_add)  # cli.routing_edits adds list, edit and remove

    rule = sub.add_parser("rule", help="answering rules").add_subparsers(required=True)
    ra = rule.add_parser("add", help="add an answering rule to an extension")
    ra.add_argument("name")
    ra.add_argument("--tenant", required=True)
    ra.add_argument("--ext", required=True)
    ra.add_argument("--priority", type=int, required=True, help="lower wins")
    ra.add_argument("--frame", help="time frame name; none: always")
    ra.add_argument("--ring", type=int, default=25, help="seconds to ring the phones")
    ra.add_argument("--sim", action="append", help="also ring this extension/number")
    for name in ("always", "busy", "no-answer", "offline"):
        ra.add_argument(f"--forward-{name}", metavar="KIND:TARGET")
    ra.add_argument("--dnd", action="store_true")
    ra.add_argument("--block", action="append", help="number, or prefix ending in *")
    ra.add_argument("--block-anonymous", action="store_true")
    ra.add_argument("--fallback", default="voicemail", metavar="KIND:TARGET")
    ra.set_defaults(fn=cmd_rule_add)

    did = sub.add_parser("did", help="main numbers").add_subparsers(required=True)
    dal = did.add_parser("allocate", help="give a number to a tenant (its managers may add it)")
    dal.add_argument("number")
    dal.add_argument("--tenant", required=True)
    dal.set_defaults(fn=cmd_did_allocate)
    da = did.add_parser("add")
    da.add_argument("number")
    da.add_argument("--tenant", required=True)
    da.add_argument("--name", required=True)
    da.set_defaults(fn=cmd_did_add)
    dr = did.add_parser("route", help="where a main number's calls go during a time frame")
    dr.add_argument("number")
    dr.add_argument("name")
    dr.add_argument("--priority", type=int, required=True)
    dr.add_argument("--frame")
    dr.add_argument("--to", required=True, metavar="KIND:TARGET")
    dr.set_defaults(fn=cmd_did_route)

    route = sub.add_parser("route", help="the routing simulator").add_subparsers(required=True)
    re_ = route.add_parser("explain", help="where would this call go, and why")
    re_.add_argument("--tenant", required=True)
    re_.add_argument("--to", required=True, help="extension")
    re_.add_argument("--from", dest="caller", help="caller number; none: anonymous")
    re_.add_argument("--at", help="ISO time, in the tenant's zone unless it has an offset")
    re_.set_defaults(fn=cmd_route_explain)
