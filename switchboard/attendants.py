"""Auto attendants, announcements and hold music as data: the contract between their owners.

The provisioning store keeps these objects (section ``switchboard.store.attendants``);
the portal and the CLI edit them; the media server plays them
(``media/attendant.py``); the simulator (``simulate_attendant``) tells what a
caller pressing keys would reach. All of them use the types below, so a menu
means the same thing everywhere.

A menu option, a no-input and an invalid-key outcome are each a ``MenuDestination``:

================== ============================ ===========================================
kind               target                       what the caller gets
================== ============================ ===========================================
extension          an extension ("102")         a new leg placed through Kamailio to that
                                                extension (its answering rules apply),
                                                bridged to the caller
attendant          another attendant's id       that menu
queue              a queue id                   the queue (issue 12; refused until queues
                                                exist)
voicemail          an extension                 that extension's mailbox (leave a message)
announcement       an announcement's id         its recording, then its ``then``
                                                destination (or hang up)
number             an outside number (E.164)    a new leg through Kamailio to the carrier
repeat             ""                           the same menu again
dial_by_extension  ""                           the caller types an extension and # (or
                                                waits); then as ``extension``
hangup             ""                           the call ends
================== ============================ ===========================================

Request-URI users on the media server (Kamailio builds them, ``route DESTINATION``):
``aa-<tenant>-<attendant id>`` and ``ann-<tenant>-<announcement id>``; the last ``-``
ends the tenant, as for ``vm-`` (``switchboard.routing.voicemail_target``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from switchboard.identifiers import TENANT_RE
from switchboard.rules import AnsweringRule, active_rule_at, readable
from switchboard.timeframes import TimeFrame

DestinationKind = Literal[
    "extension",
    "attendant",
    "queue",
    "voicemail",
    "announcement",
    "number",
    "repeat",
    "dial_by_extension",
    "hangup",
]
DESTINATION_KINDS: tuple[DestinationKind, ...] = get_args(DestinationKind)
# Kinds whose target names something that must exist when the menu is saved.
TARGETED_KINDS: frozenset[str] = frozenset(
    {"extension", "attendant", "queue", "voicemail", "announcement", "number"}
)
MENU_KEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")

ATTENDANT_PREFIX = "aa-"
ANNOUNCEMENT_PREFIX = "ann-"


@dataclass(frozen=True)
class MenuDestination:
    """Where a key (or no input, or an invalid key) sends the caller."""

    kind: DestinationKind
    target: str = ""


@dataclass(frozen=True)
class Attendant:
    """One menu: a greeting, what each key does, and what happens without a valid key.

    ``greeting_file`` is a path relative to the data dir of an 8 kHz mono WAV
    made at save time (uploaded audio converted, or ``greeting_text`` spoken by
    espeak-ng); it is never made at call time.
    """

    tenant: str
    name: str
    options: dict[str, MenuDestination] = field(default_factory=dict)
    greeting_text: str = ""
    greeting_file: str = ""
    # Seconds to wait for a key after the greeting ends.
    timeout_seconds: int = 5
    # Times the menu is played again on no input / an invalid key before the outcome below.
    max_repeats: int = 2
    no_input: MenuDestination = MenuDestination("hangup")
    invalid: MenuDestination = MenuDestination("hangup")
    id: int | None = None


@dataclass(frozen=True)
class Announcement:
    """A recording played to the caller, then ``then`` (None: hang up)."""

    tenant: str
    name: str
    text: str = ""
    audio_file: str = ""
    then: MenuDestination | None = None
    id: int | None = None


@dataclass(frozen=True)
class HoldMusic:
    """One track of a tenant's hold-music library (8 kHz mono WAV, loudness-normalised)."""

    tenant: str
    name: str
    audio_file: str
    is_default: bool = False
    id: int | None = None


def media_target(prefix: str, tenant: str, object_id: int) -> str:
    """``aa-<tenant>-<id>`` / ``ann-<tenant>-<id>``: the media server's Request-URI user."""
    if not TENANT_RE.match(tenant) or object_id < 1:
        raise ValueError(f"no media target for {object_id!r}@{tenant!r}")
    return f"{prefix}{tenant}-{object_id}"


def parse_media_target(prefix: str, user: str) -> tuple[str, int] | None:
    """(tenant, id) of a ``<prefix><tenant>-<id>`` user; None when it is not one."""
    if not user.startswith(prefix):
        return None
    tenant, sep, raw_id = user[len(prefix) :].rpartition("-")
    if not sep or not TENANT_RE.match(tenant) or not raw_id.isdigit():
        return None
    return tenant, int(raw_id)


class AttendantError(ValueError):
    """A menu, announcement or walk that cannot be; the message is for the user."""


# --- destinations as JSON (the store's columns) and as words (portal, CLI, simulator) ---------


def destination_to_dict(dest: MenuDestination) -> dict[str, str]:
    return {"kind": dest.kind, "target": dest.target}


def destination_from_dict(data: Mapping[str, Any]) -> MenuDestination:
    kind = str(data.get("kind", ""))
    if kind not in DESTINATION_KINDS:
        raise AttendantError(f"unknown menu destination {kind!r}")
    valid: DestinationKind = kind  # type: ignore[assignment]
    return MenuDestination(valid, str(data.get("target", "")))


def options_to_json(options: Mapping[str, MenuDestination]) -> str:
    return json.dumps({k: destination_to_dict(d) for k, d in options.items()})


def options_from_json(text: str) -> dict[str, MenuDestination]:
    data = json.loads(text or "{}")
    return {k: destination_from_dict(data[k]) for k in MENU_KEYS if k in data}


NOUNS: dict[str, str] = {
    "extension": "extension",
    "attendant": "menu",
    "queue": "queue",
    "voicemail": "voicemail of",
    "announcement": "announcement",
    "number": "number",
    "repeat": "play the menu again",
    "dial_by_extension": "dial by extension",
    "hangup": "hang up",
}


def describe_destination(
    dest: MenuDestination | None, names: Mapping[str, str] | None = None
) -> str:
    """``extension 102``, ``menu "Sales"``, ``hang up``: what a person reads.

    ``names`` maps ``attendant:<id>`` / ``announcement:<id>`` to the object's name.
    """
    if dest is None:
        return "hang up"
    noun = NOUNS[dest.kind]
    if dest.kind not in TARGETED_KINDS:
        return noun
    name = (names or {}).get(f"{dest.kind}:{dest.target}")
    return f'{noun} "{name}"' if name else f"{noun} {dest.target}"


# --- menu walks: one rule for the media server and the simulator -----------------------------

MenuEvent = Literal["menu_key", "menu_timeout", "menu_invalid"]
# A walk that passes through more menus/announcements than this ends (a loop
# that slipped past save-time checks, e.g. made by two concurrent edits).
MAX_HOPS = 20


@dataclass
class MenuCounts:
    """No-input and invalid keys so far in the current menu (reset on entering another)."""

    timeouts: int = 0
    invalid: int = 0


def menu_choice(
    menu: Attendant, key: str | None, counts: MenuCounts
) -> tuple[MenuEvent, MenuDestination | None]:
    """What one key (None: no key before the timeout) does in ``menu``.

    Returns the step to record and where the caller goes; None means "play the
    menu again". No input and an invalid key are counted apart: the menu is
    played again ``max_repeats`` times for each, then ``no_input`` / ``invalid``.
    """
    if key is None or key == "":
        counts.timeouts += 1
        return "menu_timeout", (menu.no_input if counts.timeouts > menu.max_repeats else None)
    dest = menu.options.get(key)
    if dest is None:
        return "menu_invalid", invalid_choice(menu, counts)
    return "menu_key", (None if dest.kind == "repeat" else dest)


def invalid_choice(menu: Attendant, counts: MenuCounts) -> MenuDestination | None:
    """Count one invalid choice (a key, or an extension dialled that does not exist)."""
    counts.invalid += 1
    return menu.invalid if counts.invalid > menu.max_repeats else None


def menu_loop(
    attendants: Mapping[int, Attendant], announcements: Mapping[int, Announcement]
) -> list[str] | None:
    """Names along a cycle of menus/announcements (A → B → A), or None when there is none.

    Edges: a menu's options, no-input and invalid outcomes that name another
    menu or an announcement, and an announcement's ``then``. ``repeat`` is the
    way to play a menu again, so a menu naming itself is a loop too.
    """

    def node_name(node: str) -> str:
        kind, _, raw = node.partition(":")
        obj = (attendants if kind == "attendant" else announcements).get(int(raw))
        return obj.name if obj is not None else node

    def edges(node: str) -> list[str]:
        kind, _, raw = node.partition(":")
        if kind == "attendant":
            menu = attendants.get(int(raw))
            if menu is None:
                return []
            dests = [*menu.options.values(), menu.no_input, menu.invalid]
        else:
            ann = announcements.get(int(raw))
            dests = [ann.then] if ann is not None and ann.then is not None else []
        return [
            f"{d.kind}:{d.target}"
            for d in dests
            if d.kind in ("attendant", "announcement") and d.target.isdigit()
        ]

    nodes = [f"attendant:{i}" for i in attendants] + [f"announcement:{i}" for i in announcements]
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in edges(node):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
                return [node_name(n) for n in cycle]
            if state.get(nxt) is None:
                found = visit(nxt, [*path, nxt])
                if found is not None:
                    return found
        state[node] = 2
        return None

    for node in sorted(nodes):
        if state.get(node) is None:
            found = visit(node, [node])
            if found is not None:
                return found
    return None


def simulate_attendant(
    menus: Mapping[int, Attendant],
    start_id: int,
    keys: Sequence[str | None],
    *,
    announcements: Mapping[int, Announcement] | None = None,
    extensions: Collection[str] | None = None,
    start: MenuDestination | None = None,
) -> list[str]:
    """What a caller pressing ``keys`` reaches, step by step, in words.

    Each entry of ``keys`` is one key (None: the caller waits past the
    timeout); after a dial-by-extension choice the next entry is the whole
    extension typed (``"103"``). Counting is ``menu_choice``'s, the media
    server's own. The steps read joined with " → ": ``Sales menu → 1 →
    extension 102``. A walk that runs out of keys ends "waiting for a key".
    ``start`` begins elsewhere than menu ``start_id`` (an announcement).
    """
    announcements = announcements or {}
    names = {f"attendant:{i}": m.name for i, m in menus.items()}
    names |= {f"announcement:{i}": a.name for i, a in announcements.items()}
    pending = list(keys)
    steps: list[str] = []
    dest: MenuDestination | None = start or MenuDestination("attendant", str(start_id))
    menu: Attendant | None = None
    counts = MenuCounts()
    for _ in range(MAX_HOPS * 4):
        if dest is None:  # play the current menu again
            assert menu is not None
            steps.append(f"{menu.name} again")
        elif dest.kind == "attendant":
            menu = menus.get(int(dest.target)) if dest.target.isdigit() else None
            if menu is None:
                steps.append(f"menu {dest.target} no longer exists: the call ends")
                return steps
            counts = MenuCounts()
            steps.append(menu.name)
        elif dest.kind == "announcement":
            ann = announcements.get(int(dest.target)) if dest.target.isdigit() else None
            if ann is None:
                steps.append(f"announcement {dest.target} no longer exists: the call ends")
                return steps
            steps.append(f'announcement "{ann.name}"')
            if ann.then is None:
                steps.append("hang up")
                return steps
            dest = ann.then
            continue
        elif dest.kind == "dial_by_extension":
            if not pending:
                steps.append("dial by extension: waiting for digits")
                return steps
            typed = pending.pop(0) or ""
            steps.append(f"dials {typed or 'nothing'}")
            if extensions is not None and typed not in extensions:
                assert menu is not None
                dest = invalid_choice(menu, counts)
                steps.append(f"no extension {typed or '(none)'}: invalid ({counts.invalid})")
                continue
            steps.append(f"extension {typed}")
            return steps
        else:
            steps.append(describe_destination(dest, names))
            return steps
        assert menu is not None
        if not pending:
            steps.append("waiting for a key")
            return steps
        key = pending.pop(0)
        event, dest = menu_choice(menu, key, counts)
        if event == "menu_key":
            steps.append(str(key))
        elif event == "menu_timeout":
            steps.append(f"no input ({counts.timeouts})")
        else:
            steps.append(f"{key}: invalid ({counts.invalid})")
    steps.append("too many menus in a row: the call ends")
    return steps


def main_number_step(
    number: str, rules: Sequence[AnsweringRule], frames: Mapping[str, TimeFrame], at: datetime
) -> tuple[str, MenuDestination | None]:
    """The main number's part of a simulated call, and the menu/announcement it leads to.

    ``active_rule_at`` decides, as for Kamailio's decision; the sentence is
    the routing simulator's. The destination is None when the route does not
    lead into a menu or an announcement (the walk stops at the sentence).
    """
    active = active_rule_at(rules, frames, at)
    head = f"Main number {number} at {readable(at)}"
    if active.rule is None or active.rule.forward_always is None:
        return f"{head}: no route applies (the caller hears 480)", None
    dest = active.rule.forward_always
    sentence = f"{head}: {active.describe(at.tzinfo)} → {dest.describe()}"
    if dest.kind == "auto_attendant":
        return sentence, MenuDestination("attendant", dest.target)
    if dest.kind == "announcement":
        return sentence, MenuDestination("announcement", dest.target)
    return sentence, None
