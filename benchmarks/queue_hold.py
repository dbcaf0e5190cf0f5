"""Callers one media process holds on queue music without gaps, and agent free -> caller bridged.

Real parts: Kamailio, one media-server process (its own CPU is what is
measured), SIPp as the carrier and as the agent's phone, ``RtpPhone``
sockets for the RTP. Acme has two main numbers:

- ``+15550002000`` → the "Hold" queue, nobody logged in: every caller
  waits on the queue's music (``media.queue``, announcements off);
- ``+15550003000`` → a menu whose application, in this benchmark's media
  process only, plays the same music with the same ``HoldPlayer`` and does
  nothing else: the **baseline**, the cost of the music alone.

Hold step (per N, baseline then queue, in the same run): N carrier calls at
``--rate``, all N on hold for ``--steady`` s. Reported: the media process's
CPU (utime + stime from /proc) per held caller, % of one core, while all N
hold; the media clock's slips (20 ms ticks started late) in that step;
arrival gaps over 60 ms in what the callers received; and the queue's
CPU per caller ÷ the baseline's.

Bridge step: ``--callers`` callers wait in the "Desk" queue for one agent
(101, a SIPp phone answering at once, hanging up after ``--talk`` ms; no
wrap-up). From the queue's own events: agent free (``complete`` of the
previous call) → next caller bridged (``connect``), p50/p95, against the
baseline of the same calls' offer → connect (the SIP round trip through
Kamailio to the phone, which any bridge pays): the ratio is what the queue's
scheduling adds.

    .venv/bin/python -m benchmarks.queue_hold [--steps 50,100,150] [--steady 8] [--callers 15]

Report the load average beside the numbers: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.bridge import _consecutive_ports, _percentile, media_worker
from benchmarks.bridge_scenarios import callee_scenario, caller_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone
from benchmarks.testbed import CounterSampler, make_settings
from switchboard.processes import ServerProcess
from switchboard.settings import Settings, load_settings

ACME = "acme.example"
QUEUE_DID, BASELINE_DID, DESK_DID = "+15550002000", "+15550003000", "+15550004000"
PASSWORD = "sip-secret-1"


# --- the media process (child) ---------------------------------------------------------------


def _serve(out_path: str) -> None:
    """Child mode: the media server, its ``aa-`` application only holding callers on music."""
    import asyncio
    import logging

    from media.hold_music import default_track, hold_music_loop
    from media.leg import Leg
    from media.queue_caller import HoldPlayer
    from media.server import MediaServer

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    out = Path(out_path)

    async def music_only(server: MediaServer, leg: Leg, user: str, identity: str) -> None:
        track = default_track(settings.data_dir, settings.hold_music_file)
        player = HoldPlayer(leg, hold_music_loop(track, settings.data_dir))
        leg.clock.subscribe(player)
        try:
            await leg.ended.wait()
        finally:
            leg.clock.unsubscribe(player)

    async def main() -> None:
        server = MediaServer(settings, applications={"aa-": music_only})
        await server.start()
        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        while not stopping.is_set():  # clock slips for the parent, every 200 ms
            out.write_text(str(server.clock.slips))
            await asyncio.sleep(0.2)
        await server.stop()

    asyncio.run(main())


# --- the parts ---------------------------------------------------------------------------------


def _seed(settings: Settings) -> None:
    """Acme, agent 101, the Hold and Desk queues, the baseline menu, three main numbers."""
    from kamailio.rules_push import push_all
    from switchboard.attendants import Attendant
    from switchboard.rules import AnsweringRule, Destination
    from switchboard.store import ProvisioningStore
    from switchboard.store.queues import CallQueue, QueueMember

    store = ProvisioningStore(settings.provisioning_db)
    store.add_tenant(ACME, "UTC", name="Acme")
    store.add_user(
        tenant=ACME, extension="101", name="Agent", email=f"101@{ACME}",
        password="portal-pass-1", sip_password=PASSWORD, role="user",
    )  # fmt: skip
    roomy = CallQueue(ACME, "Hold", max_callers=500, max_wait_seconds=7200, announce_seconds=0,
                      members=(QueueMember("101"),))  # fmt: skip
    hold = store.save_queue(roomy)
    desk = store.save_queue(replace(roomy, name="Desk", strategy="linear", wrapup_seconds=0))
    store.set_agent_login(ACME, "101", True, desk.id)
    menu = store.save_attendant(Attendant(ACME, "Music", greeting_text="Hello."))
    for number, dest in (
        (QUEUE_DID, Destination("queue", str(hold.id))),
        (BASELINE_DID, Destination("auto_attendant", str(menu.id))),
        (DESK_DID, Destination("queue", str(desk.id))),
    ):
        did = store.add_did(ACME, number, number)
        store.save_did_rule(did, AnsweringRule("All", 1, None, forward_always=dest))
    push_all(settings, store)
    store.close()


def _carrier(settings: Settings, work: Path, phone: RtpPhone, did: str, n: int, rate: float,
             talk_ms: int | None) -> Any:  # fmt: skip
    from kamailio.traffic import run_sipp

    scenario = caller_scenario(work / f"carrier-{did}.xml", phone, talk_ms=talk_ms, auth=False)
    row = ("+15551234567", "carrier.example", "-", did, settings.sip_host, "Carrier")
    return run_sipp(
        settings, scenario, [row] * n, rate=rate, limit=n + 5,
        timeout=n / rate + (talk_ms or 120_000) / 1000 + 60, local_port=settings.trunk_port,
        extra=["-max_socket", "2000"],
    )  # fmt: skip


def _hold_step(settings: Settings, work: Path, media: ServerProcess, slips_file: Path,
               did: str, n: int, rate: float, steady: float) -> dict[str, Any]:  # fmt: skip
    ramp = n / rate
    talk_ms = int((ramp + steady + 2) * 1000)

    def counters() -> tuple[float, int]:
        slips = int(slips_file.read_text() or 0) if slips_file.exists() else 0
        return media.cpu_seconds(), slips

    with RtpBank() as bank:
        phone = bank.add(RtpPhone(0, 600.0))
        with CounterSampler(counters) as sampler:
            t0 = time.monotonic()
            result = _carrier(settings, work, phone, did, n, rate, talk_ms)
        streams = list(phone.streams.values())
    lo = t0 + ramp + 1.5
    change = sampler.change(lo, lo + max(1.0, steady - 1))
    core_pct = slips = None
    if change is not None:
        seconds, (cpu, slipped) = change
        core_pct, slips = 100 * cpu / seconds, int(slipped)
    return {
        "callers": n,
        "sipp_ok": result.returncode == 0,
        "heard": sum(1 for s in streams if len(s.raw) > 50),
        "arrival_gaps": sum(s.gaps() for s in streams),
        "media_core_pct": None if core_pct is None else round(core_pct, 1),
        "core_pct_per_caller": None if core_pct is None else round(core_pct / n, 3),
        "clock_slips_while_holding": slips,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _events(settings: Settings, queue_name: str) -> list[dict[str, Any]]:
    from switchboard.store import ProvisioningStore

    store = ProvisioningStore(settings.provisioning_db)
    queue_id = next(q.id for q in store.queues(ACME) if q.name == queue_name)
    store.close()
    rows: list[dict[str, Any]] = []
    for path in (settings.spool_dir / "queue_events" / ACME).glob("qe-*.json"):
        rows += json.loads(path.read_text())["queue_events"]
    return sorted((r for r in rows if r["queue_id"] == queue_id), key=lambda r: r["at"])


def _bridge_step(settings: Settings, work: Path, callers: int, talk_ms: int) -> dict[str, Any]:
    from kamailio.traffic import SipAccount, SippUAS, register

    with RtpBank() as bank:
        agent = bank.add(RtpPhone(0, 1400.0))
        xml = callee_scenario(work / "agent.xml", agent, ring_ms=0, hangup_after_ms=talk_ms)
        with SippUAS(xml) as uas:
            registered = register(settings, [SipAccount("101", ACME, PASSWORD)], uas.contact)
            assert registered.returncode == 0, registered.errors
            result = _carrier(settings, work, bank.add(RtpPhone(0, 600.0)), DESK_DID, callers,
                              10.0, None)  # fmt: skip
    time.sleep(1.5)  # the queue's events are flushed every second
    events = _events(settings, "Desk")
    free_to_bridged, offer_to_bridged = [], []
    last_complete: float | None = None
    offered: dict[str, float] = {}
    for e in events:
        if e["kind"] == "offer":
            offered.setdefault(e["call_id"], e["at"])
        elif e["kind"] == "connect":
            offer_to_bridged.append(1000 * (e["at"] - offered[e["call_id"]]))
            if last_complete is not None:
                free_to_bridged.append(1000 * (e["at"] - last_complete))
        elif e["kind"] == "complete":
            last_complete = e["at"]
    p50, base50 = _percentile(free_to_bridged, 50), _percentile(offer_to_bridged, 50)
    return {
        "callers": callers,
        "sipp_ok": result.returncode == 0,
        "bridged": len(offer_to_bridged),
        "free_to_bridged_ms_p50": p50,
        "free_to_bridged_ms_p95": _percentile(free_to_bridged, 95),
        "baseline_offer_to_bridged_ms_p50": base50,
        "baseline_offer_to_bridged_ms_p95": _percentile(offer_to_bridged, 95),
        "ratio_p50": round(p50 / base50, 2) if p50 and base50 else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def run(steps: list[int], rate: float, steady: float, callers: int, talk_ms: int) -> None:
    from kamailio.launcher import KamailioProcess
    from switchboard.store import ProvisioningStore

    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    settings = make_settings(work / "data", media_port=_consecutive_ports(1),
                             rtp_timeout_seconds=10, kamailio_children=4)  # fmt: skip
    ProvisioningStore(settings.provisioning_db).close()
    kamailio = KamailioProcess(settings)
    kamailio.start()
    slips_file = work / "slips"
    media = None
    try:
        _seed(settings)
        media = media_worker(settings, 0, [sys.executable, "-m", "benchmarks.queue_hold",
                                           "--serve", str(slips_file)], work)  # fmt: skip
        media.wait_ready()  # it listens once its prompts are made (seconds)
        for n in steps:
            rows = {}
            for mode, did in (("baseline", BASELINE_DID), ("queue", QUEUE_DID)):
                rows[mode] = _hold_step(settings, work, media, slips_file, did, n, rate, steady)
                print(json.dumps({"step": "hold", "mode": mode, **rows[mode]}), flush=True)
            base, queue = (rows[m]["core_pct_per_caller"] for m in ("baseline", "queue"))
            ratio = round(queue / base, 2) if base and queue else None
            print(json.dumps({"step": "hold", "callers": n, "cpu_ratio_queue_to_baseline": ratio}),
                  flush=True)  # fmt: skip
        row = _bridge_step(settings, work, callers, talk_ms)
        print(json.dumps({"step": "agent_free_to_bridged", **row}), flush=True)
    finally:
        if media is not None:
            media.stop(30)
        kamailio.stop()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", default="50,100,150", help="callers on hold at once")
    parser.add_argument("--rate", type=float, default=20.0, help="calls placed per second")
    parser.add_argument("--steady", type=float, default=8.0, help="seconds all N hold")
    parser.add_argument("--callers", type=int, default=15, help="callers for the bridge step")
    parser.add_argument("--talk", type=int, default=500, help="ms the agent talks per call")
    args = parser.parse_args()
    run([int(s) for s in args.steps.split(",")], args.rate, args.steady, args.callers, args.talk)


if __name__ == "__main__":
    main()
