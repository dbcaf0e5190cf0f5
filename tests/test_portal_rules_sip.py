"""An edit in the portal changes the route of the very next SIP call, within 2 seconds.

Real Kamailio (with its rules scheduler) and the portal run on the same
settings; 102 is a SIPp phone that answers. 102 switches on "do not disturb,
then busy tone" in Chromium; the save pushes the decision to Kamailio, so the
next call from 101 hears 486 instead of being answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.portal import PortalServer, log_in, start_portal, stop_portal
from tests.fixtures.sip import call, register_at

pytestmark = [pytest.mark.browser, pytest.mark.kamailio]


@pytest.fixture
def portal_on_kamailio(kamailio: KamailioProcess) -> Iterator[PortalServer]:
    """The portal on Kamailio's own settings (same DB, same RPC port)."""
    server = start_portal(kamailio.settings)
    yield server
    stop_portal(server)


def _dest(page: Any, field: str, part: str) -> Any:
    cid = json.dumps({"field": field, "type": f"rules-dest-{part}"}, separators=(",", ":"))
    return page.locator(f"[id='{cid}']")


def test_do_not_disturb_set_in_the_browser_applies_to_the_next_call(
    kamailio: KamailioProcess, portal_on_kamailio: PortalServer, page: Any
) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        before = call(s, "101@acme.example", "102@acme.example", duration_ms=200)
        assert list(before.finals.values()) == [200], before.errors

        log_in(page, portal_on_kamailio.url, "102@acme.example")
        page.goto(portal_on_kamailio.url + "/rules")
        page.click("#rules-new")
        page.fill("#rules-name", "Focus time")
        page.locator("#rules-dnd").check(force=True)
        _dest(page, "fallback", "kind").click()
        page.get_by_role("option", name="Busy tone", exact=True).click()
        page.click("#rules-save")
        # Green, without "phones will follow": the push reached Kamailio.
        expect(page.locator("#rules-saved")).to_have_text("Saved rule “Focus time”.")
        saved_at = time.monotonic()

        after = call(s, "101@acme.example", "102@acme.example", duration_ms=200)
        busy_heard_after = time.monotonic() - saved_at
    assert list(after.finals.values()) == [486], after.errors
    assert busy_heard_after < 2.0
