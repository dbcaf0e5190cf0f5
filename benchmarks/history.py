"""Call-history page query and CSV export over a large lake, vs indexed SQLite.

Generates N calls (default 10 M) for 5 tenants over 2024 straight into the
lake layout with pyarrow, and the same rows into an indexed SQLite table.
Then, for the largest tenant:

* the grid's page query (filter + sort + one 100-row page + total count)
  through ``pipeline.warehouse`` / ``pipeline.history``, p50/p95 over runs;
* the same page query on SQLite, same run, same rows → ratio;
* a CSV export of half a year of that tenant (≈ N/10 rows; 1 M at 10 M)
  through ``pipeline.export.write_calls``: seconds and MB/s.

With ``--steps-share`` (default 0.1) that share of the tenant's inbound calls went
through its main menu: their steps (menu, key, bridge, hang-up) are spooled as the
media server writes them (one batch per call) and ingested through the real path
(:func:`pipeline.steps_ingest.ingest_steps`), then compacted, so each page also
builds the calls' paths (``call_paths``) as the Call History does.

    .venv/bin/python -m benchmarks.history [--rows 10000000] [--runs 30] [--steps-share 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.sqlite_calls import Page, sqlite_page
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.export import write_calls
from pipeline.filters import CallFilter
from pipeline.history import call_page
from pipeline.lake_layout import batch_name, partition_dir
from pipeline.schema import CALLS_SCHEMA
from pipeline.steps_ingest import ingest_steps
from pipeline.warehouse import connect
from switchboard.call_steps import CallStep, steps_document
from switchboard.settings import Settings, load_settings
from switchboard.store import ProvisioningStore

TENANTS = ("acme.example", "globex.example", "initech.example", "umbrella.example", "hooli.example")
YEAR_START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
YEAR_SECONDS = 366 * 86_400
NAMES = ["Front Desk", "Bob Builder", "Ann Smith", "Joe Smithers", "Mia Manager", "Li Wei", None]
EXTS = [str(100 + i) for i in range(40)]
OUTSIDE = [f"+1555{i:07d}" for i in range(2000)]
DISPOSITIONS = ["missed", "busy", "cancelled", "failed"]
CODES = {"missed": 480, "busy": 486, "cancelled": 487, "failed": 503}


def _pick(rng: np.random.Generator, values: Sequence[str | None], n: int) -> pa.Array:
    idx = pa.array(rng.integers(0, len(values), n), pa.int32())
    return pa.DictionaryArray.from_arrays(idx, pa.array(values, pa.string())).dictionary_decode()


def tenant_calls(rng: np.random.Generator, n: int, first_acc_id: int) -> pa.Table:
    """n calls of one tenant over the year, sorted by started_at."""
    start_us = np.sort(rng.integers(0, YEAR_SECONDS * 1_000_000, n)) + YEAR_START * 1_000_000
    answered = rng.random(n) < 0.6
    ring_us = rng.integers(1_000_000, 30_000_000, n)
    talk_us = np.where(answered, rng.integers(5_000_000, 900_000_000, n), 0)
    end_us = start_us + ring_us + talk_us
    unanswered = _pick(rng, DISPOSITIONS, n).to_numpy(zero_copy_only=False)
    disposition = np.where(answered, "answered", unanswered)
    ids = np.arange(first_acc_id, first_acc_id + n)
    ts = pa.timestamp("us", tz="UTC")
    inbound = rng.random(n) < 0.4
    internal_caller = _pick(rng, EXTS, n)
    outside_caller = _pick(rng, OUTSIDE, n)
    return pa.table(
        {
            "call_id": pc.binary_join_element_wise(
                pa.array(np.full(n, "call-")), pc.cast(pa.array(ids), pa.string()), ""
            ),
            "acc_id": pa.array(ids, pa.int64()),
            "direction": pa.array(np.where(inbound, "inbound", "internal")),
            "caller": pc.if_else(pa.array(inbound), outside_caller, internal_caller),
            "caller_name": _pick(rng, NAMES, n),
            "callee": _pick(rng, EXTS, n),
            "callee_name": _pick(rng, NAMES, n),
            "answered_by": pc.if_else(pa.array(answered), _pick(rng, EXTS, n), None),
            "started_at": pa.array(start_us, ts),
            "answered_at": pa.array(np.where(answered, start_us + ring_us, 0), ts).filter(
                pa.array(np.ones(n, bool))
            ),
            "ended_at": pa.array(end_us, ts),
            "ring_seconds": pa.array(ring_us / 1e6),
            "talk_seconds": pa.array(talk_us / 1e6),
            "disposition": pa.array(disposition),
            "sip_code": pa.array(
                np.where(answered, 200, [CODES[d] for d in unanswered.tolist()]), pa.int32()
            ),
            "sip_reason": pa.nulls(n, pa.string()),
            "rule": pa.nulls(n, pa.string()),
            "frame": pa.nulls(n, pa.string()),
            "recording_outcome": pa.nulls(n, pa.string()),
        }
    )


def build(lake: Path, db_path: Path, rows: int) -> None:
    rng = np.random.default_rng(42)
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    db.execute(
        "create table calls (tenant text, call_id text, acc_id integer, direction text,"
        " caller text, caller_name text, callee text, callee_name text, answered_by text,"
        " started_at real, answered_at real, ended_at real, ring_seconds real,"
        " talk_seconds real, disposition text, sip_code integer)"
    )
    per_tenant = [rows * w // 15 for w in (5, 4, 3, 2, 1)]  # acme is the biggest
    first = 1
    for tenant, n in zip(TENANTS, per_tenant, strict=True):
        table = tenant_calls(rng, n, first)
        # answered_at: null where unanswered (built as 0 above for speed)
        table = table.set_column(
            table.schema.get_field_index("answered_at"),
            "answered_at",
            pc.if_else(pc.equal(table["disposition"], "answered"), table["answered_at"], None),
        ).cast(CALLS_SCHEMA)
        days = pc.cast(table["started_at"], pa.date32()).to_numpy()
        bounds = np.flatnonzero(np.diff(days.astype("int64"))) + 1
        for lo, hi in zip([0, *bounds], [*bounds, n], strict=True):
            part = table.slice(lo, hi - lo)
            folder = partition_dir(lake, "calls", tenant, days[lo].astype(object))
            folder.mkdir(parents=True, exist_ok=True)
            name = batch_name(part["acc_id"][0].as_py(), part["acc_id"][-1].as_py())
            pq.write_table(part, folder / f"{name}.parquet", compression="zstd")
        epoch = {
            c: (pc.cast(table[c], pa.int64()).to_numpy(zero_copy_only=False) / 1e6)
            for c in ("started_at", "ended_at")
        }
        ans = pc.divide(pc.cast(pc.cast(table["answered_at"], pa.int64()), pa.float64()), 1e6)
        cols = [
            [tenant] * n,
            table["call_id"].to_pylist(),
            table["acc_id"].to_pylist(),
            table["direction"].to_pylist(),
            table["caller"].to_pylist(),
            table["caller_name"].to_pylist(),
            table["callee"].to_pylist(),
            table["callee_name"].to_pylist(),
            table["answered_by"].to_pylist(),
            epoch["started_at"].tolist(),
            ans.to_pylist(),
            epoch["ended_at"].tolist(),
            table["ring_seconds"].to_pylist(),
            table["talk_seconds"].to_pylist(),
            table["disposition"].to_pylist(),
            table["sip_code"].to_pylist(),
        ]
        db.execute("begin")
        db.executemany(f"insert into calls values ({', '.join('?' * 16)})", zip(*cols, strict=True))
        db.execute("commit")
        first += n
    # The indexes a call list needs: per tenant by time, and per tenant+direction by time.
    db.execute("create index calls_tenant_time on calls (tenant, started_at)")
    db.execute("create index calls_tenant_dir_time on calls (tenant, direction, started_at)")
    db.execute("analyze")
    db.close()


def spool_steps(settings: Settings, share: float, seed: int = 7) -> int:
    """Spool the main-menu steps of ``share`` of acme's inbound calls, one batch per call as
    the media server writes them (switchboard.call_steps); how many calls."""
    rnd = np.random.default_rng(seed)
    folder = settings.spool_dir / "steps" / "acme.example"
    folder.mkdir(parents=True, exist_ok=True)
    conn = connect(settings, "acme.example")
    calls = conn.execute(
        "select call_id, epoch(started_at), epoch(ended_at), answered_by from calls"
        " where direction = 'inbound'"
    ).fetchall()
    conn.close()
    chosen = [c for c, pick in zip(calls, rnd.random(len(calls)) < share, strict=True) if pick]
    for n, (call_id, start, end, answered_by) in enumerate(chosen):
        target = f"extension:{answered_by or EXTS[n % len(EXTS)]}"
        steps = [
            CallStep(start + 0.2, "menu_entered", attendant_id=1),
            CallStep(start + 2.5, "menu_key", attendant_id=1, key="1"),
            CallStep(start + 2.6, "bridge_attempt", target=target),
            CallStep(min(end, start + 8.0), "bridge_answered" if answered_by else "bridge_failed",
                     target=target, outcome=None if answered_by else "no_answer"),
            CallStep(end, "hangup"),
        ]  # fmt: skip
        batch = f"st-{n:08d}"
        doc = steps_document(batch, "acme.example", call_id, steps)
        (folder / f"{batch}.json").write_text(json.dumps(doc))
    return len(chosen)


def timed(fn: Callable[[], Page], runs: int) -> tuple[float, float, float, Page]:
    """p50 and p95 wall seconds, p50 CPU seconds (the shared machine's load shows in wall
    time, not in CPU time) and the result, after one warm-up run."""
    result = fn()  # warm-up: file metadata, page cache; the lake's total is counted here
    samples, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        samples.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    samples.sort()
    p95 = samples[int(0.95 * (len(samples) - 1))]
    return statistics.median(samples), p95, statistics.median(cpu), result


CASES = {
    "quarter + inbound, page 3": CallFilter(
        date_from=date(2024, 4, 1), date_to=date(2024, 6, 30), direction="inbound"
    ),
    "quarter + search 'smith'": CallFilter(
        date_from=date(2024, 4, 1), date_to=date(2024, 6, 30), search="smith"
    ),
    "whole year, page 3": CallFilter(date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)),
    "whole year, first page": CallFilter(date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)),
}


def pages(settings: Settings, db: sqlite3.Connection, runs: int, title: str) -> None:
    """Time the grid's page queries on the lake (a fresh connection) and on SQLite; print."""
    conn = connect(settings, "acme.example")
    print(f"-- {title}")
    print(f"{'page query (100 rows + count)':32} {'DuckDB p50/p95 ms (CPU)':>26} "
          f"{'SQLite p50/p95 ms (CPU)':>26} {'ratio p50':>10}")  # fmt: skip
    for label, flt in CASES.items():
        offset = 0 if label.endswith("first page") else 200
        d50, d95, dcpu, (rows, total) = timed(
            partial(call_page, conn, flt, offset=offset, limit=100), runs
        )
        s50, s95, scpu, (srows, stotal) = timed(
            partial(sqlite_page, db, flt, offset, tenant="acme.example"), runs
        )
        assert total == stotal, (total, stotal)
        assert [r["call_id"] for r in rows] == [r[1] for r in srows]
        print(f"{label:32} {d50 * 1e3:>7.1f} /{d95 * 1e3:>7.1f} ({dcpu * 1e3:5.1f})"
              f"   {s50 * 1e3:>7.1f} /{s95 * 1e3:>7.1f} ({scpu * 1e3:5.1f})"
              f"   {d50 / s50:>6.1f}x  ({total:,} matching)")  # fmt: skip
    conn.close()
    print("ratio: lake p50 / SQLite p50 (above 1: SQLite faster). The lake counts a"
          " filter's total once per lake snapshot (pipeline.history.count_matching),"
          " SQLite on every page.")  # fmt: skip
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps-share", type=float, default=0.1,
                        help="share of acme's inbound calls with menu steps (0: none)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            {"SWITCHBOARD_CONFIG": f"{tmp}/none.toml", "SWITCHBOARD_DATA_DIR": f"{tmp}/data"}
        )
        t = time.perf_counter()
        build(settings.lake_dir, Path(tmp) / "calls.sqlite", args.rows)
        files = sum(1 for _ in settings.lake_dir.rglob("*.parquet"))
        acme_rows = args.rows * 5 // 15
        print(f"built {args.rows:,} calls ({files} Parquet files; acme: {acme_rows:,}) "
              f"+ SQLite copy in {time.perf_counter() - t:.0f} s")  # fmt: skip
        db = sqlite3.connect(Path(tmp) / "calls.sqlite")
        if args.steps_share > 0:
            store = ProvisioningStore(settings.provisioning_db)
            store.add_tenant("acme.example", "America/New_York", name="Acme")
            store.close()
            t = time.perf_counter()
            with_steps = spool_steps(settings, args.steps_share)
            t_spool, t = time.perf_counter() - t, time.perf_counter()
            steps = 0
            while (result := ingest_steps(settings)).batches:
                steps += result.steps
            print(f"steps: {with_steps:,} calls through the menu, {steps:,} steps spooled in"
                  f" {t_spool:.0f} s, ingested in {time.perf_counter() - t:.0f} s")  # fmt: skip
            pages(settings, db, args.runs, "paths built from the steps on every page")
            t = time.perf_counter()
            report = compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0,
                                  durable=False), today=date(2025, 1, 2))  # fmt: skip
            print(f"compacted in {time.perf_counter() - t:.0f} s: {report.files_in} files into"
                  f" {report.partitions}, {report.rollups} rollup files written")  # fmt: skip
        pages(settings, db, args.runs, "closed days' paths from the rollup" if args.steps_share
              else "no steps")  # fmt: skip
        conn = connect(settings, "acme.example")
        out = Path(tmp) / "export.csv"
        half = CallFilter(date_from=date(2024, 1, 1), date_to=date(2024, 6, 30))
        t = time.perf_counter()
        n = write_calls(conn, half, "csv", out, "America/New_York")
        took = time.perf_counter() - t
        mb = out.stat().st_size / 1e6
        print(f"CSV export: {n:,} rows, {mb:.0f} MB in {took:.2f} s = {mb / took:.0f} MB/s, "
              f"{n / took:,.0f} rows/s")  # fmt: skip
        conn.close()
        db.close()


if __name__ == "__main__":
    main()
