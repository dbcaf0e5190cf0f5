"""What a person sees in the portal, driven through headless Chromium."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from pipeline.schema import EXPORT_COLUMNS
from tests.fixtures.core import Directory
from tests.fixtures.portal import CALLS_OF_101, PortalServer, acc_call, build_lake, log_in

pytestmark = pytest.mark.browser

BLUE, GREEN, RED = "rgb(28, 126, 214)", "rgb(47, 158, 68)", "rgb(224, 49, 49)"


def grid_call_ids(page: Any) -> list[str]:
    """Call ids of the grid's rows, top to bottom, once the grid has settled."""
    rows = page.locator("#calls-grid .ag-center-cols-container .ag-row")
    return [
        row.get_attribute("row-id")
        for row in sorted(rows.all(), key=lambda r: int(r.get_attribute("row-index") or 0))
    ]


def expect_grid(page: Any, call_ids: set[str]) -> list[str]:
    """Wait until the grid holds exactly ``call_ids`` and the count agrees."""
    noun = "call" if len(call_ids) == 1 else "calls"
    expect(page.locator("#calls-count")).to_have_text(f"{len(call_ids)} {noun}")
    rows = page.locator("#calls-grid .ag-center-cols-container .ag-row[row-id]")
    expect(rows).to_have_count(len(call_ids))
    ids = grid_call_ids(page)
    assert set(ids) == call_ids
    return ids


def icon_colour(page: Any, call_id: str) -> str:
    icon = page.locator(f'[data-call-id="{call_id}"] .sb-call-icon')
    return str(icon.evaluate("el => getComputedStyle(el).backgroundColor"))


def test_wrong_password_says_so_and_the_right_one_opens_home(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "101@acme.example", "not-my-password")
    expect(page.locator("#login-error")).to_have_text("Wrong extension@domain or password")
    expect(page.locator("#login-user")).to_have_value("101@acme.example")
    log_in(page, seeded_portal.url, "101@acme.example")
    expect(page.locator("#home-title")).to_have_text("Welcome, Front Desk")
    assert page.url == seeded_portal.url + "/"


def test_recent_calls_are_coloured_like_a_desk_phone(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    items = page.locator("#home-recent-list li")
    expect(items).to_have_count(len(CALLS_OF_101))
    views = {
        item.get_attribute("data-call-id"): item.get_attribute("data-view") for item in items.all()
    }
    assert views == {
        "c08": "outgoing",  # 101 dialled out
        "c07": "incoming",  # a customer called 101, answered
        "c05": "missed",  # 100 found 101 busy
        "c03": "missed",  # 102 hung up while 101's phone rang
        "c02": "incoming",
        "c01": "outgoing",
    }
    assert icon_colour(page, "c08") == GREEN
    assert icon_colour(page, "c07") == BLUE
    assert icon_colour(page, "c05") == RED
    # Newest first, and the other party is named.
    expect(items.first).to_contain_text("+15557654321")
    expect(page.locator('[data-call-id="c07"]')).to_contain_text("Jane Customer")
    # Live phone status from (fake) Kamailio, and the tenant's colleagues only.
    expect(page.locator("#home-phones-list")).to_contain_text("Yealink SIP-T46U")
    colleagues = page.locator("#home-colleagues-table tbody tr")
    expect(colleagues).to_have_count(3)
    expect(page.locator("#home-colleagues-table")).not_to_contain_text("Globex")
    expect(page.locator("#home-messages-section")).to_contain_text("No new voicemail")


def test_the_same_call_is_incoming_for_one_side_and_outgoing_for_the_other(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "102@acme.example")
    expect(page.locator('[data-call-id="c01"]')).to_have_attribute("data-view", "incoming")
    expect(page.locator('[data-call-id="c02"]')).to_have_attribute("data-view", "outgoing")
    expect(page.locator('[data-call-id="c06"]')).to_have_attribute("data-view", "outgoing")
    assert icon_colour(page, "c01") == BLUE
    assert icon_colour(page, "c02") == GREEN


def test_a_status_message_is_saved_and_colleagues_see_it(
    seeded_portal: PortalServer, page: Any, browser: Any
) -> None:
    log_in(page, seeded_portal.url, "103@acme.example")
    page.fill("#home-status-input", "Coaching the queue team until 4")
    page.click("#home-status-save")
    expect(page.locator("#home-status-saved")).to_have_text("Saved.")

    other = browser.new_context().new_page()
    try:
        log_in(other, seeded_portal.url, "102@acme.example")
        row = other.locator('#home-colleagues-table tr[data-extension="103"]')
        expect(row).to_contain_text("Coaching the queue team until 4")
    finally:
        other.context.close()


def test_history_filters_come_from_the_url(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(f"{seeded_portal.url}/calls?direction=internal&disposition=answered")
    assert expect_grid(page, {"c01", "c02"}) == ["c02", "c01"]  # newest first
    expect(page.locator("#calls-direction")).to_have_value("Internal")
    expect(page.locator("#calls-disposition")).to_have_value("Answered")
    expect(page.locator("#calls-summary")).to_have_text("Internal answered calls")

    # Dates are days in the viewer's zone: c05 (22:30 in New York) is already
    # the 12th in UTC and still belongs to the 11th here.
    page.goto(f"{seeded_portal.url}/calls?from=2025-03-11&to=2025-03-11")
    expect_grid(page, {"c03", "c05"})
    expect(page.locator("#calls-dates")).to_contain_text("2025-03-11")
    time_cell = page.locator('#calls-grid .ag-row[row-id="c05"] [col-id="started_at"]')
    expect(time_cell).to_have_text("2025-03-11 22:30:00")


def test_history_controls_filter_the_grid_and_rewrite_the_url(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(f"{seeded_portal.url}/calls")
    expect_grid(page, CALLS_OF_101)

    page.click("#calls-disposition")
    page.get_by_role("option", name="Busy").click()
    expect_grid(page, {"c05"})
    expect(page).to_have_url(f"{seeded_portal.url}/calls?disposition=busy")

    page.click("#calls-clear")
    expect_grid(page, CALLS_OF_101)
    page.fill("#calls-search", "jane")
    expect_grid(page, {"c07"})
    expect(page).to_have_url(f"{seeded_portal.url}/calls?q=jane")

    # The rewritten URL is a shareable link: a fresh load shows the same view.
    page.reload()
    expect_grid(page, {"c07"})
    expect(page.locator("#calls-search")).to_have_value("jane")


def test_export_csv_downloads_exactly_the_filtered_grid_rows(
    seeded_portal: PortalServer, page: Any, tmp_path: Path
) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(f"{seeded_portal.url}/calls?disposition=answered")
    grid_ids = expect_grid(page, {"c01", "c02", "c07", "c08"})
    grid_times = [
        page.locator(f'#calls-grid .ag-row[row-id="{cid}"] [col-id="started_at"]').inner_text()
        for cid in grid_ids
    ]
    with page.expect_download() as info:
        page.click("#calls-export")
    path = tmp_path / "calls.csv"
    info.value.save_as(path)
    assert info.value.suggested_filename.startswith("calls-acme.example-")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        rows = list(reader)
    assert [r["call_id"] for r in rows] == grid_ids
    assert [r["started_at"] for r in rows] == grid_times  # same local times as the grid


def test_a_plain_user_cannot_reach_a_colleagues_calls_by_url(
    seeded_portal: PortalServer, page: Any
) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    page.goto(f"{seeded_portal.url}/calls?extension=102")
    expect_grid(page, {"c01", "c02", "c03"})  # calls with 102, never 102's own (c04, c06)
    expect(page.locator("#calls-scope")).to_contain_text("Calls of extension 101")
    export = page.request.get(f"{seeded_portal.url}/download/calls.csv?extension=102")
    assert "c04" not in export.text() and "c06" not in export.text()
    assert export.text().count("\n") == 4  # header + 3 calls


def test_a_manager_sees_the_whole_tenant_and_another_tenant_sees_nothing_of_it(
    seeded_portal: PortalServer, page: Any, browser: Any
) -> None:
    log_in(page, seeded_portal.url, "100@acme.example")
    page.goto(f"{seeded_portal.url}/calls?extension=102")
    expect_grid(page, {"c01", "c02", "c03", "c04", "c06"})
    expect(page.locator("#calls-scope")).to_contain_text("All calls of acme.example")

    globex = browser.new_context().new_page()
    try:
        log_in(globex, seeded_portal.url, "100@globex.example")
        globex.goto(f"{seeded_portal.url}/calls")
        expect_grid(globex, {"g01"})
        globex.goto(f"{seeded_portal.url}/calls?extension=102")
        expect(globex.locator("#calls-count")).to_have_text("0 calls")
        export = globex.request.get(f"{seeded_portal.url}/download/calls.csv")
        assert "acme" not in export.text().lower() and "g01" in export.text()
    finally:
        globex.context.close()


def test_log_out_ends_the_session(seeded_portal: PortalServer, page: Any) -> None:
    log_in(page, seeded_portal.url, "101@acme.example")
    expect(page.locator("#home-title")).to_be_visible()
    page.click("#shell-user-button")
    page.click("#shell-logout")
    expect(page.locator(".sb-login-notice")).to_have_text("You are signed out.")
    page.goto(f"{seeded_portal.url}/calls?direction=inbound")
    assert "/login?next=" in page.url
    response = page.request.post(f"{seeded_portal.url}/_dash-update-component", data={})
    assert response.status == 401


def test_too_many_attempts_show_the_lockout_and_kamailio_down_is_said_plainly(
    portal: PortalServer, page: Any
) -> None:
    for _ in range(portal.settings.login_max_attempts):
        log_in(page, portal.url, "101@acme.example", "guessing-wrong")
        expect(page.locator("#login-error")).to_contain_text("Wrong")
    log_in(page, portal.url, "101@acme.example", Directory.PASSWORD)
    expect(page.locator("#login-error")).to_have_text(
        "Too many failed attempts; try again in a few minutes"
    )
    # Another account is not locked; with no Kamailio and no calls, home says so.
    log_in(page, portal.url, "102@acme.example")
    expect(page.locator("#home-phones-unavailable")).to_contain_text("Phone status unavailable")
    expect(page.locator("#home-recent-empty")).to_have_text("No calls yet.")


def test_the_grid_pages_through_a_long_history_block_by_block(
    portal: PortalServer, page: Any
) -> None:
    from datetime import datetime, timedelta

    start = datetime(2025, 4, 1, 8, 0)
    rows = [
        acc_call(
            f"bulk{i:03d}", "internal", "102", "101", str(start + timedelta(minutes=i)), ring=2
        )
        for i in range(250)
    ]
    build_lake(portal.settings, rows)
    log_in(page, portal.url, "101@acme.example")
    page.goto(f"{portal.url}/calls")
    expect(page.locator("#calls-count")).to_have_text("250 calls")
    expect(page.locator('#calls-grid .ag-row[row-id="bulk249"]')).to_be_visible()
    # Rows past the first block of 100 arrive only when the grid scrolls to them.
    assert page.locator('#calls-grid .ag-row[row-id="bulk000"]').count() == 0
    page.evaluate(
        "async () => (await dash_ag_grid.getApiAsync('calls-grid')).ensureIndexVisible(249)"
    )
    expect(page.locator('#calls-grid .ag-row[row-id="bulk000"]')).to_be_visible()
