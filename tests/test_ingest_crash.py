"""Exactly once across kill -9: ingest in a child process, kill it anywhere, repeat.

Each round appends accounting rows (two known tenants, one not provisioned
until halfway, several days, some corrupt rows), then runs ``ingest_once`` in
a child that is SIGKILLed either by itself at a chosen protocol step (the
``on_step`` hook) or by the parent after a random delay (anywhere, including
inside a Parquet write). The batch size changes between rounds. At the end,
one clean ingest must leave every accounting id in the lake exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipeline.ingest import ingest_once
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.core import insert_acc_rows, make_settings, seed
from tests.fixtures.crash import kill_at_step_program
from tests.fixtures.portal import REPO_ROOT, portal_env

ROUNDS = 24
STEPS = ("read", "pending", "file", "strays", "manifest", "done")
T0 = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC

CHILD = kill_at_step_program(
    """
    from pipeline.ingest import ingest_once
    from switchboard.settings import load_settings

    ingest_once(load_settings(), on_step=hook if step != "none" else None)
    """
)


def random_rows(rng: random.Random, serial: int, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        invite = T0 + rng.randrange(0, 4 * 86_400)
        answered = rng.random() < 0.5
        row: dict[str, Any] = {
            "call_id": f"call-{serial + i}",
            "tenant": rng.choice(["acme.example", "globex.example", "initech.example"]),
            "direction": rng.choice(["internal", "inbound", "outbound"]),
            "caller": rng.choice(["100", "101", "102", "+15550100"]),
            "callee": rng.choice(["100", "101", "102", "103"]),
            "invite_at": invite,
            "answer_at": invite + 3 if answered else None,
            "end_at": invite + rng.randrange(4, 600),
            "sip_code": 200 if answered else rng.choice([408, 480, 486, 487, 503, 603]),
        }
        if rng.random() < 0.1:
            row["end_at"] = "corrupt"
        rows.append(row)
    return rows


def run_child(
    settings: Settings, rng: random.Random, batch: int, at: tuple[str, int] | None = None
) -> str:
    env = {**portal_env(settings), "SWITCHBOARD_INGEST_BATCH": str(batch)}
    if at is not None or rng.random() < 0.6:
        step, nth = at or (rng.choice(STEPS), rng.randint(1, 3))
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, step, str(nth)], env=env, cwd=REPO_ROOT
        )
        proc.wait(30)
        return f"{step}#{nth}"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "none", "0"], env=env, cwd=REPO_ROOT)
    delay = rng.uniform(0.2, 1.0)  # the child spends ~0.3 s importing
    try:
        proc.wait(delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    return f"timer {delay:.2f}s"


def test_every_accounting_row_lands_exactly_once_despite_kill_9(tmp_path: Path) -> None:
    rng = random.Random(42)
    settings = make_settings(tmp_path / "data", ingest_batch=5)
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    serial = 0
    outcomes = []
    started = time.monotonic()
    for round_no in range(ROUNDS):
        n = rng.randint(0, 14)
        insert_acc_rows(settings, random_rows(rng, serial, n))
        serial += n
        if round_no == ROUNDS // 2:
            # Kill a batch holding initech rows before its manifest, then provision
            # initech: the redo turns them into calls, and the quarantine file the
            # killed attempt wrote must go.
            ingest_once(settings)
            insert_acc_rows(settings, [dict(r, tenant="initech.example") for r in
                                       random_rows(rng, serial, 4)])  # fmt: skip
            serial += 4
            outcomes.append(run_child(settings, rng, batch=9, at=("strays", 1)))
            assert (settings.lake_dir / "_batches/pending.json").exists()
            store.add_tenant("initech.example", "UTC")
        outcomes.append(run_child(settings, rng, batch=rng.randint(2, 9)))
    store.close()
    assert time.monotonic() - started < 60

    ingest_once(settings)

    lake = settings.lake_dir
    calls = [r for f in (lake / "calls").rglob("*.parquet") for r in pq.read_table(f).to_pylist()]
    quarantined = [
        r for f in (lake / "quarantine").rglob("*.parquet") for r in pq.read_table(f).to_pylist()
    ]
    seen = Counter([r["acc_id"] for r in calls] + [r["acc_id"] for r in quarantined])
    assert {i: c for i, c in seen.items() if c != 1} == {}, outcomes
    assert sorted(seen) == list(range(1, serial + 1)), outcomes
    assert len({r["call_id"] for r in calls}) == len(calls)
    # Rows committed before initech was provisioned stay in quarantine (with why).
    assert {r["reason"] for r in quarantined} == {
        "end_at is not a number: 'corrupt'",
        "tenant 'initech.example' is unknown",
    }
    assert {r["tenant"] for r in calls if "tenant" in r} == set()  # path-only column
    assert not list(lake.rglob("*.tmp"))
    assert not (lake / "_batches/pending.json").exists()
    assert serial > 100
