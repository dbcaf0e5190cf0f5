"""Agent feature codes dialled from a phone: log in/out of queues, pause and unpause.

Kamailio sends an authenticated user's ``*45`` … ``*48`` here as
``fc-<tenant>-<code>`` (route FEATURE_CODES), with the identity it asserted;
the agent is always that identity, never the From user:

- ``*45`` log in to all my queues, ``*46`` log out of them;
- ``*47`` pause (reason "break"), ``*47N`` pause with ``PAUSE_REASONS[N-1]``;
- ``*48`` unpause.

The state changes in the store (``QueueEngine.login`` / ``pause``, which
write the agent events) and the caller hears what happened, then goodbye.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from media import prompts
from media.leg import Leg
from switchboard.attendants import parse_media_target
from switchboard.store import ProvisioningError
from switchboard.store.queues import PAUSE_REASONS

if TYPE_CHECKING:
    from media.attendant import MediaHost
    from media.queue import QueueEngine

log = logging.getLogger(__name__)

FEATURE_PREFIX = "fc-"


def feature_action(code: int) -> tuple[str, str | None] | None:
    """("login" | "logout" | "pause" | "unpause", pause reason) of a dialled code."""
    text = str(code)
    if text in ("45", "46", "48"):
        return {"45": "login", "46": "logout", "48": "unpause"}[text], None
    if text == "47":
        return "pause", PAUSE_REASONS[0]
    if len(text) == 3 and text.startswith("47") and 1 <= int(text[2]) <= len(PAUSE_REASONS):
        return "pause", PAUSE_REASONS[int(text[2]) - 1]
    return None


def apply_feature(engine: QueueEngine, tenant: str, extension: str, code: int) -> str:
    """Change the agent's state; the sentence the phone speaks."""
    action = feature_action(code)
    if action is None:
        return "That feature code does not exist."
    kind, reason = action
    try:
        if kind in ("login", "logout"):
            changed = engine.login(tenant, extension, kind == "login")
            count = len(engine.store.queues_of_agent(tenant, extension))
            state = "logged in to" if kind == "login" else "logged out of"
            return f"You are {state} {count} queue{'s' if count != 1 else ''}." + (
                "" if changed else " Nothing changed."
            )
        engine.pause(tenant, extension, reason if kind == "pause" else None)
        return f"You are paused for {reason}." if kind == "pause" else "You are available."
    except ProvisioningError as exc:
        log.info("feature code %s of %s@%s refused: %s", code, extension, tenant, exc)
        return "You are not an agent of any queue."


async def feature_code_application(server: MediaHost, leg: Leg, user: str, identity: str) -> None:
    """The ``fc-`` application of ``media.server``."""
    target = parse_media_target(FEATURE_PREFIX, user)
    extension, _, tenant = identity.partition("@")
    engine: QueueEngine | None = getattr(server, "queues", None)
    if target is None or target[0] != tenant or engine is None:
        text = "That feature code is not available."
    else:
        text = apply_feature(engine, tenant, extension, target[1])
    data_dir = server.settings.data_dir
    pcm = await asyncio.to_thread(prompts.speech_pcm, data_dir, text)
    await leg.play(pcm + prompts.silence_pcm(0.3))
