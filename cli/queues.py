"""CLI for call queues and agents (parity with the portal's Queues page and agent bar).

``queue add/list/show/edit/remove``, ``queue member add/remove`` and
``agent login/logout/pause/unpause``. Destinations are ``kind:target`` as for
the menus (``voicemail:100``, ``queue:2``, ``extension:102``…); members are
``--member EXT[:PRIORITY]`` (repeat). Agent changes go to the store; the
media server notices them within a second and writes the agent events.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from cli.arguments import add_and_edit, by_id
from cli.attendants import parse_menu_destination
from cli.output import printable, row
from cli.recording_flags import add_recording_argument, apply_recording_flag
from cli.routing import push_now
from switchboard.attendants import describe_destination
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.queues import PAUSE_REASONS, STRATEGIES, CallQueue, QueueMember

# option -> CallQueue field, for the plain integer settings
_NUMBERS = {
    "ring": "ring_seconds",
    "wrapup": "wrapup_seconds",
    "max_wait": "max_wait_seconds",
    "max_callers": "max_callers",
    "announce": "announce_seconds",
    "sl": "service_level_seconds",
    "short_abandon": "short_abandon_seconds",
    "hold_music": "hold_music_id",
}


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def parse_member(text: str) -> QueueMember:
    ext, _, prio = text.partition(":")
    if prio and not prio.isdigit():
        raise ProvisioningError(f"{text!r}: members are EXT or EXT:PRIORITY (e.g. 101:2)")
    return QueueMember(ext, int(prio or 1))


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (None: not given)."""
    out: dict[str, Any] = {
        field: getattr(args, opt)
        for opt, field in _NUMBERS.items()
        if getattr(args, opt) is not None
    }
    for opt in ("name", "strategy"):
        if getattr(args, opt, None) is not None:
            out[opt] = getattr(args, opt)
    if args.extension is not None:
        out["extension"] = args.extension or None
    if args.overflow is not None:
        out["overflow"] = parse_menu_destination(args.overflow) if args.overflow else None
    if args.exit_key is not None:
        out["exit_key"] = args.exit_key or None
    if args.exit is not None:
        out["exit_destination"] = parse_menu_destination(args.exit) if args.exit else None
    if args.join_empty is not None:
        out["join_empty"] = args.join_empty
    if args.pause_on_no_answer is not None:
        out["pause_on_no_answer"] = args.pause_on_no_answer
    if args.member:
        out["members"] = tuple(parse_member(m) for m in args.member)
    return out


def describe_queue(queue: CallQueue, names: dict[str, str] | None = None) -> list[str]:
    """The lines ``queue show`` prints."""
    members = ", ".join(
        f"{m.extension} (priority {m.priority}, {'logged in' if m.logged_in else 'logged out'})"
        for m in queue.members
    )
    exit_key = (
        f"{queue.exit_key} → {describe_destination(queue.exit_destination, names or {})}"
        if queue.exit_key
        else "none"
    )
    return [
        f"queue {queue.id} {queue.name!r}"
        + (f", extension {queue.extension}" if queue.extension else ""),
        f"strategy: {queue.strategy}, ring {queue.ring_seconds} s per agent, "
        f"wrap-up {queue.wrapup_seconds} s",
        f"max wait {queue.max_wait_seconds} s, max callers {queue.max_callers}, "
        f"overflow → {describe_destination(queue.overflow, names or {})}",
        f"no agent logged in: {'callers join' if queue.join_empty else 'overflow at once'}",
        f"announcements every {queue.announce_seconds} s" if queue.announce_seconds
        else "announcements: off",
        f"exit key: {exit_key}",
        f"service level within {queue.service_level_seconds} s, short abandons under "
        f"{queue.short_abandon_seconds} s",
        f"pause an agent who does not answer: {'yes' if queue.pause_on_no_answer else 'no'}",
        f"members: {members or 'none'}",
    ]  # fmt: skip


def cmd_queue_add(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    queue = store.save_queue(dataclasses.replace(CallQueue(args.tenant, ""), **_changes(args)))
    push_now(settings, store, tenant=args.tenant)  # its extension rings it from now on
    print(f"queue {queue.id} {queue.name!r} added (route calls to queue:{queue.id})")
    return 0


def cmd_queue_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    queue = store.save_queue(
        dataclasses.replace(store.queue(args.tenant, args.id), **_changes(args))
    )
    push_now(settings, store, tenant=args.tenant)  # a new extension, or none any more
    print(f"queue {queue.id} {queue.name!r} saved")
    apply_recording_flag(settings, store, args, args.tenant, "queue", queue.id)
    return 0


def cmd_queue_list(settings: Settings, args: argparse.Namespace) -> int:
    queues = _store(settings).queues(args.tenant)
    if args.json:
        print(json.dumps([_as_json(q) for q in queues], indent=2))
        return 0
    for q in queues:
        logged = sum(m.logged_in for m in q.members)
        print(row(q.id, q.name, q.extension or "-", q.strategy,
                  f"{logged}/{len(q.members)} agents logged in"))  # fmt: skip
    return 0


def _as_json(queue: CallQueue) -> dict[str, Any]:
    data = dataclasses.asdict(queue)
    data["members"] = [dataclasses.asdict(m) for m in queue.members]
    return data


def cmd_queue_show(settings: Settings, args: argparse.Namespace) -> int:
    for line in describe_queue(_store(settings).queue(args.tenant, args.id)):
        print(printable(line))
    return 0


def cmd_queue_remove(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    store.delete_queue(args.tenant, args.id)
    push_now(settings, store, tenant=args.tenant)  # its extension routes nowhere now
    print(f"queue {args.id} removed")
    return 0


def cmd_member_add(settings: Settings, args: argparse.Namespace) -> int:
    q = _store(settings).add_queue_member(args.tenant, args.id, args.ext, args.priority)
    print(f"{args.ext} is a member of queue {q.id} {q.name!r} (priority {args.priority})")
    return 0


def cmd_member_remove(settings: Settings, args: argparse.Namespace) -> int:
    q = _store(settings).remove_queue_member(args.tenant, args.id, args.ext)
    print(f"{args.ext} is no longer a member of queue {q.id} {q.name!r}")
    return 0


def cmd_agent_login(settings: Settings, args: argparse.Namespace) -> int:
    on = args.action == "login"
    changed = _store(settings).set_agent_login(args.tenant, args.ext, on, args.queue)
    state = "logged in to" if on else "logged out of"
    print(f"{args.ext} {state} {len(changed)} queue(s)" + ("" if changed else " (no change)"))
    return 0


def cmd_agent_pause(settings: Settings, args: argparse.Namespace) -> int:
    reason = args.reason if args.action == "pause" else None
    changed = _store(settings).set_agent_pause(args.tenant, args.ext, reason)
    what = f"paused ({reason})" if reason else "available"
    print(f"{args.ext} is {what}" + ("" if changed else " (no change)"))
    return 0


def _queue_arguments(p: argparse.ArgumentParser, new: bool) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("--extension", help="callable internally ('' removes it)")
    p.add_argument("--strategy", choices=STRATEGIES)
    p.add_argument("--ring", type=int, help="seconds per agent attempt")
    p.add_argument("--wrapup", type=int, help="seconds after each call")
    p.add_argument("--max-wait", type=int, help="seconds before overflow")
    p.add_argument("--max-callers", type=int)
    p.add_argument("--overflow", metavar="KIND:TARGET", help="('' : goodbye)")
    join = p.add_mutually_exclusive_group()
    join.add_argument("--join-empty", dest="join_empty", action="store_true", default=None,
                      help="callers join with no agent logged in")  # fmt: skip
    join.add_argument("--no-join-empty", dest="join_empty", action="store_false",
                      help="overflow at once with no agent logged in")  # fmt: skip
    p.add_argument("--hold-music", type=int, metavar="TRACK_ID")
    p.add_argument("--announce", type=int, help="position/wait every N s (0: off)")
    p.add_argument("--exit-key", help="a key that leaves the queue ('' : none)")
    p.add_argument("--exit", metavar="KIND:TARGET", help="where the exit key sends callers")
    p.add_argument("--sl", type=int, help="service-level threshold T (seconds)")
    p.add_argument("--short-abandon", type=int, help="abandons under this are short (seconds)")
    pause = p.add_mutually_exclusive_group()
    pause.add_argument("--pause-on-no-answer", dest="pause_on_no_answer", action="store_true",
                       default=None)  # fmt: skip
    pause.add_argument("--no-pause-on-no-answer", dest="pause_on_no_answer", action="store_false")
    p.add_argument("--member", action="append", metavar="EXT[:PRIORITY]",
                   help="repeat; replaces the member list" if not new else "repeat")  # fmt: skip


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queue = sub.add_parser("queue", help="call queues").add_subparsers(required=True)
    _, edit = add_and_edit(queue, "a queue", _queue_arguments, cmd_queue_add, cmd_queue_edit)
    add_recording_argument(edit, "queue's calls")
    ql = queue.add_parser("list")
    ql.add_argument("--tenant", required=True)
    ql.add_argument("--json", action="store_true")
    ql.set_defaults(fn=cmd_queue_list)
    by_id(queue, (("show", cmd_queue_show), ("remove", cmd_queue_remove)))
    member = queue.add_parser("member", help="queue members").add_subparsers(required=True)
    for name, fn in (("add", cmd_member_add), ("remove", cmd_member_remove)):
        p = member.add_parser(name)
        p.add_argument("id", type=int, help="queue id")
        p.add_argument("ext")
        p.add_argument("--tenant", required=True)
        if name == "add":
            p.add_argument("--priority", type=int, default=1)
        p.set_defaults(fn=fn)

    agent = sub.add_parser("agent", help="queue agents").add_subparsers(required=True)
    for name in ("login", "logout"):
        p = agent.add_parser(name, help=f"{name} (all the agent's queues unless --queue)")
        p.add_argument("ext")
        p.add_argument("--tenant", required=True)
        p.add_argument("--queue", type=int)
        p.set_defaults(fn=cmd_agent_login, action=name)
    pa = agent.add_parser("pause", help="pause in every queue")
    pa.add_argument("ext")
    pa.add_argument("--tenant", required=True)
    pa.add_argument("--reason", default=PAUSE_REASONS[0], help=f"e.g. {', '.join(PAUSE_REASONS)}")
    pa.set_defaults(fn=cmd_agent_pause, action="pause")
    pu = agent.add_parser("unpause")
    pu.add_argument("ext")
    pu.add_argument("--tenant", required=True)
    pu.set_defaults(fn=cmd_agent_pause, action="unpause")
