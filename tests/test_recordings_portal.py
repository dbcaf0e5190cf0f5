"""The Recordings page over HTTP: who hears which recording, and every access in the audit trail.

Against the shared in-process portal (``client_portal``) with three recorded
calls (:mod:`tests.fixtures.recorded_calls`): c01 (101 → 102), c04 (103 →
102) and globex's g01. A plain user hears the recordings of their own calls,
supervisors and managers their tenant's, nobody another tenant's; the audio
route answers range requests; each play and download is audited.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest

from switchboard.store.access_log import AccessQuery
from tests.fixtures.portal import client_session, page_request
from tests.fixtures.recorded_calls import (
    REC_C01,
    REC_C04,
    REC_G01,
    add_voicemail_transcript,
    seed_recordings,
)

LOGINS = {
    "anonymous": None,
    "user 101": "101@acme.example",
    "user 102": "102@acme.example",
    "agent 104": "104@acme.example",
    "supervisor": "103@acme.example",
    "manager": "100@acme.example",
    "globex manager": "100@globex.example",
}
# Which recordings each visitor may hear (list, open, play, download).
MAY_HEAR = {
    "anonymous": set(),
    "user 101": {REC_C01},
    "user 102": {REC_C01, REC_C04},
    "agent 104": set(),
    "supervisor": {REC_C01, REC_C04},
    "manager": {REC_C01, REC_C04},
    "globex manager": {REC_G01},
}


@pytest.fixture(scope="module")
def portal_app(client_portal: Any) -> Iterator[Any]:
    from datetime import UTC, datetime

    settings = client_portal.server.extensions["switchboard_portal"].settings
    seed_recordings(settings)
    at = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)
    add_voicemail_transcript(settings, "vm-" + "5e" * 16, "102", "About the kitchen invoice", at)
    yield client_portal


@pytest.fixture(scope="module")
def clients(portal_app: Any) -> Iterator[dict[str, Any]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {
            who: stack.enter_context(client_session(portal_app, login))
            for who, login in LOGINS.items()
        }


def grid_rows(client: Any, params: dict[str, str] | None = None) -> Any:
    """POST the grid's row callback as the browser does: (status, recording ids)."""
    status, rows = grid_answer(client, params)
    return status, {row["recording_id"] for row in rows}


def grid_answer(client: Any, params: dict[str, str] | None = None) -> tuple[int, list[Any]]:
    """POST the grid's row callback as the browser does: (status, the rows shown)."""
    response = client.post(
        "/_dash-update-component",
        json={
            "output": "..recordings-grid.getRowsResponse...recordings-count.children..",
            "outputs": [
                {"id": "recordings-grid", "property": "getRowsResponse"},
                {"id": "recordings-count", "property": "children"},
            ],
            "inputs": [
                {
                    "id": "recordings-grid",
                    "property": "getRowsRequest",
                    "value": {"startRow": 0, "endRow": 100},
                }
            ],
            "state": [{"id": "recordings-filter", "property": "data", "value": params or {}}],
            "changedPropIds": ["recordings-grid.getRowsRequest"],
        },
    )
    if response.status_code != 200:
        return response.status_code, []
    return 200, response.get_json()["response"]["recordings-grid"]["getRowsResponse"]["rowData"]


def post(client: Any, trigger: str, prop: str, value: Any, state: list[Any]) -> Any:
    """POST the callback ``trigger.prop`` fires, with its outputs as the page declares them."""
    deps = client.get("/_dash-dependencies").get_json() or []
    output = next(
        d["output"]
        for d in deps
        if any(i["id"] == trigger and i["property"] == prop for i in d["inputs"])
    )
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    outputs = [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts]
    return client.post(
        "/_dash-update-component",
        json={
            "output": output,
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [{"id": trigger, "property": prop, "value": value}],
            "state": state,
            "changedPropIds": [f"{trigger}.{prop}"],
        },
    )


def open_panel(client: Any, recording_id: str) -> str:
    """The row-click callback with a (possibly crafted) id: the panel's text, or ""."""
    value = {"rowId": recording_id, "colId": "caller"}
    state = [{"id": "recordings-filter", "property": "data", "value": {}}]
    response = post(client, "recordings-grid", "cellClicked", value, state)
    return response.get_data(as_text=True) if response.status_code == 200 else ""


@pytest.mark.parametrize("who", list(LOGINS))
def test_each_visitor_lists_opens_and_plays_only_what_they_may_hear(
    clients: dict[str, Any], who: str
) -> None:
    client = clients[who]
    status, listed = grid_rows(client)
    assert listed == MAY_HEAR[who]
    assert status == (401 if who == "anonymous" else 200)
    for rec in (REC_C01, REC_C04, REC_G01):
        allowed = rec in MAY_HEAR[who]
        played = client.get(f"/recordings/audio/{rec}")
        assert (played.status_code == 200 and played.data[:4] == b"RIFF") is allowed, rec
        downloaded = client.get(f"/recordings/audio/{rec}?download=1")
        assert (downloaded.status_code == 200) is allowed, rec
        if who != "anonymous":
            assert (f'"data-recording-id":"{rec}"' in open_panel(client, rec)) is allowed, rec


def test_playback_seeks_and_every_access_is_audited(portal_app: Any, clients: Any) -> None:
    client = clients["user 101"]
    whole = client.get(f"/recordings/audio/{REC_C01}")
    with wave.open(BytesIO(whole.data)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
    part = client.get(f"/recordings/audio/{REC_C01}", headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206 and len(part.data) == 1000
    attachment = client.get(f"/recordings/audio/{REC_C01}?download=1")
    assert "attachment" in attachment.headers["Content-Disposition"]

    state = portal_app.server.extensions["switchboard_portal"]
    query = AccessQuery(actor="101@acme.example", object_id=REC_C01)
    with state.store_lock:
        trail = state.store.access_log("acme.example", query)
    by_action = {r.action: r for r in trail}
    assert set(by_action) == {"play", "download"}
    assert by_action["play"].requests >= 2  # the whole file, then a seek: one listening
    assert by_action["play"].object_label == "call 101 to 102"
    assert by_action["play"].kind == "recording"


def test_filters_and_the_one_search_box(clients: Any) -> None:
    manager = clients["manager"]
    assert grid_rows(manager, {"extension": "103"})[1] == {REC_C04}
    assert grid_rows(manager, {"has_transcript": "yes"})[1] == {REC_C01}
    assert grid_rows(manager, {"words": "refund"})[1] == {REC_C01}
    assert grid_rows(manager, {"from": "2025-03-11", "to": "2025-03-11"})[1] == {REC_C04}
    # A crafted filter is a refusal with a reason, never a 500, and shows nothing.
    assert grid_rows(manager, {"extension": "1 or 1=1"}) == (200, set())
    assert manager.get("/recordings?direction=sideways").status_code == 400
    assert manager.get("/recordings?rec=../../etc/passwd").status_code == 400
    assert manager.get(f"/recordings?rec={REC_C01}").status_code == 200

    def search(client: Any, text: str) -> str:
        response = client.post(
            "/_dash-update-component",
            json={
                "output": "recordings-search-results.children",
                "outputs": {"id": "recordings-search-results", "property": "children"},
                "inputs": [{"id": "recordings-search", "property": "value", "value": text}],
                "changedPropIds": ["recordings-search.value"],
            },
        )
        return response.get_data(as_text=True) if response.status_code == 200 else ""

    assert REC_C01 in search(manager, "REFUND")
    assert REC_C01 not in search(clients["agent 104"], "refund")  # not their call
    assert REC_C01 not in search(clients["globex manager"], "refund")
    # A voicemail of 102: its owner and managers read it, a supervisor does not.
    vm = "vm-" + "5e" * 16
    assert vm in search(clients["manager"], "kitchen invoice")
    assert vm in search(clients["user 102"], "kitchen invoice")
    assert vm not in search(clients["supervisor"], "kitchen invoice")
    assert vm not in search(clients["user 101"], "kitchen invoice")


def test_call_history_rows_link_to_the_recordings_the_viewer_may_hear(clients: Any) -> None:
    def recorded(client: Any) -> dict[str, str]:
        response = client.post(
            "/_dash-update-component",
            json={
                "output": "..calls-grid.getRowsResponse...calls-count.children..",
                "outputs": [
                    {"id": "calls-grid", "property": "getRowsResponse"},
                    {"id": "calls-count", "property": "children"},
                ],
                "inputs": [
                    {
                        "id": "calls-grid",
                        "property": "getRowsRequest",
                        "value": {"startRow": 0, "endRow": 100},
                    }
                ],
                "state": [{"id": "calls-filter", "property": "data", "value": {}}],
                "changedPropIds": ["calls-grid.getRowsRequest"],
            },
        )
        rows = response.get_json()["response"]["calls-grid"]["getRowsResponse"]["rowData"]
        return {r["call_id"]: r["recording"] for r in rows if r["recording"]}

    assert recorded(clients["manager"]) == {"c01": REC_C01, "c04": REC_C04}
    assert recorded(clients["user 101"]) == {"c01": REC_C01}
    assert recorded(clients["globex manager"]) == {"g01": REC_G01}


def test_a_manager_deletes_a_recording_and_the_deletion_is_audited(
    portal_app: Any, clients: Any
) -> None:
    from datetime import UTC, datetime

    from tests.fixtures.recorded_calls import add_recording

    state = portal_app.server.extensions["switchboard_portal"]
    rec = "rec-" + "e" * 24
    at = datetime(2025, 3, 12, 20, 0, 8, tzinfo=UTC)  # c07: +15551234567 → 101
    add_recording(state.settings, rec, "acme.example", "c07", "+15551234567", "101", at)
    wav = state.settings.data_dir / "recordings" / f"{rec}.wav"
    assert rec in grid_rows(clients["manager"])[1] and wav.is_file()

    state_values = [
        {"id": "recordings-open-id", "property": "data", "value": rec},
        {"id": "recordings-version", "property": "data", "value": 0},
    ]
    response = post(clients["manager"], "recordings-delete-yes", "n_clicks", 1, state_values)
    assert response.status_code == 200 and "recordings-deleted" in response.get_data(as_text=True)
    assert rec not in grid_rows(clients["manager"])[1]
    assert not wav.exists()
    assert clients["manager"].get(f"/recordings/audio/{rec}").status_code == 404
    with state.store_lock:
        trail = state.store.access_log("acme.example", AccessQuery(object_id=rec))
    assert [(r.actor, r.action, r.object_label) for r in trail] == [
        ("100@acme.example", "delete", "call +15551234567 to 101")
    ]


def _page(client: Any, path: str, search: str) -> str:
    """The page's layout as Dash's renderer asks for it."""
    response = client.post("/_dash-update-component", json=page_request(path, search))
    return json.dumps(response.get_json()) if response.status_code == 200 else ""


def test_analytics_shows_conversation_figures_per_agent_linking_to_the_recordings(
    clients: Any,
) -> None:
    search = "?from=2025-03-10&to=2025-03-12&tz=America/New_York"
    page = _page(clients["manager"], "/analytics", search)
    assert "analytics-grid-conversations" in page
    # c01 (101 → 102) and c04 (103 → 102): both answered by 102, 0.8 s vs 1.2 s of speech
    link = "/recordings?extension=102&from=2025-03-10&to=2025-03-12"
    assert f"[2 recordings]({link})" in page and "60 %" in page
    # A plain user's Analytics sees the figures of their own recorded calls only.
    own = _page(clients["user 101"], "/analytics", search)
    assert "[1 recordings](/recordings?extension=102" in own


@contextmanager
def missing_recording(settings: Any) -> Iterator[str]:
    """A call of 101 → 102 the policy said to record while rtpengine was down, for one test.

    Written the way the call ingest commits it (``recording_outcome = 'missing'``, on a
    day no other test of the shared portal reads), and removed again afterwards.
    """
    import pyarrow as pa

    from pipeline.files import write_parquet_atomic
    from pipeline.lake_layout import CALLS, partition_dir
    from pipeline.schema import CALLS_SCHEMA

    started = datetime(2025, 3, 14, 13, 30, tzinfo=UTC)
    row = {
        "call_id": "m01",
        "acc_id": 990001,
        "direction": "internal",
        "caller": "101",
        "callee": "102",
        "answered_by": "102",
        "started_at": started,
        "ended_at": started + timedelta(seconds=95),
        "ring_seconds": 5.0,
        "talk_seconds": 90.0,
        "disposition": "answered",
        "sip_code": 200,
        "recording_outcome": "missing",
    }
    folder = partition_dir(settings.lake_dir, CALLS.name, "acme.example", started.date())
    path = folder / "acc-000000990001-000000990001.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist([row], schema=CALLS_SCHEMA), durable=False)
    try:
        yield "m01"
    finally:
        path.unlink()


def test_managers_and_supervisors_list_the_calls_whose_recording_is_missing(
    portal_app: Any, clients: Any
) -> None:
    settings = portal_app.server.extensions["switchboard_portal"].settings
    missing = {"show": "missing"}
    with missing_recording(settings) as call_id:
        for who in ("manager", "supervisor"):
            status, rows = grid_answer(clients[who], missing)
            assert status == 200
            assert [(r["call_id"], r["caller"], r["recording"]) for r in rows] == [
                (call_id, "101", "Missing")
            ], who
            # Its days, extension and number filter; the transcript, words and queue cannot.
            assert grid_answer(clients[who], {**missing, "extension": "102"})[1] == rows
            assert grid_answer(clients[who], {**missing, "from": "2025-03-15"}) == (200, [])
            assert grid_answer(clients[who], {**missing, "words": "refund"}) == (200, [])
            # The recordings list is unchanged: the call has no recording to list.
            assert grid_rows(clients[who])[1] == MAY_HEAR[who]
        # Not for plain users (not even on their own call), nor another tenant's manager.
        assert grid_answer(clients["user 101"], missing)[0] == 403
        assert grid_answer(clients["globex manager"], missing) == (200, [])

        manager, user = clients["manager"], clients["user 101"]
        assert manager.get("/recordings?show=missing").status_code == 200
        assert manager.get("/recordings?show=everything").status_code == 400
        assert manager.get("/recordings?show=missing&words=refund").status_code == 400
        page = _page(manager, "/recordings", "?show=missing")
        assert "recordings-show-missing" in page and "sb-rec-missing-mark" in page
        # A row of that list is a call: a click opens nothing.
        clicked = {"rowId": call_id, "colId": "caller"}
        state = [{"id": "recordings-filter", "property": "data", "value": missing}]
        assert post(manager, "recordings-grid", "cellClicked", clicked, state).status_code == 204
        # A plain user is told the list is not theirs and sees their recordings instead.
        own = _page(user, "/recordings", "?show=missing")
        assert "only managers and supervisors" in own and "recordings-show-missing" not in own
