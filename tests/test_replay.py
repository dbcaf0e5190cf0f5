"""Quarantine replay: a tenant provisioned after its calls gets them, each exactly once.

Replayed from the quarantine's own copy of each row (the spool may have been
cleaned), recorded in the calls writer's commit log, safe to run twice and
after a kill -9 at any step; readers never see half a replay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date
from typing import Any

import pyarrow.parquet as pq
import pytest

from pipeline.acc_cleanup import clean_acc_spool
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.ingest import ingest_once
from pipeline.lake import Lake
from pipeline.lake_layout import live_paths
from pipeline.replay import quarantined_rows, replay_quarantine
from pipeline.replay_log import replayed_ids
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.core import Directory, insert_acc_rows
from tests.fixtures.crash import kill_at_step_program
from tests.fixtures.portal import REPO_ROOT, portal_env

T0 = 1_709_280_000.0  # 2024-03-01 08:00:00 UTC
INITECH = "initech.example"

CHILD = kill_at_step_program(
    """
    from pipeline.replay import replay_quarantine
    from switchboard.settings import load_settings

    replay_quarantine(load_settings(), on_step=hook)
    """
)


def spool_rows(n: int) -> list[dict[str, Any]]:
    """Calls over three days: every third for Initech (not provisioned yet), a few corrupt."""
    # Initech: 18 replayable rows (17 calls, 1 leg), 2 corrupt.
    rows = []
    for i in range(1, n + 1):
        invite = T0 + (i // 3 % 3) * 86_400 + i
        row: dict[str, Any] = {
            "call_id": f"call-{i}",
            "tenant": INITECH if i % 3 == 0 else "acme.example",
            "direction": "internal",
            "caller": "101",
            "callee": "102",
            "invite_at": invite,
            "answer_at": invite + 2 if i % 2 else None,
            "end_at": invite + 40,
            "sip_code": 200 if i % 2 else 486,
        }
        if i % 10 == 0:
            row["end_at"] = "corrupt"
        if i == 45:  # a leg the media server placed for call-42 (the legs table, not a call)
            row["origin_call_id"] = "call-42"
        rows.append(row)
    return rows


def lake_ids(settings: Settings) -> Counter[int]:
    """Accounting ids as the lake holds them: live calls and legs, rows still quarantined."""
    live = [
        r["acc_id"]
        for table in ("calls", "legs")
        for f in live_paths(settings.lake_dir, table)
        for r in pq.read_table(f, columns=["acc_id"]).to_pylist()
    ]
    return Counter(live + [acc_id for acc_id, _, _ in quarantined_rows(Lake(settings.lake_dir))])


def initech_calls(settings: Settings) -> int:
    conn = connect(settings, INITECH)
    try:
        return int(conn.execute("select count(*) from calls").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def quarantined_initech(settings: Settings, directory: Directory) -> list[int]:
    """60 rows ingested before Initech existed, the spool cleaned; Initech's ids."""
    rows = spool_rows(60)
    insert_acc_rows(settings, rows)
    ingest_once(settings)
    clean_acc_spool(settings, keep_rows=0)  # replay reads the quarantine's copy
    directory.store.add_tenant(INITECH, "UTC")
    return [i for i, r in enumerate(rows, start=1) if r["tenant"] == INITECH and i % 10]


def test_replay_lands_each_row_once_and_twice_changes_nothing(
    settings: Settings, quarantined_initech: list[int]
) -> None:
    assert initech_calls(settings) == 0
    result = replay_quarantine(settings)
    assert result.replayed == len(quarantined_initech) == 18
    assert result.still_quarantined == {"end_at is not a number: 'corrupt'": 6}
    assert initech_calls(settings) == 17
    assert sorted(replayed_ids(Lake(settings.lake_dir))) == quarantined_initech
    ids = lake_ids(settings)
    assert sorted(ids) == list(range(1, 61)) and set(ids.values()) == {1}

    listing = sorted(p.name for p in settings.lake_dir.rglob("*") if p.is_file())
    again = replay_quarantine(settings)
    assert again.replayed == 0 and again.still_quarantined == result.still_quarantined
    assert sorted(p.name for p in settings.lake_dir.rglob("*") if p.is_file()) == listing

    # A new Initech call beside the replayed ones; compaction merges both files like any
    # other, and nothing is replayed twice after.
    insert_acc_rows(settings, [dict(spool_rows(63)[-1], call_id="call-61")])
    ingest_once(settings)
    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=date(2030, 1, 1))
    day = settings.lake_dir / "calls" / f"tenant={INITECH}" / "date=2024-03-01"
    assert sorted(p.name for p in day.glob("*.parquet")) == ["c-000001.parquet"]
    assert replay_quarantine(settings).replayed == 0
    assert lake_ids(settings) == ids + Counter([61]) and initech_calls(settings) == 18


def test_the_command_line_replays(settings: Settings, quarantined_initech: list[int]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", "replay"],
        cwd=REPO_ROOT,
        env=portal_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "replayed 18 quarantined rows as calls (1 batches)" in out.stdout
    assert "still quarantined: 6\tend_at is not a number: 'corrupt'" in out.stdout
    assert initech_calls(settings) == 17


@pytest.mark.parametrize(
    ("step", "nth"), [("pending", 1), ("file", 1), ("file", 3), ("manifest", 1), ("done", 1)]
)
def test_a_replay_killed_at_any_step_lands_each_row_once(
    settings: Settings, quarantined_initech: list[int], step: str, nth: int
) -> None:
    # Initech's calls span three days: a replay batch writes three files.
    child = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(nth)],
        cwd=REPO_ROOT,
        env=portal_env(settings),
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    pending = settings.lake_dir / "_batches" / "pending.json"
    if step != "done":
        assert json.loads(pending.read_text())["replay"] is True
    # A reader sees the replay whole or not at all: its files are in flight until committed.
    assert initech_calls(settings) in (0, 17)

    if step == "file":  # the worker's next ingest pass undoes the uncommitted replay ...
        ingest_once(settings)
        assert not pending.exists() and not list(settings.lake_dir.rglob("rpl-*.parquet"))
        assert initech_calls(settings) == 0
    replay_quarantine(settings)  # ... and running replay again finishes the job
    assert not pending.exists()
    assert initech_calls(settings) == 17
    ids = lake_ids(settings)
    assert sorted(ids) == list(range(1, 61)) and set(ids.values()) == {1}
    assert not list(settings.lake_dir.rglob("*.tmp"))
    os.sync()
