"""Call queues on the media server: hold callers, offer them to agents, bridge the first to answer.

Kamailio sends a caller for a ``queue`` destination as ``q-<tenant>-<id>``
(route DESTINATION). ``QueueEngine.serve`` answers for the queue:

1. the caller enters (event ``enter`` with their position); past
   ``max_callers``, or with no agent logged in when the queue does not take
   callers then, they leave at once for the overflow destination;
2. they hear the queue's hold music (``HoldPlayer``, paced by the shared
   clock) and, every ``announce_seconds``, their position and estimated wait
   (espeak-ng prompts, cached by text); the exit key sends them to its
   destination (``exit_key``); past ``max_wait`` they overflow;
3. when every caller ahead is already being offered, the queue offers this
   one to the agents who can take a call — logged in, not paused, not
   ringing, not on a call (the media server's own bridged calls and
   Kamailio's ``dlg.list``), not in wrap-up — in the order of the ring
   strategy (``media.queue_strategy``): a new leg through Kamailio per agent
   (``X-SB-Queue`` tells Kamailio to ring the agent's registered phones only,
   never their forwards or voicemail, and tells the phone the queue and the
   wait; From's display name says so too), ringing ``ring_seconds``;
4. no answer → ``offer_failed`` and the next agent (the agent is paused with
   reason ``no-answer`` when the queue says so); the first to answer is
   bridged (``media.bridge.Bridge``) until either side hangs up
   (``connect``, ``complete``), then the agent is in wrap-up for the queue's
   time; a caller who hangs up while waiting is an ``abandon`` with the
   position and wait they had.

Events and the live state go through ``media.queue_spool`` exactly as
``switchboard.queue_events`` says. Agent logins and pauses are the store's
(they survive a restart); ringing, on call and wrap-up exist only here, so
after a restart every agent is free again and a ``restart`` event closes
what was open (``QueueEngine.restore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kamailio.dialogs import engaged_extensions, listed
from media import prompts
from media.hold_music import LoopedAudio, hold_music_loop, hold_track
from media.leg import Leg
from media.queue_caller import CallerInQueue, Waiting
from media.queue_spool import FLUSH_SECONDS, QueueLog
from media.queue_strategy import Candidate, estimated_wait
from switchboard.attendants import MenuDestination, parse_media_target
from switchboard.queue_events import AgentEvent, AgentState, LiveAgent, LiveCaller, LiveQueue
from switchboard.queue_events import QueueEvent as QE
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.queues import CallQueue

if TYPE_CHECKING:
    from media.attendant import MediaHost

log = logging.getLogger(__name__)

QUEUE_PREFIX = "q-"
MAX_QUEUE_HOPS = 3  # overflow from queue to queue at most this often
DEFAULT_HANDLE_SECONDS = 120.0  # the wait estimate's handle time before any call ended
BusyProbe = Callable[[str], Awaitable[set[str]]]  # tenant -> extensions on a call


def parse_queue_target(user: str) -> tuple[str, int] | None:
    """(tenant, queue id) of a ``q-<tenant>-<id>`` Request-URI user."""
    return parse_media_target(QUEUE_PREFIX, user)


def dialog_parties(dialogs: Any, tenant: str) -> set[str]:
    """Extensions of ``tenant`` on a call in Kamailio's ``dlg.list``, as Kamailio established
    them (``kamailio.dialogs.engaged_extensions``): a From or To a caller forged neither
    keeps an agent from the queue nor hides a real call of theirs."""
    found: set[str] = set()
    for d in listed(dialogs):
        found |= engaged_extensions(d, tenant)
    return found


@dataclass
class AgentRuntime:
    """What only the media server knows of an agent: ringing, on a call, wrap-up."""

    state: AgentState = "available"
    since: float = field(default_factory=time.time)
    caller: str | None = None
    idle_since: float = field(default_factory=time.time)
    calls: int = 0
    wrapup: asyncio.TimerHandle | None = None


def kamailio_busy_probe(rpc_url: str) -> BusyProbe:
    """``BusyProbe`` over Kamailio's ``dlg.list`` (sub-millisecond; run in a thread)."""
    from kamailio.rpc import KamailioRPC

    def ask() -> Any:
        with KamailioRPC(rpc_url, timeout=1.0) as rpc:
            return rpc.call("dlg.list")

    async def probe(tenant: str) -> set[str]:
        return dialog_parties(await asyncio.to_thread(ask), tenant)

    return probe


class QueueEngine:
    """Every queue of one media server: waiting callers, agents' runtime state, events."""

    def __init__(
        self, server: MediaHost, store: ProvisioningStore, busy_probe: BusyProbe | None = None
    ) -> None:
        self.server = server
        self.store = store
        self.busy_probe = busy_probe
        self.log = QueueLog(server.settings.spool_dir, server.settings.data_dir)
        self.agents: dict[tuple[str, str], AgentRuntime] = {}
        self.waiting: dict[tuple[str, int], list[Waiting]] = {}
        self.last_offered: dict[tuple[str, int], str] = {}
        self.handle_times: dict[tuple[str, int], list[float]] = {}
        self.changed = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        # the store's logins and pauses as last seen (``sync_agents``)
        self._logins: dict[tuple[str, int, str], bool] = {}
        self._pauses: dict[tuple[str, str], Any] = {}

    # --- life cycle ------------------------------------------------------------------------------

    def restore(self) -> None:
        """At start: agents' logins and pauses come from the store; a ``restart`` per queue."""
        now = time.time()
        self._logins, self._pauses = self._agent_snapshot()  # as they were: no events
        for tenant in self.store.tenants_with_queues():
            for q in self.store.queues(tenant):
                self.log.queue_event(tenant, QE(now, "restart", q.id or 0, ""))
            self.publish(tenant)
        self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                self.sync_agents()
                self.log.flush()
            except (OSError, ProvisioningError):
                log.exception("queue events not written (kept for the next flush)")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for agent in self.agents.values():
            if agent.wrapup is not None:
                agent.wrapup.cancel()
        self.log.flush()

    def notify(self, tenant: str) -> None:
        self.changed.set()
        self.changed = asyncio.Event()
        self.publish(tenant)

    # --- agents ----------------------------------------------------------------------------------

    def agent(self, tenant: str, extension: str) -> AgentRuntime:
        return self.agents.setdefault((tenant, extension), AgentRuntime())

    def set_state(
        self, tenant: str, ext: str, state: AgentState, caller: str | None = None
    ) -> None:
        agent = self.agent(tenant, ext)
        agent.state, agent.since, agent.caller = state, time.time(), caller

    def agent_event(self, tenant: str, kind: str, ext: str, queue_id: int | None = None,
                    reason: str | None = None, at: float | None = None) -> None:  # fmt: skip
        event = AgentEvent(at or time.time(), kind, ext, queue_id, reason)  # type: ignore[arg-type]
        self.log.agent_event(tenant, event)
        self.notify(tenant)

    def login(
        self, tenant: str, ext: str, logged_in: bool, queue_id: int | None = None
    ) -> list[int]:
        """Log ``ext`` in/out (the store keeps it); the events follow from ``sync_agents``."""
        changed = self.store.set_agent_login(tenant, ext, logged_in, queue_id)
        self.sync_agents()
        return changed

    def pause(self, tenant: str, ext: str, reason: str | None) -> bool:
        """Pause ``ext`` with ``reason`` (None: unpause) in every queue; True if it changed."""
        changed = self.store.set_agent_pause(tenant, ext, reason)
        self.sync_agents()
        return changed

    def _agent_snapshot(
        self,
    ) -> tuple[dict[tuple[str, int, str], bool], dict[tuple[str, str], Any]]:
        logins: dict[tuple[str, int, str], bool] = {}
        pauses: dict[tuple[str, str], Any] = {}
        for tenant in self.store.tenants_with_queues():
            for q in self.store.queues(tenant):
                for m in q.members:
                    logins[(tenant, q.id or 0, m.extension)] = m.logged_in
            for ext, pause in self.store.agent_pauses(tenant).items():
                pauses[(tenant, ext)] = pause
        return logins, pauses

    def sync_agents(self) -> None:
        """Agent events for what changed in the store since the last look.

        Logins and pauses change in the store from the phone (feature codes),
        the portal's agent bar or the CLI; the media server, the only writer
        of agent events, turns each change into its event here (every flush,
        and at once for a feature code).
        """
        logins, pauses = self._agent_snapshot()
        now = time.time()
        for key in sorted(set(logins) | set(self._logins)):
            was, now_on = self._logins.get(key, False), logins.get(key, False)
            if was != now_on:
                tenant, qid, ext = key
                self.agent_event(tenant, "login" if now_on else "logout", ext, qid, at=now)
        for who in sorted(set(pauses) | set(self._pauses)):
            old, new = self._pauses.get(who), pauses.get(who)
            if old == new:
                continue
            tenant, ext = who
            if old is not None:
                self.agent_event(tenant, "unpause", ext, reason=old.reason, at=now)
            if new is not None:
                self.agent_event(tenant, "pause", ext, reason=new.reason, at=new.since)
        self._logins, self._pauses = logins, pauses

    def start_wrapup(self, tenant: str, ext: str, queue: CallQueue) -> None:
        agent = self.agent(tenant, ext)
        agent.calls += 1
        agent.idle_since = time.time()
        if queue.wrapup_seconds <= 0:
            self.set_state(tenant, ext, "available")
            self.notify(tenant)
            return
        self.set_state(tenant, ext, "wrapup")
        self.agent_event(tenant, "wrapup_start", ext, queue.id)

        def done() -> None:
            agent.wrapup = None
            if agent.state == "wrapup":
                self.set_state(tenant, ext, "available")
                agent.idle_since = time.time()
            self.agent_event(tenant, "wrapup_end", ext, queue.id)

        agent.wrapup = asyncio.get_running_loop().call_later(queue.wrapup_seconds, done)

    async def free_agents(self, tenant: str, queue: CallQueue) -> list[Candidate]:
        paused = self.store.agent_pauses(tenant)
        ready = [
            m for m in queue.members
            if m.logged_in and m.extension not in paused
            and self.agent(tenant, m.extension).state == "available"
        ]  # fmt: skip
        if ready and self.busy_probe is not None:
            try:
                busy = await self.busy_probe(tenant)
            except Exception as exc:  # Kamailio down: offer anyway, the phone may refuse
                log.warning("dlg.list failed (%s): offering without it", exc)
                busy = set()
            ready = [m for m in ready if m.extension not in busy]
        return [
            Candidate(m.extension, m.priority, self.agent(tenant, m.extension).idle_since,
                      self.agent(tenant, m.extension).calls)
            for m in ready
        ]  # fmt: skip

    # --- live state ------------------------------------------------------------------------------

    def publish(self, tenant: str) -> None:
        """Replace the tenant's live state file (``switchboard.queue_events.live_document``)."""
        try:
            queues = self.store.queues(tenant)
            paused = self.store.agent_pauses(tenant)
        except ProvisioningError:
            return
        live = []
        for q in queues:
            waiting = tuple(
                LiveCaller(w.call_id, w.caller, w.entered)
                for w in self.waiting.get((tenant, q.id or 0), [])
            )
            agents = []
            for m in q.members:
                rt = self.agent(tenant, m.extension)
                pause = paused.get(m.extension)
                if not m.logged_in:
                    agents.append(LiveAgent(m.extension, "logged_out", rt.since))
                elif rt.state == "available" and pause is not None:
                    agents.append(LiveAgent(m.extension, "paused", pause.since, pause.reason))
                else:
                    agents.append(LiveAgent(m.extension, rt.state, rt.since, None, rt.caller))
            live.append(LiveQueue(q.id or 0, q.name, waiting, tuple(agents)))
        try:
            self.log.write_live(tenant, time.time(), live)
        except OSError:
            log.exception("live queue state of %s not written", tenant)

    # --- one caller ------------------------------------------------------------------------------

    async def serve(
        self, leg: Leg, tenant: str, queue_id: int, identity: str, hops: int = 0
    ) -> None:
        """Run one caller through queue ``queue_id`` until bridged, gone or sent elsewhere."""
        try:
            queue = self.store.queue(tenant, queue_id)
        except ProvisioningError:
            log.warning("%s: queue %s of %s does not exist", leg.call_id, queue_id, tenant)
            await leg.play(prompts.prompt_pcm(self.server.settings.data_dir, "menu_unavailable"))
            return
        flow = CallerInQueue(self, leg, tenant, queue, identity)
        dest = await flow.run()
        if dest is not None and not leg.ended.is_set():
            await self.send_elsewhere(leg, tenant, dest, identity, hops)

    async def send_elsewhere(self, leg: Leg, tenant: str, dest: MenuDestination, identity: str,
                             hops: int) -> None:  # fmt: skip
        """Overflow or exit key: another queue, or whatever a menu key could reach."""
        if dest.kind == "queue":
            if hops >= MAX_QUEUE_HOPS or not dest.target.isdigit():
                await leg.play(prompts.prompt_pcm(self.server.settings.data_dir, "goodbye"))
                return
            await self.serve(leg, tenant, int(dest.target), identity, hops + 1)
            return
        from media.attendant import MenuWalk, connect_for, leave_message_for, write_steps

        menus = self.server.menus
        if menus is None:
            return
        walk = MenuWalk(
            leg, tenant, menus, self.server.settings.data_dir,
            connect=connect_for(self.server, leg, tenant, identity),
            leave_message=leave_message_for(self.server, tenant),
            enter_queue=self._enter_after(tenant, identity, hops),
        )  # fmt: skip
        try:
            await walk.run(dest)
        finally:
            with contextlib.suppress(OSError):
                write_steps(self.server.settings.spool_dir, tenant, leg.call_id, walk.steps)

    def _enter_after(
        self, tenant: str, identity: str, hops: int
    ) -> Callable[[Leg, int], Awaitable[None]] | None:
        """A menu reached from a queue may send the caller to a queue again, one hop further."""
        if hops + 1 >= MAX_QUEUE_HOPS:
            return None

        async def enter(leg: Leg, queue_id: int) -> None:
            await self.serve(leg, tenant, queue_id, identity, hops + 1)

        return enter

    def hold_music(self, tenant: str, queue: CallQueue) -> LoopedAudio:
        settings = self.server.settings
        track: str | None = None
        if queue.hold_music_id is not None:
            track = next(
                (
                    m.audio_file
                    for m in self.store.hold_music(tenant)
                    if m.id == queue.hold_music_id
                ),
                None,
            )
        if track is None and self.server.menus is not None:
            track = self.server.menus.hold_music_file(tenant)
        path = hold_track(settings.data_dir, tenant, track, settings.hold_music_file)
        return hold_music_loop(path, settings.data_dir)

    def expected_wait(self, tenant: str, queue: CallQueue, position: int, free: int) -> float:
        times = self.handle_times.get((tenant, queue.id or 0), [])
        aht = sum(times[-20:]) / len(times[-20:]) if times else DEFAULT_HANDLE_SECONDS
        logged = sum(1 for m in queue.members if m.logged_in)
        return estimated_wait(position, free, logged, aht)


async def queue_application(server: MediaHost, leg: Leg, user: str, identity: str) -> None:
    """The ``q-`` application of ``media.server``."""
    target = parse_queue_target(user)
    engine: QueueEngine | None = getattr(server, "queues", None)
    if target is None or engine is None:
        log.error("%s: no queue engine for %s", leg.call_id, user)
        return
    await engine.serve(leg, target[0], target[1], identity)
