"""The portal's HTTP edges without a browser: the guard, the login form, the export scope."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from pipeline.schema import EXPORT_COLUMNS
from tests.fixtures.core import Directory
from tests.fixtures.portal import (
    ACME_CALLS,
    CALLS_OF_101,
    GLOBEX_CALLS,
    PortalServer,
    http_session,
)


def _csv_call_ids(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r["call_id"] for r in rows]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_dash-layout"),
        ("GET", "/_dash-dependencies"),
        ("POST", "/_dash-update-component"),
        ("GET", "/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js"),
    ],
)
def test_anonymous_dash_endpoints_are_refused(
    seeded_portal: PortalServer, method: str, path: str
) -> None:
    response = httpx.request(method, seeded_portal.url + path, json={}, timeout=5)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/", "/calls?direction=inbound", "/download/calls.csv"])
def test_anonymous_pages_and_downloads_redirect_to_login(
    seeded_portal: PortalServer, path: str
) -> None:
    response = httpx.get(seeded_portal.url + path, timeout=5)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("/login?next=")
    assert "c01" not in response.text


def test_login_sets_a_safe_session_cookie_and_refuses_external_next(
    seeded_portal: PortalServer,
) -> None:
    client = httpx.Client(base_url=seeded_portal.url, timeout=5)
    form = client.get("/login?next=//evil.example/steal").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    assert 'value="/"' in form  # the external next was dropped from the form
    response = client.post(
        "/login",
        data={
            "login": "101@acme.example",
            "password": Directory.PASSWORD,
            "csrf_token": token.group(1),
            "next": "https://evil.example/",
        },
    )
    assert response.status_code == 302
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_without_the_csrf_token_is_refused(seeded_portal: PortalServer) -> None:
    response = httpx.post(
        seeded_portal.url + "/login",
        data={"login": "101@acme.example", "password": Directory.PASSWORD},
        timeout=5,
    )
    assert response.status_code == 400
    assert "form expired" in response.text


def test_a_plain_users_export_holds_only_their_calls_whatever_the_url(
    seeded_portal: PortalServer,
) -> None:
    with http_session(seeded_portal.url, "101@acme.example") as client:
        everything = client.get("/download/calls.csv")
        assert everything.status_code == 200
        assert everything.headers["content-type"].startswith("text/csv")
        assert "attachment" in everything.headers["content-disposition"]
        header = everything.text.splitlines()[0]
        assert header.replace('"', "").split(",") == list(EXPORT_COLUMNS)
        assert set(_csv_call_ids(everything.text)) == CALLS_OF_101
        others = client.get("/download/calls.csv?extension=102")
        assert set(_csv_call_ids(others.text)) == {"c01", "c02", "c03"}  # never c04, c06


def test_managers_export_the_whole_tenant_and_never_another(seeded_portal: PortalServer) -> None:
    with http_session(seeded_portal.url, "100@acme.example") as client:
        assert set(_csv_call_ids(client.get("/download/calls.csv").text)) == ACME_CALLS
        ext_102 = client.get("/download/calls.csv?extension=102").text
        assert set(_csv_call_ids(ext_102)) == {"c01", "c02", "c03", "c04", "c06"}
    with http_session(seeded_portal.url, "100@globex.example") as client:
        assert set(_csv_call_ids(client.get("/download/calls.csv").text)) == GLOBEX_CALLS


def test_a_bad_export_filter_is_a_clear_400(seeded_portal: PortalServer) -> None:
    with http_session(seeded_portal.url, "101@acme.example") as client:
        response = client.get("/download/calls.csv?from=2025-03-12&to=2025-03-01")
        assert response.status_code == 400
        assert "is after" in response.json()["error"]
