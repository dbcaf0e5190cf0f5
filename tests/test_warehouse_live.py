"""Today's new files reach a kept database without building it again
(pipeline.warehouse_sources): each connection reads exactly the files it listed."""

from __future__ import annotations

import time
from typing import Any

import duckdb

from pipeline.ingest import ingest_rows
from pipeline.lake import Lake
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.sample_lake import DIRECTORY, sample_rows, write_sample_lake

TENANT = "acme.example"
SAMPLE_IDS = sorted(r["call_id"] for r in sample_rows() if r["tenant"] == TENANT)


def call(acc_id: int, call_id: str, at: float) -> dict[str, Any]:
    return {
        "id": acc_id, "call_id": call_id, "tenant": TENANT, "direction": "internal",
        "caller": "101", "caller_name": None, "callee": "102", "answered_by": "102",
        "invite_at": at, "answer_at": at + 2, "end_at": at + 30, "sip_code": 200,
    }  # fmt: skip


def call_ids(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(r[0] for r in conn.execute("select call_id from call_history").fetchall())


def own_live_calls(conn: duckdb.DuckDBPyConnection) -> int | None:
    """How many live calls files the connection names itself (None: the database's)."""
    row = conn.execute("select len(getvariable('sb_live_calls'))").fetchone()
    return None if row is None else row[0]


def test_a_new_call_of_today_is_read_by_the_next_connection_from_the_same_database(
    settings: Settings,
) -> None:
    write_sample_lake(settings)  # March 2024: closed days
    lake = Lake(settings.lake_dir, durable=False)
    # both in today's UTC day, however close to midnight the test runs (two minutes back
    # once put the first call in yesterday at 00:01 UTC)
    now = time.time()
    midnight = now - now % 86_400
    earlier, later = (midnight + (now - midnight) * share for share in (0.25, 0.5))
    ingest_rows(lake, [call(100, "today-1", earlier)], DIRECTORY, after=7)
    first = connect(settings, TENANT)
    ingest_rows(lake, [call(101, "today-2", later)], DIRECTORY, after=100)
    second = connect(settings, TENANT)
    try:
        assert call_ids(second) == sorted([*SAMPLE_IDS, "today-1", "today-2"])
        # the first still reads the files it listed, not the ones listed after it
        assert call_ids(first) == sorted([*SAMPLE_IDS, "today-1"])
        # no database built for the new file: the second names today's two files itself
        assert own_live_calls(first) is None and own_live_calls(second) == 2
        one_day = "select count(*) from calls where date = current_date"
        assert second.execute(one_day).fetchone() == (2,)
        assert first.execute(one_day).fetchone() == (1,)
    finally:
        first.close()
        second.close()


def test_a_tenant_whose_first_calls_arrive_today_sees_them(settings: Settings) -> None:
    lake = Lake(settings.lake_dir, durable=False)
    empty = connect(settings, TENANT)
    assert call_ids(empty) == []
    ingest_rows(lake, [call(1, "first-ever", time.time() - 60)], DIRECTORY, after=0)
    now = connect(settings, TENANT)
    try:
        assert call_ids(now) == ["first-ever"]
        assert call_ids(empty) == []
    finally:
        empty.close()
        now.close()
