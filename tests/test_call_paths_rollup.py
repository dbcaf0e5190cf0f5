"""The call paths rollup: compaction writes each closed day's paths once (menus as tokens),
the Call History reads them and names the menus as the store names them now; a page is
the same before and after, for a manager and for a plain user."""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.filters import CallFilter
from pipeline.history import call_page, name_menus
from pipeline.lake_layout import tenant_folder
from pipeline.rollup_files import PATHS
from pipeline.steps_ingest import ingest_steps
from pipeline.viewer import open_for_viewer
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.analytics import write_lake
from tests.fixtures.bridged import (
    ACME,
    BRIDGED_EXPECTED,
    MENU_NAMES,
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

    assert report.rollups == 1
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
