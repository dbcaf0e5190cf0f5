"""Ingest throughput: N synthetic accounting rows through ``ingest_once``.

Baseline, measured in the same run on the same spool: read the same rows with
the same reader and write them to one Parquet file as they are (no
interpretation, no partitioning, no manifest). The ratio says what the
interpreter and the exactly-once protocol cost on top of plain I/O.

    .venv/bin/python -m benchmarks.ingest [--rows 1000000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.acc import ACC_COLUMNS, open_acc, read_acc_rows
from pipeline.ingest import ingest_once
from switchboard.settings import Settings, load_settings
from switchboard.store import ProvisioningStore

TENANTS = ("acme.example", "globex.example", "initech.example", "umbrella.example")
T0 = 1_704_067_200.0  # 2024-01-01 00:00 UTC


def make_spool(path: Path, rows: int) -> None:
    """Fill a spool the fast way (one transaction, no journal)."""
    rng = random.Random(42)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(resources.files("kamailio").joinpath("acc_schema.sql").read_text())
    db.execute("pragma journal_mode = off")
    db.execute("pragma synchronous = off")
    columns = ACC_COLUMNS[1:]

    def gen():  # type: ignore[no-untyped-def]
        for i in range(rows):
            invite = T0 + i * 2.5 + rng.random()  # ~1 M calls over a month
            answered = rng.random() < 0.6
            code = 200 if answered else rng.choice((408, 480, 486, 487, 503, 603))
            yield (
                f"{i:x}-{rng.getrandbits(32):08x}@pbx",
                TENANTS[i % 4],
                ("internal", "inbound", "outbound")[i % 3],
                str(100 + rng.randrange(40)),
                "" if i % 5 else "Some Caller",
                TENANTS[i % 4],
                str(100 + rng.randrange(40)),
                TENANTS[i % 4],
                str(100 + rng.randrange(40)) if answered else None,
                invite,
                invite + 4.2 if answered else None,
                invite + 60.7,
                code,
                "OK" if answered else "Failed",
                "answered" if answered else "failed",
                None,
                None,
                "10.0.0.1",
                "bench",
            )

    db.execute("begin")
    db.executemany(
        f"insert into cdr ({', '.join(columns)}) values ({', '.join('?' * len(columns))})", gen()
    )
    db.execute("commit")
    db.close()


def seed_directory(settings: Settings) -> None:
    store = ProvisioningStore(settings.provisioning_db)
    for tenant in TENANTS:
        store.add_tenant(tenant, "UTC")
        for ext in ("100", "101", "102"):
            store.add_user(
                tenant=tenant,
                extension=ext,
                name=f"User {ext}",
                email=f"{ext}@{tenant}",
                password="benchmark-pass",
                sip_password="benchmark-pass",
            )
    store.close()


def baseline(settings: Settings, out: Path, batch: int) -> float:
    """Same reader, raw rows straight to one Parquet file."""
    started = time.perf_counter()
    db = open_acc(settings.acc_db)
    assert db is not None
    writer = None
    after = 0
    while rows := read_acc_rows(db, after, batch):
        table = pa.Table.from_pylist(
            [{**r, "invite_at": float(r["invite_at"])} for r in rows],
        )
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema))
        after = rows[-1]["id"]
    if writer is not None:
        writer.close()
    db.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            {
                "SWITCHBOARD_CONFIG": f"{tmp}/none.toml",
                "SWITCHBOARD_DATA_DIR": f"{tmp}/data",
                "SWITCHBOARD_INGEST_BATCH": str(args.batch),
            }
        )
        settings.data_dir.mkdir(parents=True)
        t = time.perf_counter()
        make_spool(settings.acc_db, args.rows)
        print(f"spool: {args.rows:,} rows written in {time.perf_counter() - t:.1f} s")
        seed_directory(settings)

        base = baseline(settings, Path(tmp) / "raw.parquet", args.batch)
        t = time.perf_counter()
        result = ingest_once(settings)
        took = time.perf_counter() - t
        assert result.calls + result.quarantined == args.rows, result
        files = sum(1 for _ in settings.lake_dir.rglob("*.parquet"))
        print(f"ingest_once: {result.calls:,} calls, {result.quarantined} quarantined, "
              f"{files} files, batch {args.batch}")  # fmt: skip
        print(f"ingest_once          {took:7.2f} s  {args.rows / took:>10,.0f} rows/s")
        print(f"baseline read+write  {base:7.2f} s  {args.rows / base:>10,.0f} rows/s")
        print(f"ratio ingest/baseline time: {took / base:.2f}x")


if __name__ == "__main__":
    main()
