"""The only writer of what Kamailio loads: each extension's and main number's decision.

Kamailio never calls Python per call. Python evaluates ``active_rule_at``
(the same pure function the portal and the routing simulator use), compiles
the result with ``compile_decision`` and hands it to Kamailio's htable
``rules``:

* key ``<tenant>:<extension>`` for a user or a queue's own extension,
  ``did:<number>`` for a main number;
* value: the ``|``-separated fields of ``switchboard.routing.compile_decision``
  (a user's also carries the outbound caller ID they chose: a Profile, Users
  or CLI change of it is pushed like a rule edit).

Order matters (DESIGN, "Facts learned"): the row goes to the provisioning DB
first (``rule_decision``, which Kamailio loads at start-up and on
``htable.reload``), then to the running Kamailio over JSON-RPC. A value only
set over RPC would vanish at the next reload; a value only in the DB is picked
up at the next start. So the DB is the truth and Kamailio mirrors it.

When: every provisioning change that affects routing (a user added, a rule,
time frame, main number or override saved or deleted), from the CLI and from
the portal alike, calls ``push_change`` right after it is saved: the one path,
so a user created a second ago is reachable (their default decision: ring,
then voicemail) instead of answering 480 until the next scheduler pass.
``RulesScheduler`` pushes everyone at start-up and again at each upcoming
transition (the earliest ``until`` of all decisions), at least every
``max_sleep`` seconds, which also heals a push that found Kamailio down.
Time is always injectable (``now``), so tests choose instants instead of
waiting for them.

One push at a time, across processes: the CLI, the portal and the scheduler
each compute, write and send under one ``flock`` (``push_lock_path``), so an
older computation can never land after a newer one, in the DB or in Kamailio.

A queue's extension (``CallQueue.extension``) is routed like a main number
whose one route forwards to the queue (``decision_for_queue``): Kamailio's
route EXTENSION sends a call to it on to the media server as
``q-<tenant>-<id>``. A tenant push (``push_change(tenant=…)``, which the CLI
and the portal call after a queue is added, edited or removed) and every
scheduler pass also drop the decision of an extension that neither a user
nor a queue holds any more (a queue removed or renumbered): DB first, then
``htable.delete``.

Errors: ``RPCError`` from ``kamailio.rpc`` when Kamailio cannot be reached
(the DB row is already written then; Kamailio loads it when it starts).
``push_change`` turns that into ``False``: the edit is saved either way.

The same pushes carry each user's name, which a colleague's phone shows when
they call (``kamailio.caller_names``): set at a user's edit, compared and
mended at a tenant push and at every scheduler pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kamailio.caller_names import push_names, sync_names
from kamailio.rpc import KamailioRPC, RPCError, RPCFault
from switchboard.routing import compile_decision
from switchboard.rules import ActiveRule, AnsweringRule, Destination, active_rule_at
from switchboard.settings import Settings
from switchboard.store import Did, ProvisioningStore, User
from switchboard.store.queues import CallQueue

log = logging.getLogger(__name__)

HTABLE = "rules"
# Above this many changed keys one htable.reload (the DB is already written)
# is cheaper than one HTTP request per key.
RELOAD_THRESHOLD = 50

Decision = tuple[str, str, datetime | None]

# One push at a time per process: the scheduler thread and a portal edit must
# not interleave "compute, write DB, set Kamailio" with an older computation.
# ``_one_push_at_a_time`` adds the same between processes (CLI, portal, scheduler).
_push_lock = threading.Lock()


def push_lock_path(settings: Settings) -> Path:
    """The file every pushing process locks (beside the provisioning DB it mirrors)."""
    return settings.provisioning_db.with_name(settings.provisioning_db.name + ".push-lock")


@contextlib.contextmanager
def _one_push_at_a_time(settings: Settings) -> Iterator[None]:
    with _push_lock, open(push_lock_path(settings), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed
        yield


def user_key(user: User) -> str:
    """The htable key of a user's decision."""
    return f"{user.tenant_domain}:{user.extension}"


def did_key(did: Did) -> str:
    """The htable key of a main number's decision."""
    return f"did:{did.number}"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def decision_for_user(
    store: ProvisioningStore, user: User, now: datetime, ring_seconds: int
) -> Decision:
    """``(key, value, until)`` of the user's active answering rule at ``now``.

    ``ring_seconds`` (setting ``ring_timeout``): how long the default decision rings.
    """
    inputs = store.routing_inputs(user)
    active = active_rule_at(inputs.rules, inputs.frames, now, inputs.override)
    value = compile_decision(user, active, default_ring_seconds=ring_seconds)
    return user_key(user), value, active.until


def decision_for_did(
    store: ProvisioningStore, did: Did, now: datetime, ring_seconds: int
) -> Decision:
    """``(key, value, until)`` of the main number's active route at ``now``."""
    inputs = store.did_routing_inputs(did)
    active = active_rule_at(inputs.rules, inputs.frames, now, inputs.override)
    value = compile_decision(did, active, default_ring_seconds=ring_seconds)
    return did_key(did), value, active.until


def decision_for_queue(queue: CallQueue, ring_seconds: int) -> Decision:
    """``(key, value, None)`` of a queue's own extension: every call goes to the queue.

    Compiled as a main number's route would be (forward always, and fallback,
    ``queue:<id>``; the tenant named), so Kamailio needs no route of its own
    for it. The rule has no name: no answering rule decided such a call, so
    its cdr ``rule`` stays NULL. It never changes with time (``until`` None).
    """
    if queue.extension is None or queue.id is None:
        raise ValueError(f"queue {queue.name!r} has no extension to route")
    to_queue = Destination("queue", str(queue.id))
    rule = AnsweringRule("", 0, forward_always=to_queue, fallback=to_queue)
    owner = Did(queue.id, queue.tenant, queue.extension, queue.name)
    value = compile_decision(owner, ActiveRule(rule, None, None), default_ring_seconds=ring_seconds)
    return f"{queue.tenant}:{queue.extension}", value, None


def queue_decisions(store: ProvisioningStore, tenant: str, ring_seconds: int) -> list[Decision]:
    """The decisions of the tenant's queue extensions (a user's extension is never shadowed)."""
    users = {u.extension for u in store.users(tenant)}
    decisions = []
    for queue in store.queues(tenant):
        if queue.extension is None:
            continue
        if queue.extension in users:  # the store refuses this; a user added later wins
            log.warning("queue %s of %s: extension %s is a user's", queue.id, tenant,
                        queue.extension)  # fmt: skip
            continue
        decisions.append(decision_for_queue(queue, ring_seconds))
    return decisions


def all_decisions(store: ProvisioningStore, now: datetime, ring_seconds: int) -> list[Decision]:
    """Every user's, main number's and queue extension's decision at ``now``."""
    decisions: list[Decision] = []
    for tenant in store.tenants():
        for user in store.users(tenant.domain):
            decisions.append(decision_for_user(store, user, now, ring_seconds))
        for did in store.dids(tenant.domain):
            decisions.append(decision_for_did(store, did, now, ring_seconds))
        decisions += queue_decisions(store, tenant.domain, ring_seconds)
    return decisions


def _forget(settings: Settings, gone: list[str]) -> None:
    """Drop from Kamailio the decisions ``drop_stale_decisions`` took out of the DB."""
    if not gone:
        return
    with KamailioRPC(settings.rpc_url) as rpc:
        for key in gone:
            try:
                rpc.call("htable.delete", HTABLE, key)
            except RPCFault as fault:  # not held (Kamailio restarted since): nothing to drop
                if fault.code != 404 and "not found" not in fault.message.lower():
                    raise
    log.info("dropped decisions of %s", ", ".join(gone))


def _send(settings: Settings, values: dict[str, str], *, reload: bool) -> None:
    # DB first, always: see the module docstring.
    with KamailioRPC(settings.rpc_url) as rpc:
        if reload:
            try:
                rpc.call("htable.reload", HTABLE)
                return
            except RPCFault as fault:
                # Seen with 10,000 rows and -M 16: the reload runs out of
                # private memory. Setting key by key always works.
                log.warning("htable.reload failed (%s); setting keys one by one", fault)
                if not values:
                    raise
        for key, value in values.items():
            rpc.call("htable.sets", HTABLE, key, value)


def _push(
    settings: Settings,
    store: ProvisioningStore,
    decisions: Iterable[Decision],
    *,
    full_sync: bool = False,
) -> datetime | None:
    """Write changed decisions to the DB, then to Kamailio; return the earliest ``until``."""
    decisions = list(decisions)
    values = {key: value for key, value, _ in decisions}
    if len(values) > 1:
        # Many keys: only what changed goes out (reading the table is cheaper).
        stored = store.decisions()
        changed = {k: v for k, v in values.items() if stored.get(k) != v}
    else:
        changed = values  # one edit: always write and set it
    if changed:
        store.write_decisions(changed)
    if changed or full_sync:
        # A full sync re-reads the whole table, so Kamailio matches the DB even
        # if an earlier RPC was lost while it was down.
        reload = full_sync or len(changed) > RELOAD_THRESHOLD
        _send(settings, changed, reload=reload)
    log.debug("pushed %d of %d decisions", len(changed), len(values))
    untils = [until for _, _, until in decisions if until is not None]
    return min(untils) if untils else None


def push_user(
    settings: Settings, store: ProvisioningStore, user: User, now: datetime | None = None
) -> None:
    """Push one user's decision (call after every edit of their rules or override)."""
    with _one_push_at_a_time(settings):
        _push(settings, store, [decision_for_user(store, user, _now(now), settings.ring_timeout)])
        push_names(settings, [user])


def push_did(
    settings: Settings, store: ProvisioningStore, did: Did, now: datetime | None = None
) -> None:
    """Push one main number's decision (call after every edit of its routes)."""
    with _one_push_at_a_time(settings):
        _push(settings, store, [decision_for_did(store, did, _now(now), settings.ring_timeout)])


def push_tenant(
    settings: Settings, store: ProvisioningStore, tenant: str, now: datetime | None = None
) -> datetime | None:
    """Push a whole tenant (call after editing a tenant-wide time frame)."""
    at = _now(now)
    with _one_push_at_a_time(settings):
        until = _push(settings, store, _tenant_decisions(store, tenant, at, settings.ring_timeout))
        sync_names(settings, store, tenant)
        return until


def _tenant_decisions(
    store: ProvisioningStore, tenant: str, now: datetime, ring_seconds: int
) -> list[Decision]:
    decisions = [decision_for_user(store, u, now, ring_seconds) for u in store.users(tenant)]
    decisions += [decision_for_did(store, d, now, ring_seconds) for d in store.dids(tenant)]
    return decisions + queue_decisions(store, tenant, ring_seconds)


def push_all(
    settings: Settings,
    store: ProvisioningStore,
    now: datetime | None = None,
    *,
    full_sync: bool = False,
) -> datetime | None:
    """Push everyone; return the next transition across all of them (None: none ahead)."""
    at = _now(now)
    with _one_push_at_a_time(settings):
        return _push_all_at(settings, store, at, full_sync=full_sync)


def _push_all_at(
    settings: Settings, store: ProvisioningStore, at: datetime, *, full_sync: bool
) -> datetime | None:
    decisions = all_decisions(store, at, settings.ring_timeout)
    gone = store.drop_stale_decisions()  # DB first, as for every decision
    until = _push(settings, store, decisions, full_sync=full_sync)
    _forget(settings, gone)
    sync_names(settings, store)  # also refills a Kamailio that restarted
    return until


def push_change(
    settings: Settings,
    store: ProvisioningStore,
    *,
    users: Iterable[User] = (),
    dids: Iterable[Did] = (),
    tenant: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Push what a saved provisioning change affects, at once: the one path for every writer.

    ``users``/``dids`` whose rules, override or existence changed; ``tenant``
    for a change that can move anyone's decision (a tenant-wide time frame)
    or a queue's extension (a queue added, edited or removed: its old
    extension's decision is dropped too).
    True: Kamailio holds the new decisions. False: Kamailio is unreachable;
    the decisions are in the DB, which it loads when it starts (and the
    scheduler's next full sync sets). Other errors propagate.
    """
    at = _now(now)
    ring = settings.ring_timeout
    users = list(users)  # read twice: decisions, then names
    try:
        with _one_push_at_a_time(settings):
            decisions: dict[str, Decision] = {}
            if tenant is not None:
                for decision in _tenant_decisions(store, tenant, at, ring):
                    decisions[decision[0]] = decision
            for user in users:
                decision = decision_for_user(store, user, at, ring)
                decisions[decision[0]] = decision
            for did in dids:
                decision = decision_for_did(store, did, at, ring)
                decisions[decision[0]] = decision
            gone = store.drop_stale_decisions(tenant) if tenant is not None else []
            _push(settings, store, decisions.values())
            _forget(settings, gone)
            if tenant is not None:
                sync_names(settings, store, tenant)
            push_names(settings, users)
    except RPCError as exc:
        log.info("change saved; Kamailio unreachable (%s): it loads it when it starts", exc)
        return False
    return True


class RulesClock:
    """The scheduler's notion of now: real UTC time unless a test sets another.

    ``pin`` freezes time at an instant; ``shift_to`` lets it run on from an
    instant at real speed (to watch a transition happen). Both wake the
    schedulers that follow this clock, so they push at once.
    """

    def __init__(self) -> None:
        self._pinned: datetime | None = None
        self._shift: tuple[datetime, float] | None = None
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the time is set."""
        self._listeners.append(listener)

    def pin(self, instant: datetime | None) -> None:
        """Freeze time at ``instant`` (None: follow the real clock again)."""
        self._pinned, self._shift = instant, None
        self._notify()

    def shift_to(self, instant: datetime) -> None:
        """Make it ``instant`` now, then let time run on at real speed."""
        self._pinned, self._shift = None, (instant, time.monotonic())
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def __call__(self) -> datetime:
        if self._pinned is not None:
            return self._pinned
        if self._shift is not None:
            start, at = self._shift
            return start + timedelta(seconds=time.monotonic() - at)
        return datetime.now(UTC)


class RulesScheduler(threading.Thread):
    """Pushes all decisions at start-up, then again at every transition.

    Sleeps until the earliest ``until`` (a little after it, so the new rule is
    in force), never longer than ``max_sleep`` so a missed edit or a restarted
    Kamailio heals within a minute. Opens its own store: a SQLite connection
    must not be shared with the thread that created it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        max_sleep: float = 60.0,
        retry_after: float = 2.0,
        full_sync_every: float = 300.0,
    ) -> None:
        super().__init__(name="rules-scheduler", daemon=True)
        self.settings = settings
        self.clock = clock or RulesClock()
        self.max_sleep = max_sleep
        self.retry_after = retry_after
        self.full_sync_every = full_sync_every
        self.pushes = 0
        self.next_transition: datetime | None = None
        self._stop_event = threading.Event()
        self._wake_event = threading.Event()
        self._first_push = threading.Event()
        if isinstance(self.clock, RulesClock):
            self.clock.subscribe(self.wake)

    def run(self) -> None:
        store = ProvisioningStore(self.settings.provisioning_db)
        try:
            full_sync = True
            last_sync = time.monotonic()
            while not self._stop_event.is_set():
                try:
                    with _one_push_at_a_time(self.settings):
                        # Now is read under the lock: a push for an earlier instant
                        # (the clock moved meanwhile) can never land after a later one.
                        now = self.clock()
                        self.next_transition = _push_all_at(
                            self.settings, store, now, full_sync=full_sync
                        )
                except RPCError as exc:
                    # The DB rows are written; a full sync brings Kamailio back in line.
                    log.warning("rules push failed, retrying in %ss: %s", self.retry_after, exc)
                    full_sync = True
                    self._sleep(self.retry_after)
                    continue
                last_sync = time.monotonic() if full_sync else last_sync
                # Re-sync now and then: a portal push that failed (Kamailio
                # restarting) left the DB ahead of Kamailio.
                full_sync = time.monotonic() - last_sync > self.full_sync_every
                self.pushes += 1
                self._first_push.set()
                self._sleep(self._seconds_until(self.next_transition, now))
        finally:
            store.close()

    def _seconds_until(self, transition: datetime | None, now: datetime) -> float:
        if transition is None:
            return self.max_sleep
        # 50 ms past the boundary: frames are half-open, the new rule starts *at* it.
        wait = (transition - now + timedelta(milliseconds=50)).total_seconds()
        return min(max(wait, 0.05), self.max_sleep)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake_event.wait(left):
                break
        self._wake_event.clear()

    def wait_first_push(self, timeout: float = 10.0) -> bool:
        """Block until the start-up push is done (True) or ``timeout`` passes."""
        return self._first_push.wait(timeout)

    def wake(self) -> None:
        """Re-push now instead of at the next transition."""
        self._wake_event.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it."""
        self._stop_event.set()
        self._wake_event.set()
        if self.is_alive():
            self.join(timeout)
