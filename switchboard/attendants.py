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

from dataclasses import dataclass, field
from typing import Literal

from switchboard.identifiers import TENANT_RE

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
DESTINATION_KINDS: tuple[DestinationKind, ...] = (
    "extension",
    "attendant",
    "queue",
    "voicemail",
    "announcement",
    "number",
    "repeat",
    "dial_by_extension",
    "hangup",
)
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
