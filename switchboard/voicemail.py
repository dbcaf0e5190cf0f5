"""Voicemail vocabularies and the records the provisioning store hands out.

The provisioning store (``switchboard.store``) owns the mutable state of every
message (folder, read flag, trash, forwarded copies, email sent) and every
mailbox's settings; the lake owns the facts (caller, times, transcript). This
module declares the words both sides use, once, and the pure rules on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Folder = Literal["new", "saved", "trash"]
GreetingKind = Literal["unavailable", "busy", "custom"]
MessageOrder = Literal["newest", "oldest"]
EmailState = Literal["pending", "sent", "skipped", "failed"]

FOLDERS: tuple[str, ...] = get_args(Folder)
GREETING_KINDS: tuple[str, ...] = get_args(GreetingKind)
MESSAGE_ORDERS: tuple[str, ...] = get_args(MessageOrder)

# The codecs a message may arrive in, and the audio rate it is kept at for each: a deposit
# from an HD-voice phone (G.722) is kept at 16 kHz, the rest at 8 kHz.
MESSAGE_AUDIO_RATES: dict[str, int] = {"PCMU": 8000, "PCMA": 8000, "G722": 16000}

# A deleted message stays restorable this long, then ``purge_voicemail_trash`` drops it.
TRASH_DAYS = 30
TRASH_SECONDS = TRASH_DAYS * 86_400

# Phone keypads: digits only; 4 to 10 of them (4 is what users remember, 10 what they tolerate).
_PIN_RE = re.compile(r"^[0-9]{4,10}$")
MESSAGE_ID_RE = re.compile(r"^vm-[0-9a-f]{32}$")


def pin_problem(pin: str) -> str | None:
    """Why ``pin`` is not acceptable as a voicemail PIN, or None."""
    if not _PIN_RE.match(pin or ""):
        return "the PIN must be 4 to 10 digits"
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        return "the PIN is too easy to guess (no repeated or consecutive digits)"
    return None


def greeting_relpath(tenant: str, mailbox: str, kind: str) -> str:
    """Where a greeting lives under ``data_dir`` (the media server plays it from there)."""
    return f"greetings/{tenant}/{mailbox}/{kind}.wav"


def audio_relpath(tenant: str, mailbox: str, message_id: str) -> str:
    """Where the pipeline keeps a committed message's WAV under ``data_dir``."""
    return f"voicemail/{tenant}/{mailbox}/{message_id}.wav"


@dataclass(frozen=True)
class MailboxSettings:
    """One mailbox's settings; defaults apply until the user changes something.

    Field names follow what the media server reads (its phone-side view,
    ``media.mailbox.PhoneMailboxSettings``):
    ``greeting`` is the active kind, ``active_greeting`` the absolute path of its
    WAV (None: no upload of that kind, play the default prompt), ``pin_hash`` the
    argon2 hash (None: no PIN, phone access closed).
    """

    tenant: str
    mailbox: str
    greeting: GreetingKind
    active_greeting: str | None
    greetings: dict[str, str]  # kind -> WAV path relative to data_dir (only uploaded ones)
    pin_hash: str | None
    message_order: MessageOrder
    announce_timestamp: bool
    email_enabled: bool
    email_attach_audio: bool
    email_address: str

    @property
    def has_pin(self) -> bool:
        return self.pin_hash is not None


@dataclass(frozen=True)
class VoicemailMessage:
    """The state of one message in one mailbox (a forwarded copy is its own message)."""

    message_id: str
    tenant: str
    mailbox: str
    source_id: str  # the lake message holding audio and transcript
    forwarded_by: str | None
    folder: Folder
    is_read: bool
    deleted_at: float | None
    started_at: float
    duration: float
    audio_path: str  # relative to data_dir
    transcribed_at: float | None
    email_state: EmailState
    email_attempts: int = 0  # failed tries so far (retried with backoff: pipeline.notify)


def caller_label(
    caller: str | None,
    caller_name: str | None,
    names: dict[str, str],
    from_carrier: bool | None = False,
) -> str:
    """``Name (number)``: the colleague's name when the caller is an extension of the tenant,
    unless the carrier delivered the caller (an outside From presenting "100" is not 100)."""
    number = (caller or "").strip()
    colleague = None if from_carrier else names.get(number)
    name = colleague or (caller_name or "").strip()
    if not number:
        return name or "Anonymous caller"
    label = f"{name} ({number})" if name and name != number else number
    if from_carrier and number in names:  # it looks like a colleague and is not one
        return f"{label}, outside caller"
    return label
