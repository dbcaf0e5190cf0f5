"""CLI for auto attendants, announcements and hold music (parity with the portal's page).

Text forms: a destination is ``kind:target`` (``extension:102``,
``attendant:3``, ``announcement:5``, ``voicemail:100``, ``number:+1555…``,
``repeat``, ``dial_by_extension``, ``hangup``); a key is ``--key 1=extension:102``
(repeat the option; ``--key 1=`` on edit removes key 1). Audio comes from a
file (MP3/WAV, converted now by ``media.audio_library``) or from text spoken now
with espeak-ng; nothing is made at call time.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import cast

from cli.arguments import add_and_edit, by_id
from cli.output import printable, row
from cli.routing import parse_instant, split_destination
from media.audio_library import AudioError, LibraryKind, save_speech, save_upload
from switchboard.attendants import (
    DESTINATION_KINDS,
    MENU_KEYS,
    TARGETED_KINDS,
    Announcement,
    Attendant,
    DestinationKind,
    MenuDestination,
    describe_destination,
    main_number_step,
    simulate_attendant,
)
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore


def _store(settings: Settings) -> ProvisioningStore:
    return ProvisioningStore(settings.provisioning_db)


def parse_menu_destination(text: str) -> MenuDestination:
    kind, target = split_destination(text, DESTINATION_KINDS, TARGETED_KINDS)
    return MenuDestination(cast(DestinationKind, kind), target if kind in TARGETED_KINDS else "")


def parse_keys(
    items: list[str], options: dict[str, MenuDestination] | None = None
) -> dict[str, MenuDestination]:
    """``1=extension:102`` items onto ``options``; ``1=`` removes key 1."""
    out = dict(options or {})
    for item in items:
        key, sep, dest = item.partition("=")
        if not sep or key not in MENU_KEYS:
            raise ProvisioningError(f"{item!r}: keys are KEY=KIND:TARGET with KEY one of 0-9 * #")
        if dest:
            out[key] = parse_menu_destination(dest)
        else:
            out.pop(key, None)
    return out


def _audio(
    settings: Settings, tenant: str, kind: LibraryKind, file: str | None, text: str | None
) -> str:
    """The library path of ``file`` converted, or of ``text`` spoken; "" when neither."""
    try:
        if file:
            path = Path(file)
            return save_upload(settings.data_dir, tenant, kind, path.read_bytes(), path.name)
        if text:
            return save_speech(settings.data_dir, tenant, kind, text)
    except (AudioError, OSError) as exc:
        raise ProvisioningError(str(exc)) from exc
    return ""


def _names(store: ProvisioningStore, tenant: str) -> dict[str, str]:
    names = {f"attendant:{a.id}": a.name for a in store.attendants(tenant)}
    return names | {f"announcement:{a.id}": a.name for a in store.announcements(tenant)}


def _print_attendant(store: ProvisioningStore, menu: Attendant) -> None:
    names = _names(store, menu.tenant)
    print(row(menu.id, menu.name))
    greeting = printable(menu.greeting_text or "(recording)")
    print(f"  greeting: {greeting}  [{printable(menu.greeting_file)}]")
    for key in MENU_KEYS:
        if key in menu.options:
            print(f"  {key}: {printable(describe_destination(menu.options[key], names))}")
    print(f"  wait {menu.timeout_seconds} s for a key; play again {menu.max_repeats} times")
    print(f"  no input: {printable(describe_destination(menu.no_input, names))}")
    print(f"  invalid key: {printable(describe_destination(menu.invalid, names))}")
    for problem in store.attendant_problems(menu):
        print(f"  PROBLEM {printable(problem)}")


def cmd_attendant_add(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    store.tenant(args.tenant)
    greeting = _audio(settings, args.tenant, "greeting", args.greeting_file, args.greeting_text)
    menu = store.save_attendant(
        Attendant(
            args.tenant, args.name, parse_keys(args.key or []),
            greeting_text=args.greeting_text or "", greeting_file=greeting,
            timeout_seconds=args.timeout, max_repeats=args.repeats,
            no_input=parse_menu_destination(args.no_input),
            invalid=parse_menu_destination(args.invalid),
        )
    )  # fmt: skip
    print(f"auto attendant {menu.id} {menu.name!r} added (route calls to auto_attendant:{menu.id})")
    return 0


def cmd_attendant_edit(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    menu = store.attendant(args.tenant, args.id)
    changes: dict[str, object] = {"options": parse_keys(args.key or [], menu.options)}
    if args.name:
        changes["name"] = args.name
    if args.greeting_file or args.greeting_text:
        changes["greeting_file"] = _audio(
            settings, args.tenant, "greeting", args.greeting_file, args.greeting_text
        )
        changes["greeting_text"] = args.greeting_text or ""
    for arg, name in (("timeout", "timeout_seconds"), ("repeats", "max_repeats")):
        if getattr(args, arg) is not None:
            changes[name] = getattr(args, arg)
    for arg in ("no_input", "invalid"):
        if getattr(args, arg):
            changes[arg] = parse_menu_destination(getattr(args, arg))
    saved = store.save_attendant(dataclasses.replace(menu, **changes))  # type: ignore[arg-type]
    print(f"auto attendant {saved.id} {saved.name!r} saved")
    return 0


def cmd_attendant_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    for menu in store.attendants(args.tenant):
        problems = store.attendant_problems(menu)
        flag = [f"{len(problems)} problem(s)"] if problems else []
        print(row(menu.id, menu.name, f"{len(menu.options)} keys", *flag))
    return 0


def cmd_attendant_show(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    _print_attendant(store, store.attendant(args.tenant, args.id))
    return 0


def cmd_attendant_remove(settings: Settings, args: argparse.Namespace) -> int:
    _store(settings).delete_attendant(args.tenant, args.id)
    print(f"auto attendant {args.id} removed")
    return 0


def _keys(text: str) -> list[str | None]:
    """``1,none,103``: keys one by one; ``none`` (or empty) waits past the timeout."""
    return [
        None if k.strip().lower() in ("", "none", "wait") else k.strip() for k in text.split(",")
    ]


def cmd_attendant_simulate(settings: Settings, args: argparse.Namespace) -> int:
    """Where a caller pressing ``--keys`` goes; with ``--did`` and ``--at`` from the main number."""
    store = _store(settings)
    tenant = args.tenant
    menus = {a.id: a for a in store.attendants(tenant) if a.id is not None}
    anns = {a.id: a for a in store.announcements(tenant) if a.id is not None}
    start = None
    if args.did:
        did = store.did(args.did)
        if did.tenant_domain != tenant:
            raise ProvisioningError(f"no main number {args.did}")
        inputs = store.did_routing_inputs(did)
        at = parse_instant(args.at, store.tenant(tenant).timezone)
        sentence, start = main_number_step(did.number, inputs.rules, inputs.frames, at)
        print(sentence)
        if start is None:
            return 0
    elif args.id is None:
        raise ProvisioningError("say which menu (an id) or which main number (--did)")
    steps = simulate_attendant(
        menus, args.id or 0, _keys(args.keys or ""), announcements=anns,
        extensions={u.extension for u in store.users(tenant)}, start=start,
    )  # fmt: skip
    print(" → ".join(steps))
    return 0


def cmd_announcement_add(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    store.tenant(args.tenant)
    audio = _audio(settings, args.tenant, "announcement", args.file, args.text)
    then = parse_menu_destination(args.then) if args.then else None
    ann = store.save_announcement(
        Announcement(args.tenant, args.name, args.text or "", audio, then)
    )
    print(f"announcement {ann.id} {ann.name!r} added (route calls to announcement:{ann.id})")
    return 0


def cmd_announcement_list(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    names = _names(store, args.tenant)
    for ann in store.announcements(args.tenant):
        print(row(ann.id, ann.name, f"then {describe_destination(ann.then, names)}"))
    return 0


def cmd_announcement_remove(settings: Settings, args: argparse.Namespace) -> int:
    _store(settings).delete_announcement(args.tenant, args.id)
    print(f"announcement {args.id} removed")
    return 0


def cmd_holdmusic_add(settings: Settings, args: argparse.Namespace) -> int:
    store = _store(settings)
    store.tenant(args.tenant)
    audio = _audio(settings, args.tenant, "hold", args.file, None)
    track = store.add_hold_music(args.tenant, args.name, audio, default=args.default)
    print(f"hold music {track.id} {track.name!r} added{' (default)' if track.is_default else ''}")
    return 0


def cmd_holdmusic_list(settings: Settings, args: argparse.Namespace) -> int:
    for track in _store(settings).hold_music(args.tenant):
        print(row(track.id, track.name, *(["default"] if track.is_default else [])))
    return 0


def cmd_holdmusic_default(settings: Settings, args: argparse.Namespace) -> int:
    track = _store(settings).set_default_hold_music(args.tenant, args.id)
    print(f"hold music {track.id} {track.name!r} is the default")
    return 0


def cmd_holdmusic_remove(settings: Settings, args: argparse.Namespace) -> int:
    track = _store(settings).delete_hold_music(args.tenant, args.id)
    print(f"hold music {track.id} {track.name!r} removed")
    return 0


def _menu_arguments(p: argparse.ArgumentParser, new: bool) -> None:
    p.add_argument("--tenant", required=True)
    p.add_argument("--greeting-text", help="spoken with espeak-ng now")
    p.add_argument("--greeting-file", help="an MP3 or WAV, converted now")
    p.add_argument("--key", action="append", metavar="KEY=KIND:TARGET")
    p.add_argument("--timeout", type=int, default=5 if new else None, help="seconds for a key")
    p.add_argument("--repeats", type=int, default=2 if new else None, help="replays first")
    p.add_argument("--no-input", default="hangup" if new else None, metavar="KIND:TARGET")
    p.add_argument("--invalid", default="hangup" if new else None, metavar="KIND:TARGET")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    att = sub.add_parser("attendant", help="auto attendants (menus)").add_subparsers(required=True)
    add_and_edit(att, "a menu", _menu_arguments, cmd_attendant_add, cmd_attendant_edit)
    al = att.add_parser("list")
    al.add_argument("--tenant", required=True)
    al.set_defaults(fn=cmd_attendant_list)
    by_id(att, (("show", cmd_attendant_show), ("remove", cmd_attendant_remove)))
    sim = att.add_parser("simulate", help="where a caller pressing keys goes")
    sim.add_argument("id", type=int, nargs="?")
    sim.add_argument("--tenant", required=True)
    sim.add_argument("--keys", help="e.g. 1 or none,2 or 9,103 (none: waits)")
    sim.add_argument("--did", help="start at this main number (its route at --at)")
    sim.add_argument("--at", help="ISO time, the tenant's zone unless given")
    sim.set_defaults(fn=cmd_attendant_simulate)

    ann = sub.add_parser("announcement", help="announcements").add_subparsers(required=True)
    na = ann.add_parser("add", help="add an announcement")
    na.add_argument("name")
    na.add_argument("--tenant", required=True)
    na.add_argument("--text", help="spoken with espeak-ng now")
    na.add_argument("--file", help="an MP3 or WAV, converted now")
    na.add_argument("--then", metavar="KIND:TARGET", help="afterwards (default: hang up)")
    na.set_defaults(fn=cmd_announcement_add)
    nl = ann.add_parser("list")
    nl.add_argument("--tenant", required=True)
    nl.set_defaults(fn=cmd_announcement_list)
    by_id(ann, (("remove", cmd_announcement_remove),))

    hold = sub.add_parser("holdmusic", help="hold-music library").add_subparsers(required=True)
    ha = hold.add_parser("add", help="upload a track (MP3/WAV)")
    ha.add_argument("name")
    ha.add_argument("--tenant", required=True)
    ha.add_argument("--file", required=True)
    ha.add_argument("--default", action="store_true")
    ha.set_defaults(fn=cmd_holdmusic_add)
    hl = hold.add_parser("list")
    hl.add_argument("--tenant", required=True)
    hl.set_defaults(fn=cmd_holdmusic_list)
    by_id(hold, (("default", cmd_holdmusic_default), ("remove", cmd_holdmusic_remove)))
