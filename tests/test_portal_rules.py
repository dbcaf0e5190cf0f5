"""Time frames, answering rules, the simulator, the override and main numbers, in Chromium.

One portal serves the module (starting one costs seconds); each test works
on its own users so the order the tests run in does not matter:

* 100 (manager) and 101 create a company frame and a rule through the UI;
* 102 has seeded "Holiday" and "Office" rules (invalid edit, simulator);
* 103 has an "Always" rule "Desk" (home page and override);
* 101 tries to reach 102's rules (permissions), and 100/101 the main numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from playwright.sync_api import expect

from switchboard.attendants import Attendant
from switchboard.rules import AnsweringRule, Destination
from switchboard.store import ProvisioningStore
from switchboard.timeframes import DatePeriod, TimeFrame, WeeklyPeriod
from tests.fixtures.core import make_settings, seed
from tests.fixtures.portal import (
    PortalServer,
    forget_session,
    http_session,
    log_in,
    start_portal,
    stop_portal,
)

pytestmark = pytest.mark.browser

NY = "America/New_York"


@pytest.fixture(scope="module")
def rules_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    """A portal over a tenant with Open Hours, Holidays and a few users' rules."""
    settings = make_settings(tmp_path_factory.mktemp("rules-portal") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    directory = seed(store)
    store.save_frame(
        "acme.example",
        TimeFrame("Open Hours", NY, (WeeklyPeriod(frozenset(range(5)), time(9), time(17)),)),
    )
    store.save_frame(
        "acme.example",
        TimeFrame("Holidays", NY, (DatePeriod(date(2026, 12, 25), date(2026, 12, 25)),)),
    )
    bob = directory.users["102@acme.example"]
    store.save_rule(
        bob, AnsweringRule("Holiday", 10, "Holidays", dnd=True, fallback=Destination("voicemail"))
    )
    store.save_rule(bob, AnsweringRule("Office", 20, "Open Hours", ring_seconds=15))
    store.save_rule(directory.users["103@acme.example"], AnsweringRule("Desk", 10))
    store.allocate_did("acme.example", "+15551230000")  # the operator's, for the manager to add
    # Menu 1, for the main number's route (routes may name only the tenant's own menus).
    store.save_attendant(Attendant("acme.example", "Day menu", greeting_text="Welcome"))
    store.close()
    server = start_portal(settings)
    yield server
    stop_portal(server)


def _rule_names(server: PortalServer, extension: str) -> list[str]:
    store = ProvisioningStore(server.settings.provisioning_db)
    try:
        user = store.user("acme.example", extension)
        return [r.name for r in store.routing_inputs(user).rules]
    finally:
        store.close()


def _pick(page: Any, select: Any, option: str) -> None:
    """Choose ``option`` in a Mantine select (its dropdown lives in a portal)."""
    (page.locator(select) if isinstance(select, str) else select).click()
    page.get_by_role("option", name=option, exact=True).click()


def _dest(page: Any, prefix: str, field: str, part: str) -> Any:
    """The kind select or target box of a destination picker (pattern-matching id)."""
    cid = json.dumps({"field": field, "type": f"{prefix}-dest-{part}"}, separators=(",", ":"))
    return page.locator(f"[id='{cid}']")


def _send_to(page: Any, prefix: str, field: str, kind: str, target: str) -> None:
    _pick(page, _dest(page, prefix, field, "kind"), kind)
    box = _dest(page, prefix, field, "target")
    box.fill(target)
    box.press("Escape")  # close the suggestions so they cover nothing


def test_a_frame_and_a_rule_created_in_the_ui_are_listed(
    rules_portal: PortalServer, page: Any
) -> None:
    log_in(page, rules_portal.url, "100@acme.example")
    page.goto(rules_portal.url + "/timeframes")
    expect(page.locator('[data-frame="Open Hours"]')).to_contain_text("Mon–Fri 09:00–17:00")
    page.click("#timeframes-new")
    page.fill("#timeframes-name", "Weekend")
    row = page.locator(".sb-period-row").first  # a new frame starts with Mon–Fri 09–17
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        row.locator("label", has_text=re.compile(f"^{day}$")).click()
    page.click("#timeframes-save")
    weekend = page.locator('#timeframes-tenant-list [data-frame="Weekend"]')
    expect(weekend).to_contain_text("Sat, Sun 09:00–17:00")
    expect(page.locator("#timeframes-saved")).to_have_text(
        "Saved time frame “Weekend”; phones will follow when the phone system is back."
    )

    forget_session(page)
    log_in(page, rules_portal.url, "101@acme.example")
    page.goto(rules_portal.url + "/rules")
    expect(page.locator("#rules-empty")).to_be_visible()
    page.click("#rules-new")
    page.fill("#rules-name", "Weekend")
    _pick(page, "#rules-frame", "Weekend")
    _send_to(page, "rules", "forward_always", "Extension", "102")
    page.click("#rules-save")
    card = page.locator('#rules-list [data-rule="Weekend"]')
    expect(card).to_contain_text("Forward all calls to extension 102")
    expect(card).to_contain_text("Weekend")
    assert _rule_names(rules_portal, "101") == ["Weekend"]


def test_an_invalid_rule_is_refused_and_the_earlier_rules_stay(
    rules_portal: PortalServer, page: Any
) -> None:
    log_in(page, rules_portal.url, "102@acme.example")
    page.goto(rules_portal.url + "/rules")
    expect(page.locator("#rules-list [data-rule]")).to_have_count(2)
    page.click("#rules-new")
    page.fill("#rules-name", "Broken")
    _send_to(page, "rules", "forward_no_answer", "Extension", "555")
    page.click("#rules-save")
    expect(page.locator("#rules-editor-alert")).to_have_text(
        "Rule 'Broken': extension 555 does not exist"
    )
    page.click("#rules-cancel")
    names = page.locator("#rules-list [data-rule]")
    expect(names).to_have_count(2)
    assert [n.get_attribute("data-rule") for n in names.all()] == ["Holiday", "Office"]
    assert _rule_names(rules_portal, "102") == ["Holiday", "Office"]


@pytest.mark.parametrize(
    ("at", "outcome", "decided", "day"),
    [
        (
            "2026-12-25T10:00",
            "voicemail",
            "Decided by 'Holiday' during Holidays",
            "Fri 25 Dec 2026",
        ),
        (
            "2026-12-22T10:00",
            "ring 15 s, then voicemail",
            "Decided by 'Office' during Open Hours",
            "Tue 22 Dec 2026",
        ),
    ],
)
def test_the_simulator_tells_a_holiday_from_open_hours(
    rules_portal: PortalServer, page: Any, at: str, outcome: str, decided: str, day: str
) -> None:
    log_in(page, rules_portal.url, "102@acme.example")
    page.goto(f"{rules_portal.url}/rules?at={at}&from=%2B15551234567")
    page.click("#rules-sim-run")
    expect(page.locator("#rules-sim-outcome")).to_have_text(outcome)
    expect(page.locator("#rules-sim-decided")).to_have_text(decided)
    expect(page.locator("#rules-sim-steps")).to_contain_text(f"at {day} 10:00 EST")


def test_home_shows_the_active_rule_and_the_override_changes_it(
    rules_portal: PortalServer, page: Any
) -> None:
    log_in(page, rules_portal.url, "103@acme.example")
    expect(page.locator("#home-rule-name")).to_have_text("Desk")
    expect(page.locator("#home-override-cancel")).to_be_disabled()
    _send_to(page, "home", "override", "Phone number", "+15550100")
    page.fill("#home-override-hours", "3")
    page.click("#home-override-on")
    expect(page.locator("#home-rule-name")).to_have_text("Manual override")
    expect(page.locator("#home-rule-do")).to_have_text("Forward all calls to number +15550100")
    expect(page.locator("#home-rule-until")).to_contain_text("until")
    page.click("#home-override-cancel")
    expect(page.locator("#home-rule-name")).to_have_text("Desk")
    page.get_by_text("Do not disturb", exact=True).click()
    page.click("#home-override-on")
    expect(page.locator("#home-rule-do")).to_have_text("Do not disturb, then voicemail")
    page.click("#home-override-cancel")
    expect(page.locator("#home-rule-name")).to_have_text("Desk")


def test_a_plain_user_cannot_edit_another_users_rules(
    rules_portal: PortalServer, page: Any
) -> None:
    log_in(page, rules_portal.url, "101@acme.example")
    page.goto(rules_portal.url + "/rules?user=102")
    expect(page.locator("#rules-subtitle")).to_have_text("Your rules, extension 101")
    expect(page.locator("#rules-user")).to_be_hidden()
    expect(page.locator('#rules-list [data-rule="Holiday"]')).to_have_count(0)

    # The same callback the Delete button calls, crafted to name 102 and 102's rule.
    store = ProvisioningStore(rules_portal.settings.provisioning_db)
    bob = store.user("acme.example", "102")
    holiday = next(r for r in store.routing_inputs(bob).rules if r.name == "Holiday")
    store.close()
    with http_session(rules_portal.url, "101@acme.example") as client:
        deps = client.get("/_dash-dependencies").json()
        dep = next(d for d in deps if "rules-delete" in json.dumps(d["inputs"]))
        outputs = [
            {"id": part.split(".")[0], "property": part.split(".", 1)[1]}
            for part in dep["output"].strip(".").split("...")
        ]
        rule_id = {"rule": holiday.id, "type": "rules-delete"}
        body = {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": [
                [],
                [],
                [{"id": rule_id, "property": "n_clicks", "value": 1}],
            ],
            "changedPropIds": [json.dumps(rule_id, separators=(",", ":")) + ".n_clicks"],
            "state": [
                {"id": "rules-user", "property": "value", "value": "102"},
                {"id": "rules-version", "property": "data", "value": 0},
            ],
        }
        response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.text
    assert "You can only see and edit your own answering rules" in response.text
    assert _rule_names(rules_portal, "102") == ["Holiday", "Office"]


def test_a_supervisor_picks_a_colleague_and_the_url_follows(
    rules_portal: PortalServer, page: Any
) -> None:
    log_in(page, rules_portal.url, "103@acme.example")
    page.goto(rules_portal.url + "/rules")
    expect(page.locator('#rules-list [data-rule="Desk"]')).to_be_visible()
    _pick(page, "#rules-user", "102 · Bob Builder")
    expect(page.locator("#rules-subtitle")).to_have_text("Rules of Bob Builder, extension 102")
    expect(page.locator("#rules-list [data-rule]")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/rules\?user=102$"))
    page.reload()  # the link shows the same view
    expect(page.locator("#rules-subtitle")).to_have_text("Rules of Bob Builder, extension 102")


def test_managers_see_main_numbers_and_users_do_not(rules_portal: PortalServer, page: Any) -> None:
    log_in(page, rules_portal.url, "101@acme.example")
    expect(page.locator("#shell-nav-rules")).to_be_visible()
    expect(page.locator("#shell-nav-numbers")).to_have_count(0)
    page.goto(rules_portal.url + "/numbers")
    expect(page.locator("#numbers-denied")).to_contain_text("Managers only")

    forget_session(page)
    log_in(page, rules_portal.url, "100@acme.example")
    page.click("#shell-nav-numbers")
    expect(page.locator("#numbers-empty")).to_be_visible()
    page.fill("#numbers-new-number", "+15551230000")
    page.fill("#numbers-new-name", "Main line")
    page.click("#numbers-add")
    card = page.locator('[data-number="+15551230000"]')
    expect(card).to_contain_text("Main line")
    card.get_by_role("button", name="Add route").click()
    page.fill("#numbers-route-name", "Open")
    _pick(page, "#numbers-route-frame", "Open Hours")
    _send_to(page, "numbers", "route", "Auto attendant", "1")
    page.click("#numbers-route-save")
    expect(card.locator('[data-route="Open"]')).to_contain_text("auto attendant 1")
    expect(page.locator("#numbers-saved")).to_be_visible()
