"""The Analytics page in headless Chromium: tiles, drill-down, downloads, scope."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect

from dash_app.analytics_tables import AnalyticsQuery
from tests.fixtures.portal import PortalServer, forget_session, http_session, log_in

pytestmark = pytest.mark.browser

# PORTAL_CALLS: 2025-03-10..12 in New York (see tests/fixtures/portal.py).
VIEW = "/analytics?from=2025-03-10&to=2025-03-12&interval=day"
MANAGER_TILES = {
    "offered": "7",  # c01–c07 (c08 is outbound)
    "answered": "4",  # c01 c02 c04 c07
    "missed": "3",  # c03 cancelled, c05 busy, c06 no answer
    "answer_rate": "57.1%",
    "abandoned_in_ring": "1",
    "avg_ring_answered": "0:04",  # (5 + 3 + 4 + 6) / 4
    "max_ring_answered": "0:06",
    "avg_talk": "1:32",  # (125 + 60 + 30 + 200 + 45) / 5
    "total_talk": "7:40",
    "peak_concurrent": "1",
}


def tile(page: Any, name: str) -> Any:
    return page.locator(f"#analytics-tile-{name}-value")


def grid_rows(page: Any, name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    rows = page.locator(f"#analytics-grid-{name} .ag-center-cols-container .ag-row")
    expect(rows.first).to_be_visible()
    out = []
    for row in sorted(rows.all(), key=lambda r: int(r.get_attribute("row-index") or 0)):
        out.append({c: row.locator(f'[col-id="{c}"]').inner_text().strip() for c in columns})
    return out


def test_tiles_show_the_fixture_values(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(seeded_portal.url + VIEW)
    for name, value in MANAGER_TILES.items():
        expect(tile(page, name)).to_have_text(value)
    expect(page.locator("#analytics-tile-offered-change")).to_contain_text("+7 vs previous (0)")


def test_a_plain_user_sees_only_their_calls(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(seeded_portal.url + VIEW)
    expect(page.locator("#analytics-scope")).to_contain_text("Calls of extension 101")
    expect(tile(page, "offered")).to_have_text("5")  # c01 c02 c03 c05 c07


def test_clicking_a_bar_opens_the_call_grid_on_its_calls(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(seeded_portal.url + VIEW)
    # The first trace is "answered"; its first bar is 2025-03-10: c01 and c02.
    bar = page.locator("#analytics-volume-disposition .trace.bars").first.locator(".point").first
    expect(bar).to_be_visible()
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/calls?**")
    assert "from=2025-03-10" in page.url and "disposition=answered" in page.url
    expect(page.locator("#calls-count")).to_have_text("2 calls")
    rows = page.locator("#calls-grid .ag-center-cols-container .ag-row[row-id]")
    expect(rows).to_have_count(2)
    assert {r.get_attribute("row-id") for r in rows.all()} == {"c01", "c02"}


def test_a_table_row_links_to_exactly_its_calls(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(seeded_portal.url + VIEW)
    row = page.locator(
        '#analytics-grid-extensions .ag-row:has([col-id="extension"]:text-is("102"))'
    )
    link = row.locator('[col-id="calls_link"] a')
    expect(link).to_have_text("2 calls")
    link.click()
    page.wait_for_url("**/calls?**")
    expect(page.locator("#calls-count")).to_have_text("2 calls")


def test_downloads_equal_the_table(seeded_portal: PortalServer, page: Any, tmp_path: Path) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(seeded_portal.url + VIEW)
    columns = ("extension", "calls", "offered", "answered", "missed")
    shown = grid_rows(page, "extensions", columns)
    with page.expect_download() as info:
        page.click("#analytics-download-extensions-csv")
    path = tmp_path / "extensions.csv"
    info.value.save_as(path)
    with path.open() as fh:
        downloaded = [{c: r[c] for c in columns} for r in csv.DictReader(fh)]
    assert sorted(downloaded, key=str) == sorted(shown, key=str)
    assert {r["extension"]: r["calls"] for r in shown} == {"101": "5", "102": "2", "103": "1"}

    query = AnalyticsQuery.from_url({"from": "2025-03-10", "to": "2025-03-12"}, "America/New_York")[
        0
    ]
    with http_session(seeded_portal.url, "100@acme.example") as client:
        from urllib.parse import urlencode

        qs = urlencode(query.to_url())
        parquet = client.get(f"/download/analytics/extensions.parquet?{qs}")
        table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
        assert {r["extension"]: r["calls"] for r in table} == {"101": 5, "102": 2, "103": 1}
        xlsx = client.get(f"/download/analytics/extensions.xlsx?{qs}")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    with http_session(seeded_portal.url, "100@globex.example") as client:
        other = client.get(f"/download/analytics/extensions.csv?{qs}").text
        assert "102" not in other and "103" not in other  # globex has only 100 → 101


def test_downloads_need_a_session(seeded_portal: PortalServer) -> None:
    import httpx

    response = httpx.get(seeded_portal.url + "/download/analytics/extensions.csv")
    assert response.status_code in (302, 401)


def test_scheduled_reports_page_is_for_managers(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(seeded_portal.url + "/reports")
    expect(page.locator("#reports-list-section")).to_contain_text("Schedules")
    expect(page.locator("#reports-add")).to_be_visible()
    page.fill("#reports-name", "x")
    page.fill("#reports-cron", "not a cron")
    page.click("#reports-add")
    expect(page.locator("#reports-message")).to_contain_text("not a cron expression")
    forget_session(page)
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(seeded_portal.url + "/reports")
    expect(page.get_by_text("Scheduled reports are for managers and supervisors.")).to_be_visible()
