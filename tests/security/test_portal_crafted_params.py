"""Crafted URLs and callback inputs: a 400 (or 403/404) with a message, never a 500.

Property-based: hypothesis writes the query strings. The parsers are tested
directly (fast, many examples) and through the routes with the Flask test
client (fewer examples: each one runs DuckDB).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dash_app.analytics_tables import AnalyticsQuery
from pipeline.filters import CallFilter, FilterError
from tests.fixtures.portal import client_session

FILTER_KEYS = (
    "from", "to", "direction", "disposition", "extension", "q", "caller", "callee",
    "handled_by", "rule", "frame", "hour", "weekday", "tz", "compare", "interval",
    "user", "box", "folder",
)  # fmt: skip
# Values that looked plausible to someone: superscripts, full-width digits, huge numbers.
NASTY = st.sampled_from(
    ["²", "１２", "-1", "99999999999999999999", "2025-02-30", "2025-13-01", "0x10", " ",
     "\x00", "../../etc/passwd", "' or 1=1 --", "%", "_", "inbound\n", "Europe/../../x",
     "A" * 300, "٣", "2025-03-10T00:00", "+1 (555) 123", "(none)", "NaN", "1e3"]
)  # fmt: skip
VALUES = st.one_of(NASTY, st.text(max_size=40))
QUERIES = st.dictionaries(st.sampled_from(FILTER_KEYS), VALUES, max_size=5)


@pytest.fixture(scope="module")
def signed_in(client_portal: Any) -> Iterator[Callable[[str], Any]]:
    """A Flask test client per login, signed in once (hypothesis reuses it per example)."""
    with ExitStack() as stack:
        clients: dict[str, Any] = {}

        def client(login: str) -> Any:
            if login not in clients:
                clients[login] = stack.enter_context(client_session(client_portal, login))
            return clients[login]

        yield client


ROUTE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@given(QUERIES)
@settings(max_examples=400, deadline=None)
def test_the_call_filter_parses_or_says_why(query: dict[str, str]) -> None:
    try:
        flt = CallFilter.from_query(query, "America/New_York")
    except FilterError as exc:
        assert str(exc)
        return
    where_sql, params = flt.where()
    assert where_sql.count("?") == len(params) or "$" in where_sql  # bound, never formatted
    assert flt.describe()
    assert CallFilter.from_query(flt.to_query(), "America/New_York") == flt


@given(QUERIES)
@settings(max_examples=400, deadline=None)
def test_the_analytics_view_parses_or_says_why(query: dict[str, str]) -> None:
    q, error = AnalyticsQuery.from_url(query, "America/New_York")
    assert q.period.days >= 1
    if error:
        assert q == AnalyticsQuery.default("America/New_York")


@pytest.mark.parametrize(
    "path",
    [
        "/download/calls.csv?hour=%C2%B2",
        "/download/calls.csv?weekday=%EF%BC%92",
        "/download/calls.csv?from=2025-02-30",
        "/download/calls.csv?direction=sideways",
        "/download/analytics/rules.csv?from=2025-13-01",
        "/download/analytics/rules.csv?extension=1%3B2",
        "/download/analytics/rules.xlsx?tz=Mars%2FOlympus",
    ],
)
def test_a_crafted_download_url_is_a_400_with_a_message(
    signed_in: Callable[[str], Any], path: str
) -> None:
    client = signed_in("100@acme.example")
    response = client.get(path)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/calls?hour=%C2%B2", 400),
        ("/calls?from=2025-02-30", 400),
        ("/analytics?from=yesterday", 400),
        ("/rules?user=1%3B2", 400),
        ("/voicemail?box=../102", 400),
        ("/voicemail?folder=everything", 400),
        ("/calls?hour=7", 200),
        ("/rules?user=102", 200),  # a colleague: the page says whether that is allowed
        ("/voicemail?box=102&folder=trash", 200),
        ("/analytics?interval=hour", 200),
    ],
)
def test_a_crafted_page_url_is_served_as_400(
    signed_in: Callable[[str], Any], path: str, status: int
) -> None:
    client = signed_in("101@acme.example")
    response = client.get(path)
    assert response.status_code == status
    if status == 400:
        assert response.headers["X-Switchboard-Error"]


@given(
    query=QUERIES,
    route=st.sampled_from(["/download/calls.csv", "/calls", "/analytics", "/rules", "/voicemail"]),
)
@ROUTE_SETTINGS
def test_calls_export_and_pages_never_fail_on_a_crafted_query(
    signed_in: Callable[[str], Any], query: dict[str, str], route: str
) -> None:
    client = signed_in("101@acme.example")
    response = client.get(route, query_string=query)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:500]


@given(
    query=QUERIES,
    table=st.sampled_from(["rules", "callbacks", "nope", "rules.csv"]),
    fmt=st.sampled_from(["csv", "xlsx", "parquet", "exe"]),
)
@ROUTE_SETTINGS
def test_analytics_downloads_never_fail_on_a_crafted_query(
    signed_in: Callable[[str], Any], query: dict[str, str], table: str, fmt: str
) -> None:
    client = signed_in("103@acme.example")
    response = client.get(f"/download/analytics/{table}.{fmt}", query_string=query)
    assert response.status_code in (200, 400, 404), response.get_data(as_text=True)[:500]


@given(message_id=st.text(min_size=1, max_size=80), download=VALUES)
@ROUTE_SETTINGS
def test_voicemail_audio_never_fails_on_a_crafted_id(
    signed_in: Callable[[str], Any], message_id: str, download: str
) -> None:
    from urllib.parse import quote

    client = signed_in("101@acme.example")
    response = client.get(
        f"/voicemail/audio/{quote(message_id, safe='')}", query_string={"download": download}
    )
    assert response.status_code < 500, response.status_code
    assert not response.mimetype.startswith("audio/")  # ("/" lands on the page shell)


# -- callbacks: crafted inputs POSTed as the browser would ----------------------------------------
def post_callback(client: Any, output: str, inputs: list[dict[str, Any]], **extra: Any) -> Any:
    """POST one callback to Dash the way its renderer does."""
    outputs = [
        {"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
        for part in output.strip(".").split("...")
    ]
    body = {
        "output": output,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs[:1]],
        **extra,
    }
    return client.post("/_dash-update-component", json=body)


@given(
    search=st.dictionaries(st.sampled_from(FILTER_KEYS), VALUES, max_size=4),
    page=st.sampled_from(
        ["/calls", "/analytics", "/rules", "/voicemail", "/timeframes", "/numbers", "/reports", "/"]
    ),
)
@ROUTE_SETTINGS
def test_page_layouts_never_fail_on_a_crafted_url(
    signed_in: Callable[[str], Any], search: dict[str, str], page: str
) -> None:
    from urllib.parse import urlencode

    client = signed_in("100@acme.example")
    response = post_callback(
        client,
        ".._pages_content.children..._pages_store.data..",
        [
            {"id": "_pages_location", "property": "pathname", "value": page},
            {"id": "_pages_location", "property": "search", "value": "?" + urlencode(search)},
        ],
    )
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]


@given(
    flt=st.one_of(
        st.dictionaries(st.sampled_from(FILTER_KEYS), VALUES, max_size=4),
        st.just("not a dict"),
        st.just([1, 2]),
    ),
    request=st.one_of(
        st.fixed_dictionaries(
            {"startRow": st.integers(-5, 10**6), "endRow": st.integers(-5, 10**7)},
            optional={"sortModel": st.just([{"colId": "x; drop", "sort": "up"}])},
        ),
        st.just({"startRow": "a"}),
    ),
)
@ROUTE_SETTINGS
def test_the_call_grid_refuses_crafted_requests_without_a_500(
    signed_in: Callable[[str], Any], flt: Any, request: Any
) -> None:
    client = signed_in("101@acme.example")
    response = post_callback(
        client,
        "..calls-grid.getRowsResponse...calls-count.children..",
        [{"id": "calls-grid", "property": "getRowsRequest", "value": request}],
        state=[{"id": "calls-filter", "property": "data", "value": flt}],
    )
    assert response.status_code in (200, 204, 400), response.get_data(as_text=True)[:500]


@pytest.mark.parametrize(
    "body",
    [
        {"output": "nothing.children", "outputs": {"id": "nothing", "property": "children"}},
        {"output": "calls-count.children"},
        {"inputs": "x"},
        [1, 2, 3],
    ],
)
def test_a_malformed_callback_request_is_a_400(signed_in: Callable[[str], Any], body: Any) -> None:
    client = signed_in("101@acme.example")
    response = client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
