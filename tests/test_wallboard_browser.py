"""The wallboard in headless Chromium: a caller and an agent's call within 2 s of the live file.

The live file is written with the media server's own writer (``media.queue_spool.QueueLog``,
the contract ``switchboard.queue_events.live_document``), as the queue engine writes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from media.queue_spool import QueueLog
from switchboard.queue_events import LiveAgent, LiveCaller, LiveQueue
from tests.fixtures.core import seeded_settings
from tests.fixtures.portal import PortalServer, log_in, start_portal, stop_portal

pytestmark = pytest.mark.browser
ACME = "acme.example"


@pytest.fixture(scope="module")
def board_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    settings = seeded_settings(tmp_path_factory.mktemp("wallboard") / "data")
    server = start_portal(settings)
    yield server
    stop_portal(server)


def publish(
    server: PortalServer, waiting: tuple[LiveCaller, ...], agents: tuple[LiveAgent, ...]
) -> None:
    log = QueueLog(server.settings.spool_dir, server.settings.data_dir)
    log.write_live(ACME, time.time(), [LiveQueue(1, "Support", waiting, agents)])


def test_the_board_shows_a_caller_and_an_answer_within_two_seconds(
    board_portal: PortalServer, page: Any
) -> None:
    now = time.time()
    idle = (LiveAgent("102", "available", now), LiveAgent("103", "paused", now - 90, "lunch"))
    publish(board_portal, (), idle)
    log_in(page, board_portal.url, "100@acme.example")
    page.goto(board_portal.url + "/wallboard")
    waiting = page.locator("#wallboard-q1-waiting")
    expect(waiting).to_have_text("0", timeout=30_000)
    expect(page.locator("#wallboard-q1-paused-103")).to_contain_text("lunch")

    t0 = time.monotonic()
    publish(board_portal, (LiveCaller("c1", "+15550100", time.time()),), idle)  # the INVITE
    expect(waiting).to_have_text("1", timeout=2_000)
    shown_caller = time.monotonic() - t0

    t1 = time.monotonic()
    on_call = (LiveAgent("102", "on_call", time.time(), caller="+15550100"), idle[1])
    publish(board_portal, (), on_call)  # the agent answered
    expect(page.locator("#wallboard-q1-agents-on_call")).to_contain_text("on call 1", timeout=2_000)
    expect(waiting).to_have_text("0", timeout=2_000)
    shown_answer = time.monotonic() - t1
    print(f"wallboard: caller shown in {shown_caller:.2f} s, answer in {shown_answer:.2f} s")
    assert shown_caller < 2.0 and shown_answer < 2.0


def test_full_screen_mode_and_the_role_check(board_portal: PortalServer, page: Any) -> None:
    publish(board_portal, (), ())
    log_in(page, board_portal.url, "100@acme.example")
    page.goto(board_portal.url + "/wallboard?tv=1")
    expect(page.locator("#wallboard-page")).to_have_css("position", "fixed", timeout=30_000)
    context = page.context.browser.new_context()  # another person, another browser
    try:
        other = context.new_page()
        log_in(other, board_portal.url, "101@acme.example")
        other.goto(board_portal.url + "/wallboard")
        expect(other.locator("#wallboard-denied")).to_be_visible(timeout=30_000)
        expect(other.locator("#wallboard-board")).to_have_count(0)
    finally:
        context.close()
