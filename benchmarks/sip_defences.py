"""What the flood and guessing defences cost legitimate calls (issue 9's closing number).

Two Kamailios side by side on the same seeded data: the production config and
the same config started with ``-A WITHOUT_DEFENCES`` (no pike, ban list or
scanner filter; the in-dialog check stays: it is no option). SIPp places
authenticated calls 101 -> 102 (a SIPp phone answers) from 127.0.0.2, an
address that is not Kamailio's own, so every request passes the defences.
One load generator is one address, which pike would rightly ban at the
default limit; the benchmark raises ``sip_flood_max_requests`` so pike still
counts every request but lets the load through: what is measured is the
cost, the limit itself is tested in tests/security. Rates alternate between
the two Kamailios so a busy moment of the machine does not land on one only.

    .venv/bin/python -m benchmarks.sip_defences [--rates 100,200,300] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

from benchmarks.rules import call_step
from benchmarks.testbed import make_settings
from kamailio.launcher import KamailioProcess
from kamailio.traffic import SipAccount, SippUAS, register, scenario
from switchboard.demo import DEMO_SIP_PASSWORD, seed_demo
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

SOURCE = "127.0.0.2"  # not Kamailio's own address: the defences apply


def step(settings: Settings, leader: int, rate: int, seconds: int, label: str) -> dict:
    """``rate`` calls/s for ``seconds`` from SOURCE; what completed and the CPU it took."""
    caller = SipAccount("101", "acme.example", DEMO_SIP_PASSWORD, "Bench")
    callee = SipAccount("102", "acme.example", DEMO_SIP_PASSWORD)
    row = {"config": label, **call_step(settings, leader, caller, callee, rate, seconds,
                                        extra=["-i", SOURCE])}  # fmt: skip
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,200,300")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with contextlib.ExitStack() as stack:
        running: dict[str, tuple[Settings, int]] = {}
        for label, defines in (("defences", ()), ("without", ("WITHOUT_DEFENCES",))):
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-defences-"))
            settings = make_settings(
                Path(tmp) / "data", kamailio_children=4, sip_flood_max_requests=1_000_000
            )
            store = ProvisioningStore(settings.provisioning_db)
            stack.callback(store.close)
            seed_demo(store, "acme.example")
            kamailio = stack.enter_context(KamailioProcess(settings, defines=defines))
            assert kamailio.pid is not None
            phone = stack.enter_context(SippUAS(scenario("uas_answer.xml")))
            callee = SipAccount("102", "acme.example", DEMO_SIP_PASSWORD)
            assert register(settings, [callee], phone.contact).returncode == 0
            running[label] = (settings, kamailio.pid)
        for rate in rates:
            for label, (settings, pid) in running.items():
                step(settings, pid, rate, args.seconds, label)
                time.sleep(1)


if __name__ == "__main__":
    main()
