"""Answering rules: what they cost Kamailio per call, and what a full push costs Python.

1. SIPp through Kamailio, stepping the call rate, twice in the same run on
   the same seeded data: the full rules path (callee with an active rule:
   decision lookup, block list, forwards armed, ring timer per rule) and the
   same config started with ``-A WITHOUT_RULES`` (plain: lookup and relay).
   For each step: calls placed, calls completed (200 + BYE answered), and the
   CPU Kamailio's processes used (utime + stime from /proc, all processes of
   its session) per completed call. "Clean" = every call completed.
2. The time to compute and push every decision for 10,000 extensions (20
   tenants of 500), three ways: first push (everything new), a transition
   (everything changes: Open Hours end) and a re-push with nothing changed.

    .venv/bin/python -m benchmarks.rules [--rates 200,400,600,800,1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from benchmarks.testbed import make_settings
from kamailio import rules_push
from kamailio.launcher import KamailioProcess
from kamailio.traffic import SipAccount, SippUAS, call_rows, register, run_sipp, scenario
from switchboard.demo import DEMO_SIP_PASSWORD, seed_demo
from switchboard.processes import proc_stats
from switchboard.rules import AnsweringRule, Destination
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store import passwords as store_passwords
from switchboard.timeframes import TimeFrame, WeeklyPeriod

OPEN = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
CLOSED = datetime(2026, 12, 22, 23, 0, tzinfo=UTC)  # 18:00 New York


def session_cpu_seconds(leader: int) -> float:
    """utime + stime of every process in ``leader``'s session (Kamailio and its children)."""
    return sum(s.cpu_seconds for s in proc_stats() if s.session == leader)


def seed_rules(store: ProvisioningStore) -> None:
    """The callee's rule for the rules path: the demo's Open Hours, block list, forwards armed."""
    callee = store.user("acme.example", "102")
    store.save_rule(
        callee,
        AnsweringRule(
            "Office", 1, "Open Hours", ring_seconds=20,
            block=("+1900*", "+1976*", "5550000", "anonymous-caller"),
            forward_busy=Destination("extension", "103"),
            forward_no_answer=Destination("voicemail"),
        ),
    )  # fmt: skip


def call_step(
    settings: Settings,
    leader: int,
    caller: SipAccount,
    callee: SipAccount,
    rate: int,
    seconds: int,
    extra: Sequence[str] = (),
) -> dict:
    """``rate`` calls/s caller -> callee for ``seconds``: calls completed (200 and BYE
    answered) and the CPU of Kamailio's session (``leader``) per completed call."""
    calls = rate * seconds
    cpu0, t0 = session_cpu_seconds(leader), time.monotonic()
    result = run_sipp(
        settings, scenario("uac.xml"), call_rows([(caller, callee)]),
        calls=calls, rate=rate, duration_ms=200, limit=4000,
        timeout=seconds * 2 + 15, auth=caller, extra=extra,
    )  # fmt: skip
    cpu, wall = session_cpu_seconds(leader) - cpu0, time.monotonic() - t0
    byes = {line.split()[-1] for line in result.log_lines if line.startswith("bye_ok")}
    completed = sum(1 for cid, code in result.finals.items() if code == 200 and cid in byes)
    return {
        "rate": rate,
        "placed": calls,
        "completed": completed,
        "clean": completed == calls,
        "wall_s": round(wall, 1),
        "kamailio_cpu_s": round(cpu, 2),
        "cpu_ms_per_call": round(1000 * cpu / max(completed, 1), 3),
        "core_share": round(cpu / wall, 2),
        "sipp_errors": result.errors.count("\n"),
    }


def step_rates(settings: Settings, rates: list[int], seconds: int, label: str) -> list[dict]:
    """Run each rate for ``seconds`` against the running Kamailio; one result per rate."""
    caller = SipAccount("101", "acme.example", DEMO_SIP_PASSWORD, "Bench")
    callee = SipAccount("102", "acme.example", DEMO_SIP_PASSWORD)
    results = []
    with SippUAS(scenario("uas_answer.xml")) as phone:
        assert register(settings, [callee], phone.contact).returncode == 0
        for rate in rates:
            row = {"path": label, **call_step(settings, kamailio_pid(settings), caller, callee,
                                              rate, seconds)}  # fmt: skip
            print(row, flush=True)
            results.append(row)
            time.sleep(1)
    return results


_PIDS: dict[int, int] = {}


def kamailio_pid(settings: Settings) -> int:
    return _PIDS[settings.sip_port]


def sip_benchmark(rates: list[int], seconds: int) -> list[dict]:
    """Both Kamailios run side by side; each rate is measured on one, then the other.

    Alternating per rate (instead of one whole sweep, then the other) keeps a
    busy moment of the machine from landing on one path only.
    """
    out = []
    with contextlib.ExitStack() as stack:
        running: dict[str, Settings] = {}
        for label, defines in (("rules", ()), ("plain", ("WITHOUT_RULES",))):
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rules-"))
            # one account places every call: no per-user limit (sip_max_calls_per_user)
            settings = make_settings(
                Path(tmp) / "data", kamailio_children=4, ring_timeout=30,
                sip_max_calls_per_user=100_000,
            )  # fmt: skip
            store = ProvisioningStore(settings.provisioning_db)
            stack.callback(store.close)
            seed_demo(store, "acme.example")  # 101 calls 102; 100's rules play no part
            seed_rules(store)
            kamailio = stack.enter_context(KamailioProcess(settings, defines=defines))
            assert kamailio.pid is not None
            _PIDS[settings.sip_port] = kamailio.pid
            rules_push.push_all(settings, store, now=OPEN, full_sync=True)
            running[label] = settings
        for rate in rates:
            for label, settings in running.items():
                out.extend(step_rates(settings, [rate], seconds, label))
    return out


def push_benchmark(extensions: int = 10_000, per_tenant: int = 500) -> dict[str, float]:
    """Seconds to compute and push every decision for ``extensions`` users."""
    # Portal-grade argon2 would make seeding 10,000 users take minutes; the
    # password hash plays no part in what is measured here.
    from argon2 import PasswordHasher

    store_passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        settings = make_settings(Path(tmp) / "data")
        store = ProvisioningStore(settings.provisioning_db)
        t0 = time.perf_counter()
        weekdays = WeeklyPeriod(frozenset(range(5)), clock_time(9), clock_time(17))
        for t in range(extensions // per_tenant):
            tenant = f"t{t}.example"
            store.add_tenant(tenant, "America/New_York")
            store.save_frame(tenant, TimeFrame("Open Hours", "America/New_York", (weekdays,)))
            for i in range(per_tenant):
                user = store.add_user(
                    tenant=tenant, extension=str(1000 + i), name=f"User {i}",
                    email=f"{i}@{tenant}", password="bench-pass-1", sip_password="sip-pass-1",
                    role="user",
                )  # fmt: skip
                store.save_rule(user, AnsweringRule("Office", 1, "Open Hours", ring_seconds=20))
                store.save_rule(user, AnsweringRule("Closed", 2, None, dnd=True))
        seeded = time.perf_counter() - t0
        with KamailioProcess(settings):
            timings = {"seed_s": seeded}
            for name, instant in (
                ("first_push", OPEN),
                ("transition", CLOSED),
                ("no_change", CLOSED),
            ):
                t0 = time.perf_counter()
                decisions = rules_push.all_decisions(store, instant, settings.ring_timeout)
                t1 = time.perf_counter()
                rules_push.push_all(settings, store, now=instant)
                t2 = time.perf_counter()
                timings[f"{name}_compute_s"] = round(t1 - t0, 3)
                timings[f"{name}_compute_and_push_s"] = round(t2 - t1, 3)
            with rules_push.KamailioRPC(settings.rpc_url) as rpc:
                held = rpc.call("htable.get", "rules", "t1.example:1123")["item"]["value"]
            expected = {key: value for key, value, _ in decisions}["t1.example:1123"]
            assert held == expected and held.startswith("Closed|"), held
            timings["decisions"] = len(decisions)
            # one user's edit, as the portal does it
            user = store.user("t1.example", "1042")
            t0 = time.perf_counter()
            rules_push.push_user(settings, store, user, now=OPEN)
            timings["push_user_ms"] = round(1000 * (time.perf_counter() - t0), 2)
        store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="300,500,700,900")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--extensions", type=int, default=10_000)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    rows = sip_benchmark(rates, args.seconds)
    for label in ("rules", "plain"):
        clean = [r["rate"] for r in rows if r["path"] == label and r["clean"]]
        first_fail = next((r["rate"] for r in rows if r["path"] == label and not r["clean"]), None)
        print(f"{label}: clean up to {max(clean, default=0)} calls/s, failures from {first_fail}")
    print(push_benchmark(args.extensions))


if __name__ == "__main__":
    main()
