"""The call filter: URL round trip, refusals, SQL it compiles to, time-zone days."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipeline.filters import CallFilter, FilterError

NY = "America/New_York"


def matching(conn: duckdb.DuckDBPyConnection, flt: CallFilter) -> set[str]:
    where_sql, params = flt.where()
    return {
        r[0]
        for r in conn.execute(f"select call_id from calls where {where_sql}", params).fetchall()
    }


def test_query_string_round_trip() -> None:
    query = {
        "from": "2024-03-01",
        "to": "2024-03-31",
        "direction": "inbound",
        "disposition": "missed",
        "extension": "101",
        "q": "acme",
    }
    flt = CallFilter.from_query(query, NY)
    assert flt == CallFilter(
        date_from=date(2024, 3, 1),
        date_to=date(2024, 3, 31),
        direction="inbound",
        disposition="missed",
        extension="101",
        search="acme",
        timezone=NY,
    )
    assert flt.to_query() == query
    assert CallFilter.from_query(flt.to_query(), NY) == flt


def test_empty_values_and_other_keys_are_ignored() -> None:
    flt = CallFilter.from_query({"from": " ", "direction": "", "sort": "x", "q": "  "}, "UTC")
    assert flt == CallFilter()
    assert flt.to_query() == {}
    assert flt.where() == ("true", [])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2024-13-01"},
         "'from' must be a date like 2024-03-31 between 1970-01-01 and 2999-12-31,"
         " not '2024-13-01'"),
        ({"to": "yesterday"},
         "'to' must be a date like 2024-03-31 between 1970-01-01 and 2999-12-31,"
         " not 'yesterday'"),
        # a day at the end of the calendar would overflow the day after it (was a 500)
        ({"to": "9999-12-31"},
         "'to' must be a date like 2024-03-31 between 1970-01-01 and 2999-12-31,"
         " not '9999-12-31'"),
        ({"from": "0001-01-01"},
         "'from' must be a date like 2024-03-31 between 1970-01-01 and 2999-12-31,"
         " not '0001-01-01'"),
        ({"from": "2024-03-05", "to": "2024-03-01"},
         "'from' (2024-03-05) is after 'to' (2024-03-01)"),
        ({"direction": "sideways"},
         "direction must be one of internal, inbound, outbound, not 'sideways'"),
        ({"disposition": "lost"},
         "disposition must be one of answered, missed, busy, cancelled, failed, blocked,"
         " voicemail, not 'lost'"),
        ({"extension": "101' or 1=1"},
         "extension must be digits (an extension or number), not \"101' or 1=1\""),
        ({"q": "x" * 101}, "search text is limited to 100 characters"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_a_message_for_the_user(
    query: dict[str, str], message: str
) -> None:
    with pytest.raises(FilterError) as exc:
        CallFilter.from_query(query, "UTC")
    assert str(exc.value) == message


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(FilterError, match="unknown time zone 'Mars/Olympus'"):
        CallFilter.from_query({}, "Mars/Olympus")


def test_each_field_filters(acme: duckdb.DuckDBPyConnection) -> None:
    everything = {"ny-late", "morning", "busy", "dst-night", "half-price", "underscore"}
    assert matching(acme, CallFilter()) == everything
    assert matching(acme, CallFilter(direction="inbound")) == {
        "ny-late",
        "half-price",
        "underscore",
    }
    assert matching(acme, CallFilter(disposition="busy")) == {"busy"}
    assert matching(acme, CallFilter(disposition="cancelled")) == {"half-price", "underscore"}
    assert matching(acme, CallFilter(extension="101")) == {"ny-late", "morning"}
    assert matching(acme, CallFilter(extension="+493012345")) == {"busy"}
    assert matching(acme, CallFilter(search="supplies")) == {"ny-late"}  # caller_name, any case
    # callee names too: Bob Builder is 102
    assert matching(acme, CallFilter(search="bob")) == {
        "morning",
        "busy",
        "dst-night",
        "half-price",
    }
    assert matching(acme, CallFilter(search="555019")) == {"half-price", "underscore"}  # numbers
    assert matching(acme, CallFilter(search="50%")) == {"half-price"}  # % is not a wildcard
    assert matching(acme, CallFilter(search="50_")) == set()  # nor is _
    assert matching(
        acme, CallFilter(direction="internal", disposition="answered", extension="103")
    ) == {"dst-night"}


def test_days_are_days_in_the_viewers_time_zone(acme: duckdb.DuckDBPyConnection) -> None:
    first = date(2024, 3, 1)
    second = date(2024, 3, 2)
    # ny-late started 03:00 UTC on the 2nd: 22:00 on the 1st in New York.
    assert matching(acme, CallFilter(date_from=first, date_to=first, timezone=NY)) == {
        "ny-late",
        "morning",
    }
    assert matching(acme, CallFilter(date_from=first, date_to=first)) == {"morning"}
    assert matching(acme, CallFilter(date_from=second, date_to=second)) == {"ny-late", "busy"}
    assert matching(acme, CallFilter(date_from=second, date_to=second, timezone=NY)) == {"busy"}
    # 2024-03-10 is 23 hours long in New York (DST starts); 03:30 UTC on the 11th
    # is 23:30 EDT on the 10th.
    tenth = date(2024, 3, 10)
    assert matching(acme, CallFilter(date_from=tenth, date_to=tenth, timezone=NY)) == {"dst-night"}
    assert matching(acme, CallFilter(date_to=tenth, timezone="UTC")) == {
        "ny-late", "morning", "busy", "half-price", "underscore",
    }  # fmt: skip
    assert matching(acme, CallFilter(date_from=date(2024, 3, 11))) == {"dst-night"}


def test_where_is_parameterised() -> None:
    flt = CallFilter(
        date_from=date(2024, 3, 1),
        extension="101",
        search="o'brien",
        direction="inbound",
        timezone=NY,
    )
    sql, params = flt.where()
    assert "o'brien" not in sql and "101" not in sql and "inbound" not in sql
    assert sql.count("?") == len(params)
    assert "%o'brien%" in params


@pytest.mark.parametrize(
    ("flt", "sentence"),
    [
        (CallFilter(), "All calls"),
        (CallFilter(direction="inbound", disposition="missed"), "Inbound missed calls"),
        (CallFilter(disposition="busy", extension="101"), "Busy calls involving extension 101"),
        (CallFilter(search="bob"), "All calls matching “bob”"),
        (
            CallFilter(date_from=date(2024, 3, 1), date_to=date(2024, 3, 31), timezone=NY),
            "All calls from 2024-03-01 to 2024-03-31 (America/New_York)",
        ),
        (CallFilter(date_from=date(2024, 3, 1), date_to=date(2024, 3, 1)),
         "All calls on 2024-03-01 (UTC)"),
        (CallFilter(date_from=date(2024, 3, 1), direction="outbound"),
         "Outbound calls since 2024-03-01 (UTC)"),
        (CallFilter(date_to=date(2024, 3, 1)), "All calls until 2024-03-01 (UTC)"),
    ],
)  # fmt: skip
def test_describe(flt: CallFilter, sentence: str) -> None:
    assert flt.describe() == sentence
