"""The call paths rollup: compaction writes each closed day's paths once (menus as tokens),
the Call History reads them and names the menus as the store names them now; a page is
the same before and after, for a manager and for a plain user."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.fetch import fetch_rows
from pipeline.filters import CallFilter
from pipeline.history import call_page, name_menus, page_rows
from pipeline.lake_layout import tenant_folder
from pipeline.rollup_files import PATHS
from pipeline.steps_ingest import ingest_steps
from pipeline.viewer import open_for_viewer
from pipeline.warehouse import connect
from switchboard.call_steps import CallStep, steps_document
from switchboard.settings import Settings
from tests.fixtures.analytics import write_lake
from tests.fixtures.bridged import (
    ACME,
    BRIDGED_EXPECTED,
    MENU_NAMES,
    SALES,
    bridged_acc_rows,
    write_bridged_steps,
)
from tests.fixtures.core import Directory

LATER = date(2025, 6, 10)  # the fixture's day, 2025-06-03, and the next are closed


def page(settings: Settings, names: dict[int, str]) -> list[dict[str, Any]]:
    conn = connect(settings, ACME)
    try:
        name_menus(conn, names)
        rows, total = call_page(conn, CallFilter(), offset=0, limit=100)
    finally:
        conn.close()
    assert total == len(rows)
    return rows


def test_a_call_history_page_is_the_same_from_the_rollup(
    settings: Settings, directory: Directory
) -> None:
    write_lake(settings, bridged_acc_rows())
    write_bridged_steps(settings.spool_dir)
    assert ingest_steps(settings).steps > 0
    before = page(settings, MENU_NAMES)
    unnamed = page(settings, {})
    mine = open_for_viewer(settings, directory.users[f"102@{ACME}"])
    try:
        their_page = call_page(mine.conn, CallFilter(), offset=0, limit=100)
    finally:
        mine.close()

    report = compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=LATER)

    assert report.rollups == 3  # the day's paths, and its calls' quarter-hours and KPI cells
    folder = tenant_folder(settings.lake_dir, PATHS.name, ACME)
    assert [p.parent.name for p in folder.glob("*/paths-*.parquet")] == ["date=2025-06-03"]
    after = page(settings, MENU_NAMES)
    assert after == before
    assert {r["call_id"]: r["path"] for r in after} == {
        c: v[4] for c, v in BRIDGED_EXPECTED.items()
    }
    # The menus are named as the store names them when the page is read, not when rolled up.
    assert page(settings, {}) == unnamed
    renamed = {r["call_id"]: r["path"] for r in page(settings, {1: "Ventas"})}
    assert renamed["b1"] == "Main number → Ventas → 1 → 102 (answered)"
    mine = open_for_viewer(settings, directory.users[f"102@{ACME}"])
    try:
        assert call_page(mine.conn, CallFilter(), offset=0, limit=100) == their_page
    finally:
        mine.close()


def _at_utc(day: int, clock: str) -> float:
    return datetime.fromisoformat(f"2025-06-{day:02d}T{clock}+00:00").timestamp()


def _menu_calls_past_midnight(settings: Settings) -> None:
    """A call a day from 2025-06-01 to 06-07, and two menu calls that start a second
    before midnight UTC (06-05 and 06-07) and take their first step after it."""
    rows = [{**row, "id": i + 1} for i, row in enumerate(bridged_acc_rows()[1:2])]  # b1
    template = rows[0]
    for day in range(1, 8):
        start = _at_utc(day, "12:00:00")
        rows.append({**template, "id": len(rows) + 1, "call_id": f"f{day}",
                     "origin_call_id": None, "answered_by": "101", "invite_at": start,
                     "answer_at": start + 2, "end_at": start + 30})  # fmt: skip
    for call_id, day in (("m1", 5), ("m2", 7)):
        start = _at_utc(day, "23:59:59")
        rows.append({**template, "id": len(rows) + 1, "call_id": call_id, "invite_at": start,
                     "answer_at": start + 0.5, "end_at": start + 9})  # fmt: skip
        steps = [CallStep(start + 2, "menu_entered", SALES),
                 CallStep(start + 8, "menu_hangup", SALES, outcome="hangup")]  # fmt: skip
        folder = settings.spool_dir / "steps" / ACME
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"st-{call_id}.json").write_text(
            json.dumps(steps_document(f"st-{call_id}", ACME, call_id, steps))
        )
    write_lake(settings, rows)
    assert ingest_steps(settings).steps == 4


def test_a_page_of_the_newest_days_finds_paths_that_began_after_midnight(
    settings: Settings, directory: Directory
) -> None:
    """page_rows asks the newest days (call_history_of_days): the paths of those days and
    the next, where a call that starts before midnight UTC has its first step."""
    _menu_calls_past_midnight(settings)
    expected = {
        "m1": "Main number → Sales menu → hung up",
        "m2": "Main number → Sales menu → hung up",
    }

    def newest(limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        conn = connect(settings, ACME)
        try:
            name_menus(conn, MENU_NAMES)
            windowed = page_rows(conn, CallFilter(), offset=0, limit=limit)
            whole = fetch_rows(conn, "select * exclude (tenant, date) from call_history order by"
                               " started_at desc, acc_id desc limit ?", [limit])  # fmt: skip
        finally:
            conn.close()
        return windowed, whole

    for _ in ("live steps", "rolled up"):
        # 5 rows: the 3 newest days (06-05..06-07) fill the page, so the window answers it
        windowed, whole = newest(5)
        assert [r["call_id"] for r in windowed] == ["m2", "f7", "f6", "m1", "f5"]
        assert windowed == whole
        assert {r["call_id"]: r["path"] for r in windowed if r["path"]} == expected
        report = compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=LATER)
    assert report.rollups == 0  # the second pass: already rolled up by the first
    folder = tenant_folder(settings.lake_dir, PATHS.name, ACME)
    assert sorted(p.parent.name for p in folder.glob("*/paths-*.parquet")) == [
        "date=2025-06-06",
        "date=2025-06-08",
    ]
