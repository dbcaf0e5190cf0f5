"""A 50-seat office's calls trickling into the lake, before and after compaction, vs SQLite.

What a running office does to the lake: ~1,500 calls a day end one by one, and
the worker commits what it finds at each tick, so a tenant-day collects
hundreds of small files. This benchmark writes the calls as Kamailio does (rows
in the accounting spool, ``kamailio/acc_schema.sql``) and ingests them through
the real path (``pipeline.ingest.ingest_once`` with ``ingest_batch`` = calls
per tick), then measures, before and after ``pipeline.compaction``:

* file counts (live files, most per tenant-day, Parquet files on disk);
* the Analytics page's metrics (prepare + compare + volume + heatmap +
  concurrency, result cache cleared) and Call History pages
  (``pipeline.history.call_page``: 100 rows + total), cold (first request of a
  fresh process, connect included) and warm (same process), p50/p95;
* the same Call History pages on an indexed SQLite copy of the same calls,
  in the same run, with the ratio SQLite / lake at p50 (> 1: the lake wins).

    .venv/bin/python -m benchmarks.lake_trickle            # 14 days, a few minutes
    .venv/bin/python -m benchmarks.lake_trickle --year     # 365 days (hours)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from benchmarks.sqlite_calls import Page, sqlite_page
from pipeline import metrics
from pipeline.compaction import CompactionPolicy, compact_due, compact_lake
from pipeline.filters import CallFilter
from pipeline.history import call_page
from pipeline.ingest import ingest_once
from pipeline.lake_layout import live_paths, partitions, read_partition, tenant_folder
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect
from switchboard.acc_spool import ACC_TABLE, WRITTEN_COLUMNS
from switchboard.settings import Settings, load_settings
from switchboard.store import ProvisioningStore

TENANT = "office.example"
TZ = "America/New_York"
SEATS = 50
LAST_DAY = date(2024, 12, 31)
SURNAMES = ["Smith", "Jones", "Garcia", "Smithers", "Nguyen", "Brown", "Okafor", "Rossi"]
FIRST = ["Ann", "Bob", "Li", "Mia", "Joe", "Ada", "Sam", "Eva"]
# A slow case (thousands of files) stops after this long, with at least 2 samples.
BUDGET_SECONDS = 20.0


# -- the office and its calls --------------------------------------------------------------
def provision(settings: Settings) -> list[str]:
    """The tenant and its 50 users (names resolve in the call rows)."""
    store = ProvisioningStore(settings.provisioning_db)
    try:
        store.add_tenant(TENANT, TZ, name="Trickle Office")
        extensions = [str(200 + i) for i in range(SEATS)]
        for i, ext in enumerate(extensions):
            store.add_user(
                tenant=TENANT,
                extension=ext,
                name=f"{FIRST[i % 8]} {SURNAMES[(i // 8) % 8]}",
                email=f"{ext}@{TENANT}",
                password="bench-password-1",
                sip_password="bench-sip-1",
                role="manager" if i == 0 else "user",
            )
        return extensions
    finally:
        store.close()


def day_rows(
    rng: random.Random,
    day: date,
    n: int,
    extensions: list[str],
    *,
    tenant: str = TENANT,
    rung_by: float | None = None,
) -> list[tuple[Any, ...]]:
    """``n`` accounting rows of one office day, in the order the calls end (``rung_by``: an
    epoch; the calls rang in the five minutes before it, as a live office's last tick)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    outside = [f"+1555{rng.randrange(10**7):07d}" for _ in range(400)]
    rows = []
    for i in range(n):
        # Business hours in New York (13:00–23:00 UTC), a few calls at night.
        hour = rng.uniform(13, 23) if rng.random() < 0.95 else rng.uniform(0, 24)
        invite = midnight + hour * 3600 if rung_by is None else rung_by - rng.uniform(0, 300)
        kind = rng.random()
        ext, other = rng.sample(extensions, 2)
        if kind < 0.45:
            direction, caller, callee, domain = "inbound", rng.choice(outside), ext, None
            caller_name = f"{rng.choice(FIRST)} {rng.choice(SURNAMES)}"
        elif kind < 0.8:
            direction, caller, callee, domain = "outbound", ext, rng.choice(outside), tenant
            caller_name = None
        else:
            direction, caller, callee, domain = "internal", ext, other, tenant
            caller_name = None
        ring = rng.uniform(2, 25)
        answered = rng.random() < 0.72
        end = invite + ring + (rng.expovariate(1 / 180) if answered else 0.0)
        code = 200 if answered else rng.choice([480, 486, 487, 487, 408])
        values = {
            "call_id": f"{day.isoformat()}-{i}-{rng.randrange(10**9)}@pbx",
            "tenant": tenant,
            "direction": direction,
            "caller": caller,
            "caller_name": caller_name,
            "caller_domain": domain,
            "callee": callee,
            "callee_domain": tenant,
            "answered_by": callee if answered and direction != "outbound" else None,
            "invite_at": invite,
            "answer_at": invite + ring if answered else None,
            "end_at": end,
            "sip_code": code,
            "sip_reason": None if answered else "Busy Here" if code == 486 else None,
            "disposition_hint": "answered" if answered else "failed",
            "rule": None,
            "frame": None,
            "src_ip": "192.0.2.10",
            "user_agent": "bench",
        }
        rows.append(tuple(values.get(c) for c in WRITTEN_COLUMNS))  # later columns: null
    end_at = WRITTEN_COLUMNS.index("end_at")
    rows.sort(key=lambda r: float(r[end_at] or 0))  # Kamailio writes at the end
    return rows


def open_spool(settings: Settings) -> tuple[sqlite3.Connection, str]:
    """Kamailio's accounting spool (made if missing) and the insert its writer runs."""
    spool = sqlite3.connect(settings.acc_db, isolation_level=None)
    spool.executescript(resources.files("kamailio").joinpath("acc_schema.sql").read_text())
    insert = (
        f"insert into {ACC_TABLE} ({', '.join(WRITTEN_COLUMNS)})"
        f" values ({', '.join('?' * len(WRITTEN_COLUMNS))})"
    )
    return spool, insert


def trickle(settings: Settings, days: int, calls_per_day: int, rng: random.Random) -> float:
    """Write each day's rows into the spool and ingest them a tick's worth at a time."""
    extensions = provision(settings)
    spool, insert = open_spool(settings)
    started = time.perf_counter()
    first = LAST_DAY - timedelta(days=days - 1)
    for d in range(days):
        day = first + timedelta(days=d)
        n = max(1, int(rng.gauss(calls_per_day, calls_per_day * 0.1)))
        spool.execute("begin")
        spool.executemany(insert, day_rows(rng, day, n, extensions))
        spool.execute("commit")
        ingest_once(settings)  # ingest_batch rows per file: one worker tick's worth
        if d % 7 == 6 or d == days - 1:
            print(f"  day {d + 1}/{days}: {time.perf_counter() - started:.0f} s", flush=True)
    spool.close()
    return time.perf_counter() - started


class LiveOffice:
    """A live office's pipeline worker, one tick at a time: three calls that rang in the
    last minutes go into the accounting spool and through the real ingest (``ingest_once``),
    so each tick adds a file to today's partition and the views of today change under
    whoever reads them; compacted every ``compaction_interval`` as the worker does
    (``compact_due``)."""

    def __init__(self, settings: Settings, tenant: str, extensions: list[str], seed: int = 7):
        self.settings, self.tenant, self.extensions = settings, tenant, extensions
        self.rng = random.Random(seed)
        self.spool, self.insert = open_spool(settings)
        self.next_compaction = time.monotonic() + settings.compaction_interval
        self.counts = {"calls": 0, "ticks": 0, "compactions": 0}

    def tick(self) -> None:
        if time.monotonic() >= self.next_compaction:
            self.counts["compactions"] += 1
            compact_due(self.settings)
            self.next_compaction = time.monotonic() + self.settings.compaction_interval
        rows = day_rows(
            self.rng, date.today(), 3, self.extensions, tenant=self.tenant, rung_by=time.time()
        )
        self.spool.execute("begin")
        self.spool.executemany(self.insert, rows)
        self.spool.execute("commit")
        self.counts["calls"] += ingest_once(self.settings).calls
        self.counts["ticks"] += 1

    def close(self) -> None:
        self.spool.close()


def ingest_live(
    settings: Settings,
    tenant: str,
    extensions: list[str],
    *,
    every: float,
    until: float,
    counts: dict[str, int],
) -> None:
    """A live office (benchmarks.portal_load): a :class:`LiveOffice` tick every ``every``
    seconds until ``until`` (monotonic); what it did is added to ``counts``."""
    office = LiveOffice(settings, tenant, extensions)
    try:
        while time.monotonic() < until:
            office.tick()
            time.sleep(every)
    finally:
        office.close()
        for name, n in office.counts.items():
            counts[name] = counts.get(name, 0) + n


# -- measuring ---------------------------------------------------------------------------
def file_counts(settings: Settings) -> dict[str, int]:
    folder = tenant_folder(settings.lake_dir, "calls", TENANT)
    per_day = [len(read_partition(folder / p).live) for p in partitions(folder)]
    return {
        "live files": len(live_paths(settings.lake_dir, "calls", [TENANT])),
        "most per tenant-day": max(per_day, default=0),
        "Parquet files on disk": sum(1 for _ in folder.rglob("*.parquet")),
    }


def history_cases(days: int) -> dict[str, tuple[CallFilter, int]]:
    """Call History views a person opens: (filter, offset)."""
    first = LAST_DAY - timedelta(days=days - 1)
    week, month = LAST_DAY - timedelta(days=6), max(first, LAST_DAY - timedelta(days=30))
    quarter, yesterday = max(first, LAST_DAY - timedelta(days=91)), LAST_DAY - timedelta(days=1)

    def flt(since: date, until: date = LAST_DAY, **more: Any) -> CallFilter:
        return CallFilter(date_from=since, date_to=until, timezone=TZ, **more)

    return {
        "last 7 days, page 1": (flt(week), 0),
        "quarter + inbound, page 3": (flt(quarter, direction="inbound"), 200),
        "whole range, page 3": (flt(first), 200),
        "month + search 'smith'": (flt(month, search="smith"), 0),
        "one day, page 1": (flt(yesterday, yesterday), 0),
    }


def lake_page(conn: Any, flt: CallFilter, offset: int) -> Page:
    return call_page(conn, flt, offset=offset, limit=100)


def sqlite_copy(settings: Settings, path: Path) -> None:
    """The same calls in an indexed SQLite table (what a classic PBX report runs on)."""
    conn = connect(settings, TENANT)
    table = conn.sql(
        "select call_id, acc_id, direction, caller, caller_name, callee, callee_name,"
        " answered_by, epoch(started_at) as started_at, talk_seconds, disposition from calls"
    ).to_arrow_table()
    conn.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        "create table calls (call_id text, acc_id integer, direction text, caller text,"
        " caller_name text, callee text, callee_name text, answered_by text,"
        " started_at real, talk_seconds real, disposition text)"
    )
    db.execute("begin")
    db.executemany(
        f"insert into calls values ({', '.join('?' * table.num_columns)})",
        zip(*(table[c].to_pylist() for c in table.column_names), strict=True),
    )
    db.execute("commit")
    db.execute("create index calls_time on calls (started_at)")
    db.execute("create index calls_dir_time on calls (direction, started_at)")
    db.execute("analyze")
    db.close()


def analytics_page(conn: Any, days: int) -> dict[str, Any]:
    """What the Analytics page computes for the last 28 days (cache cleared: the work)."""
    RESULTS.clear()
    period = metrics.Period(
        max(LAST_DAY - timedelta(days=days - 1), LAST_DAY - timedelta(days=27)), LAST_DAY
    )
    metrics.prepare(conn, period, tz=TZ, compare=True)
    compared = metrics.compare(conn, period, tz=TZ)
    metrics.volume(conn, period, interval="day", tz=TZ)
    metrics.heatmap(conn, period, tz=TZ)
    metrics.concurrency(conn, period, interval="day", tz=TZ)
    return {k: v["current"] for k, v in compared.items()}


def same_tiles(a: dict[str, Any], b: dict[str, Any]) -> bool | list[str]:
    """Equal tiles; floats to 1e-9 (a sum in another row order differs in the last bit)."""
    differ = [
        k
        for k in a.keys() | b.keys()
        if not (
            a.get(k) == b.get(k)
            or (
                isinstance(a.get(k), float)
                and isinstance(b.get(k), float)
                and math.isclose(a[k], b[k], rel_tol=1e-9)
            )
        )
    ]
    return differ or True


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[math.ceil(0.95 * len(samples)) - 1]


def warm(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    result = fn()
    samples: list[float] = []
    budget = time.perf_counter() + BUDGET_SECONDS
    while len(samples) < runs and (len(samples) < 2 or time.perf_counter() < budget):
        t = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t)
    return (*percentiles(samples), result)


PROBE = """
import json, sqlite3, sys, time
from benchmarks import lake_trickle as b
from switchboard.settings import load_settings

kind, name, days, db_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings = load_settings()
t = time.perf_counter()
if kind == "sqlite":
    db = sqlite3.connect(db_path)
    flt, offset = b.history_cases(days)[name]
    b.sqlite_page(db, flt, offset)
else:
    conn = b.connect(settings, b.TENANT)
    if kind == "analytics":
        b.analytics_page(conn, days)
    else:
        flt, offset = b.history_cases(days)[name]
        b.lake_page(conn, flt, offset)
print("seconds", json.dumps(time.perf_counter() - t))  # DuckDB may print a progress bar
"""


def cold(
    settings: Settings, kind: str, name: str, days: int, db: Path, runs: int
) -> tuple[float, float]:
    """First request of a fresh process (imports excluded, connect included)."""
    env = {
        "SWITCHBOARD_CONFIG": f"{settings.data_dir}/none.toml",
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
    }
    samples: list[float] = []
    budget = time.perf_counter() + BUDGET_SECONDS
    while len(samples) < runs and (len(samples) < 2 or time.perf_counter() < budget):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, kind, name, str(days), str(db)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
        samples.append(json.loads(out.rsplit("seconds ", 1)[1]))
    return percentiles(samples)


def measure(
    settings: Settings, db_path: Path, days: int, runs: int, cold_runs: int, label: str
) -> dict[str, Any]:
    """Every page, cold and warm, on the lake and (history) on SQLite; prints a table."""
    print(f"\n== {label}: {file_counts(settings)}")
    results: dict[str, Any] = {}
    conn = connect(settings, TENANT)
    db = sqlite3.connect(db_path)
    a50, a95, tiles = warm(lambda: analytics_page(conn, days), runs)
    c50, c95 = cold(settings, "analytics", "-", days, db_path, cold_runs)
    results["analytics"] = {"warm": (a50, a95), "cold": (c50, c95), "tiles": tiles}
    ms = 1e3
    print(
        f"{'page':28} {'lake cold p50/p95':>19} {'lake warm p50/p95':>19} {'SQLite cold p50':>16}"
        f" {'SQLite warm p50/p95':>20} {'ratio warm':>10} {'ratio cold':>10}"
    )
    print(
        f"{'Analytics (28 days)':28} {c50 * ms:>8.0f} /{c95 * ms:>7.0f} ms"
        f" {a50 * ms:>7.0f} /{a95 * ms:>7.0f} ms"
    )
    for name, (flt, offset) in history_cases(days).items():
        d50, d95, (rows, total) = warm(partial(lake_page, conn, flt, offset), runs)
        s50, s95, (srows, stotal) = warm(partial(sqlite_page, db, flt, offset), runs)
        assert total == stotal, (name, total, stotal)
        assert [r["call_id"] for r in rows] == [r[0] for r in srows], name
        dc50, dc95 = cold(settings, "history", name, days, db_path, cold_runs)
        sc50, _ = cold(settings, "sqlite", name, days, db_path, cold_runs)
        results[name] = {
            "warm": (d50, d95), "cold": (dc50, dc95), "sqlite warm": (s50, s95),
            "sqlite cold": sc50, "total": total, "ids": [r["call_id"] for r in rows],
        }  # fmt: skip
        print(
            f"{name:28} {dc50 * ms:>8.1f} /{dc95 * ms:>7.1f} ms"
            f" {d50 * ms:>7.1f} /{d95 * ms:>7.1f} ms"
            f" {sc50 * ms:>13.1f} ms {s50 * ms:>8.1f} /{s95 * ms:>7.1f} ms"
            f" {s50 / d50:>9.2f}x {sc50 / dc50:>9.2f}x  ({total:,} calls)"
        )
    conn.close()
    db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--year", action="store_true", help="365 days (overrides --days)")
    parser.add_argument("--calls-per-day", type=int, default=1500)
    parser.add_argument("--calls-per-file", type=int, default=3, help="calls one worker tick finds")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--row-group-rows", type=int, default=None)
    parser.add_argument(
        "--keep", type=Path, default=None, help="build the lake here and keep it (or reuse it)"
    )
    args = parser.parse_args()
    days = 365 if args.year else args.days
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        env = {
            "SWITCHBOARD_CONFIG": f"{root}/data/none.toml",
            "SWITCHBOARD_DATA_DIR": f"{root}/data",
            "SWITCHBOARD_INGEST_BATCH": str(args.calls_per_file),
        }
        settings = load_settings(env)
        print(f"trickle: {days} days x ~{args.calls_per_day} calls, {args.calls_per_file} per file")
        db_path = root / "calls.sqlite"
        if not db_path.exists():  # --keep of an earlier run: measure its lake again
            took = trickle(settings, days, args.calls_per_day, random.Random(42))
            print(f"ingested in {took:.0f} s")
            sqlite_copy(settings, db_path)
        before = measure(settings, db_path, days, args.runs, args.cold_runs, "before compaction")

        policy = CompactionPolicy.from_settings(settings)
        policy = CompactionPolicy(
            max_files=policy.max_files,
            grace_seconds=0.0,  # nobody else reads this lake: delete merged files at once
            row_group_rows=args.row_group_rows or policy.row_group_rows,
        )
        t = time.perf_counter()
        report = compact_lake(settings.lake_dir, policy, today=LAST_DAY + timedelta(days=1))
        print(f"\ncompaction: {report.partitions} partitions, {report.files_in:,} files, "
              f"{report.rows:,} rows in {time.perf_counter() - t:.1f} s")  # fmt: skip
        after = measure(settings, db_path, days, args.runs, args.cold_runs, "after compaction")

        cases = list(history_cases(days))
        same = all(before[k]["total"] == after[k]["total"] for k in cases) and all(
            before[k]["ids"] == after[k]["ids"] for k in cases
        )
        tiles = same_tiles(before["analytics"]["tiles"], after["analytics"]["tiles"])
        print(f"\nsame history pages before and after: {same}; same Analytics tiles: {tiles}")
        print(f"{'speed-up from compaction (p50)':34} {'cold':>8} {'warm':>8}")
        for k in ["analytics", *history_cases(days)]:
            print(f"{k:34} {before[k]['cold'][0] / after[k]['cold'][0]:>7.1f}x "
                  f"{before[k]['warm'][0] / after[k]['warm'][0]:>7.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
