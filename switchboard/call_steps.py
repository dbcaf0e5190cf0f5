"""The steps of one call inside the media server: the contract between ``media`` and ``pipeline``.

A call the media server handles (an attendant menu, an announcement, a bridge
to an extension or an outside number, later a queue) keeps its one ``calls``
row, built from Kamailio's accounting of the caller's leg; what happened
inside — menu entered, key pressed, timeout, invalid key, hang-up in the
menu, a new leg tried, answered, failed, ended — is a list of steps linked to
that row by the caller's (original) Call-ID. New legs the media server places
through Kamailio carry that Call-ID in ``ORIGIN_CALL_ID_HEADER``, so their own
accounting rows are legs of the same call, never calls of their own.

Spool format (docs/spool.md): when the media server's part of a call ends it
writes ``spool/steps/<tenant>/<batch_id>.json`` (temp file + rename) holding
``steps_document(...)``. The pipeline ingests each batch exactly once into the
lake table ``call_steps`` (one row per step, ``batch_id`` + ``seq`` unique).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

ORIGIN_CALL_ID_HEADER = "X-SB-Origin-Call-ID"

StepKind = Literal[
    "menu_entered",
    "menu_key",
    "menu_timeout",
    "menu_invalid",
    "menu_hangup",
    "announcement",
    "voicemail",
    "queue",
    "bridge_attempt",
    "bridge_answered",
    "bridge_failed",
    "bridge_ended",
    "hold",
    "unhold",
    "hangup",
]
STEP_KINDS: tuple[str, ...] = get_args(StepKind)


@dataclass(frozen=True)
class CallStep:
    """One thing that happened to a call inside the media server.

    ``attendant_id`` names the menu for menu_* steps; ``key`` is the DTMF
    key(s) for menu_key / menu_invalid (a dialled extension for
    dial-by-extension); ``target`` is ``kind:target`` of a destination
    (``extension:102``, ``number:+1555…``); ``outcome`` is the SIP result of a
    bridge attempt (``answered``, ``busy``, ``no_answer``, ``failed``) or the
    reason a bridge ended (``caller_hangup``, ``callee_hangup``);
    ``leg_call_id`` is the Call-ID of the new leg a bridge placed.
    """

    at: float
    kind: StepKind
    attendant_id: int | None = None
    key: str | None = None
    target: str | None = None
    outcome: str | None = None
    leg_call_id: str | None = None


def steps_document(
    batch_id: str, tenant: str, call_id: str, steps: list[CallStep]
) -> dict[str, object]:
    """The JSON object of one spool batch (steps in the order they happened)."""
    for step in steps:
        if step.kind not in STEP_KINDS:
            raise ValueError(f"unknown call step {step.kind!r}")
    return {
        "batch_id": batch_id,
        "tenant": tenant,
        "call_id": call_id,
        "steps": [asdict(step) for step in steps],
    }
