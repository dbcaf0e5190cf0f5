"""Contacts in headless Chromium: vCard and CSV imports with a preview, search, names on calls."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from dash_app.analytics_tables import AnalyticsQuery
from switchboard.settings import Settings
from tests.fixtures.portal import PortalServer, acc_call, build_lake, http_session, log_in

pytestmark = pytest.mark.browser

CARLA = "+15550100100"
VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carla Customer\r\nORG:Big Buyer Inc\r\n"
    "TEL;TYPE=WORK,VOICE:+1 (555) 010-0100\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Supplier;Sam;;;\r\nTEL;TYPE=CELL:555-0142\r\nEND:VCARD\r\n"
)
CSV = (
    "name,company,email,phone,mobile\n"
    "Dora Dealer,Dealers,dora@dealers.example,+44 20 7946 0000,\n"
    "Broken Row,,not-an-email,12345,\n"
    "Eve Engineer,,,,07700 900123\n"
)
CALLS = [
    acc_call("k01", "inbound", CARLA, "101", "2025-03-12 09:00:00", ring=20, sip_code=480),
    acc_call("k02", "inbound", "+15550109999", "101", "2025-03-12 10:00:00", ring=5, talk=30),
]


def upload(page: Any, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    page.locator("#contacts-upload input[type=file]").set_input_files(str(path))


def test_imports_are_previewed_then_searchable_and_name_calls(
    portal: PortalServer, settings: Settings, page: Any, tmp_path: Path
) -> None:
    build_lake(settings, CALLS)
    log_in(page, portal.url, "101@acme.example")
    page.goto(f"{portal.url}/contacts")
    expect(page.locator("#contacts-table")).to_contain_text("Mia Manager")  # company extensions

    upload(page, tmp_path, "cards.vcf", VCARD)
    expect(page.locator("#contacts-import-preview")).to_contain_text("2 contacts ready to import")
    page.click("#contacts-import-confirm")
    expect(page.locator("#contacts-imported")).to_have_text("Imported 2 contacts")

    upload(page, tmp_path, "list.csv", CSV)
    preview = page.locator("#contacts-import-preview")
    expect(preview).to_contain_text("2 contacts ready to import; 1 left out:")
    expect(page.locator("#contacts-import-errors")).to_contain_text("Line 3 (Broken Row)")
    page.click("#contacts-import-confirm")
    expect(page.locator("#contacts-imported")).to_have_text("Imported 2 contacts, 1 left out")

    page.fill("#contacts-search", "dealer")
    rows = page.locator("#contacts-table .sb-contact-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Dora Dealer")
    page.fill("#contacts-search", "5550100100")  # digits find the number however it was typed
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Carla Customer")

    page.goto(f"{portal.url}/calls?from=2025-03-12&to=2025-03-12")
    expect(page.locator('#calls-grid .ag-row[row-id="k01"]')).to_contain_text("Carla Customer")

    query = AnalyticsQuery.from_url({"from": "2025-03-12", "to": "2025-03-12"}, "America/New_York")
    qs = urlencode(query[0].to_url())
    with http_session(portal.url, "101@acme.example") as client:
        worklist = list(csv.DictReader(io.StringIO(
            client.get(f"/download/analytics/callbacks.csv?{qs}").text
        )))  # fmt: skip
    assert [(r["number"], r["caller_name"]) for r in worklist] == [
        ("15550100100", "Carla Customer")
    ]
    # 101's personal contacts name nothing for the manager
    with http_session(portal.url, "100@acme.example") as client:
        seen = list(csv.DictReader(io.StringIO(
            client.get(f"/download/analytics/callbacks.csv?{qs}").text
        )))  # fmt: skip
    assert [r["caller_name"] for r in seen] == [""]
