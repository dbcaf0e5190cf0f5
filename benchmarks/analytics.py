"""Analytics benchmark: the Analytics page's queries on DuckDB vs an indexed SQLite copy,
and exports of 1 M calls to CSV, XLSX and Parquet (seconds, peak memory).

    python -m benchmarks.analytics [--rows 10000000] [--small-tenants 50] [--days 30]

The lake: ``--rows`` calls for one tenant over 12 months plus ``--small-tenants`` tenants
of 2,000 calls each, generated vectorised (numpy + Arrow, ~40-50 s for 10 M on 2 cores)
and written straight to the lake layout (Hive partitions, one file per tenant and day, as
compaction leaves a day), then compaction's rollups of the closed days (``rollup_s``:
the page is measured before them, ``without_rollups``, and after, with the ratios).
``--data DIR`` keeps the lake and reuses it on the next run.
The page: everything ``dash_app/pages/analytics.py`` runs for a ``--days`` period
(comparison on, ``metrics.prepare`` first), with the portal's DuckDB threads per query
(``portal_query_threads``; ``--query-threads`` to change it): cold (a new connection, as
the portal opens one per request, and an empty result cache), uncached (the same again
with DuckDB's and the OS's caches warm, but no result cache) and warm (a new connection
over the unchanged lake: the results come from ``pipeline.metrics_cache``). SQLite has no
result cache, so ``speedup_uncached_p50`` is the like-for-like ratio and
``speedup_warm_p50`` the page's.

SQLite cannot run DuckDB's SQL (no IANA time zones, no ``filter``/``list_contains``), so the
SQLite side runs a port of each query (below) over a copy that is *given* precomputed local
times and digits-only callers, with indexes on (tenant, started_at) and (tenant, local_date):
the comparison favours SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from benchmarks.analytics_lake import BIG, TZ, build_lake
from benchmarks.percentiles import pct
from benchmarks.testbed import make_settings
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import CALLS, tenant_folder
from pipeline.rollup_files import ROLLUPS

# -- the page ------------------------------------------------------------------------------
# Rows each table of the page shows (dash_app/analytics_tables.py PREVIEW_ROWS).
PREVIEW_ROWS = 200


def page_queries(conn: Any, period: Any, tz: str) -> None:
    """What dash_app/pages/analytics.py runs for one view (comparison on), via pipeline.metrics."""
    from pipeline import metrics
    from pipeline.filters import CallFilter

    flt = CallFilter.from_query({}, tz)  # the page's tables pass the (empty) URL filters
    metrics.prepare(conn, period, tz=tz, compare=True)
    metrics.compare(conn, period, tz=tz, handled={})
    metrics.volume(conn, period, interval="day", tz=tz)
    metrics.heatmap(conn, period, tz=tz)
    metrics.concurrency(conn, period, interval="day", tz=tz)
    for group_by in ("extension", "did", "rule"):
        metrics.kpis(conn, period, group_by=group_by, tz=tz, filters=flt)
    metrics.repeat_callers(conn, period, tz=tz, filters=flt, limit=PREVIEW_ROWS)
    metrics.callback_worklist(conn, period, tz=tz, filters=flt, handled={}, limit=PREVIEW_ROWS)


def profile_page(settings: Any, period: Any) -> list[tuple[str, float]]:
    """(first comment line of each metric query, ms) for one page without cached results.

    The tables of ``metrics.prepare`` are built lazily, by the first query that runs.
    """
    from pipeline import metric_engine
    from pipeline.metrics_cache import RESULTS
    from pipeline.warehouse import connect

    timings: list[tuple[str, float]] = []
    real_execute, real_build = metric_engine._execute, metric_engine._build

    def execute(conn: Any, sql: str, params: dict[str, Any]) -> Any:
        t = time.perf_counter()
        out = real_execute(conn, sql, params)
        timings.append((sql.split("\n", 1)[0].lstrip("- ")[:70], time.perf_counter() - t))
        return out

    def build(conn: Any, prepared: Any, start: Any) -> None:
        t = time.perf_counter()
        built = prepared.built
        real_build(conn, prepared, start)
        if prepared.built != built:
            label = "prepare (page_calls)" + (" extended" if built else "")
            timings.append((label, time.perf_counter() - t))

    RESULTS.clear()
    metric_engine._execute, metric_engine._build = execute, build  # type: ignore[assignment]
    try:
        t = time.perf_counter()
        conn = connect(settings, BIG)
        timings.append(("connect", time.perf_counter() - t))
        t = time.perf_counter()
        page_queries(conn, period, TZ)
        timings.append(("whole page", time.perf_counter() - t))
        conn.close()
    finally:
        metric_engine._execute, metric_engine._build = real_execute, real_build  # type: ignore[assignment]
    return [(label, round(seconds * 1000, 1)) for label, seconds in timings]


def _stats(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(values) * 1000, 1),
        f"{name}_p95_ms": round(pct(values, 0.95) * 1000, 1),
    }


def bench_duckdb(settings: Any, period: Any, runs: int) -> dict[str, float]:
    """Each run: cold (a new connection, empty result cache), then the same connection
    again without the result cache (DuckDB's and the OS's caches warm: "uncached"), then
    new connections with the result cache filled ("warm", as the portal opens one
    connection per request and the lake is unchanged)."""
    from pipeline.metrics_cache import RESULTS
    from pipeline.warehouse import connect

    cold, uncached, warm = [], [], []
    for _ in range(runs):
        RESULTS.clear()
        t = time.perf_counter()
        conn = connect(settings, BIG)
        page_queries(conn, period, TZ)
        cold.append(time.perf_counter() - t)
        for _ in range(2):
            RESULTS.clear()
            t = time.perf_counter()
            page_queries(conn, period, TZ)
            uncached.append(time.perf_counter() - t)
        conn.close()
        for _ in range(3):
            t = time.perf_counter()
            conn = connect(settings, BIG)
            page_queries(conn, period, TZ)
            conn.close()
            warm.append(time.perf_counter() - t)
    return {**_stats("cold", cold), **_stats("uncached", uncached), **_stats("warm", warm)}


# -- SQLite ports of the same queries --------------------------------------------------------

_SCOPED = """
with scoped as (
    select *,
        direction in ('inbound', 'internal') and disposition <> 'blocked' as off,
        disposition = 'answered' as ans,
        case when direction = 'outbound' then caller when answered_by is not null
             then answered_by when direction = 'internal' then callee end as extension,
        case when direction = 'inbound' then callee end as did,
        direction = 'inbound' and caller_digits <> '' as ext_caller
    from calls where tenant = :tenant and started_at >= :start and started_at < :end
)
"""
_SQLITE_KPIS = (
    _SCOPED
    + """
select {group} as grp, count(*), sum(off), sum(off and ans), sum(off and not ans),
    sum(off and disposition = 'cancelled'), sum(disposition = 'blocked'),
    avg(case when off and ans then ring_seconds end),
    max(case when off and ans then ring_seconds end),
    avg(case when ans then talk_seconds end), total(talk_seconds),
    sum(direction = 'inbound'), sum(direction = 'outbound'), sum(direction = 'internal'),
    sum(direction = 'inbound' and rule is not null and frame = 'Open Hours'),
    sum(direction = 'inbound' and rule is not null and coalesce(frame, '') <> 'Open Hours')
from scoped group by grp
"""
)
_SQLITE_VOLUME = (
    _SCOPED + "select local_date, direction, disposition, count(*) from scoped group by 1, 2, 3"
)
_SQLITE_HEATMAP = (
    _SCOPED + "select strftime('%w', local_start), substr(local_start, 12, 2), count(*), sum(off),"
    " sum(off and not ans) from scoped group by 1, 2"
)
_SQLITE_REPEAT = (
    _SCOPED
    + """
, inbound as (
    select caller_digits, started_at, ans,
        lead(started_at) over (partition by caller_digits order by started_at) as nxt
    from scoped where ext_caller
)
select caller_digits, count(*), sum(ans), max(nxt is not null and nxt <= started_at + :window),
    sum(ans and nxt is not null and nxt <= started_at + :window)
from inbound group by caller_digits
"""
)
_SQLITE_WORKLIST = (
    _SCOPED
    + """
, missed as (
    select caller_digits as number, count(*) as n, max(started_at) as last_at
    from scoped where ext_caller and off and not ans group by caller_digits
)
select m.* from missed m
where not exists (
    select 1 from calls c where c.tenant = :tenant and c.callee_digits = m.number
        and c.started_at > m.last_at and c.direction = 'outbound'
) and not exists (
    select 1 from calls c where c.tenant = :tenant and c.caller_digits = m.number
        and c.started_at > m.last_at and c.direction = 'inbound' and c.disposition = 'answered'
)
"""
)
_SQLITE_PEAK = (
    _SCOPED
    + """
, events as (
    select started_at as at, 1 as d from scoped where ended_at > started_at
    union all select ended_at, -1 from scoped where ended_at > started_at
), instants as (select at, sum(d) as net from events group by at),
running as (select at, net, sum(net) over (order by at) as active from instants)
select max(active) from running
"""
)


def sqlite_copy(path: Path, lake: Path) -> float:
    """Copy the big tenant's calls into an indexed SQLite table; seconds taken."""
    t = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    db.execute(
        "create table calls (tenant text, started_at real, ended_at real, local_start text,"
        " local_date text, direction text, disposition text, caller text, caller_digits text,"
        " callee text, callee_digits text, answered_by text, ring_seconds real,"
        " talk_seconds real, rule text, frame text)"
    )
    zone = ZoneInfo(TZ)
    for file in sorted(tenant_folder(lake, "calls", BIG).glob("*/*.parquet")):
        t_ = pq.read_table(file)
        started = t_["started_at"].to_pylist()
        local = [s.astimezone(zone) for s in started]
        digits = lambda v: "".join(ch for ch in (v or "") if ch.isdigit())  # noqa: E731
        db.executemany(
            "insert into calls values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                [BIG] * t_.num_rows,
                [s.timestamp() for s in started],
                [e.timestamp() for e in t_["ended_at"].to_pylist()],
                [x.strftime("%Y-%m-%d %H:%M:%S") for x in local],
                [x.date().isoformat() for x in local],
                t_["direction"].to_pylist(),
                t_["disposition"].to_pylist(),
                t_["caller"].to_pylist(),
                [digits(v) for v in t_["caller"].to_pylist()],
                t_["callee"].to_pylist(),
                [digits(v) for v in t_["callee"].to_pylist()],
                t_["answered_by"].to_pylist(),
                t_["ring_seconds"].to_pylist(),
                t_["talk_seconds"].to_pylist(),
                t_["rule"].to_pylist(),
                t_["frame"].to_pylist(),
                strict=True,
            ),
        )
    db.execute("create index calls_tenant_start on calls (tenant, started_at)")
    db.execute("create index calls_tenant_day on calls (tenant, local_date)")
    # The callback worklist's look-ups by number (callbacks and answered calls since).
    db.execute("create index calls_caller on calls (tenant, caller_digits, started_at)")
    db.execute("create index calls_callee on calls (tenant, callee_digits, started_at)")
    db.commit()
    db.close()
    return time.perf_counter() - t


def sqlite_page(db: sqlite3.Connection, period: Any) -> None:
    """The SQLite port of page_queries (comparison: the previous period too)."""
    for p in (period, period.previous()):
        start, end = p.utc_bounds(TZ)
        params = {"tenant": BIG, "start": start.timestamp(), "end": end.timestamp()}
        db.execute(_SQLITE_KPIS.format(group="'all'"), params).fetchall()
        db.execute(_SQLITE_PEAK, params).fetchall()
        db.execute(_SQLITE_REPEAT, {**params, "window": 86400.0}).fetchall()
        db.execute(_SQLITE_WORKLIST, params).fetchall()
    start, end = period.utc_bounds(TZ)
    params = {"tenant": BIG, "start": start.timestamp(), "end": end.timestamp()}
    db.execute(_SQLITE_VOLUME, params).fetchall()
    db.execute(_SQLITE_HEATMAP, params).fetchall()
    for group in ("extension", "did", "rule"):
        db.execute(_SQLITE_KPIS.format(group=group), params).fetchall()
    db.execute(_SQLITE_REPEAT, {**params, "window": 86400.0}).fetchall()
    db.execute(_SQLITE_WORKLIST, params).fetchall()


def bench_sqlite(path: Path, period: Any, runs: int) -> dict[str, float]:
    cold, warm = [], []
    for _ in range(runs):
        t = time.perf_counter()
        db = sqlite3.connect(path)
        sqlite_page(db, period)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        sqlite_page(db, period)
        warm.append(time.perf_counter() - t)
        db.close()
    return {
        "cold_p50_ms": statistics.median(cold) * 1000,
        "cold_p95_ms": pct(cold, 0.95) * 1000,
        "warm_p50_ms": statistics.median(warm) * 1000,
        "warm_p95_ms": pct(warm, 0.95) * 1000,
    }


# -- exports ---------------------------------------------------------------------------------

_EXPORT_CHILD = """
import json, sys, time
from datetime import date
from pathlib import Path
from pipeline.filters import CallFilter
from pipeline.report_files import write_calls_file
from pipeline.warehouse import connect
from benchmarks.testbed import make_settings
settings = make_settings(Path(sys.argv[1]))
fmt, out, first, last = sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = connect(settings, "big.example")
def hwm():  # VmHWM: this process's peak RSS (ru_maxrss is inherited through fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
base = hwm()
flt = CallFilter(date_from=date.fromisoformat(first), date_to=date.fromisoformat(last),
                 timezone="America/New_York")
t = time.perf_counter()
rows = write_calls_file(conn, flt, fmt, out, "America/New_York")
seconds = time.perf_counter() - t
peak = hwm()
print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak / 1024,
                  "baseline_rss_mb": base / 1024, "bytes": out.stat().st_size}))
"""


def bench_exports(data_dir: Path, rows_total: int, target: int = 1_000_000) -> dict[str, Any]:
    days = max(1, int(365 * target / rows_total))
    first = date(2025, 1, 2)
    last = first + timedelta(days=days - 1)
    out: dict[str, Any] = {}
    for fmt in ("csv", "parquet", "xlsx"):
        path = data_dir / f"export.{fmt}"
        result = subprocess.run(
            [sys.executable, "-c", _EXPORT_CHILD, str(data_dir), fmt, str(path),
             first.isoformat(), last.isoformat()],
            capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )  # fmt: skip
        out[fmt] = json.loads(result.stdout.strip().splitlines()[-1])
        path.unlink()
    return out


def measure_page(settings: Any, period: Any, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.profile:
        out["profile_ms"] = profile_page(settings, period)
    if not args.no_page:
        out["duckdb"] = bench_duckdb(settings, period, args.runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small-tenants", type=int, default=50)
    parser.add_argument("--days", type=int, default=30, help="the page's period")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-page", action="store_true", help="exports only")
    parser.add_argument("--profile", action="store_true", help="time each query of one page")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the page without the rollups (a reused lake keeps its rollups)",
    )
    parser.add_argument(
        "--data", help="keep the data directory here and reuse its lake on the next run"
    )
    parser.add_argument(
        "--query-threads",
        type=int,
        help="DuckDB threads per query (default: the portal's portal_query_threads)",
    )
    args = parser.parse_args()

    from pipeline import metrics
    from pipeline.warehouse import set_query_threads

    report: dict[str, Any] = {"rows": args.rows, "small_tenants": args.small_tenants}
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
        data_dir = Path(args.data) if args.data else Path(tmp) / "data"
        settings = make_settings(data_dir)
        # as the portal runs its queries (pipeline.warehouse.set_query_threads)
        threads = (
            settings.portal_query_threads if args.query_threads is None else args.query_threads
        )
        set_query_threads(threads)
        report["query_threads"] = threads
        if args.data and tenant_folder(settings.lake_dir, "calls", BIG).exists():
            report["lake_build_s"] = f"reused {data_dir}"
        else:
            report["lake_build_s"] = round(build_lake(settings.lake_dir, args), 1)
        end = date(2025, 12, 30)
        period = metrics.Period(end - timedelta(days=args.days - 1), end)
        report["period"] = f"{period.start}..{period.end} (+ previous period)"
        # Baseline: the page from the calls alone; then compaction's rollups of the
        # closed days (timed), and the page again. Without the baseline, a reused lake
        # keeps its rollups and compaction only writes the missing ones.
        if not args.no_baseline:
            for rollup in ROLLUPS:  # the calls' rollups
                if CALLS.name in rollup.sources:
                    shutil.rmtree(settings.lake_dir / rollup.name, ignore_errors=True)
            report["without_rollups"] = measure_page(settings, period, args)
        t = time.perf_counter()
        compact_lake(settings.lake_dir, CompactionPolicy(), today=date.today(), settings=settings)
        report["rollup_s"] = round(time.perf_counter() - t, 1)
        report.update(measure_page(settings, period, args))
        if not args.no_baseline and not args.no_page:
            for name in ("cold_p50_ms", "uncached_p50_ms"):
                report[f"rollups_{name.removesuffix('_ms')}_ratio"] = round(
                    report["duckdb"][name] / report["without_rollups"]["duckdb"][name], 2
                )
        if not args.no_sqlite and not args.no_page:
            sqlite_path = Path(tmp) / "calls.sqlite"
            report["sqlite_copy_s"] = round(sqlite_copy(sqlite_path, settings.lake_dir), 1)
            report["sqlite"] = bench_sqlite(sqlite_path, period, max(2, args.runs // 2))
            report["speedup_warm_p50"] = round(
                report["sqlite"]["warm_p50_ms"] / report["duckdb"]["warm_p50_ms"], 1
            )
            report["speedup_uncached_p50"] = round(
                report["sqlite"]["warm_p50_ms"] / report["duckdb"]["uncached_p50_ms"], 1
            )
            report["speedup_cold_p50"] = round(
                report["sqlite"]["cold_p50_ms"] / report["duckdb"]["cold_p50_ms"], 1
            )
        if not args.no_export:
            report["exports_1m"] = bench_exports(data_dir, args.rows)
    json.dump(report, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
