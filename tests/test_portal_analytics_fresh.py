"""The Analytics page in a live office (portal_page_seconds): a new call shows after the
page's background refresh, while requests meanwhile get the numbers of the files the page
was computed over, saying when those are from. Headless Chromium on the real portal."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fixtures.core import seeded_settings
from tests.fixtures.portal import (
    PORTAL_CALLS,
    PortalServer,
    acc_call,
    build_lake,
    log_in,
    start_portal,
    stop_portal,
)
from tests.test_portal_analytics import VIEW, tile

pytestmark = pytest.mark.browser

AS_OF = re.compile(r"data as of (\d\d:\d\d:\d\d)")


@pytest.fixture
def live_portal(tmp_path: Path) -> Iterator[PortalServer]:
    # one worker: the page's served listing is per worker process
    settings = seeded_settings(tmp_path / "data", portal_page_seconds=60, portal_workers=1)
    build_lake(settings, PORTAL_CALLS)
    server = start_portal(settings)
    yield server
    stop_portal(server)


def as_of(page: Any) -> str:
    match = AS_OF.search(page.locator("#analytics-scope").inner_text())
    assert match, page.locator("#analytics-scope").inner_text()
    return match.group(1)


def test_a_new_call_shows_once_the_page_is_refreshed(live_portal: PortalServer, page: Any) -> None:
    log_in(page, live_portal.url, "100@acme.example")
    page.goto(live_portal.url + VIEW)
    expect(tile(page, "offered")).to_have_text("7")
    first = as_of(page)
    time.sleep(1.1)  # a later second on the clock for the next listing
    build_lake(
        live_portal.settings,
        [acc_call("c09", "internal", "103", "101", "2025-03-12 15:00:00", ring=2, talk=20)],
    )
    # answered from the files the page was computed over: the numbers and their time
    page.goto(live_portal.url + VIEW)
    expect(tile(page, "offered")).to_have_text("7")
    assert as_of(page) == first
    # meanwhile the page was computed over the new files: the next request shows them
    deadline = time.monotonic() + 30
    while True:
        page.goto(live_portal.url + VIEW)
        expect(tile(page, "offered")).to_be_visible()
        if tile(page, "offered").inner_text() == "8" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(tile(page, "offered")).to_have_text("8")
    assert as_of(page) > first
