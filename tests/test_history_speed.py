"""Newest-first pages read the newest days first, and the grid's total is counted once
per lake snapshot: the same rows and totals as the whole-table query, page by page."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pipeline import history, queries
from pipeline.filters import CallFilter
from pipeline.history import call_page, count_matching, page_rows, recent_calls
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.analytics import random_acc_rows, write_lake


def whole_table(conn: Any, flt: CallFilter, offset: int, limit: int) -> list[dict[str, Any]]:
    """The page as the one call-history query sliced: what the windows must reproduce."""
    where_sql, params = flt.where()
    sql = queries.select_calls(", ".join(history.PAGE_COLUMNS), where_sql, history.order_by(None))
    return conn.sql(sql, params=params).to_arrow_table().to_pylist()[offset : offset + limit]


@pytest.mark.parametrize("extension", [None, "102"])
def test_newest_first_pages_match_the_whole_table(
    settings: Settings, extension: str | None
) -> None:
    write_lake(settings, random_acc_rows(calls=800, days=40))
    with connect(settings, "acme.example", extension=extension) as conn:
        assert len(history._partition_days(conn)) > max(history.NEWEST_WINDOWS)
        dated = CallFilter(date_from=date(2025, 10, 25), date_to=date(2025, 11, 15))
        filters = (CallFilter(), CallFilter(direction="inbound"), CallFilter(search="555"), dated)
        # a dated filter's windows are its own newest days, not the lake's
        assert history._days_in_range(history._partition_days(conn), dated)[0] == date(2025, 11, 15)
        for flt in filters:
            for offset, limit in ((0, 10), (0, 100), (100, 100), (5, 1000)):
                expected = whole_table(conn, flt, offset, limit)
                assert page_rows(conn, flt, offset=offset, limit=limit) == expected
            assert recent_calls(conn, flt, limit=10) == whole_table(conn, flt, 0, 10)


def test_the_total_is_recounted_when_the_lake_changes(settings: Settings) -> None:
    rows = random_acc_rows(calls=400, days=10)
    write_lake(settings, rows[:300])
    with connect(settings, "acme.example") as conn:
        _, first = call_page(conn, CallFilter(), offset=0, limit=10)
        assert count_matching(conn, CallFilter()) == first
    write_lake(settings, rows)  # the last 100 accounting rows land as a new batch
    with connect(settings, "acme.example") as conn:
        _, second = call_page(conn, CallFilter(), offset=0, limit=10)
        ((counted,),) = conn.execute("select count(*) from calls").fetchall()
    assert second == counted > first


def test_a_second_connection_of_the_same_scope_reuses_the_database(settings: Settings) -> None:
    """Same scope, same files: a cursor of one database, with its own temp tables."""
    rows = random_acc_rows(calls=200, days=5)
    write_lake(settings, rows[:150])
    names = {"15550001111": "Carla Customer"}
    first = connect(settings, "acme.example", contact_names=names)
    second = connect(settings, "acme.example", contact_names=names)
    try:
        assert first is not second
        history.name_menus(first, {1: "Sales"})  # one connection's menus stay its own
        assert second.execute("select count(*) from attendant_names").fetchall() == [(0,)]
        assert second.execute("select count(*) from contact_names").fetchall() == [(1,)]
        assert page_rows(first, CallFilter(), offset=0, limit=50) == page_rows(
            second, CallFilter(), offset=0, limit=50
        )
        first.close()  # closing one connection leaves the other working
        assert second.execute("select current_setting('TimeZone')").fetchall() == [("UTC",)]
    finally:
        second.close()
    write_lake(settings, rows)  # new files: a new database sees them
    with connect(settings, "acme.example", contact_names=names) as third:
        ((counted,),) = third.execute("select count(*) from calls").fetchall()
    with connect(settings, "acme.example", contact_names={}) as plain:
        ((plain_count,),) = plain.execute("select count(*) from calls").fetchall()
    assert counted == plain_count > 0
