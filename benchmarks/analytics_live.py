"""The Analytics page in a live office: what one visit costs after each worker tick.

A running office's ingest adds a file to today's partition every few seconds, so
every Analytics visit finds the lake changed. This benchmark seeds the portal-load
tenant (``benchmarks.portal_load.seed``: 1 M calls over the last 365 days), then
compacts once as the worker would have (the closed days' rollups), then
``--visits`` times: one worker tick of a live office (``benchmarks.lake_trickle.
LiveOffice``: three calls through the accounting spool and ``ingest_once``, compacted
when due), and the page's queries (``benchmarks.analytics.page_queries``: the portal's, one
DuckDB thread) run on a fresh connection, the result cache kept between visits as
the portal keeps it. Baseline, same run: the same visit with the result cache
cleared first (what every visit cost if a new call made every result stale).

Reports the CPU and wall ms per visit (p50/p95), for the page's 30 days
(``--days``) and for a one-day page (Today against yesterday), and their ratio to
the baseline (< 1: the live visit is cheaper).

    .venv/bin/python -m benchmarks.analytics_live [--visits 8] [--data DIR] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.analytics import page_queries
from benchmarks.analytics_lake import TZ
from benchmarks.lake_trickle import LiveOffice
from benchmarks.percentiles import summary_ms
from benchmarks.portal_load import TENANT, seed_once
from benchmarks.testbed import make_settings
from pipeline import metrics
from pipeline.compaction import compact_due
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect, set_query_threads
from switchboard.settings import Settings

EXTENSIONS = [str(100 + i) for i in range(50)]


def visits(settings: Settings, period: metrics.Period, n: int, *, cleared: bool) -> dict[str, Any]:
    """``n`` visits, each after one worker tick: wall and CPU seconds of each."""
    office = LiveOffice(settings, TENANT, EXTENSIONS, seed=time.time_ns())
    wall: list[float] = []
    cpu: list[float] = []
    try:
        for _ in range(n + 1):  # the first visit fills the cache: not counted
            office.tick()
            if cleared:
                RESULTS.clear()
            t, c = time.perf_counter(), time.process_time()
            conn = connect(settings, TENANT)
            try:
                page_queries(conn, period, TZ)
            finally:
                conn.close()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    finally:
        office.close()
    return {"wall": summary_ms(wall[1:]), "cpu": summary_ms(cpu[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=8)
    parser.add_argument("--days", type=int, default=30, help="the page's period")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="a portal_load data dir to reuse")
    args = parser.parse_args()
    data_dir = args.data or Path(tempfile.mkdtemp(prefix="analytics-live-")) / "data"
    settings = make_settings(data_dir)
    seed_once(settings, len(EXTENSIONS), args.rows)
    # The closed days' rollups, as the worker of an office running for a year has them.
    t = time.perf_counter()
    compact_due(settings)
    rollup_s = round(time.perf_counter() - t, 1)
    set_query_threads(1)  # the portal's setting
    today = datetime.now(ZoneInfo(TZ)).date()
    out: dict[str, Any] = {"tenant_rows": args.rows, "visits": args.visits, "rollup_s": rollup_s}
    for label, days in ((f"{args.days} days", args.days), ("today", 1)):
        period = metrics.Period(today - timedelta(days=days - 1), today)
        live = visits(settings, period, args.visits, cleared=False)
        baseline = visits(settings, period, args.visits, cleared=True)
        out[label] = {
            "live": live,
            "baseline_nothing_cached": baseline,
            "cpu_p50_ratio": round(live["cpu"]["p50_ms"] / baseline["cpu"]["p50_ms"], 2),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
