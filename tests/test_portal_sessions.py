"""Portal sessions end when they should, everywhere: a copied cookie is no way back in.

The session is a signed cookie the server cannot recall, so these tests keep a
copy of one (as a thief or a second browser would) and check what the copy
may still do after a sign-out, a password change, a manager's reset, a role
change, disabling and removal. One real portal (gunicorn, two workers, so a
session ended in one worker is refused by the other) serves the module; each
test signs in as an extension of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory, make_settings, seed
from tests.fixtures.portal import PortalServer, http_session, start_portal, stop_portal

T = "acme.example"
PASSWORD = Directory.PASSWORD
COOKIE = "switchboard_session"


@pytest.fixture(scope="module")
def sessions_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalServer]:
    settings = make_settings(tmp_path_factory.mktemp("sessions-portal") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    store.close()
    server = start_portal(settings)
    yield server
    stop_portal(server)


@contextmanager
def _store(server: PortalServer) -> Iterator[ProvisioningStore]:
    store = ProvisioningStore(server.settings.provisioning_db)
    try:
        yield store
    finally:
        store.close()


def _add(server: PortalServer, extension: str, role: str = "user") -> None:
    with _store(server) as store:
        store.add_user(tenant=T, extension=extension, name=f"Person {extension}", email="",
                       password=PASSWORD, sip_password="sip-secret-1", role=role)  # fmt: skip


@contextmanager
def _copy_of(client: httpx.Client) -> Iterator[httpx.Client]:
    """Another client holding a copy of ``client``'s session cookie, as taken now."""
    cookie = client.cookies.get(COOKIE)
    assert cookie, client.cookies
    with httpx.Client(base_url=str(client.base_url), timeout=10.0) as copy:
        copy.cookies.set(COOKIE, cookie)
        yield copy


def _signed_in(client: httpx.Client) -> bool:
    """True when ``client``'s session is honoured; False when refused as a signed-out one."""
    answer = client.get("/_dash-layout")
    assert answer.status_code in (200, 401), answer.status_code
    return answer.status_code == 200


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _layout_token(client: httpx.Client) -> str:
    """The sign-out form's CSRF token, from the shell the way the browser gets it."""
    text = client.get("/_dash-layout").text
    match = re.search(
        r'"name":\s*"csrf_token"[^{}]*?"value":\s*"([^"]+)"'
        r'|"value":\s*"([^"]+)"[^{}]*?"name":\s*"csrf_token"',
        text,
    )
    assert match, text[:500]
    return match.group(1) or match.group(2)


def _change_password(client: httpx.Client, current: str, new: str) -> str:
    """Press Change password on Profile, as the page's callback is POSTed; the answer's text."""
    deps = client.get("/_dash-dependencies").json()
    dep = next(
        d for d in deps
        if any(i["id"] == "profile-password-save" for i in d["inputs"])
    )  # fmt: skip
    values = {"profile-current": current, "profile-new": new, "profile-repeat": new}
    outputs = [
        {"id": part.rpartition(".")[0], "property": part.rpartition(".")[2]}
        for part in dep["output"].strip(".").split("...")
    ]
    body = {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [{**i, "value": 1} for i in dep["inputs"]],
        "state": [{**s, "value": values.get(s["id"])} for s in dep["state"]],
        "changedPropIds": ["profile-password-save.n_clicks"],
    }
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.text
    return answer.text


def _sign_in(base: str, login: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=10.0) as client:
        form = client.get("/login").text
        return client.post(
            "/login",
            data={"login": login, "password": password, "csrf_token": _form_token(form)},
        )


def test_a_cookie_copied_before_sign_out_is_refused_after_it(sessions_portal: PortalServer) -> None:
    _add(sessions_portal, "180")
    with http_session(sessions_portal.url, f"180@{T}") as browser, _copy_of(browser) as copy:
        assert _signed_in(copy)
        out = browser.post("/logout", data={"csrf_token": _layout_token(browser)})
        assert out.status_code == 302 and "signed_out" in out.headers["location"]
        assert not _signed_in(browser)
        # the copy gets what any signed-out request gets
        assert not _signed_in(copy)
        page = copy.get("/calls")
        assert page.status_code == 302 and page.headers["location"].startswith("/login")
        assert copy.get("/download/calls.csv").status_code == 302
        assert copy.post("/_dash-update-component", json={}).status_code == 401
    with http_session(sessions_portal.url, f"180@{T}") as again:  # signing in again works
        assert _signed_in(again)


def test_a_password_change_ends_the_other_sessions_and_keeps_the_changers(
    sessions_portal: PortalServer,
) -> None:
    _add(sessions_portal, "181")
    login = f"181@{T}"
    with (
        http_session(sessions_portal.url, login) as changer,
        http_session(sessions_portal.url, login) as other,
        _copy_of(changer) as copy_of_changer,
    ):
        assert _signed_in(other) and _signed_in(copy_of_changer)
        answer = _change_password(changer, PASSWORD, "brand-new-pass-1")
        assert "profile-password-changed" in answer
        assert _signed_in(changer)  # re-stamped by the callback's answer
        assert not _signed_in(other)
        assert not _signed_in(copy_of_changer)  # its cookie from before the change
    assert _sign_in(sessions_portal.url, login, "brand-new-pass-1").status_code == 302
    assert _sign_in(sessions_portal.url, login, PASSWORD).status_code == 401


def test_a_wrong_current_password_ends_nothing(sessions_portal: PortalServer) -> None:
    _add(sessions_portal, "182")
    with (
        http_session(sessions_portal.url, f"182@{T}") as changer,
        http_session(sessions_portal.url, f"182@{T}") as other,
    ):
        answer = _change_password(changer, "not-the-password", "brand-new-pass-1")
        assert "profile-password-error" in answer
        assert _signed_in(changer) and _signed_in(other)


def test_after_a_reset_only_the_one_time_password_reaches_the_password_form(
    sessions_portal: PortalServer,
) -> None:
    _add(sessions_portal, "183")
    login = f"183@{T}"
    with http_session(sessions_portal.url, login) as before:
        with _store(sessions_portal) as store:
            code = store.reset_password(T, "183", hours=1)
        # the session from before the reset is signed out: no form, no choosing
        page = before.get("/password")
        assert page.status_code == 302 and page.headers["location"].startswith("/login")
        chosen = before.post(
            "/password",
            data={"csrf_token": "x", "password": "stolen-pass-99", "repeat": "stolen-pass-99"},
        )
        assert chosen.status_code == 401
        assert not _signed_in(before)
    assert _sign_in(sessions_portal.url, login, "stolen-pass-99").status_code == 401
    with (
        http_session(sessions_portal.url, login, code) as owner,
        http_session(sessions_portal.url, login, code) as second,
    ):
        form = owner.get("/password")
        assert form.status_code == 200
        done = owner.post(
            "/password",
            data={"csrf_token": _form_token(form.text), "password": "owners-pass-1",
                  "repeat": "owners-pass-1", "next": "/"},
        )  # fmt: skip
        assert done.status_code == 302 and done.headers["location"] == "/"
        assert _signed_in(owner)
        assert not _signed_in(second)  # choosing the password ends the other sessions
    assert _sign_in(sessions_portal.url, login, "owners-pass-1").status_code == 302
    assert _sign_in(sessions_portal.url, login, code).status_code == 401


def test_a_role_change_and_disabling_end_the_users_sessions(sessions_portal: PortalServer) -> None:
    _add(sessions_portal, "184", role="supervisor")
    login = f"184@{T}"
    with http_session(sessions_portal.url, login) as client:
        with _store(sessions_portal) as store:
            store.update_user(T, "184", name="Renamed", role="supervisor")  # same rights
        assert _signed_in(client)
        with _store(sessions_portal) as store:
            store.update_user(T, "184", role="user")
        assert not _signed_in(client)
    with http_session(sessions_portal.url, login) as client:
        assert _signed_in(client)
        with _store(sessions_portal) as store:
            store.set_user_disabled(T, "184", True)
        assert not _signed_in(client)
        with _store(sessions_portal) as store:
            store.set_user_disabled(T, "184", False)
        assert not _signed_in(client)  # enabling again does not bring it back
    with http_session(sessions_portal.url, login) as client:
        assert _signed_in(client)


def test_a_removed_users_session_never_becomes_the_user_who_gets_their_id(
    sessions_portal: PortalServer,
) -> None:
    _add(sessions_portal, "185")
    with http_session(sessions_portal.url, f"185@{T}") as client:
        assert _signed_in(client)
        with _store(sessions_portal) as store:
            removed = store.user(T, "185")
            store.remove_user(T, "185", keep_days=0)
            store.purge_removed_mailboxes()
            store.add_user(tenant=T, extension="186", name="Next Manager", email="",
                           password="other-pass-1", sip_password="sip-secret-1",
                           role="manager")  # fmt: skip
            assert store.user(T, "186").id == removed.id  # SQLite reuses the highest rowid
        assert not _signed_in(client)


def test_the_store_bumps_the_version_once_per_ending(directory: Directory) -> None:
    store = directory.store
    first = store.user(T, "101")
    assert first.session_version != store.user(T, "102").session_version  # random starts
    store.end_sessions(first.id)
    assert store.user(T, "101").session_version == first.session_version + 1
    version = store.change_password(first.id, PASSWORD, "another-pass-1")
    assert version == store.user(T, "101").session_version == first.session_version + 2
    with pytest.raises(ProvisioningError):
        store.change_password(first.id, "wrong-password", "another-pass-2")
    store.update_user(T, "101", name="Same Rights")
    store.set_status_message(first.id, "at lunch")
    assert store.user(T, "101").session_version == version
