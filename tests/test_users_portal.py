"""Users and Profile in Chromium: a manager runs the office, a new user takes over their account.

One portal serves the module; each test uses its own extensions:

* 100 (manager) adds 150, who signs in with the one-time password, must
  choose a new one, then edits their profile;
* 100 imports a CSV with broken rows (refused), then the fixed file (2xx);
* 100 removes 102 (the consequences stated) and switches 103's saved rule on from Home;
* 101 (a plain user) reaches neither Users nor the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from switchboard.routing import read_decision
from switchboard.rules import AnsweringRule
from switchboard.store import ProvisioningError, ProvisioningStore
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

T = "acme.example"


@pytest.fixture(scope="module")
def users_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    settings = make_settings(tmp_path_factory.mktemp("users-portal") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    directory = seed(store)
    store.save_rule(directory.users["103@acme.example"], AnsweringRule("Desk", 10))
    store.save_rule(directory.users["103@acme.example"], AnsweringRule("Lunch", 20, dnd=True))
    store.add_did(T, "+15551230000", "Main line")
    store.close()
    server = start_portal(settings)
    yield server
    stop_portal(server)


def _store(server: PortalServer) -> ProvisioningStore:
    return ProvisioningStore(server.settings.provisioning_db)


def _pick(page: Any, select: str, option: str) -> None:
    page.locator(select).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_a_new_user_signs_in_once_chooses_a_password_and_edits_their_profile(
    users_portal: PortalServer, page: Any
) -> None:
    base = users_portal.url
    log_in(page, base, "100@acme.example")
    page.goto(base + "/users")
    expect(page.locator("#users-row-101")).to_contain_text("Front Desk")
    page.click("#users-add-open")
    page.fill("#users-ext", "150")
    page.fill("#users-name", "Nina New")
    page.fill("#users-email", "nina@acme.example")
    page.get_by_placeholder("Choose main numbers").click()
    page.get_by_role("option", name="+15551230000 (Main line)", exact=True).click()
    page.keyboard.press("Escape")
    page.click("#users-save")
    code = page.locator("#users-added-code").inner_text(timeout=30_000)
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code)
    expect(page.locator("#users-row-150")).to_contain_text("Nina New")
    page.fill("#users-search", "nina")
    expect(page.locator("#users-list tbody tr")).to_have_count(1)

    forget_session(page)
    log_in(page, base, "150@acme.example", code)
    page.wait_for_url(re.compile(r".*/password\?next=.*"))
    # nothing else is reachable meanwhile
    assert page.request.get(base + "/_dash-layout").status == 403
    page.fill("#password-new", "nina-own-pass")
    page.fill("#password-repeat", "nina-0wn-pass")
    page.click("#password-submit")
    expect(page.locator("#password-error")).to_have_text("The two passwords differ.")
    page.fill("#password-new", "nina-own-pass")
    page.fill("#password-repeat", "nina-own-pass")
    page.click("#password-submit")
    page.wait_for_url(base + "/")
    expect(page.locator("#home-title")).to_have_text("Welcome, Nina New")

    page.goto(base + "/profile")
    page.fill("#profile-name", "Nina Newton")
    _pick(page, "#profile-callerid", "+15551230000 (Main line)")
    page.click("#profile-save")
    expect(page.locator("#profile-saved")).to_be_visible()
    page.fill("#profile-current", "wrong-password")
    page.fill("#profile-new", "nina-next-pass")
    page.fill("#profile-repeat", "nina-next-pass")
    page.click("#profile-password-save")
    expect(page.locator("#profile-password-error")).to_have_text("The current password is wrong")
    page.get_by_label("Colleagues").uncheck()
    page.click("#profile-prefs-save")
    expect(page.locator("#profile-prefs-saved")).to_be_visible()
    page.goto(base + "/")
    expect(page.locator("#home-colleagues-section")).to_be_hidden()
    expect(page.locator("#home-recent-section")).to_be_visible()

    store = _store(users_portal)
    nina = store.user(T, "150")
    assert (nina.name, nina.caller_id, nina.must_change_password) == (
        "Nina Newton", "+15551230000", False
    )  # fmt: skip
    store.authenticate(f"150@{T}", "nina-own-pass", "192.0.2.7", 100, 300)
    with pytest.raises(ProvisioningError):
        store.authenticate(f"150@{T}", code, "192.0.2.7", 100, 300)


BROKEN = b"""extension,name,email,role,timezone
201,Ann One,ann@acme.example,user,
202,Ben Two,ben@acme.example,agent,Europe/Berlin
203,Cat Three,cat@acme.example,user,
204,Dan Four,not-an-email,user,
205,Eve Five,eve@acme.example,boss,
"""
DUPLICATE_MID_FILE = b"""extension,name,email,role
211,Fay,,user
102,Gus,,user
212,Hal,,user
"""
FIXED = b"""extension,name,email,role,timezone
201,Ann One,ann@acme.example,user,
202,Ben Two,ben@acme.example,agent,Europe/Berlin
203,Cat Three,cat@acme.example,user,
204,Dan Four,dan@acme.example,user,
205,Eve Five,eve@acme.example,supervisor,
"""


def _upload(page: Any, name: str, data: bytes) -> None:
    page.set_input_files(
        "#users-import-upload input[type=file]",
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}],
    )


def test_bulk_import_previews_errors_refuses_them_and_adds_a_fixed_file(
    users_portal: PortalServer, page: Any
) -> None:
    base = users_portal.url
    log_in(page, base, "100@acme.example")
    page.goto(base + "/users")
    _upload(page, "broken.csv", BROKEN)
    summary = page.locator("#users-import-summary")
    expect(summary).to_have_attribute("data-errors", "2")
    expect(page.locator("#users-import-table .users-import-error")).to_have_count(2)
    expect(page.locator("#users-import-table")).to_contain_text("role 'boss' must be one of")
    expect(page.locator("#users-import-confirm")).to_be_disabled()

    _upload(page, "duplicate.csv", DUPLICATE_MID_FILE)
    expect(summary).to_have_attribute("data-errors", "1")
    expect(page.locator("#users-import-table")).to_contain_text("extension 102 already exists")
    expect(page.locator("#users-import-confirm")).to_be_disabled()
    existing = {u.extension for u in _store(users_portal).users(T)}
    assert existing.isdisjoint({"201", "211", "212"})

    _upload(page, "fixed.csv", FIXED)
    expect(summary).to_have_attribute("data-errors", "0")
    page.click("#users-import-confirm")
    # five Argon2id hashes: seconds on a loaded machine
    expect(page.locator("#users-imported")).to_contain_text("Imported 5 users", timeout=60_000)
    expect(page.locator("#users-row-205")).to_contain_text("Supervisor")
    store = _store(users_portal)
    assert {"201", "202", "203", "204", "205"} <= {u.extension for u in store.users(T)}
    assert store.user(T, "202").timezone == "Europe/Berlin"

    with page.expect_download() as download:
        page.click("#users-export")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("extension,name,email,role,timezone,status\n")
    assert "205,Eve Five,eve@acme.example,supervisor,America/New_York,enabled" in text


def test_removal_states_its_consequences_and_the_only_manager_stays(
    users_portal: PortalServer, page: Any
) -> None:
    base = users_portal.url
    log_in(page, base, "100@acme.example")
    page.goto(base + "/users")
    page.click('[id=\'{"ext":"100","type":"users-remove"}\']')
    expect(page.locator("#users-remove-consequences")).to_contain_text("call history stays")
    page.click("#users-remove-confirm")
    expect(page.locator("#users-remove-alert")).to_contain_text("only manager of acme.example")
    page.click("#users-remove-cancel")

    page.click('[id=\'{"ext":"102","type":"users-remove"}\']')
    _pick(page, "#users-remove-heir", "Move to 101 (Front Desk)")
    page.click("#users-remove-confirm")
    expect(page.locator("#users-removed")).to_contain_text("mailbox reassigned to 101")
    expect(page.locator("#users-row-102")).to_have_count(0)

    page.click('[id=\'{"ext":"101","type":"users-toggle"}\']')
    expect(page.locator("#users-disabled")).to_be_visible()
    expect(page.locator("#users-row-101")).to_have_attribute("data-disabled", "1")
    page.click('[id=\'{"ext":"101","type":"users-reset"}\']')
    code = page.locator("#users-reset-done-code").inner_text()
    page.click('[id=\'{"ext":"101","type":"users-toggle"}\']')
    expect(page.locator("#users-row-101")).to_have_attribute("data-disabled", "0")
    _store(users_portal).authenticate(f"101@{T}", code, "192.0.2.8", 100, 300)


def test_home_switches_on_a_saved_rule_for_a_time(users_portal: PortalServer, page: Any) -> None:
    log_in(page, users_portal.url, "103@acme.example")
    expect(page.locator("#home-rule-name")).to_have_text("Desk")
    page.get_by_text("One of my rules", exact=True).click()
    _pick(page, "#home-override-rule", "Lunch")
    page.click("#home-override-on")
    expect(page.locator("#home-rule-name")).to_have_text("Manual override")
    expect(page.locator("#home-rule-do")).to_contain_text("Do not disturb")
    page.click("#home-override-cancel")
    expect(page.locator("#home-rule-name")).to_have_text("Desk")


def test_a_plain_user_reaches_neither_users_nor_the_export(
    users_portal: PortalServer, page: Any
) -> None:
    base = users_portal.url
    log_in(page, base, "103@acme.example")
    page.goto(base + "/users")
    expect(page.locator("#users-denied")).to_be_visible()
    expect(page.locator("#users-list")).to_have_count(0)
    expect(page.locator("#shell-nav-users")).to_have_count(0)
    with http_session(base, "103@acme.example") as client:
        assert client.get("/download/users.csv").status_code == 403
    assert httpx.get(base + "/download/users.csv").status_code == 302


def test_a_disabled_users_open_session_ends_at_their_next_request(
    users_portal: PortalServer,
) -> None:
    store = _store(users_portal)
    store.add_user(tenant=T, extension="170", name="Soon Gone", email="",
                   password="portal-pass-1", sip_password="sip-secret-1")  # fmt: skip
    with http_session(users_portal.url, "170@acme.example") as client:
        assert client.get("/").status_code == 200
        store.set_user_disabled(T, "170", True)
        after = client.get("/")
        assert after.status_code == 302 and after.headers["location"].startswith("/login")
        assert client.post("/_dash-update-component", json={}).status_code == 401


def test_a_manager_sets_a_users_caller_id_among_the_numbers_allowed(
    users_portal: PortalServer, page: Any
) -> None:
    """Users → Edit: allow a main number and choose it; Kamailio's decision carries it at once."""
    base = users_portal.url
    log_in(page, base, "100@acme.example")
    page.goto(base + "/users")
    page.click('[id=\'{"ext":"103","type":"users-edit"}\']')
    expect(page.locator("#users-name")).to_have_value(re.compile(".+"))
    # nothing allowed yet: only the default is on offer
    page.locator("#users-callerid").click()
    expect(page.get_by_role("option", name="+15551230000 (Main line)", exact=True)).to_have_count(0)
    page.keyboard.press("Escape")
    page.get_by_placeholder("Choose main numbers").click()
    page.get_by_role("option", name="+15551230000 (Main line)", exact=True).click()
    page.keyboard.press("Escape")
    _pick(page, "#users-callerid", "+15551230000 (Main line)")
    page.click("#users-save")
    expect(page.locator("#users-saved")).to_be_visible()
    store = _store(users_portal)
    assert store.user(T, "103").caller_id == "+15551230000"
    assert read_decision(store.decisions()[f"{T}:103"])["caller_id"] == "+15551230000"

    # withdrawing the number takes the choice back to the default, in Kamailio too
    page.click('[id=\'{"ext":"103","type":"users-edit"}\']')
    expect(page.locator("#users-callerid")).to_have_value("+15551230000 (Main line)")
    page.locator("#users-callerids").click()  # a picked option, clicked again, is withdrawn
    page.get_by_role("option", name="+15551230000 (Main line)", exact=True).click()
    page.keyboard.press("Escape")
    expect(page.locator("#users-callerid")).to_have_value("Default (their extension)")
    page.click("#users-save")
    # the first save's banner is still up: the editor closing is what says this one is done
    expect(page.locator("#users-callerid")).to_be_hidden()
    expect(page.locator("#users-saved")).to_be_visible()
    assert read_decision(_store(users_portal).decisions()[f"{T}:103"])["caller_id"] == ""
