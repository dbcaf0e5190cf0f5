"""Queue metrics over a year of queue events for one tenant: the Queues section cold and warm,
against the same numbers from an indexed SQLite copy in the same run (not part of the suite).

The events go through the real path: spool batches as the media server writes them
(``switchboard.queue_events.events_document``, one batch per ``--batch-minutes`` of
traffic), then :class:`pipeline.queue_ingest.QueueIngest`; the section is timed before
compaction (every stint computed from the events) and after it (closed days' stints
read from the rollup compaction writes: ``pipeline.compaction.roll_up``). The Queues
section is timed as the page runs it (``dash_app.analytics_queues``' loaders: per
queue, per 30 minutes, agents, pauses) over a week, a quarter and the year, in a fresh
connection with an empty result cache (cold: computed, the staging once per page) and
in the next connection (warm: the result cache), wall and CPU time. SQLite gets the same
stints and per-interval numbers (offered, answered, abandoned, answered within T, ASA,
AHT without wrap-up) from a portable translation of ``queue_stints.sql``/``queue_kpis.sql``;
both must agree.

    .venv/bin/python -m benchmarks.queue_metrics --calls 200000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.testbed import make_settings
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.metric_engine import Period
from pipeline.metrics_cache import RESULTS
from pipeline.queue_ingest import QueueIngest
from pipeline.queue_metrics import Thresholds, agent_kpis, agent_pauses, prepare, queue_kpis
from pipeline.viewer import open_for_viewer
from switchboard.queue_events import AgentEvent, QueueEvent, events_document
from switchboard.store import ProvisioningStore

TENANT = "big.example"
TZ = "America/New_York"
YEAR = date(2025, 1, 1)
QUEUES = (1, 2, 3)
AGENTS = tuple(str(200 + i) for i in range(12))
THRESHOLDS = {q: Thresholds(20, 5) for q in QUEUES}


def generate(calls: int, days: int, batch_minutes: int, spool: Path, seed: int = 7) -> int:
    """Write the spool batches of ``calls`` queue callers over ``days``; the event count."""
    rnd = random.Random(seed)
    start = datetime(YEAR.year, YEAR.month, YEAR.day, tzinfo=UTC).timestamp()
    span = days * 86_400
    enters = sorted(start + rnd.random() * span for _ in range(calls))
    folder = spool / "queue_events" / TENANT
    folder.mkdir(parents=True, exist_ok=True)
    batch_s = batch_minutes * 60
    queue: list[QueueEvent] = []
    agent: list[AgentEvent] = []
    n_events = 0
    batch_end = start + batch_s
    day_logged: set[int] = set()

    def flush(n: int) -> None:
        nonlocal queue, agent, n_events
        if queue or agent:
            doc = events_document(f"qe-{n:08d}", TENANT, queue, agent)
            (folder / f"qe-{n:08d}.json").write_text(json.dumps(doc))
            n_events += len(queue) + len(agent)
        queue, agent = [], []

    n_batch = 0
    for i, t in enumerate(enters):
        while t >= batch_end:
            flush(n_batch)
            n_batch += 1
            batch_end += batch_s
        day = int((t - start) // 86_400)
        if day not in day_logged:  # every agent logs in at the day's start, out at its end
            day_logged.add(day)
            d0 = start + day * 86_400
            for a in AGENTS:
                agent += [AgentEvent(d0, "login", a, q) for q in QUEUES]
                agent.append(AgentEvent(d0 + 43_200, "pause", a, None, "lunch"))
                agent.append(AgentEvent(d0 + 45_000, "unpause", a, None, "lunch"))
                agent += [AgentEvent(d0 + 86_399, "logout", a, q) for q in QUEUES]
        qid, call, who = rnd.choice(QUEUES), f"call-{i}", f"+1555{i % 10_000_000:07d}"
        wait = round(rnd.expovariate(1 / 25), 1)
        queue.append(QueueEvent(t, "enter", qid, call, who, position=1))
        fate = rnd.random()
        if fate < 0.82:
            ag, talk = rnd.choice(AGENTS), round(rnd.expovariate(1 / 180), 1)
            queue.append(QueueEvent(t + wait, "offer", qid, call, who, agent=ag, wait=wait))
            queue.append(QueueEvent(t + wait, "connect", qid, call, who, agent=ag, wait=wait))
            queue.append(QueueEvent(t + wait + talk, "complete", qid, call, who, agent=ag,
                                    wait=wait, talk=talk, outcome="caller_hangup"))  # fmt: skip
            agent.append(AgentEvent(t + wait + talk, "wrapup_start", ag, qid))
            agent.append(AgentEvent(t + wait + talk + 10, "wrapup_end", ag, qid))
        elif fate < 0.95:
            queue.append(QueueEvent(t + wait, "abandon", qid, call, who, position=1, wait=wait))
        else:
            queue.append(QueueEvent(t + 300, "overflow", qid, call, who, wait=300.0,
                                    outcome="max_wait", target="voicemail:100"))  # fmt: skip
    flush(n_batch)
    return n_events


SQLITE_KPIS = """
with stints as (
    select
        queue_id,
        call_id,
        min(case when kind = 'enter' then at end) as entered_at,
        max(case when kind = 'connect' then wait end) as answer_wait,
        max(case when kind = 'complete' then talk end) as talk,
        max(case when kind = 'abandon' then 1 else 0 end) as abandoned
    from queue_events
    where at >= ? - 86400 and at < ? + 86400
    group by queue_id, call_id
)
select
    queue_id,
    count(*) as offered,
    count(answer_wait) as answered,
    sum(abandoned) as abandoned,
    sum(case when answer_wait <= 20 then 1 else 0 end) as answered_within_t,
    avg(answer_wait) as asa,
    avg(talk) as avg_talk
from stints
where entered_at >= ? and entered_at < ?
group by queue_id
order by queue_id
"""


def sqlite_copy(settings: Any, path: Path) -> float:
    """The lake's queue events in an indexed SQLite table (epoch seconds); seconds it took."""
    t0 = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute(
        "create table queue_events (queue_id integer, call_id text, kind text, at real,"
        " wait real, talk real)"
    )
    with open_for_viewer(settings, TENANT) as vc:
        reader = vc.conn.execute(
            'select queue_id, call_id, kind, epoch("at"), wait, talk from queue_events'
        )
        while rows := reader.fetchmany(100_000):
            db.executemany("insert into queue_events values (?, ?, ?, ?, ?, ?)", rows)
    db.execute("create index queue_events_at on queue_events (at, queue_id, call_id)")
    db.commit()
    db.close()
    return time.perf_counter() - t0


def section(settings: Any, period: Period) -> tuple[list[float], list[float], list[dict[str, Any]]]:
    """Wall and CPU seconds of the Queues section's four queries, cold (a fresh connection,
    empty result cache: computed) then warm (the next request: a fresh connection served
    from the result cache), and its per-queue rows.

    CPU seconds too: on a shared machine wall time is mostly the other processes' load.
    """
    wall, cpu = [], []
    rows: list[dict[str, Any]] = []
    RESULTS.clear()
    for _ in range(2):
        with open_for_viewer(settings, TENANT) as vc:
            t0, c0 = time.perf_counter(), time.process_time()
            prepare(vc.conn, period, TZ)  # as the page does: staging computed once
            rows = queue_kpis(vc.conn, period, TZ, thresholds=THRESHOLDS).to_pylist()
            queue_kpis(vc.conn, period, TZ, bucket_minutes=30, thresholds=THRESHOLDS)
            agent_kpis(vc.conn, period, TZ, thresholds=THRESHOLDS)
            agent_pauses(vc.conn, period, TZ)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return wall, cpu, rows


def sqlite_section(path: Path, period: Period) -> tuple[float, float, list[tuple[Any, ...]]]:
    start, end = period.utc_bounds(TZ)
    db = sqlite3.connect(path)
    t0, c0 = time.perf_counter(), time.process_time()
    s, e = start.timestamp(), end.timestamp()
    rows = db.execute(SQLITE_KPIS, (s, e, s, e)).fetchall()
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    db.close()
    return took, cpu, rows


def sections(
    settings: Any, root: Path, periods: dict[str, Period]
) -> dict[str, list[dict[str, Any]]]:
    """Time the section over each period against SQLite, print a line each; the rows."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, period in periods.items():
        wall, cpu, lake_rows = section(settings, period)
        took, took_cpu, sqlite_rows = sqlite_section(root / "queue_events.sqlite", period)
        agree = [(r["queue_id"], r["offered"], r["answered"], r["abandoned"],
                  r["answered_within_t"]) for r in lake_rows] == [
                 tuple(x[:5]) for x in sqlite_rows]  # fmt: skip
        offered = sum(r["offered"] for r in lake_rows)
        print(f"{name:8s} {offered:>9,} stints  lake section cold {wall[0] * 1000:6.0f} ms"
              f" (CPU {cpu[0] * 1000:5.0f})  warm {wall[1] * 1000:5.0f} ms (CPU"
              f" {cpu[1] * 1000:4.0f})  |  SQLite per-queue query {took * 1000:6.0f} ms"
              f" (CPU {took_cpu * 1000:5.0f})  ratio cold {wall[0] / took:4.1f}x"
              f"  agree={agree}  load {os.getloadavg()[0]:.1f}")  # fmt: skip
        rows[name] = [{k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()}
                      for r in lake_rows]  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200_000, help="queue callers in the year")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--batch-minutes", type=int, default=60, help="traffic per spool batch")
    parser.add_argument("--dir", type=Path, help="default: a temporary folder")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="queue-bench-"))
    settings = make_settings(root / "data")
    store = ProvisioningStore(settings.provisioning_db)
    store.add_tenant(TENANT, TZ, name="Big")
    store.close()

    t0 = time.perf_counter()
    events = generate(args.calls, args.days, args.batch_minutes, settings.spool_dir)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest = QueueIngest(settings, lambda: frozenset({TENANT}))
    passes = 0
    while ingest.run().batches:
        passes += 1
    t_ingest = time.perf_counter() - t0
    t_sqlite = sqlite_copy(settings, root / "queue_events.sqlite")
    print(f"{args.calls:,} callers, {events:,} events: generated {t_gen:.1f} s, ingested"
          f" {t_ingest:.1f} s ({passes} passes, {events / t_ingest:,.0f} events/s), SQLite"
          f" copy {t_sqlite:.1f} s")  # fmt: skip
    last = YEAR + timedelta(days=args.days - 1)
    periods = {
        "week": Period(last - timedelta(days=6), last),
        "quarter": Period(last - timedelta(days=90), last),
        "year": Period(YEAR, last),
    }
    print("-- every stint computed from the events")
    before = sections(settings, root, periods)
    t0 = time.perf_counter()
    far = YEAR + timedelta(days=args.days + 30)
    report = compact_lake(
        settings.lake_dir, CompactionPolicy(grace_seconds=0, durable=False), today=far
    )
    print(f"-- compacted in {time.perf_counter() - t0:.1f} s ({report.partitions} partitions"
          f" merged, {report.rollups} rollup files): closed days from the rollup")  # fmt: skip
    after = sections(settings, root, periods)
    print(f"same rows before and after: {before == after}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
