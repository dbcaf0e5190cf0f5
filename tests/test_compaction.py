"""Compaction: small files become one, every answer stays the same, exactly once across kill -9.

Calls reach the lake through the real ingest (accounting rows → ``ingest_rows`` /
``ingest_once``), one small batch at a time, as a trickle of live calls does.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import metrics
from pipeline.acc import open_acc, read_acc_rows
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.files import write_parquet_atomic
from pipeline.filters import CallFilter
from pipeline.history import call_page
from pipeline.ingest import ingest_once, ingest_rows, load_directory
from pipeline.lake import Lake
from pipeline.lake_layout import (
    TRANSCRIPTS,
    VOICEMAILS,
    live_paths,
    partition_dir,
    read_partition,
)
from pipeline.metrics_cache import RESULTS
from pipeline.schema import TRANSCRIPTS_SCHEMA, VOICEMAILS_SCHEMA
from pipeline.transcribe import transcript_written
from pipeline.warehouse import connect
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.core import insert_acc_rows, seeded_settings
from tests.fixtures.crash import kill_at_step_program
from tests.fixtures.portal import REPO_ROOT, portal_env

ACME = "acme.example"
T0 = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC
MIDNIGHT = T0 - 8 * 3_600
DAY1 = date(2024, 3, 1)
LATER = date(2024, 3, 10)  # "today" for the policy: every test day is closed
NOW_POLICY = CompactionPolicy(max_files=4, grace_seconds=0.0, durable=False)


def acc_rows(rng: random.Random, serial: int, n: int, *, days: int = 1) -> list[dict[str, Any]]:
    """``n`` accounting rows of acme and globex over ``days`` UTC days, some unusable."""
    rows = []
    for i in range(n):
        invite = MIDNIGHT + rng.randrange(0, days * 86_400 - 3_600)
        answered = rng.random() < 0.6
        row: dict[str, Any] = {
            "call_id": f"call-{serial + i}",
            "tenant": rng.choice([ACME, ACME, ACME, "globex.example"]),
            "direction": rng.choice(["internal", "inbound", "outbound"]),
            "caller": rng.choice(["100", "101", "102", "+15550100", "+15550111"]),
            "callee": rng.choice(["100", "101", "102", "103"]),
            "invite_at": invite,
            "answer_at": invite + rng.randrange(1, 20) if answered else None,
            "end_at": invite + rng.randrange(25, 900),
            "sip_code": 200 if answered else rng.choice([408, 480, 486, 487]),
        }
        if rng.random() < 0.03:
            row["end_at"] = "corrupt"
        rows.append(row)
    return rows


def trickle(settings: Settings, batch: int = 1) -> int:
    """Ingest every new accounting row ``batch`` rows at a time; how many batches."""
    lake = Lake(settings.lake_dir, durable=False)
    directory = load_directory(settings)
    db = open_acc(settings.acc_db)
    assert db is not None
    batches = 0
    try:
        while rows := read_acc_rows(db, lake.watermark(), batch):
            ingest_rows(lake, rows, directory, after=lake.watermark())
            batches += 1
    finally:
        db.close()
    return batches


def live_rows(settings: Settings, table: str = "calls") -> list[dict[str, Any]]:
    return [r for p in live_paths(settings.lake_dir, table) for r in pq.read_table(p).to_pylist()]


def answers(settings: Settings) -> dict[str, Any]:
    """What the portal would show: totals, call-history pages, the metric summary."""
    RESULTS.clear()
    conn = connect(settings, ACME)
    try:
        ((count, distinct, talk, ring),) = conn.execute(
            "select count(*), count(distinct call_id), sum(talk_seconds), sum(ring_seconds)"
            " from calls"
        ).fetchall()
        pages = []
        for flt, sort in [
            (CallFilter(), None),
            (CallFilter(direction="inbound"), None),
            (CallFilter(date_from=DAY1, date_to=DAY1, timezone="America/New_York"), None),
            (CallFilter(search="555"), [("talk_seconds", "desc")]),
            (CallFilter(disposition="answered"), [("caller", "asc")]),
        ]:
            offset = 100 if sort is None and flt.direction is None else 0
            rows, total = call_page(conn, flt, offset=offset, limit=100, sort=sort)
            pages.append((total, [r["call_id"] for r in rows]))
        summary = metrics.summary(conn, metrics.Period(DAY1, DAY1), tz="America/New_York")
    finally:
        conn.close()
    return {"totals": (count, distinct, talk, ring), "pages": pages, "summary": summary}


def test_a_day_of_500_small_files_becomes_one_and_every_answer_stays_the_same(
    settings: Settings, store: ProvisioningStore
) -> None:
    rng = random.Random(7)
    rows = acc_rows(rng, 0, 560)
    rows = [dict(r, tenant=ACME) if i % 20 else r for i, r in enumerate(rows)]
    insert_acc_rows(settings, rows)
    assert trickle(settings) == 560
    day1 = partition_dir(settings.lake_dir, "calls", ACME, DAY1)
    assert len(read_partition(day1).live) >= 500
    before = answers(settings)
    watermark = Lake(settings.lake_dir).watermark()

    report = compact_lake(settings.lake_dir, NOW_POLICY, today=LATER)

    assert report.partitions == 2  # acme and globex
    assert len(read_partition(day1).live) == 1
    assert len(list(day1.glob("*.parquet"))) == 1  # grace 0: the small files are gone
    for tenant_dir in (settings.lake_dir / "calls").iterdir():
        for part in tenant_dir.iterdir():
            assert len(list(part.glob("*.parquet"))) <= 2
    assert answers(settings) == before
    assert before["totals"][0] > 400 and before["summary"]["calls"] > 0
    assert Lake(settings.lake_dir).watermark() == watermark
    # The merged file is sorted by time, and its record holds the id ranges it absorbed.
    merged = pq.read_table(next(day1.glob("c-*.parquet")))
    starts = merged.column("started_at").to_pylist()
    assert starts == sorted(starts)
    record = json.loads(next(day1.glob("c-*.json")).read_text())
    ids = {i for first, last in record["acc_id_ranges"] for i in range(first, last + 1)}
    assert set(merged.column("acc_id").to_pylist()) <= ids
    # Nothing left to do: a second pass merges nothing.
    assert compact_lake(settings.lake_dir, NOW_POLICY, today=LATER).partitions == 0


def test_ingest_after_compaction_neither_duplicates_nor_skips(
    settings: Settings, store: ProvisioningStore
) -> None:
    rng = random.Random(8)
    first, late = acc_rows(rng, 0, 60), acc_rows(rng, 60, 40)
    first[5]["end_at"] = late[7]["end_at"] = "corrupt"  # quarantined, before and after
    insert_acc_rows(settings, first)
    trickle(settings, batch=3)
    compact_lake(settings.lake_dir, NOW_POLICY, today=LATER)
    insert_acc_rows(settings, late)  # same day: late calls of a closed day
    assert ingest_once(settings).watermark == 100
    assert ingest_once(settings).calls == 0
    compact_lake(settings.lake_dir, NOW_POLICY, today=LATER)
    insert_acc_rows(settings, acc_rows(rng, 100, 5))
    ingest_once(settings)

    quarantined = [
        r
        for f in (settings.lake_dir / "quarantine").glob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]
    seen = Counter([r["acc_id"] for r in live_rows(settings)] + [r["acc_id"] for r in quarantined])
    assert {i: c for i, c in seen.items() if c != 1} == {}
    assert sorted(seen) == list(range(1, 106))
    assert {r["reason"] for r in quarantined} == {"end_at is not a number: 'corrupt'"}


def test_a_batch_killed_before_its_commit_is_not_merged_and_its_redo_lands_once(
    settings: Settings, store: ProvisioningStore
) -> None:
    rng = random.Random(9)
    insert_acc_rows(settings, acc_rows(rng, 0, 30))
    trickle(settings, batch=2)
    rows = acc_rows(rng, 30, 6)
    insert_acc_rows(settings, [dict(r, tenant="initech.example") for r in rows[:3]] + rows[3:])

    def crash(step: str) -> None:
        if step == "strays":
            raise KeyboardInterrupt  # stands for kill -9: nothing after this step runs

    with pytest.raises(KeyboardInterrupt):
        ingest_once(settings, on_step=crash)
    assert Lake(settings.lake_dir).pending() is not None
    before = {r["acc_id"] for r in live_rows(settings)}
    assert not before & set(range(31, 37))  # readers do not see the uncommitted batch

    compact_lake(settings.lake_dir, NOW_POLICY, today=LATER)
    store.add_tenant("initech.example", "UTC")  # the redo turns its quarantined rows into calls
    ingest_once(settings)

    ids = [r["acc_id"] for r in live_rows(settings)]
    quarantine = [
        r["acc_id"]
        for f in (settings.lake_dir / "quarantine").glob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]
    assert sorted(ids + quarantine) == list(range(1, 37))
    assert len(ids) == len(set(ids))


def test_voicemails_and_transcripts_compact_the_same_way(settings: Settings) -> None:
    def write(table: str, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            name = row["message_id"] if table == TRANSCRIPTS.name else f"vmb-{row['message_id']}"
            folder = partition_dir(settings.lake_dir, table, ACME, DAY1)
            write_parquet_atomic(folder / f"{name}.parquet", pa.Table.from_pylist([row], schema))

    at = datetime(2024, 3, 1, 9, tzinfo=UTC)
    messages = [
        {
            "message_id": f"vm-{i:032x}",
            "mailbox": "101",
            "call_id": f"c{i}",
            "caller": "+15550100",
            "caller_name": None,
            "started_at": at.replace(minute=i),
            "ended_at": at.replace(minute=i, second=30),
            "duration": 30.0,
            "speech_seconds": 20.0,
            "end_reason": "hangup",
            "cut_off": False,
            "discarded": False,
            "codec": "PCMU",
            "audio_path": None,
        }
        for i in range(12)
    ]
    transcripts = [
        {
            "message_id": m["message_id"],
            "mailbox": "101",
            "text": f"please call back {i}",
            "segments_json": "[]",
            "language": "en",
            "model": "tiny.en",
            "audio_seconds": 30.0,
            "transcribe_seconds": 1.0,
            "real_time_factor": 0.03,
            "transcribed_at": at.replace(hour=10, minute=59 - i),
        }
        for i, m in enumerate(messages)
    ]
    write(VOICEMAILS.name, VOICEMAILS_SCHEMA, messages)
    write(TRANSCRIPTS.name, TRANSCRIPTS_SCHEMA, transcripts)
    query = (
        "select count(*), count(distinct v.message_id), string_agg(t.text, ',' order by t.text)"
        " from voicemails v join transcripts t using (message_id)"
    )
    conn = connect(settings, ACME)
    before = conn.execute(query).fetchall()
    conn.close()

    report = compact_lake(settings.lake_dir, NOW_POLICY, today=LATER)

    assert report.partitions == 2 and report.files_in == 24
    for table in (VOICEMAILS, TRANSCRIPTS):
        folder = partition_dir(settings.lake_dir, table.name, ACME, DAY1)
        assert [p.name for p in folder.glob("*.parquet")] == ["c-000001.parquet"]
    conn = connect(settings, ACME)
    assert conn.execute(query).fetchall() == before == [(12, 12, before[0][2])]
    conn.close()
    # A transcript merged away still counts as written: the model never runs twice.
    folder = partition_dir(settings.lake_dir, TRANSCRIPTS.name, ACME, DAY1)
    assert transcript_written(folder / f"{messages[3]['message_id']}.parquet")
    assert not transcript_written(folder / f"vm-{99:032x}.parquet")


def test_today_is_merged_only_above_the_threshold_and_old_files_wait_for_the_grace(
    settings: Settings, store: ProvisioningStore
) -> None:
    insert_acc_rows(settings, acc_rows(random.Random(3), 0, 40))
    trickle(settings, batch=10)  # 4 batches: at most 4 files per tenant-day
    policy = CompactionPolicy(max_files=4, grace_seconds=60.0, durable=False)
    assert compact_lake(settings.lake_dir, policy, today=DAY1).partitions == 0
    insert_acc_rows(settings, acc_rows(random.Random(4), 40, 10))
    trickle(settings, batch=10)
    day1 = partition_dir(settings.lake_dir, "calls", ACME, DAY1)
    assert len(read_partition(day1).live) == 5
    now = time.time()
    report = compact_lake(settings.lake_dir, policy, today=DAY1, now=now)
    assert report.partitions >= 1 and report.swept == 0
    assert len(read_partition(day1).live) == 1
    assert len(list(day1.glob("*.parquet"))) == 6  # readers that listed before still find them
    report = compact_lake(settings.lake_dir, policy, today=DAY1, now=now + 61)
    assert report.swept >= 5
    assert [p.name for p in day1.glob("*.parquet")] == ["c-000001.parquet"]


def test_batch_manifests_are_rolled_up_and_the_watermark_stays(
    settings: Settings, store: ProvisioningStore
) -> None:
    insert_acc_rows(settings, acc_rows(random.Random(11), 0, 90))
    assert trickle(settings, batch=2) == 45
    lake = Lake(settings.lake_dir)
    policy = CompactionPolicy(grace_seconds=0.0, durable=False, manifests_above=10)
    report = compact_lake(settings.lake_dir, policy, today=LATER)
    assert report.manifests == 44
    assert lake.committed_batches() == [(1, 88), (89, 90)]
    assert lake.watermark() == 90
    rollup = json.loads((lake.batches_dir / "acc-000000000001-000000000088.json").read_text())
    assert rollup["batches"] == 44 and rollup["calls"] + rollup["quarantined"] == 88
    # A kill after the roll-up's write left a member behind: it is not counted twice.
    member = {"first": 1, "last": 2, "after": 0, "calls": 2, "quarantined": 0, "files": []}
    (lake.batches_dir / "acc-000000000001-000000000002.json").write_text(json.dumps(member))
    insert_acc_rows(settings, acc_rows(random.Random(12), 90, 10))
    assert ingest_once(settings).watermark == 100
    compact_lake(settings.lake_dir, CompactionPolicy(manifests_above=1), today=LATER)
    assert lake.committed_batches() == [(1, 90), (91, 100)]
    again = json.loads((lake.batches_dir / "acc-000000000001-000000000090.json").read_text())
    assert again["batches"] == 45 and again["calls"] + again["quarantined"] == 90
    ids = [r["acc_id"] for r in live_rows(settings)] + quarantined_ids(settings)
    assert sorted(ids) == list(range(1, 101))
    # A run killed inside a roll-up's write left its temp file; the next run, with no
    # ingest in between, removes it and counts nothing from it.
    killed = lake.batches_dir / "acc-000000000001-000000000100.json.4242.tmp"
    killed.write_text('{"first": 1')
    report = compact_lake(settings.lake_dir, CompactionPolicy(manifests_above=1), today=LATER)
    assert not killed.exists() and report.swept >= 1
    assert lake.committed_batches() == [(1, 90), (91, 100)] and lake.watermark() == 100


# -- kill -9 at every step ------------------------------------------------------------------
CHILD = kill_at_step_program(
    """
    from datetime import date
    from pipeline.compaction import CompactionPolicy, compact_lake
    from switchboard.settings import load_settings

    grace = float(sys.argv[3])
    policy = CompactionPolicy(max_files=2, grace_seconds=grace, manifests_above=8)
    compact_lake(load_settings().lake_dir, policy, today=date(2024, 3, 2),
                 on_step=hook if step != "none" else None)
    """
)
STEPS = ("plan", "file", "commit", "sweep", "rollup", "rollup-done")


def test_every_call_stays_exactly_once_when_compaction_is_killed_anywhere(tmp_path: Path) -> None:
    rng = random.Random(42)
    settings = seeded_settings(tmp_path / "data")
    serial = 0
    outcomes = []
    for round_no in range(20):
        n = rng.randint(5, 15)
        insert_acc_rows(settings, acc_rows(rng, serial, n, days=2))  # day 2 is "today"
        serial += n
        trickle(settings, batch=rng.randint(1, 3))
        grace = rng.choice(["0", "0", "3600"])
        if round_no % 4 == 3:  # a timer: anywhere, inside a Parquet write too
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, "none", "0", grace],
                env=portal_env(settings),
                cwd=REPO_ROOT,
            )
            delay = rng.uniform(0.3, 0.9)
            try:
                proc.wait(delay)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
            outcomes.append(f"timer {delay:.2f}")
        else:
            step = STEPS[(round_no - round_no // 4) % len(STEPS)]
            nth = 1 if step.startswith("rollup") else rng.randint(1, 3)
            subprocess.run(
                [sys.executable, "-c", CHILD, step, str(nth), grace],
                env=portal_env(settings),
                cwd=REPO_ROOT,
                timeout=60,
            )
            outcomes.append(f"{step}#{nth} grace {grace}")
        # After every kill: each ingested call exactly once, as files and as readers see it.
        calls = live_rows(settings)
        counted = Counter(r["acc_id"] for r in calls)
        assert {i: c for i, c in counted.items() if c != 1} == {}, outcomes
        assert len(calls) == Lake(settings.lake_dir).watermark() - quarantined(settings), outcomes
        conn = connect(settings, ACME)
        ((count, distinct),) = conn.execute(
            "select count(*), count(distinct acc_id) from calls"
        ).fetchall()
        conn.close()
        assert count == distinct == len(acme_calls(settings)), outcomes
        assert Lake(settings.lake_dir).watermark() == serial, outcomes

    subprocess.run(
        [sys.executable, "-c", CHILD, "none", "0", "0"],
        env=portal_env(settings),
        cwd=REPO_ROOT,
        check=True,
    )
    for tenant_dir in (settings.lake_dir / "calls").iterdir():
        for part in tenant_dir.iterdir():
            assert len(list(part.glob("*.parquet"))) <= 2, part
    assert not list(settings.lake_dir.rglob("*.tmp"))
    assert len(Lake(settings.lake_dir).committed_batches()) <= 9  # rolled up
    assert sorted(r["acc_id"] for r in live_rows(settings)) == sorted(
        set(range(1, serial + 1)) - set(quarantined_ids(settings))
    )


def quarantined_ids(settings: Settings) -> list[int]:
    return [
        r["acc_id"]
        for f in (settings.lake_dir / "quarantine").glob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]


def quarantined(settings: Settings) -> int:
    return len(quarantined_ids(settings))


def acme_calls(settings: Settings) -> set[str]:
    return {
        r["call_id"]
        for p in live_paths(settings.lake_dir, "calls", [ACME])
        for r in pq.read_table(p).to_pylist()
    }


# -- a reader during compactions -------------------------------------------------------------
READER = """
import sys, time, json
from pipeline.warehouse import connect
from switchboard.settings import load_settings

settings = load_settings()
until = time.monotonic() + float(sys.argv[1])
seen = []
while time.monotonic() < until:
    conn = connect(settings, "acme.example")
    try:
        seen.append(conn.execute(
            "select count(*), count(distinct call_id) from calls"
        ).fetchall()[0])
    except Exception as exc:
        seen.append(repr(exc))
    finally:
        conn.close()
print(json.dumps(seen))
"""


def test_a_reader_never_sees_a_call_twice_nor_misses_one_during_compactions(
    settings: Settings, store: ProvisioningStore
) -> None:
    rng = random.Random(5)
    rows = [
        dict(r, tenant=ACME, invite_at=T0 + i, answer_at=T0 + i + 2, end_at=T0 + i + 60)
        for i, r in enumerate(acc_rows(rng, 0, 400))
    ]  # all usable, all in one partition: a batch is one file
    insert_acc_rows(settings, rows[:200])
    trickle(settings, batch=2)  # 100 files in one partition
    totals = {200}
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, "8"],
        env=portal_env(settings),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # the reader is importing DuckDB
    policy = CompactionPolicy(max_files=1, grace_seconds=1.0, durable=False)
    compactions = 0
    added = 200
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        if added < 400:  # new single-partition batches between compactions
            insert_acc_rows(settings, rows[added : added + 10])
            trickle(settings, batch=5)
            totals |= {added + 5, added + 10}
            added += 10
        compactions += compact_lake(settings.lake_dir, policy, today=DAY1).partitions
    out, _ = reader.communicate(timeout=30)
    seen = json.loads(out)
    errors = [s for s in seen if isinstance(s, str)]
    assert errors == []
    counts = [tuple(s) for s in seen]
    assert compactions >= 5 and len(counts) >= 20
    assert all(count == distinct for count, distinct in counts)  # never a call twice
    assert {count for count, _ in counts} <= totals  # never a call missing
    assert [c for c, _ in counts] == sorted(c for c, _ in counts)  # never going back


def test_a_lake_written_before_a_column_existed_reads_it_as_null(settings: Settings) -> None:
    """Transcripts written before issue 15 have no confidence columns; the view still has
    them, read by name only while such a file is in the lake."""
    old_schema = pa.schema(
        [f for f in TRANSCRIPTS_SCHEMA if f.name not in ("avg_logprob", "no_speech_prob")]
    )
    row = {
        "message_id": f"vm-{1:032x}",
        "mailbox": "101",
        "text": "please call back",
        "segments_json": "[]",
        "language": "en",
        "model": "tiny.en",
        "audio_seconds": 3.0,
        "transcribe_seconds": 1.0,
        "real_time_factor": 0.3,
        "transcribed_at": datetime(2024, 3, 1, 9, tzinfo=UTC),
    }
    folder = partition_dir(settings.lake_dir, TRANSCRIPTS.name, ACME, DAY1)
    newer = {**row, "message_id": f"vm-{2:032x}", "avg_logprob": -0.3, "no_speech_prob": 0.02}
    write_parquet_atomic(
        folder / f"{newer['message_id']}.parquet",
        pa.Table.from_pylist([newer], TRANSCRIPTS_SCHEMA),
    )

    def read() -> tuple[list[tuple[Any, ...]], str]:
        conn = connect(settings, ACME)
        try:
            sql = "select message_id, avg_logprob, no_speech_prob from transcripts order by 1"
            view = "select sql from duckdb_views() where view_name = 'transcripts'"
            return conn.execute(sql).fetchall(), conn.execute(view).fetchall()[0][0]
        finally:
            conn.close()

    # every file current: the plain scan, bound from one footer (not every file's)
    got, view = read()
    assert got == [(newer["message_id"], -0.3, 0.02)] and "union_by_name" not in view
    write_parquet_atomic(
        folder / f"{row['message_id']}.parquet", pa.Table.from_pylist([row], old_schema)
    )
    got, view = read()
    assert got == [(row["message_id"], None, None), (newer["message_id"], -0.3, 0.02)]
    assert "union_by_name" in view
