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
from tests.fixtures.portal import client_session, page_request

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


# -- what a fuzzing pass over every callback and route found (each was a 500) --------------------
def post_raw(client: Any, body: Any) -> Any:
    """POST a callback body as JSON text (``Infinity`` too, as a browser's JSON could not)."""
    return client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )


def callback(output: str, inputs: list[Any], state: list[Any] | None = None) -> dict[str, Any]:
    """A callback body for ``output`` ("a.b" or "..a.b...c.d.." as Dash names several)."""
    parts = [part.rpartition(".") for part in output.strip(".").split("...")]
    outputs = [{"id": identifier, "property": prop} for identifier, _, prop in parts]
    return {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [],
    }


def grid_request(prefix: str, request: Any, flt: Any = None) -> dict[str, Any]:
    output = f"..{prefix}-grid.getRowsResponse...{prefix}-count.children.."
    return {
        "output": output,
        "outputs": [
            {"id": f"{prefix}-grid", "property": "getRowsResponse"},
            {"id": f"{prefix}-count", "property": "children"},
        ],
        "inputs": [{"id": f"{prefix}-grid", "property": "getRowsRequest", "value": request}],
        "state": [{"id": f"{prefix}-filter", "property": "data", "value": flt or {}}],
        "changedPropIds": [f"{prefix}-grid.getRowsRequest"],
    }


def staffing_request(agents: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    return callback(
        "analytics-staffing-result.children",
        [
            {"id": "analytics-staffing-queue", "property": "value", "value": "1"},
            {"id": "analytics-staffing-target", "property": "value", "value": 80},
            {"id": "analytics-staffing-agents", "property": "value", "value": agents},
        ],
        [{"id": "analytics-staffing-inputs", "property": "data", "value": {"1": inputs}}],
    )


RULES_NEW = (
    "..rules-editor.opened...rules-editing.data...rules-editor.title...rules-frame.data"
    "...rules-name.value...rules-frame.value...rules-enabled.checked...rules-ring.value"
    "...rules-simultaneous.value...rules-dnd.checked...rules-block.value"
    '...rules-block-anonymous.checked...{"field":["ALL"],"type":"rules-dest-kind"}.value'
    '...{"field":["ALL"],"type":"rules-dest-target"}.value...rules-editor-error.children..'
)


def rules_new_with_one_wildcard_output() -> dict[str, Any]:
    """The rule editor's "new" callback, its ALL-wildcard outputs listing one id each."""
    outputs: list[Any] = []
    for part in RULES_NEW.strip(".").split("..."):
        identifier, _, prop = part.rpartition(".")
        if identifier.startswith("{"):
            kind = json.loads(identifier)["type"]
            outputs.append([{"id": {"field": "x", "type": kind}, "property": prop}])
        else:
            outputs.append({"id": identifier, "property": prop})
    return {
        "output": RULES_NEW,
        "outputs": outputs,
        "inputs": [
            {"id": "rules-new", "property": "n_clicks", "value": 1},
            [{"id": {"rule": "1", "type": "rules-edit"}, "property": "n_clicks", "value": None}],
        ],
        "state": [{"id": "rules-user", "property": "value", "value": None}],
        "changedPropIds": ["rules-new.n_clicks"],
    }


GOOD_QUEUE = {"queue": "Sales", "interval": "09:00", "calls": 100, "aht": 180}
# (login, request: a GET path or a callback body, the statuses a user may get)
FOUND: dict[str, tuple[str, Any, tuple[int, ...]]] = {
    # Dash cannot map the request to a callback
    "fewer inputs than declared": (
        "101",
        callback(
            "..calls-dates.value...calls-direction.value...calls-disposition.value"
            "...calls-extension.value...calls-search.value..",
            [],
        ),
        (400,),
    ),
    "wildcard outputs that do not match": ("100", rules_new_with_one_wildcard_output(), (400,)),
    "a relative page path": ("101", page_request("calls", ""), (400,)),
    "an empty page path": ("101", page_request("", ""), (400,)),
    "a script bundle Dash does not have": ("101", "/_dash-component-suites/x/y.js", (404,)),
    # days at the ends of the calendar (the day after overflowed)
    "calls export to 9999-12-31": ("101", "/download/calls.csv?to=9999-12-31", (400,)),
    # a grid's bad filter shows no rows (its filter form says why)
    "calls grid to 9999-12-31": (
        "101", grid_request("calls", {"startRow": 0, "endRow": 100}, {"to": "9999-12-31"}),
        (200, 400),
    ),
    "analytics export in year 1": (
        "103", "/download/analytics/rules.csv?from=0001-01-01&to=0001-01-03", (400,),
    ),
    # the page loads its default view and says why
    "analytics page from 9999-12-31": (
        "103", page_request("/analytics", "?from=9999-12-31"), (200,),
    ),
    "analytics page in year 1": ("103", page_request("/analytics", "?from=0001-01-01"), (200,)),
    "audit page to 9999-12-31": ("101", "/audit?to=9999-12-31", (400,)),
    "audit export to 9999-12-31": ("100", "/download/audit.csv?to=9999-12-31", (400,)),
    "recordings grid to 9999-12-31": (
        "101", grid_request("recordings", {"startRow": 0, "endRow": 100}, {"to": "9999-12-31"}),
        (200, 400),
    ),
    "a superscript queue number": ("101", "/recordings?queue=%C2%B2", (400,)),
    # numbers past 64 bits or infinite
    "a grid row past 64 bits": (
        "101", grid_request("calls", {"startRow": 10**20, "endRow": 10**20 + 100}), (400,),
    ),
    "an infinite grid row": ("100", grid_request("audit", {"startRow": float("inf")}), (400,)),
    # the page's alert says "One value was expected, not list"
    "a list for an extension": (
        "100",
        callback(
            "..rules-list-box.children...rules-subtitle.children...rules-sim-zone.children..",
            [
                {"id": "rules-version", "property": "data", "value": None},
                {"id": "rules-user", "property": "value", "value": ["101"]},
            ],
        ),
        (200, 400),
    ),
    "infinite agents": ("101", staffing_request(float("inf"), GOOD_QUEUE), (200,)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FOUND))
def test_what_the_fuzzing_pass_found_is_refused_without_a_500(
    signed_in: Callable[[str], Any], case: str
) -> None:
    login, sent, statuses = FOUND[case]
    client = signed_in(f"{login}@acme.example")
    response = client.get(sent) if isinstance(sent, str) else post_raw(client, sent)
    assert response.status_code in statuses, response.get_data(as_text=True)[:300]


def test_a_callback_nested_past_the_recursion_limit_is_a_400(
    signed_in: Callable[[str], Any],
) -> None:
    body = '{"output":"calls-count.children","inputs":' + "[" * 100_000 + "]" * 100_000 + "}"
    response = signed_in("101@acme.example").post(
        "/_dash-update-component", data=body, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("agents", "inputs", "says"),
    [
        (5, {**GOOD_QUEUE, "calls": -1, "aht": 0}, "Calls must be a number"),
        (5, {**GOOD_QUEUE, "calls": 1e308, "aht": 1e308}, "Calls must be a number"),
        (10**30, GOOD_QUEUE, "Agents must be from 0 to 2000"),  # looped for ever
        (55, GOOD_QUEUE, "Agents needed for 80%"),
    ],
)
def test_the_staffing_what_if_answers_crafted_numbers_at_once(
    signed_in: Callable[[str], Any], agents: Any, inputs: dict[str, Any], says: str
) -> None:
    response = post_raw(signed_in("101@acme.example"), staffing_request(agents, inputs))
    assert response.status_code == 200
    assert says in json.dumps(response.get_json())


def test_a_refused_callback_logs_one_line_not_a_traceback(
    signed_in: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The fuzzing run left 1,597 tracebacks in the portal's log: volume a client controls."""
    import logging

    client = signed_in("101@acme.example")
    with caplog.at_level(logging.WARNING, logger="dash_app.refusals"):
        response = post_raw(client, grid_request("calls", {"startRow": 10**20}))
    assert response.status_code == 400
    refused = [r for r in caplog.records if r.name == "dash_app.refusals"]
    assert refused and all(r.exc_info is None for r in refused)
