"""A manager hears a recorded call in a real browser, and finds the listening in the audit trail.

One portal (gunicorn, as ``make run`` serves it) over the portal fixtures'
calls and three recordings (:mod:`tests.fixtures.recorded_calls`), headless
Chromium: from the call-history row's recording icon to the player, a click
on a transcript line plays from that line, then the Audit page lists the
play. Every wait is on a condition the page reaches, never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from switchboard.store import ProvisioningStore
from tests.fixtures.core import make_settings, seed
from tests.fixtures.portal import (
    PORTAL_CALLS,
    PortalServer,
    build_lake,
    log_in,
    start_portal,
    stop_portal,
)
from tests.fixtures.recorded_calls import REC_C01, SEGMENTS, seed_recordings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def recorded_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    settings = make_settings(tmp_path_factory.mktemp("recordings-portal") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    store.close()
    build_lake(settings, PORTAL_CALLS)
    seed_recordings(settings)
    server = start_portal(settings)
    yield server
    stop_portal(server)


def test_from_the_call_row_to_the_player_to_the_audit_trail(
    recorded_portal: PortalServer, page: Any
) -> None:
    base = recorded_portal.url
    log_in(page, base, "100@acme.example")
    expect(page.locator("#home-title")).to_be_visible()
    page.goto(f"{base}/calls")
    icon = page.locator(f'#calls-grid a.sb-rec-link[data-recording-id="{REC_C01}"]')
    expect(icon).to_have_count(1)
    icon.click()

    expect(page.locator("#recordings-open")).to_have_attribute("data-recording-id", REC_C01)
    assert page.url.endswith(f"/recordings?rec={REC_C01}")
    lines = page.locator("#recordings-lines [data-start]")
    expect(lines).to_have_count(len(SEGMENTS))
    expect(lines.nth(0)).to_contain_text("Caller")
    expect(lines.nth(1)).to_contain_text("Callee")
    expect(lines.nth(1)).to_contain_text(SEGMENTS[1]["text"])

    audio = page.locator("#recordings-audio")
    audio.evaluate("el => { el.muted = true; }")
    lines.nth(1).click()  # the callee's line starts at 1.4 s
    position = audio.evaluate(
        """async (el) => {
            if (el.paused || el.readyState < 3) {
                await new Promise((ok, fail) => {
                    el.addEventListener('playing', ok, {once: true});
                    el.addEventListener('error', () => fail(new Error('no audio')), {once: true});
                    if (!el.paused && el.readyState >= 3) { ok(); }
                });
            }
            return el.currentTime;
        }"""
    )
    assert SEGMENTS[1]["start"] - 0.05 <= position < 3.0

    page.goto(f"{base}/audit?kind=recording")
    row = page.locator("#audit-grid .ag-center-cols-container .ag-row").first
    expect(row).to_contain_text("Mia Manager (100)")
    expect(row).to_contain_text("Played")
    expect(row).to_contain_text(REC_C01)
    expect(page.locator("#audit-count")).to_have_text("1 access")
