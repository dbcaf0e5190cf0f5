"""A narrowed connection (pipeline.warehouse.narrowed) reads only a few days' files and
answers the Call History of those days exactly as the whole connection does: a leg rung
after midnight UTC, a menu call whose steps begin after it, rolled and live paths, a
manager and a plain user; it shows no other table's rows, and the grid's pages are the
same with and without it."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from pipeline import history
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.fetch import fetch_rows
from pipeline.filters import CallFilter
from pipeline.history import call_page, name_menus
from pipeline.lake_layout import live_paths
from pipeline.steps_ingest import ingest_steps
from pipeline.warehouse import connect, narrowed
from switchboard.call_steps import CallStep, steps_document
from switchboard.settings import Settings
from tests.fixtures.analytics import write_lake
from tests.fixtures.bridged import ACME, MENU_NAMES, SALES, bridged_acc_rows
from tests.fixtures.core import Directory

FIRST = date(2025, 6, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(8)]  # 06-01 .. 06-08
LATER = date(2025, 6, 20)  # every day above is closed: compaction rolls their paths up


def _at(day: date, clock: str) -> float:
    return datetime.fromisoformat(f"{day.isoformat()}T{clock}+00:00").timestamp()


def _lake(settings: Settings) -> None:
    """Three calls and a menu call a day; on 06-03 and 06-06 a menu call a second before
    midnight UTC whose steps begin after it, and a call whose bridged leg (answered by
    103) rings after midnight, so its leg row is in the next day's partition; on 06-04 a
    menu call whose two batches of steps are either side of midnight (in two partitions)."""
    template = {**bridged_acc_rows()[1], "origin_call_id": None}  # b1: inbound, answered
    rows: list[dict[str, Any]] = []

    def add(**fields: Any) -> None:
        rows.append({**template, "id": len(rows) + 1, **fields})

    for day in DAYS:
        for hour in (9, 13, 17):
            start = _at(day, f"{hour:02d}:00:00")
            add(call_id=f"c{day.day}-{hour}", answered_by="101", invite_at=start,
                answer_at=start + 2, end_at=start + 40)  # fmt: skip
    folder = settings.spool_dir / "steps" / ACME
    folder.mkdir(parents=True, exist_ok=True)
    menus = [(f"d{day.day}", _at(day, "12:00:00")) for day in DAYS]  # steps every day
    menus += [(f"m{day.day}", _at(day, "23:59:59")) for day in (DAYS[2], DAYS[5])]
    for menu, start in menus:
        add(call_id=menu, invite_at=start, answer_at=start + 0.5, end_at=start + 9)
        steps = [CallStep(start + 2, "menu_entered", SALES),
                 CallStep(start + 8, "menu_hangup", SALES, outcome="hangup")]  # fmt: skip
        (folder / f"st-{menu}.json").write_text(
            json.dumps(steps_document(f"st-{menu}", ACME, menu, steps))
        )
    # s4's path is 06-04's: the live paths from 06-05 (06-01..06-04 rolled up) read 06-04's
    # steps too, or its second batch alone would make it a second, partial path
    s4 = _at(DAYS[3], "23:59:55")
    add(call_id="s4", invite_at=s4, answer_at=s4 + 0.5, end_at=s4 + 20)
    batches = {"a": [CallStep(s4 + 2, "menu_entered", SALES)],
               "b": [CallStep(s4 + 8, "menu_hangup", SALES, outcome="hangup")]}  # fmt: skip
    for batch, steps in batches.items():
        document = steps_document(f"st-s4{batch}", ACME, "s4", steps)
        (folder / f"st-s4{batch}.json").write_text(json.dumps(document))
    for day in (DAYS[2], DAYS[5]):
        start = _at(day, "23:59:58")
        caller = f"x{day.day}"
        leg = {"origin_call_id": caller, "direction": "internal", "callee": "103"}
        add(call_id=f"{caller}-leg", **leg, answered_by="103", invite_at=start + 5,
            answer_at=start + 7, end_at=start + 60)  # fmt: skip
        add(call_id=caller, invite_at=start, answer_at=start + 1, end_at=start + 61)
    write_lake(settings, rows)
    assert ingest_steps(settings).steps == 2 * len(menus) + 2
    # the premise: a leg and a path of a call live in the next day's partition
    assert any("date=2025-06-04" in str(p) for p in live_paths(settings.lake_dir, "legs", [ACME]))


def _history(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> list[dict[str, Any]]:
    return fetch_rows(
        conn,
        "select * from call_history_of_days(?, ?) order by started_at, acc_id",
        [first, last],
    )


def _builds_paths_from_steps(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's call_paths builds some from steps (not only rollups)."""
    found = conn.execute("select sql from duckdb_views() where view_name = 'call_paths'")
    return "path_templates(" in found.fetchone()[0]  # call_path_templates.sql's macros


def _scopes(settings: Settings) -> dict[str, duckdb.DuckDBPyConnection]:
    return {
        "manager": connect(settings, ACME),
        "103": connect(settings, ACME, extension="103"),
        # numbers shown as contacts' names (pipeline.contacts wraps calls)
        "named": connect(settings, ACME, contact_names={"15550002001": "Pat Smith"}),
    }


# Compaction's "today": none (every path built from steps); 06-06 (06-01..06-04's paths
# rolled up, the later days' built: a window ending 06-04 needs 06-05's) and LATER (every
# day's rolled up).
ROLLED_UP_TO = {"live": None, "partly rolled": DAYS[5], "rolled": LATER}


@pytest.mark.parametrize("paths", ROLLED_UP_TO)
def test_a_narrowed_connection_answers_its_days_as_the_whole_one(
    settings: Settings, directory: Directory, paths: str
) -> None:
    _lake(settings)
    today = ROLLED_UP_TO[paths]
    if today is not None:
        report = compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=today)
        # each day's paths, and its calls' quarter-hours and KPI cells
        assert report.rollups == 3 * (4 if paths == "partly rolled" else 8)
    for who, conn in _scopes(settings).items():
        try:
            name_menus(conn, MENU_NAMES)
            seen = 0
            for i, first in enumerate(DAYS):
                for last in DAYS[i : i + 3 : 2]:  # one day and three
                    whole = _history(conn, first, last)
                    ranged = narrowed(conn, first, last)
                    assert ranged is not None
                    try:
                        assert _history(ranged, first, last) == whole, (who, first, last)
                        # for those days' calls only: no other table's rows
                        assert ranged.execute("select count(*) from voicemails").fetchone() == (0,)
                        with pytest.raises(duckdb.CatalogException):
                            ranged.execute("select * from recordings")
                        assert narrowed(ranged, first, last) is None  # narrowed already
                        built = _builds_paths_from_steps(ranged)
                        # the days its paths can be on whose steps are not rolled up
                        unrolled = {"live": set(DAYS), "partly rolled": set(DAYS[4:])}
                        span = {first + timedelta(days=d) for d in range((last - first).days + 2)}
                        needs_steps = bool(unrolled.get(paths, set()) & span)
                        assert built == needs_steps, (who, first, last)
                    finally:
                        ranged.close()
                    seen += len(whole)
            assert seen > 0
            paths_seen = {
                r["call_id"]: r["path"] for r in _history(conn, DAYS[0], DAYS[-1]) if r["path"]
            }
            menus = {f"d{day.day}" for day in DAYS} | {"m3", "m6", "s4"}
            assert paths_seen == (
                dict.fromkeys(menus, "Main number → Sales menu → hung up") if who != "103" else {}
            )
            day = {r["call_id"]: r for r in _history(conn, DAYS[2], DAYS[2])}
            assert day["x3"]["answered_by"] == "103"  # folded from the leg in 06-04's partition
            named = {r["caller_name"] for r in day.values()}
            assert named == ({"Pat Smith"} if who == "named" else {None}), named
        finally:
            conn.close()


FILTERS = {
    "newest page": (CallFilter(), 0, None),
    "a day": (CallFilter(date_from=DAYS[2], date_to=DAYS[2]), 0, None),
    "two days, page 2": (CallFilter(date_from=DAYS[2], date_to=DAYS[3]), 2, None),
    "inbound, by caller": (
        CallFilter(date_from=DAYS[1], date_to=DAYS[5], direction="inbound"),
        0,
        [("caller", "asc")],
    ),
    "search": (CallFilter(search="2001"), 4, None),
}


@pytest.mark.parametrize("name", FILTERS)
def test_grid_pages_are_the_same_narrowed_or_not(
    settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    _lake(settings)
    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=LATER)
    flt, offset, sort = FILTERS[name]
    asked: list[tuple[date, date]] = []

    def pages() -> list[tuple[list[dict[str, Any]], int]]:
        out = []
        for conn in _scopes(settings).values():
            try:
                name_menus(conn, MENU_NAMES)
                out.append(call_page(conn, flt, offset=offset, limit=3, sort=sort))
            finally:
                conn.close()
        return out

    def spy(conn: duckdb.DuckDBPyConnection, first: date, last: date) -> Any:
        asked.append((first, last))
        return narrowed(conn, first, last)

    # windows narrower than the 8 days (a plain user's few calls need both, then all days)
    monkeypatch.setattr(history, "NEWEST_WINDOWS", (2, 4))
    monkeypatch.setattr(history, "narrowed", spy)
    with_ranges = pages()
    monkeypatch.setattr(history, "narrowed", lambda *_: None)
    assert pages() == with_ranges
    assert any(rows for rows, _ in with_ranges)
    if name != "search":  # the search covers every day: nothing to narrow
        assert asked, "the page was not read from a narrowed connection"
