"""The media server's menu walk against a scripted caller: keys in, steps and destinations out.

``MenuWalk`` is driven by a stand-in leg (keys arrive as scripted, playback is
instant) and a stand-in bridge, so every branch — key → extension, busy →
the invalid outcome, invalid twice, no input, hang-up in the menu, dial by
extension, an announcement then a menu, a menu that is gone — is checked
in milliseconds; the real call through Kamailio is tests/test_attendant_e2e.py.
Steps must match what the simulator says for the same keys.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media.attendant import MenuWalk, start_of, write_steps
from switchboard.attendants import Announcement, Attendant, MenuDestination, simulate_attendant
from switchboard.call_steps import CallStep

ACME = "acme.example"
HANGUP = "hangup!"


@dataclass
class ScriptedLeg:
    """A caller who presses ``keys`` one per prompt (None: waits; HANGUP: hangs up)."""

    keys: list[str | None]
    call_id: str = "call-1"
    codec_name: str = "PCMU"
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    played: int = 0

    async def play(self, pcm: bytes, *, interruptible: bool = False) -> bool:
        self.played += 1
        return not self.ended.is_set()

    async def read_digits(
        self, *, max_digits: int = 1, terminator: str = "#", timeout: float = 8.0
    ) -> str | None:
        if not self.keys or self.keys[0] == HANGUP:
            self.ended.set()
            self.end_reason = "hangup"
            return None
        return self.keys.pop(0) or ""


@dataclass
class Reached:
    result: str
    callee_call_id: str | None = "leg-2"
    ended_by: str | None = "callee"
    talk_seconds: float = 3.0


@dataclass
class Directory:
    menus: dict[int, Attendant]
    anns: dict[int, Announcement]
    extensions: set[str]

    def attendant(self, tenant: str, attendant_id: int) -> Attendant | None:
        return self.menus.get(attendant_id)

    def announcement(self, tenant: str, announcement_id: int) -> Announcement | None:
        return self.anns.get(announcement_id)

    def has_extension(self, tenant: str, extension: str) -> bool:
        return extension in self.extensions

    def hold_music_file(self, tenant: str) -> str | None:
        return None


SALES = Attendant(
    ACME, "Sales",
    {"1": MenuDestination("extension", "102"), "2": MenuDestination("attendant", "2"),
     "3": MenuDestination("announcement", "5"), "9": MenuDestination("dial_by_extension"),
     "0": MenuDestination("number", "+15550009999"), "*": MenuDestination("repeat")},
    greeting_text="Sales.", max_repeats=1, timeout_seconds=1,
    no_input=MenuDestination("voicemail", "100"), invalid=MenuDestination("extension", "103"),
    id=1,
)  # fmt: skip
SUPPORT = Attendant(ACME, "Support", {"1": MenuDestination("hangup")}, greeting_text="S.", id=2)
CLOSED = Announcement(ACME, "Closed", text="Closed.", then=MenuDestination("attendant", "2"), id=5)
DIRECTORY = Directory({1: SALES, 2: SUPPORT}, {5: CLOSED}, {"100", "101", "102", "103"})


def walk(
    keys: list[str | None], data_dir: Path, outcomes: dict[str, str] | None = None
) -> tuple[list[CallStep], list[str], list[str]]:
    """(steps, targets bridged, mailboxes reached) of a caller pressing ``keys`` in Sales."""
    bridged: list[str] = []
    mailboxes: list[str] = []

    async def connect(leg: Any, target: str) -> Reached:
        bridged.append(target)
        return Reached((outcomes or {}).get(target, "answered"))

    async def leave(leg: Any, mailbox: str) -> None:
        mailboxes.append(mailbox)

    leg = ScriptedLeg(list(keys))
    w = MenuWalk(leg, ACME, DIRECTORY, data_dir, connect, leave)  # type: ignore[arg-type]
    asyncio.run(w.run(MenuDestination("attendant", "1")))
    return w.steps, bridged, mailboxes


def kinds(steps: list[CallStep]) -> list[str]:
    return [s.kind for s in steps]


def test_key_1_bridges_to_102(media_audio_dir: Path) -> None:
    steps, bridged, _ = walk(["1"], media_audio_dir)
    assert bridged == ["102"]
    assert kinds(steps) == [
        "menu_entered", "menu_key", "bridge_attempt", "bridge_answered", "bridge_ended",
    ]  # fmt: skip
    assert (steps[1].key, steps[1].target, steps[1].attendant_id) == ("1", "extension:102", 1)
    assert (steps[3].leg_call_id, steps[4].outcome) == ("leg-2", "callee_hangup")


def test_busy_goes_to_the_invalid_outcome_once(media_audio_dir: Path) -> None:
    steps, bridged, _ = walk(["1"], media_audio_dir, {"102": "busy", "103": "no_answer"})
    assert bridged == ["102", "103"]  # 103 is the invalid outcome; its failure hangs up
    assert [s.outcome for s in steps if s.kind == "bridge_failed"] == ["busy", "no_answer"]
    assert kinds(steps)[-1] == "hangup"


def test_invalid_twice_and_no_input_twice_reach_their_outcomes(media_audio_dir: Path) -> None:
    steps, bridged, _ = walk(["7", "8"], media_audio_dir)
    assert kinds(steps)[:3] == ["menu_entered", "menu_invalid", "menu_invalid"]
    assert (steps[2].key, steps[2].target) == ("8", "extension:103") and bridged == ["103"]
    steps, _, mailboxes = walk([None, None], media_audio_dir)
    assert kinds(steps) == ["menu_entered", "menu_timeout", "menu_timeout", "voicemail"]
    assert mailboxes == ["100"]


def test_hang_up_in_the_menu_is_a_step(media_audio_dir: Path) -> None:
    steps, bridged, _ = walk(["*", HANGUP], media_audio_dir)
    assert kinds(steps) == ["menu_entered", "menu_key", "menu_hangup"] and bridged == []
    assert steps[-1].outcome == "hangup"


def test_dial_by_extension(media_audio_dir: Path) -> None:
    steps, bridged, _ = walk(["9", "103"], media_audio_dir)
    assert bridged == ["103"] and steps[2].key == "103"
    steps, bridged, _ = walk(["9", "555", "9", "556"], media_audio_dir)
    assert [s.key for s in steps if s.kind == "menu_invalid"] == ["555", "556"]
    assert bridged == ["103"]  # the second unknown extension: the invalid outcome


def test_announcement_then_another_menu(media_audio_dir: Path) -> None:
    steps, _, _ = walk(["3", "1"], media_audio_dir)
    assert kinds(steps) == [
        "menu_entered", "menu_key", "announcement", "menu_entered", "menu_key", "hangup",
    ]  # fmt: skip
    assert steps[3].attendant_id == 2


def test_the_walk_matches_the_simulator(media_audio_dir: Path) -> None:
    for keys in (["1"], ["7", "8"], [None, None], ["3", "1"], ["*", "1"]):
        steps, _, _ = walk(list(keys), media_audio_dir)
        said = simulate_attendant(
            DIRECTORY.menus, 1, keys, announcements=DIRECTORY.anns,
            extensions=DIRECTORY.extensions,
        )  # fmt: skip
        reached = [s.target for s in steps if s.kind in ("bridge_attempt", "voicemail", "hangup")]
        assert reached[0] is not None
        kind, _, target = reached[0].partition(":")
        assert target in said[-1] or kind in said[-1], (keys, said, reached)


def test_a_menu_that_is_gone_is_answered_never_404(media_audio_dir: Path) -> None:
    leg = ScriptedLeg([])

    async def never(*_: Any) -> Any:
        raise AssertionError("no bridge")

    w = MenuWalk(leg, ACME, DIRECTORY, media_audio_dir, never, never)  # type: ignore[arg-type]
    asyncio.run(w.run(MenuDestination("attendant", "99")))
    assert [(s.kind, s.outcome) for s in w.steps] == [("hangup", "not_found")]
    assert leg.played == 1  # the apology


def test_targets_and_the_steps_batch(tmp_path: Path) -> None:
    assert start_of("aa-acme.example-3") == (ACME, MenuDestination("attendant", "3"))
    assert start_of("ann-acme.example-5") == (ACME, MenuDestination("announcement", "5"))
    assert start_of("vm-acme.example-5") is None
    path = write_steps(tmp_path, ACME, "c-1", [CallStep(1.0, "menu_entered", attendant_id=1)])
    assert path is not None and path.parent == tmp_path / "steps" / ACME
    doc = json.loads(path.read_text())
    assert doc["batch_id"] == path.stem and doc["call_id"] == "c-1"
    assert doc["steps"][0]["kind"] == "menu_entered"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_store_menus_read_the_tenants_own_objects(directory: Any) -> None:
    """What the media server reads per call: menus by tenant, extensions, the default track."""
    from media.attendant import StoreMenus

    store = directory.store
    menu = store.save_attendant(Attendant(ACME, "Day", greeting_text="Hi."))
    menus = StoreMenus(store)
    assert menus.attendant(ACME, menu.id) == menu
    assert menus.attendant("globex.example", menu.id) is None  # another tenant's id
    assert menus.announcement(ACME, 99) is None
    assert menus.has_extension(ACME, "102") and not menus.has_extension(ACME, "999")
    assert menus.hold_music_file(ACME) is None  # the built-in music
    store.add_hold_music(ACME, "Jazz", "audio/acme.example/hold-0123456789abcdef0123.wav")
    assert menus.hold_music_file(ACME) == "audio/acme.example/hold-0123456789abcdef0123.wav"
    assert menus.hold_music_file("nobody.example") is None


def test_a_queue_key_hands_the_caller_to_that_queue(media_audio_dir: Path) -> None:
    """A menu key to a queue enters it (media.queue serves the caller) and the path says so."""
    menu = Attendant(ACME, "Front", {"4": MenuDestination("queue", "7")}, greeting_text="F.", id=9)
    directory = Directory({9: menu}, {}, set())
    entered: list[int] = []

    async def never(leg: Any, target: str) -> Any:
        raise AssertionError("a queue key bridges nothing itself")

    async def enter(leg: Any, queue_id: int) -> None:
        entered.append(queue_id)

    leg = ScriptedLeg(["4"])
    w = MenuWalk(leg, ACME, directory, media_audio_dir, never, never, enter)  # type: ignore[arg-type]
    asyncio.run(w.run(MenuDestination("attendant", "9")))
    assert entered == [7]
    assert kinds(w.steps) == ["menu_entered", "menu_key", "queue"]
    assert w.steps[-1].target == "queue:7"
