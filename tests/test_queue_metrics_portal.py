"""The Analytics page's Queues section: tables, drill-down to calls, downloads, what-if."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from dash_app.analytics_queues import busiest_intervals, staffing_text
from pipeline.queue_ingest import ingest_queue_events
from tests.fixtures.core import seeded_settings
from tests.fixtures.portal import PortalServer, http_session, log_in, start_portal, stop_portal
from tests.fixtures.queue_events import hand_checked_events, spool

VIEW = "from=2026-03-02&to=2026-03-02&tz=America/New_York"


@pytest.fixture(scope="module")
def queue_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    settings = seeded_settings(tmp_path_factory.mktemp("queues") / "data")
    queue, agent = hand_checked_events()
    spool(settings, queue, agent)
    assert ingest_queue_events(settings).batches == 1
    server = start_portal(settings)
    yield server
    stop_portal(server)


def test_staffing_text_is_erlang_c_on_the_busiest_interval() -> None:
    rows = [
        {"queue_id": 1, "queue": "Support", "interval": "09:00", "offered": 180, "aht": 240.0},
        {"queue_id": 1, "queue": "Support", "interval": "09:30", "offered": 360, "aht": 240.0},
    ]
    inputs = busiest_intervals(rows)["1"]
    assert inputs["calls"] == 360 and inputs["interval"] == "09:30"
    text = staffing_text(inputs, 80, 55, 20)
    assert "48.0 Erlangs" in text and "needed for 80% within 20 s: 54" in text
    assert "service level 86.7%" in text
    assert "grows without end" in staffing_text(inputs, 80, 40, 20)
    assert staffing_text(None, 80, None, 20) == "No queue calls in this period."


def test_queue_downloads_hold_the_numbers(queue_portal: PortalServer) -> None:
    with http_session(queue_portal.url, "100@acme.example") as client:
        body = client.get(f"/download/analytics/queues.csv?{VIEW}")
        assert body.status_code == 200, body.text
        (row,) = list(csv.DictReader(io.StringIO(body.text)))
        assert (row["offered"], row["answered"], row["abandoned"]) == ("7", "2", "2")
        assert row["service_level"] == "0.167" and row["service_level_seconds"] == "20"
        agents = client.get(f"/download/analytics/queue_agents.parquet?{VIEW}")
        table = pq.read_table(io.BytesIO(agents.content)).to_pylist()
        assert {r["agent"]: r["calls"] for r in table} == {"102": 1, "103": 1}
        assert client.get(f"/download/analytics/queue_pauses.xlsx?{VIEW}").content[:2] == b"PK"


@pytest.mark.browser
def test_queues_section_drills_into_the_calls_and_answers_the_what_if(
    queue_portal: PortalServer, page: Any
) -> None:
    log_in(page, queue_portal.url, "100@acme.example")
    page.goto(f"{queue_portal.url}/analytics?{VIEW}")
    expect(page.locator("#analytics-queues")).to_be_visible(timeout=30_000)
    grid = page.locator("#analytics-grid-queues .ag-center-cols-container .ag-row").first
    expect(grid.locator('[col-id="offered"]')).to_have_text("7")
    result = page.locator("#analytics-staffing-result")
    expect(result).to_contain_text("Agents needed for 80% within 20 s")
    page.fill("#analytics-staffing-agents", "3")
    expect(result).to_contain_text("With 3 agents")
    # the drill-down column may be virtualised off screen: read the row the grid holds
    link = page.evaluate(
        "dash_ag_grid.getApi('analytics-grid-queues').getDisplayedRowAtIndex(0).data.calls_link"
    )
    assert "queue=1%3Aoffered" in link and link.startswith("[7 calls](/calls?")
