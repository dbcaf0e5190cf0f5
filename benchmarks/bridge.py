"""Bridged calls one media process relays without audio gaps, CPU per call, 200 OK -> audio.

Real parts: Kamailio, media-server worker processes (``--workers``, behind
the dispatcher), SIPp for the SIP of both phones, ``RtpPhone`` sockets for
their RTP. 101 calls 103, whose rule sends every call to ``aa-acme.example-<menu>``;
the workers' application there bridges to 102 (a SIPp UAS registered with
Kamailio, answering after 300 ms and hanging up after ``talk``). The caller
plays 600 Hz, 102 plays 1400 Hz. Per step (N calls placed at ``--rate``, all
N bridged at once for ``--steady`` seconds):

- answered / placed, and how each ended;
- audio gaps, both directions, from each side's received RTP: 20 ms packets
  without the other side's tone between its first and last one ("bad
  frames"), and arrival gaps over 60 ms; the relay's own underruns and
  dropped frames, and the media clock's slips (ticks over 20 ms late);
- CPU of the media workers (utime + stime from /proc) while all N are
  bridged, per bridged call (% of one core);
- 200 OK -> first relayed packet: the callee's 200 as the media server saw
  it (its ``answered_at``, CLOCK_MONOTONIC is system-wide) to the arrival of
  the first 1400 Hz packet at the caller's socket, p50/p95; and the relay's
  own part (200 -> first relayed packet sent) from the bridge's stats.

    .venv/bin/python -m benchmarks.bridge [--steps 25,50,75] [--workers 1] [--steady 8] [--nice -10]

Arrival times are the kernel's (SO_TIMESTAMP), so a phone thread scheduled late
does not count as a network gap; on a shared, loaded machine ``--nice`` keeps
other work from starving the run (report the load average beside the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bridge_scenarios import callee_scenario, caller_scenario
from benchmarks.rtp_phones import DECODE, RtpBank, RtpPhone, Stream
from benchmarks.testbed import CounterSampler, free_port, make_settings
from switchboard.processes import ServerProcess, udp_bound
from switchboard.settings import Settings, load_settings

CALLER_HZ, CALLEE_HZ = 600.0, 1400.0
PASSWORD = "sip-secret-1"
# settings a worker must share with Kamailio (the rest are defaults or unused there)
SHARED = ("data_dir", "sip_host", "sip_port", "rpc_port", "media_host", "media_port")


def _env(settings: Settings, **extra: object) -> dict[str, str]:
    values = {name: getattr(settings, name) for name in SHARED} | extra
    return {f"SWITCHBOARD_{k.upper()}": str(v) for k, v in values.items()} | {
        "SWITCHBOARD_CONFIG": str(settings.data_dir / "none.toml")
    }


# --- the worker (child process) --------------------------------------------------------------


def _serve(out_path: str) -> None:
    """Child mode: a media server whose ``aa-`` application bridges to 102, until SIGTERM."""
    import logging

    from media.bridge import bridge
    from media.hold_music import default_track
    from media.leg import Leg
    from media.outbound import CallerId
    from media.server import MediaServer
    from switchboard.attendants import ATTENDANT_PREFIX, parse_media_target

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    out = Path(out_path)

    async def to_102(server: MediaServer, leg: Leg, user: str, identity: str) -> None:
        target = parse_media_target(ATTENDANT_PREFIX, user)
        assert target is not None and server.dialer is not None
        outcome = await bridge(
            leg, "102", dialer=server.dialer, tenant=target[0], identity=identity,
            caller_id=CallerId("101", "Bench"), hold_music=default_track(settings.data_dir),
            data_dir=settings.data_dir, ring_timeout=10,
        )  # fmt: skip
        row = {"result": outcome.result, "ended_by": outcome.ended_by, **outcome.stats}
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    async def main() -> None:
        server = MediaServer(settings, applications={"aa-": to_102})
        await server.start()
        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        last = 0
        while not stopping.is_set():  # clock slips, for the parent, once a second
            if server.clock.slips != last:
                last = server.clock.slips
                out.with_suffix(".slips").write_text(str(last))
            await asyncio.sleep(1)
        await server.stop()

    asyncio.run(main())


def media_worker(settings: Settings, worker: int, argv: list[str], work: Path) -> ServerProcess:
    """Media worker ``worker`` (SIP on ``media_port + worker``) started, not yet ready."""
    port = settings.media_port + worker
    return ServerProcess(
        f"media worker {worker}",
        argv,
        ready=lambda: udp_bound(settings.media_host, port),
        env=os.environ | _env(settings, media_port=port),
        output=work / f"media{worker}.log",
    ).start(wait=False)


# --- the parts ---------------------------------------------------------------------------------


def _consecutive_ports(n: int) -> int:
    import socket

    while True:
        base = free_port()
        try:
            for port in range(base + 1, base + n):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue


def _seed(settings: Settings) -> None:
    """acme.example with 101, 102, 103; 103 forwards every call to a menu."""
    from kamailio.rules_push import push_user
    from switchboard.rules import AnsweringRule, Destination
    from switchboard.store import ProvisioningStore

    store = ProvisioningStore(settings.provisioning_db)
    store.add_tenant("acme.example", "UTC", name="Acme")
    users = {}
    for ext in ("101", "102", "103"):
        users[ext] = store.add_user(
            tenant="acme.example", extension=ext, name=f"User {ext}", email=f"{ext}@acme.example",
            password="portal-pass-1", sip_password=PASSWORD, role="user",
        )  # fmt: skip
    from switchboard.attendants import Attendant

    attendant = store.save_attendant(Attendant("acme.example", "Menu", greeting_text="Hello."))
    menu = Destination("auto_attendant", str(attendant.id))
    store.save_rule(users["103"], AnsweringRule("Menu", 1, None, forward_always=menu))
    push_user(settings, store, users["103"])
    store.close()


# --- analysis ----------------------------------------------------------------------------------


def _tone_power(stream: Stream, freq: float) -> tuple[np.ndarray, np.ndarray]:
    """(arrival times, power of ``freq``) per received G.711 packet."""
    packets = [r for r in stream.received if r.payload_type in DECODE and len(r.payload) == 160]
    if not packets:
        return np.zeros(0), np.zeros(0)
    pcm = np.stack(
        [DECODE[r.payload_type][np.frombuffer(r.payload, np.uint8)] for r in packets]
    ).astype(np.float64)
    basis = np.exp(-2j * np.pi * freq * np.arange(160) / 8000)
    power = np.abs((pcm / 32768) @ basis) ** 2 / (160**2 / 4)
    return np.array([r.at for r in packets]), power


def _talk(stream: Stream, freq: float) -> dict[str, Any]:
    at, power = _tone_power(stream, freq)
    heard = np.nonzero(power > 0.02)[0]
    if len(heard) == 0:
        return {"heard": False}
    first, last = heard[0], heard[-1]
    window = power[first : last + 1]
    times = at[first : last + 1]
    return {
        "heard": True,
        "first_at": float(at[first]),
        "frames": len(window),
        "bad_frames": int(np.sum(window <= 0.02)),
        "arrival_gaps": int(np.sum(np.diff(times) > 0.06)),
    }


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


# --- one step ----------------------------------------------------------------------------------


def _step(
    settings: Settings, work: Path, workers: list[ServerProcess], outs: list[Path],
    concurrent: int, rate: float, steady: float,
) -> dict[str, Any]:  # fmt: skip
    from kamailio.traffic import SipAccount, SippUAS, register, run_sipp

    for out in outs:
        out.write_text("")
    ramp = concurrent / rate
    talk_ms = int((ramp + steady + 1) * 1000)

    def cpu() -> tuple[float, float]:
        own = os.times()
        return sum(w.cpu_seconds() for w in workers), own.user + own.system

    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        callee = bank.add(RtpPhone(0, CALLEE_HZ))
        xml = callee_scenario(work / "callee.xml", callee, ring_ms=300, hangup_after_ms=talk_ms)
        with SippUAS(xml) as uas:
            account = SipAccount("102", "acme.example", PASSWORD)
            assert register(settings, [account], uas.contact).returncode == 0
            with CounterSampler(cpu) as sampler:
                t0 = time.monotonic()
                result = run_sipp(
                    settings,
                    caller_scenario(work / "caller.xml", caller, talk_ms=None),
                    [("101", "acme.example", "-", "103", "acme.example", "Bench")] * concurrent,
                    rate=rate, limit=concurrent + 5, timeout=ramp + talk_ms / 1000 + 60,
                    auth=SipAccount("101", "acme.example", PASSWORD),
                    extra=["-max_socket", "2000"],
                )  # fmt: skip
            time.sleep(1)
        slips = bank.slips
    rows = [json.loads(line) for out in outs for line in out.read_text().splitlines() if line]
    # CPU while all N are bridged: from the end of the ramp (+1 s) for ``steady`` s
    lo = t0 + ramp + 1.5
    change = sampler.change(lo, lo + max(1.0, steady - 1))
    core_pct = harness_pct = None
    if change is not None:
        seconds, (workers_cpu, harness_cpu) = change
        core_pct, harness_pct = 100 * workers_cpu / seconds, 100 * harness_cpu / seconds
    by_port = {int(r["caller_rtp_port"]): r for r in rows if "caller_rtp_port" in r}
    latencies, relay_ms = [], []
    to_caller = {"frames": 0, "bad_frames": 0, "arrival_gaps": 0, "heard": 0}
    for peer, stream in caller.streams.items():
        talk = _talk(stream, CALLEE_HZ)
        if not talk["heard"]:
            continue
        to_caller["heard"] += 1
        for key in ("frames", "bad_frames", "arrival_gaps"):
            to_caller[key] += talk[key]
        row = by_port.get(peer[1])
        if row and "answered_at" in row:
            latencies.append(1000 * (talk["first_at"] - row["answered_at"]))
    relay_ms = [r["answer_to_first_relay_ms"] for r in rows if "answer_to_first_relay_ms" in r]
    to_callee = {"frames": 0, "bad_frames": 0, "arrival_gaps": 0, "heard": 0}
    for stream in callee.streams.values():
        talk = _talk(stream, CALLER_HZ)
        if talk["heard"]:
            to_callee["heard"] += 1
            for key in ("frames", "bad_frames", "arrival_gaps"):
                to_callee[key] += talk[key]
    server_slips = sum(int(p.read_text()) for o in outs if (p := o.with_suffix(".slips")).exists())
    return {
        "concurrent": concurrent,
        "workers": len(workers),
        "sipp_ok": result.returncode == 0,
        "sipp_errors": result.errors.strip().splitlines()[-3:] if result.returncode else [],
        "answered": sum(r["result"] == "answered" for r in rows),
        "ended_by_callee": sum(r.get("ended_by") == "callee" for r in rows),
        "to_caller": to_caller,
        "to_callee": to_callee,
        "relay_underruns": sum(
            r.get("caller_underruns", 0) + r.get("callee_underruns", 0) for r in rows
        ),
        "relay_dropped": sum(r.get("caller_dropped", 0) + r.get("callee_dropped", 0) for r in rows),
        "media_clock_slips_total": server_slips,
        "harness_slips": slips,
        "harness_core_pct": None if harness_pct is None else round(harness_pct, 1),
        "load_average_1m": os.getloadavg()[0],
        "workers_core_pct": None if core_pct is None else round(core_pct, 1),
        "core_pct_per_bridged_call": None if core_pct is None else round(core_pct / concurrent, 2),
        "answer_to_caller_ms_p50": _percentile(latencies, 50),
        "answer_to_caller_ms_p95": _percentile(latencies, 95),
        "answer_to_relay_sent_ms_p50": _percentile(relay_ms, 50),
        "answer_to_relay_sent_ms_p95": _percentile(relay_ms, 95),
    }


def run(steps: list[int], workers_n: int, rate: float, steady: float) -> list[dict[str, Any]]:
    from kamailio.launcher import KamailioProcess

    work = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    settings = make_settings(
        work / "data", media_port=_consecutive_ports(workers_n), media_workers=workers_n,
        rtp_timeout_seconds=10, kamailio_children=4,
    )  # fmt: skip
    from switchboard.store import ProvisioningStore

    ProvisioningStore(settings.provisioning_db).close()
    kamailio = KamailioProcess(settings)
    kamailio.start()
    procs: list[ServerProcess] = []
    outs = [work / f"worker{i}.jsonl" for i in range(workers_n)]
    results = []
    try:
        _seed(settings)
        for i, out in enumerate(outs):
            procs.append(media_worker(settings, i, [sys.executable, "-m", "benchmarks.bridge",
                                                    "--serve", str(out)], work))  # fmt: skip
        for proc in procs:
            proc.wait_ready()  # it listens once its prompts are made (seconds)
        for n in steps:
            step_dir = work / f"step{n}"
            step_dir.mkdir()
            row = _step(settings, step_dir, procs, outs, n, rate, steady)
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for proc in procs:
            proc.stop(30)
        kamailio.stop()
    return results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25,50,75")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=15.0, help="calls placed per second")
    parser.add_argument("--steady", type=float, default=8.0, help="seconds all N are bridged")
    parser.add_argument(
        "--nice", type=int, default=0,
        help="niceness for this run and its children (e.g. -10 as root: less noise from others)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)
    run([int(s) for s in args.steps.split(",")], args.workers, args.rate, args.steady)


if __name__ == "__main__":
    main()
