"""Queue and agent events, and the live queue state: the contract between ``media`` and its readers.

The media server runs the queues (``media/queue*.py``): it holds callers on
hold music, offers them to agents by placing legs through Kamailio and
bridges the first that answers. It is the only writer of two things:

1. **Events, for the lake** (exactly once, like call steps): every event is
   appended to the current batch of its tenant and batches are written as
   ``spool/queue_events/<tenant>/<batch_id>.json`` (temp file + rename;
   ``events_document``), at the latest every few seconds and at shutdown.
   The pipeline ingests each batch once into the lake tables
   ``queue_events`` and ``agent_events`` (``batch_id`` + ``seq`` unique).
   The queue metrics (docs/metrics.md) are computed from these tables only.

2. **Live state, for the wallboard and the agent bar** (not history): the
   file ``live/queues/<tenant>.json`` under the data dir, atomically
   replaced (temp + rename) at every change, holding ``live_document``: per
   queue the callers waiting with their wait start, per agent the state
   and since when. Readers poll it (cheap: one small file), never the lake.

Agent state lives in the provisioning store (logged in to which queues,
paused with which reason), so it survives a media-server restart; the media
server re-reads it at start and writes a ``logout``-free ``restart`` marker
event so the metrics close what was open at the crash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

QueueEventKind = Literal[
    "enter",  # a caller joined the queue (position = their place)
    "offer",  # the call was offered to an agent (agent = extension)
    "offer_failed",  # that agent did not answer / was busy (outcome says which)
    "connect",  # an agent answered; wait = seconds from enter
    "abandon",  # the caller hung up while waiting (position, wait)
    "overflow",  # max wait / max callers / no agents: sent to the overflow destination
    "exit_key",  # the caller pressed the exit key (key, target)
    "complete",  # the bridged call ended (talk = seconds; outcome: caller/agent hung up)
    "restart",  # the media server started: calls open before it are closed as lost
]
AgentEventKind = Literal[
    "login",  # agent logged in to a queue
    "logout",
    "pause",  # reason = reason code (lunch, training, after-call work, no-answer…)
    "unpause",
    "wrapup_start",  # after a queue call; ends by itself after the queue's wrap-up time
    "wrapup_end",
]
QUEUE_EVENT_KINDS: tuple[str, ...] = get_args(QueueEventKind)
AGENT_EVENT_KINDS: tuple[str, ...] = get_args(AgentEventKind)
AgentState = Literal["available", "ringing", "on_call", "wrapup", "paused", "logged_out"]
AGENT_STATES: tuple[str, ...] = get_args(AgentState)


@dataclass(frozen=True)
class QueueEvent:
    """One thing that happened to a caller in a queue; ``call_id`` is the caller's Call-ID."""

    at: float
    kind: QueueEventKind
    queue_id: int
    call_id: str
    caller: str | None = None
    agent: str | None = None
    position: int | None = None
    wait: float | None = None
    talk: float | None = None
    key: str | None = None
    target: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class AgentEvent:
    """One change of an agent's state; ``queue_id`` is None for events about every queue."""

    at: float
    kind: AgentEventKind
    agent: str
    queue_id: int | None = None
    reason: str | None = None


def events_document(
    batch_id: str, tenant: str, queue: list[QueueEvent], agent: list[AgentEvent]
) -> dict[str, object]:
    """The JSON object of one spool batch (each list in the order things happened)."""
    for q in queue:
        if q.kind not in QUEUE_EVENT_KINDS:
            raise ValueError(f"unknown queue event {q.kind!r}")
    for a in agent:
        if a.kind not in AGENT_EVENT_KINDS:
            raise ValueError(f"unknown agent event {a.kind!r}")
    return {
        "batch_id": batch_id,
        "tenant": tenant,
        "queue_events": [asdict(q) for q in queue],
        "agent_events": [asdict(a) for a in agent],
    }


@dataclass(frozen=True)
class LiveCaller:
    call_id: str
    caller: str | None
    since: float  # when they entered the queue (epoch seconds)


@dataclass(frozen=True)
class LiveAgent:
    extension: str
    state: AgentState
    since: float
    reason: str | None = None  # the pause reason
    caller: str | None = None  # whom they are talking to / being offered


@dataclass(frozen=True)
class LiveQueue:
    queue_id: int
    name: str
    waiting: tuple[LiveCaller, ...]
    agents: tuple[LiveAgent, ...]


def live_document(tenant: str, at: float, queues: list[LiveQueue]) -> dict[str, object]:
    """The JSON object of ``live/queues/<tenant>.json``."""
    return {"tenant": tenant, "at": at, "queues": [asdict(q) for q in queues]}
