"""CLI parity for routing: ``rule`` and ``frame`` list/edit/remove, ``did list/remove``.

``cli.routing`` creates the ``rule``, ``frame`` and ``did`` commands with
their ``add``; this module adds the rest to the same commands. An edit changes
only the options given; every change is pushed to Kamailio at once, as in the
portal.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from typing import Any

from cli.output import print_json, row
from cli.routing import parse_destination, parse_period, push_now
from switchboard.rules import AnsweringRule
from switchboard.rules_codec import periods_to_json
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.timeframes import TimeFrame

_FORWARDS = ("always", "busy", "no-answer", "offline")


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    """The sub-command table of ``parser`` (e.g. the one ``rule`` got in cli.routing)."""
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


# -- rules -----------------------------------------------------------------------------------
def _find_rule(store: ProvisioningStore, args: argparse.Namespace) -> tuple[Any, AnsweringRule]:
    user = store.user(args.tenant, args.ext)
    rule = next((r for r in store.routing_inputs(user).rules if r.name == args.name), None)
    if rule is None:
        raise ProvisioningError(f"{user.login} has no rule named {args.name!r}")
    return user, rule


def cmd_rule_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    user = store.user(args.tenant, args.ext)
    rules = store.routing_inputs(user).rules
    if args.json:
        print_json([asdict(r) for r in rules])
        return 0
    for r in rules:
        state = [] if r.enabled else ["disabled"]
        print(row(r.priority, r.name, r.frame or "always", *state))
    return 0


def cmd_rule_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    user, rule = _find_rule(store, args)
    changes: dict[str, Any] = {}
    if args.rename:
        changes["name"] = args.rename
    if args.priority is not None:
        changes["priority"] = args.priority
    if args.always:
        changes["frame"] = None
    elif args.frame:
        changes["frame"] = args.frame
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    if args.ring is not None:
        changes["ring_seconds"] = args.ring
    if args.dnd is not None:
        changes["dnd"] = args.dnd
    if args.sim is not None:
        changes["simultaneous"] = tuple(s for s in args.sim if s)
    for name in _FORWARDS:
        value = getattr(args, f"forward_{name.replace('-', '_')}")
        if value is not None:
            dest = None if value in ("", "off") else parse_destination(value)
            changes[f"forward_{name.replace('-', '_')}"] = dest
    if args.fallback:
        changes["fallback"] = parse_destination(args.fallback)
    saved = store.save_rule(user, replace(rule, **changes))
    print(f"rule {saved.name!r} of {user.login} saved (priority {saved.priority})")
    push_now(settings, store, users=(user,))
    return 0


def cmd_rule_remove(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    user, rule = _find_rule(store, args)
    store.delete_rule(user, rule.id or 0)
    print(f"rule {rule.name!r} of {user.login} removed")
    push_now(settings, store, users=(user,))
    return 0


# -- time frames -------------------------------------------------------------------------------
def _find_frame(store: ProvisioningStore, args: argparse.Namespace) -> tuple[Any, TimeFrame]:
    """The company frame ``args.name``, or with ``--ext`` that extension's personal one."""
    owner = store.user(args.tenant, args.ext) if args.ext else None
    company = store.frames(args.tenant)
    if owner is None:
        frames = company
    else:
        mine = store.frames(args.tenant, owner.id)
        frames = {n: f for n, f in mine.items() if n not in company}
    frame = frames.get(args.name)
    if frame is None:
        whose = f"{owner.login} has no personal" if owner else f"{args.tenant} has no company"
        raise ProvisioningError(f"{whose} time frame named {args.name!r}")
    return owner, frame


def _push_frame_change(
    settings: Settings, store: ProvisioningStore, owner: Any, tenant: str
) -> None:
    # a personal frame moves its owner's decision; a company frame anyone's
    if owner is None:
        push_now(settings, store, tenant=tenant)
    else:
        push_now(settings, store, users=(owner,))


def cmd_frame_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    owner = store.user(args.tenant, args.ext) if args.ext else None
    frames = store.frames(args.tenant, owner.id if owner else None)
    if args.json:
        print_json(
            [
                {"id": f.id, "name": f.name, "timezone": f.timezone,
                 "periods": json.loads(periods_to_json(f.periods))}
                for f in frames.values()
            ]
        )  # fmt: skip
        return 0
    for name, frame in frames.items():
        print(row(name, frame.timezone, len(frame.periods) or "always"))
    return 0


def cmd_frame_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    owner, frame = _find_frame(store, args)
    periods = frame.periods
    if args.always:
        periods = ()
    elif args.period:
        periods = tuple(parse_period(p) for p in args.period)
    edited = replace(
        frame, name=args.rename or frame.name, timezone=args.timezone or frame.timezone,
        periods=periods,
    )  # fmt: skip
    store.save_frame(args.tenant, edited, owner.id if owner else None)
    print(f"time frame {edited.name!r} saved ({len(periods) or 'always'} periods)")
    _push_frame_change(settings, store, owner, args.tenant)
    return 0


def cmd_frame_remove(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    owner, frame = _find_frame(store, args)
    store.delete_frame(args.tenant, frame.id or 0)
    print(f"time frame {frame.name!r} removed")
    _push_frame_change(settings, store, owner, args.tenant)
    return 0


# -- main numbers --------------------------------------------------------------------------------
def cmd_did_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    dids = store.dids(args.tenant)
    if args.json:
        print_json(
            [
                {**asdict(d), "routes": [asdict(r) for r in store.did_routing_inputs(d).rules]}
                for d in dids
            ]
        )
        return 0
    for d in dids:
        routes = len(store.did_routing_inputs(d).rules)
        print(row(d.number, d.name, f"{routes} routes"))
    return 0


def cmd_did_remove(settings: Settings, args: argparse.Namespace) -> int:
    from kamailio.user_state import forget_main_number

    store = _store(settings)
    did = store.remove_did(args.tenant, args.number)
    forget_main_number(settings, did.number)
    # Users who showed this number as their caller ID are back on their extension's.
    push_now(settings, store, tenant=args.tenant)
    print(f"main number {did.number} ({did.name}) removed; still allocated to {args.tenant}")
    return 0


def _bool_flag(p: argparse.ArgumentParser, name: str, dest: str, help: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(f"--{name}", dest=dest, action="store_const", const=True, help=help)
    group.add_argument(f"--no-{name}", dest=dest, action="store_const", const=False)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add list/edit/remove to the ``rule``, ``frame`` and ``did`` commands of cli.routing."""
    rule = _subcommands(sub.choices["rule"])
    rl = rule.add_parser("list", help="an extension's rules in the order they are tried")
    rl.add_argument("--tenant", required=True)
    rl.add_argument("--ext", required=True)
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(fn=cmd_rule_list)
    re_ = rule.add_parser("edit", help="change the options given; the rest stays")
    re_.add_argument("name")
    re_.add_argument("--tenant", required=True)
    re_.add_argument("--ext", required=True)
    re_.add_argument("--rename")
    re_.add_argument("--priority", type=int)
    re_.add_argument("--frame")
    re_.add_argument("--always", action="store_true", help="no time frame")
    _bool_flag(re_, "enabled", "enabled", "try this rule (--no-enabled: skip it)")
    re_.add_argument("--ring", type=int)
    _bool_flag(re_, "dnd", "dnd", "do not disturb")
    re_.add_argument("--sim", action="append", help="replaces the list; '' for none")
    for name in _FORWARDS:
        re_.add_argument(f"--forward-{name}", metavar="KIND:TARGET", help="'off' to clear")
    re_.add_argument("--fallback", metavar="KIND:TARGET")
    re_.set_defaults(fn=cmd_rule_edit)
    rr = rule.add_parser("remove")
    rr.add_argument("name")
    rr.add_argument("--tenant", required=True)
    rr.add_argument("--ext", required=True)
    rr.set_defaults(fn=cmd_rule_remove)

    frame = _subcommands(sub.choices["frame"])
    fl = frame.add_parser("list")
    fl.add_argument("--tenant", required=True)
    fl.add_argument("--ext", help="also this extension's personal frames")
    fl.add_argument("--json", action="store_true")
    fl.set_defaults(fn=cmd_frame_list)
    fe = frame.add_parser("edit", help="rename, move to another zone, or replace the periods")
    fe.add_argument("name")
    fe.add_argument("--tenant", required=True)
    fe.add_argument("--ext", help="a personal frame of this extension")
    fe.add_argument("--rename")
    fe.add_argument("--timezone")
    fe.add_argument("--period", action="append", default=[], help="replaces every period")
    fe.add_argument("--always", action="store_true", help="no periods: always")
    fe.set_defaults(fn=cmd_frame_edit)
    fr = frame.add_parser("remove", help="refused while a rule or route uses it")
    fr.add_argument("name")
    fr.add_argument("--tenant", required=True)
    fr.add_argument("--ext", help="a personal frame of this extension")
    fr.set_defaults(fn=cmd_frame_remove)

    did = _subcommands(sub.choices["did"])
    dl = did.add_parser("list", help="a tenant's main numbers and their routes")
    dl.add_argument("--tenant", required=True)
    dl.add_argument("--json", action="store_true")
    dl.set_defaults(fn=cmd_did_list)
    dx = did.add_parser("remove", help="remove a main number and its routes")
    dx.add_argument("number")
    dx.add_argument("--tenant", required=True)
    dx.set_defaults(fn=cmd_did_remove)
