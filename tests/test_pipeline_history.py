"""Call-history pages for the grid: order, paging, totals, sort whitelist."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.export import iter_calls_csv
from pipeline.filters import CallFilter, FilterError
from pipeline.history import call_page, name_menus
from pipeline.schema import CALLS_SCHEMA
from pipeline.steps_ingest import ingest_steps
from pipeline.viewer import open_for_viewer
from pipeline.warehouse import connect
from switchboard.attendants import Attendant
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
from tests.fixtures.sample_lake import write_sample_lake


def test_newest_first_with_the_total(acme: duckdb.DuckDBPyConnection) -> None:
    rows, total = call_page(acme, CallFilter(), offset=0, limit=3)
    assert total == 6
    assert [r["call_id"] for r in rows] == ["dst-night", "underscore", "half-price"]
    assert list(rows[0]) == [*CALLS_SCHEMA.names, "path"]
    assert rows[0]["path"] is None  # no steps: the call never met the media server
    assert rows[0]["started_at"] == datetime(2024, 3, 11, 3, 30, tzinfo=UTC)
    assert rows[0]["callee_name"] == "Sue Supervisor"


def test_pages_neither_overlap_nor_skip(acme: duckdb.DuckDBPyConnection) -> None:
    seen = []
    for offset in range(0, 6, 4):
        rows, total = call_page(
            acme, CallFilter(), offset=offset, limit=4, sort=[("direction", "asc")]
        )
        seen += [r["call_id"] for r in rows]
        assert total == 6
    # by direction, then newest accounting row first within a direction
    assert seen == ["underscore", "half-price", "ny-late", "dst-night", "morning", "busy"]


def test_filter_and_sort_together(acme: duckdb.DuckDBPyConnection) -> None:
    flt = CallFilter(direction="inbound")
    rows, total = call_page(acme, flt, offset=0, limit=10, sort=[("ring_seconds", "desc")])
    assert total == 3
    assert [(r["call_id"], r["ring_seconds"]) for r in rows] == [
        ("underscore", 9.0),  # ties on ring time: newest first (acc_id)
        ("half-price", 9.0),
        ("ny-late", 5.0),
    ]
    rows, total = call_page(acme, flt, offset=2, limit=10, sort=[("ring_seconds", "desc")])
    assert ([r["call_id"] for r in rows], total) == (["ny-late"], 3)


def test_unanswered_calls_sort_last_by_answer_time(acme: duckdb.DuckDBPyConnection) -> None:
    for direction in ("asc", "desc"):
        rows, _ = call_page(
            acme, CallFilter(), offset=0, limit=10, sort=[("answered_at", direction)]
        )
        assert [r["answered_at"] is None for r in rows] == [False, False, True, True, True, True]


@pytest.mark.parametrize(
    ("sort", "message"),
    [
        ([("call_id; drop table calls", "asc")], "cannot sort by 'call_id; drop table calls'"),
        ([("started_at", "sideways")], "sort direction must be asc or desc, not 'sideways'"),
    ],
)
def test_sort_columns_are_whitelisted(
    acme: duckdb.DuckDBPyConnection, sort: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(FilterError) as exc:
        call_page(acme, CallFilter(), offset=0, limit=10, sort=sort)
    assert str(exc.value) == message


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, 0), (0, 1001)])
def test_page_bounds(acme: duckdb.DuckDBPyConnection, offset: int, limit: int) -> None:
    with pytest.raises(FilterError):
        call_page(acme, CallFilter(), offset=offset, limit=limit)


def test_an_empty_lake_is_an_empty_page(settings: Settings) -> None:
    with connect(settings, "acme.example") as conn:
        assert call_page(conn, CallFilter(search="x"), offset=0, limit=100) == ([], 0)


def test_an_extension_connection_pages_only_its_calls(settings: Settings) -> None:
    write_sample_lake(settings)
    with connect(settings, "acme.example", extension="102") as conn:
        rows, total = call_page(conn, CallFilter(), offset=0, limit=100)
    assert total == 4
    assert {r["call_id"] for r in rows} == {"morning", "busy", "dst-night", "half-price"}


# -- paths through the media server (issue 11) --------------------------------------------


def test_a_call_through_a_menu_shows_its_path_and_the_export_holds_it(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    write_lake(settings, bridged_acc_rows())
    write_bridged_steps(settings.spool_dir)
    assert ingest_steps(settings).steps > 0
    conn = connect(settings, ACME)
    try:
        name_menus(conn, MENU_NAMES)
        rows, total = call_page(conn, CallFilter(), offset=0, limit=100)
        assert total == len(BRIDGED_EXPECTED)  # legs are not calls
        got = {r["call_id"]: (r["disposition"], r["answered_by"], r["path"]) for r in rows}
        assert got == {c: (v[0], v[1], v[4]) for c, v in BRIDGED_EXPECTED.items()}
        # unnamed menus (not in the store) still read as a path
        name_menus(conn, {})
        rows, _ = call_page(conn, CallFilter(), offset=0, limit=100)
        paths = {r["call_id"]: r["path"] for r in rows}
        assert paths["b1"] == "Main number → menu 1 → 1 → 102 (answered)"
        name_menus(conn, MENU_NAMES)
        csv = b"".join(iter_calls_csv(conn, CallFilter(), "America/New_York")).decode()
    finally:
        conn.close()
    header, *lines = csv.splitlines()
    assert '"path"' in header.split(",")
    assert any("Main number → Sales menu → 1 → 102 (answered)" in line for line in lines)


def test_a_plain_user_sees_the_bridged_call_they_answered_with_its_path(
    settings: Settings, directory: Directory
) -> None:
    write_lake(settings, bridged_acc_rows())
    write_bridged_steps(settings.spool_dir)
    ingest_steps(settings)
    store = directory.store
    sales = store.save_attendant(
        Attendant(tenant=ACME, name="Sales line", greeting_text="Press 1 for sales.")
    )
    mine = open_for_viewer(settings, directory.users[f"102@{ACME}"])
    try:
        rows, _ = call_page(mine.conn, CallFilter(), offset=0, limit=100)
        # b1 (answered by 102) and b4 (102's leg rang, then went to 102's mailbox)
        assert sorted(r["call_id"] for r in rows) == ["b1", "b4"]
        b1 = next(r for r in rows if r["call_id"] == "b1")
        assert b1["answered_by"] == "102"
        # menus are named from the store (attendant 1 is the one just saved)
        assert sales.id == 1
        assert b1["path"] == "Main number → Sales line → 1 → 102 (answered)"
        steps = mine.conn.execute("select distinct call_id from call_steps order by 1").fetchall()
        assert steps == [("b1",), ("b4",)]
    finally:
        mine.close()
