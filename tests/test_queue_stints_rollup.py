"""The queue stints rollup: compaction writes each closed day's stints once, the queue
metrics read them for those days and compute only the rest, and every number stays the
same, across a late batch and kill -9 of the compaction at any step."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import QUEUE_STINTS_ROLLUP, tenant_folder
from pipeline.metric_engine import Period
from pipeline.metrics_cache import RESULTS
from pipeline.queue_ingest import ingest_queue_events
from pipeline.queue_metrics import (
    Thresholds,
    agent_kpis,
    agent_pauses,
    prepare,
    queue_calls,
    queue_kpis,
    stints,
)
from pipeline.viewer import open_for_viewer
from switchboard.queue_events import AgentEvent, QueueEvent
from switchboard.settings import Settings
from tests.fixtures.crash import kill_at_step_program
from tests.fixtures.portal import REPO_ROOT, portal_env
from tests.fixtures.queue_events import ACME, T0, spool

TZ = "America/New_York"
# The hand-checked day (2026-03-02) with random days around it, 03-01 to 03-04 (UTC).
PERIOD = Period(date(2026, 3, 1), date(2026, 3, 4))
NOW = datetime(2026, 3, 6, tzinfo=UTC)
TODAY = date(2026, 3, 5)  # 03-04 is closed but its next day is not: 03-01..03-03 roll up
LIMITS = {1: Thresholds(20, 5), 2: Thresholds(30, 10)}


def random_days(settings: Settings, seed: int, n: int, first_batch: int) -> None:
    """``n`` random stints over 03-01..03-04 in queues 1 and 2, agents logging in and
    pausing, spooled in a few batches as the media server cuts them, and ingested."""
    rnd = random.Random(seed)
    queue: list[QueueEvent] = []
    agent: list[AgentEvent] = []
    day0 = T0 - 86_400 - 14 * 3600  # 03-01 00:00 UTC
    for d in range(4):
        for a in ("102", "103"):
            agent.append(AgentEvent(day0 + d * 86_400 + 3600, "login", a, 2))
            agent.append(AgentEvent(day0 + d * 86_400 + 7200, "pause", a, None, "coffee"))
            agent.append(AgentEvent(day0 + d * 86_400 + 7500, "unpause", a, None, "coffee"))
    for i in range(n):
        qid, call = rnd.choice((1, 2)), f"r{i}"
        t = day0 + rnd.uniform(0, 4 * 86_400)  # some cross midnight, UTC and local
        wait = round(rnd.uniform(0, 90), 1)
        queue.append(QueueEvent(t, "enter", qid, call, f"+1555{i:04d}", position=1))
        fate = rnd.random()
        if fate < 0.6:
            ag, talk = rnd.choice(("102", "103")), round(rnd.uniform(5, 900), 1)
            queue.append(QueueEvent(t + wait, "connect", qid, call, agent=ag, wait=wait))
            queue.append(QueueEvent(t + wait + talk, "complete", qid, call, agent=ag,
                                    wait=wait, talk=talk))  # fmt: skip
            agent.append(AgentEvent(t + wait + talk, "wrapup_start", ag, qid))
            agent.append(AgentEvent(t + wait + talk + 15, "wrapup_end", ag, qid))
        elif fate < 0.8:
            queue.append(QueueEvent(t + wait, "abandon", qid, call, wait=wait))
        elif fate < 0.9:
            queue.append(QueueEvent(t + 300, "overflow", qid, call, wait=300.0,
                                    outcome="max_wait", target="voicemail:100"))  # fmt: skip
        # else: still waiting, or lost to the restart of the hand-checked day
    rnd.shuffle(queue)
    for k in range(3):
        spool(settings, queue[k::3], agent[k::3], first_batch + k)
    ingest_queue_events(settings)


def rounded(value: Any) -> Any:
    """``value`` with floats to 9 significant digits: a sum of floats depends on the order
    DuckDB adds the rows in (its threads' too), in the last bits only."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def numbers(settings: Settings) -> dict[str, Any]:
    """Everything the Queues section, the drill-down and the notebook read, computed fresh
    (floats :func:`rounded`)."""
    RESULTS.clear()
    with open_for_viewer(settings, ACME) as vc:
        c = vc.conn
        prepare(c, PERIOD, TZ)
        out = {
            "queues": queue_kpis(c, PERIOD, TZ, thresholds=LIMITS).to_pylist(),
            "intervals": queue_kpis(c, PERIOD, TZ, bucket_minutes=30, thresholds=LIMITS),
            "agents": agent_kpis(c, PERIOD, TZ, thresholds=LIMITS, now=NOW).to_pylist(),
            "pauses": agent_pauses(c, PERIOD, TZ, now=NOW).to_pylist(),
            "calls": queue_calls(c, PERIOD, TZ, thresholds=LIMITS).to_pylist(),
            "queue 2": queue_kpis(c, PERIOD, TZ, queue_id=2, thresholds=LIMITS).to_pylist(),
        }
        start, end = PERIOD.utc_bounds(TZ)
        out["stints"] = sorted(
            (r for r in stints(c, PERIOD, TZ, thresholds=LIMITS).to_pylist()
             if start <= r["entered_at"] < end),
            key=lambda r: (r["queue_id"], r["call_id"], r["stint_no"]),
        )  # fmt: skip
    out["intervals"] = out["intervals"].to_pylist()
    return rounded(out)


def rollup_days(settings: Settings) -> list[str]:
    base = tenant_folder(settings.lake_dir, QUEUE_STINTS_ROLLUP, ACME)
    return sorted(p.parent.name for p in base.glob("date=*/stints-*.parquet"))


@pytest.fixture
def four_days(hand_lake: Settings) -> Settings:
    random_days(hand_lake, 11, 400, first_batch=10)
    return hand_lake


def test_closed_days_are_read_from_the_rollup_with_the_same_numbers(four_days: Settings) -> None:
    before = numbers(four_days)
    assert sum(r["offered"] for r in before["queues"]) > 300

    compact_lake(four_days.lake_dir, CompactionPolicy(grace_seconds=0, durable=False), today=TODAY)

    assert rollup_days(four_days) == ["date=2026-03-01", "date=2026-03-02", "date=2026-03-03"]
    assert numbers(four_days) == before
    # A second run writes nothing: the rollups still match their events.
    report = compact_lake(four_days.lake_dir, CompactionPolicy(grace_seconds=0), today=TODAY)
    assert report.rollups == 0


def test_a_late_batch_for_a_rolled_up_day_shows_at_once_and_is_rolled_up_again(
    four_days: Settings,
) -> None:
    policy = CompactionPolicy(grace_seconds=0, durable=False)
    compact_lake(four_days.lake_dir, policy, today=TODAY)
    late = T0 + 7200  # 2026-03-02 16:00 UTC: an answered caller in queue 2
    spool(four_days, [
        QueueEvent(late, "enter", 2, "late", "+15559999", position=1),
        QueueEvent(late + 4, "connect", 2, "late", agent="103", wait=4),
        QueueEvent(late + 64, "complete", 2, "late", agent="103", wait=4, talk=60),
    ], [], 99)  # fmt: skip
    ingest_queue_events(four_days)
    with_late = numbers(four_days)
    assert "late" in {r["call_id"] for r in with_late["calls"]}

    report = compact_lake(four_days.lake_dir, policy, today=TODAY)

    assert report.rollups == 3  # 03-02, and 03-01 and 03-03, which read it too
    assert numbers(four_days) == with_late
    assert rollup_days(four_days) == ["date=2026-03-01", "date=2026-03-02", "date=2026-03-03"]


CHILD = kill_at_step_program(
    """
    from datetime import date
    from pipeline.compaction import CompactionPolicy, compact_lake
    from switchboard.settings import load_settings

    compact_lake(load_settings().lake_dir, CompactionPolicy(grace_seconds=0),
                 today=date(2026, 3, 5), on_step=hook if step != "none" else None)
    """
)


@pytest.mark.parametrize(("step", "nth"), [("file", 1), ("stints", 1), ("stints", 2)])
def test_compaction_killed_while_rolling_up_leaves_the_same_numbers(
    four_days: Settings, step: str, nth: int
) -> None:
    before = numbers(four_days)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(nth)],
        env=portal_env(four_days),
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL
    assert len(rollup_days(four_days)) == (0 if step == "file" else nth)
    assert numbers(four_days) == before

    subprocess.run(
        [sys.executable, "-c", CHILD, "none", "0"],
        env=portal_env(four_days),
        cwd=REPO_ROOT,
        timeout=120,
        check=True,
    )
    assert len(rollup_days(four_days)) == 3
    assert not list(Path(four_days.lake_dir).rglob("*.tmp"))
    assert numbers(four_days) == before
