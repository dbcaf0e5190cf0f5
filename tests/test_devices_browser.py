"""Phones in a real browser against a real Kamailio: add a device, see it register, revoke it."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.portal import PortalServer, log_in
from tests.fixtures.sip import register_device

pytestmark = [pytest.mark.kamailio, pytest.mark.browser]


def test_a_device_added_on_phones_registers_and_the_manager_revokes_it(
    kamailio: KamailioProcess, portal: PortalServer, page: Any, browser: Any
) -> None:
    log_in(page, portal.url, "101@acme.example")
    page.goto(f"{portal.url}/phones")
    page.fill("#phones-add-name", "Desk")
    page.click("#phones-add")
    details = page.locator("#phones-new-details")
    expect(details).to_contain_text("101-desk")
    expect(details).to_contain_text(f"{kamailio.settings.sip_tls_port} (TLS)")
    qr = page.locator("#phones-new-qr")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    password = details.locator("tr", has_text="Password").locator("code").inner_text()
    row = page.locator("#phones-row-101-desk")
    expect(row).to_contain_text("offline")

    with SippUAS(scenario("uas_answer.xml")) as phone:
        assert (
            register_device(kamailio.settings, "101", "101-desk", password, phone).returncode == 0
        )
        registered_at = time.monotonic()
        expect(row).to_contain_text("registered", timeout=2_000)
        assert time.monotonic() - registered_at < 2.0
        expect(row).to_contain_text("SIPp switchboard")

        manager = browser.new_context().new_page()
        log_in(manager, portal.url, "100@acme.example")
        renders: list[str] = []
        manager.on("response", lambda r: _note_list_render(r, renders))
        manager.goto(f"{portal.url}/phones")
        expect(manager.locator("#phones-row-101-desk")).to_contain_text("registered")
        # The page polls every second but re-renders the list only when it changed, so
        # the Revoke button under the pointer stays the same one (a click is not lost).
        # Counted from the first render's response: the row can show before it is read.
        for _ in range(50):
            if renders:
                break
            manager.wait_for_timeout(100)
        shown = len(renders)
        manager.wait_for_timeout(2_500)
        assert len(renders) == shown >= 1
        manager.locator("#phones-row-101-desk").get_by_role("button", name="Revoke").click()
        expect(manager.locator("#phones-revoked")).to_contain_text("Revoked Desk (101-desk)")
        expect(manager.locator("#phones-row-101-desk")).to_have_count(0)
        assert kamailio.rpc.registrations("101", "acme.example") == []
        again = register_device(kamailio.settings, "101", "101-desk", password, phone)
        assert again.returncode != 0 and "403" in again.errors
    expect(row).to_have_count(0)  # the user's own page follows


def _note_list_render(response: Any, renders: list[str]) -> None:
    """Keep each callback answer that rendered the device list."""
    if "_dash-update-component" in response.url and response.status == 200:
        try:
            body = response.text()
        except Exception:  # a page closed with the answer in flight
            return
        if "phones-row-" in body:
            renders.append(body)
