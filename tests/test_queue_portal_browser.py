"""The Queues page and the agent bar in headless Chromium.

The manager (100) creates "Support" with agents 101 and 102 and is told
when a setting is out of range; then 102 signs in, sees the agent bar in
the header, logs in to the queue and pauses. Who may use the page is
tests/security/test_portal_authz.py's matrix.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fixtures.portal import PortalServer, forget_session, log_in

pytestmark = [pytest.mark.browser]


def test_a_manager_builds_a_queue_and_an_agent_uses_the_bar(
    portal: PortalServer, page: Any
) -> None:
    log_in(page, portal.url, "100@acme.example")
    page.goto(f"{portal.url}/queues")
    # the first page of a fresh portal compiles its callbacks: slow on a busy machine
    expect(page.locator("#queues-none")).to_be_visible(timeout=30_000)
    page.locator("#queues-name").fill("Support")
    page.locator("#queues-members").fill("101, 102:2")
    page.locator("#queues-ring").fill("2")
    page.locator("#queues-save").click()
    expect(page.locator("#queues-save-refused")).to_have_text(
        "Ring time per agent must be 5 to 120 seconds"
    )
    page.locator("#queues-ring").fill("20")
    page.locator("#queues-save").click()
    expect(page.locator("#queues-saved")).to_contain_text("Saved queue 'Support'")
    expect(page.locator("#queues-list")).to_contain_text("102 logged out")
    expect(page.locator("#agentbar")).to_have_count(0)  # the manager is no agent

    forget_session(page)
    log_in(page, portal.url, "102@acme.example")
    page.wait_for_url(portal.url + "/")
    status = page.locator("#agentbar-status")
    expect(status).to_have_text("Logged out of your queues", timeout=15_000)
    page.locator("#agentbar-login").click()
    expect(status).to_have_text("Available · 1 queue")
    page.locator("#agentbar-pause").click()
    expect(status).to_have_text("Paused (break) · 1 queue")
