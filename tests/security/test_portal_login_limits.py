"""The portal's front door on a real network: login limits, timing, proxies, cookies, body size."""

from __future__ import annotations

import re
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from dash_app.auth import install_auth
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory, make_settings, seed
from tests.fixtures.portal import PortalServer, http_session

WRONG = "wrong extension@domain or password"
LOCKED = "too many failed attempts"


# -- the store's three counters --
def _fail(store: ProvisioningStore, login: str, address: str, **limits: int) -> str:
    with pytest.raises(ProvisioningError) as refused:
        store.authenticate(login, "not-the-password", address, 5, 300, **limits)
    return str(refused.value)


def test_one_address_trying_many_accounts_is_stopped(directory: Directory) -> None:
    store = directory.store
    for ext in ("101", "102", "103", "100"):
        assert _fail(store, f"{ext}@acme.example", "198.51.100.7", per_address=4) == WRONG
    with pytest.raises(ProvisioningError, match=LOCKED):  # even the right password of a fifth
        store.authenticate(
            "100@globex.example", Directory.PASSWORD, "198.51.100.7", 5, 300, per_address=4
        )
    assert store.authenticate(
        "100@globex.example", Directory.PASSWORD, "198.51.100.8", 5, 300, per_address=4
    )


def test_one_account_guessed_from_many_addresses_is_stopped(directory: Directory) -> None:
    store = directory.store
    for i in range(6):
        assert _fail(store, "102@acme.example", f"203.0.113.{i}", per_account=6) == WRONG
    with pytest.raises(ProvisioningError, match=LOCKED):
        store.authenticate(
            "102@acme.example", Directory.PASSWORD, "192.0.2.200", 5, 300, per_account=6
        )
    # other accounts are not locked by it
    assert store.authenticate("101@acme.example", Directory.PASSWORD, "192.0.2.200", 5, 300)


def test_guesses_racing_in_parallel_get_no_more_than_the_limit(
    directory: Directory, settings: Settings
) -> None:
    """Workers and threads each check a guess at once (argon2 takes ~0.1 s): each guess
    takes its slot before its password is checked, so 8 at once still get only 3 checks."""
    import threading

    outcomes: list[str] = []
    start = threading.Barrier(8)

    def guess() -> None:
        own = ProvisioningStore(settings.provisioning_db)  # as each worker has its own
        try:
            start.wait()
            outcomes.append(_fail(own, "102@acme.example", "198.51.100.9"))
        finally:
            own.close()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # _fail allows 5 from one address: at most 5 guesses reach the password check.
    locked = [o for o in outcomes if o.startswith(LOCKED)]
    assert outcomes.count(WRONG) == 5 and len(locked) == 3, outcomes
    with pytest.raises(ProvisioningError, match=LOCKED):  # even the right one, now
        directory.store.authenticate("102@acme.example", Directory.PASSWORD, "198.51.100.9", 5, 300)


def test_an_unknown_login_takes_as_long_as_a_wrong_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No user enumeration by timing: both cost one Argon2 verification."""
    from switchboard.store import passwords

    # Costly enough (~10-30 ms) that the hash, not SQLite, decides the time.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=2, memory_cost=32768))
    store = ProvisioningStore(settings.provisioning_db)
    try:
        store.add_tenant("acme.example", "America/New_York")
        store.add_user(
            tenant="acme.example",
            extension="101",
            name="Front Desk",
            email="101@acme.example",
            password=Directory.PASSWORD,
            sip_password=Directory.SIP_PASSWORD,
        )

        def seconds(login: str) -> float:
            start = time.perf_counter()
            with pytest.raises(ProvisioningError, match="wrong"):
                store.authenticate(login, "guess-guess", "192.0.2.1", 10_000, 300)
            return time.perf_counter() - start

        seconds("nobody@acme.example")  # the dummy hash is made once, on first use
        known, unknown = [], []
        for _ in range(9):  # interleaved, so load on the shared CPU hits both alike
            known.append(seconds("101@acme.example"))
            unknown.append(seconds("999@acme.example"))
            unknown.append(seconds("101@nowhere.example"))
    finally:
        store.close()
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (statistics.median(unknown), statistics.median(known))


# -- the Flask side: proxies and cookies, on a bare app with the portal's auth --
@pytest.fixture
def auth_app(tmp_path: Path) -> Iterator[Any]:
    """``make(**settings)``: a Flask app with only the portal's auth, over a seeded store."""
    stores: list[ProvisioningStore] = []

    def make(**overrides: object) -> Flask:
        settings = make_settings(tmp_path / f"data{len(stores)}", **overrides)
        store = ProvisioningStore(settings.provisioning_db)
        seed(store)
        stores.append(store)
        app = Flask("auth-only")
        install_auth(app, settings)
        return app

    yield make
    for store in stores:
        store.close()


def _login(client: Any, login: str, password: str, forwarded_for: str | None = None) -> Any:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    form = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token.group(1)},
        headers=headers,
    )


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(auth_app: Any) -> None:
    # gunicorn on the portal's port itself; behind the portal's own front the header is
    # the front's (tests/security/test_portal_front.py)
    client = auth_app(login_max_attempts=3, portal_front=False).test_client()
    for i in range(3):  # a new made-up address each time: all one peer all the same
        assert _login(client, "101@acme.example", "guess", f"198.51.100.{i}").status_code == 401
    refused = _login(client, "101@acme.example", Directory.PASSWORD, "198.51.100.99")
    assert refused.status_code == 401
    assert "Too many failed attempts" in refused.get_data(as_text=True)


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_address(auth_app: Any) -> None:
    client = auth_app(login_max_attempts=3, portal_proxy_hops=1, portal_front=False).test_client()
    for _ in range(3):
        assert _login(client, "101@acme.example", "guess", "198.51.100.1").status_code == 401
    locked = _login(client, "101@acme.example", Directory.PASSWORD, "198.51.100.1")
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    # the colleague behind the same proxy, at another address, still signs in
    assert _login(client, "101@acme.example", Directory.PASSWORD, "198.51.100.2").status_code == 302


@pytest.mark.parametrize("https", [False, True])
def test_the_session_cookie_is_secure_when_served_over_https(auth_app: Any, https: bool) -> None:
    client = auth_app(portal_https=https).test_client()
    response = _login(client, "101@acme.example", Directory.PASSWORD)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is https


# -- a body over the limit is refused before it is read --
def test_a_huge_upload_is_refused_with_413_before_it_is_read(seeded_portal: PortalServer) -> None:
    """Claim 64 MB more than the limit, send 1 KB: the answer comes at once, unread."""
    limit = seeded_portal.settings.portal_max_request_mb * 2**20
    with http_session(seeded_portal.url, "101@acme.example") as client:
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    host, port = seeded_portal.settings.portal_host, seeded_portal.settings.portal_port
    request = (
        (
            "POST /_dash-update-component HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"Cookie: {cookie}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {limit + 64 * 2**20}\r\n\r\n"
        ).encode()
        + b'{"output": "voicemail-greeting-feedback.children", "inputs": ['
        + b" " * 1024
    )
    with socket.create_connection((host, port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(request)
        answer = sock.recv(4096).decode(errors="replace")
        waited = time.monotonic() - started
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert waited < 5


def test_guesses_at_an_account_do_not_lock_its_owner_out_of_a_browser_they_used(
    auth_app: Any,
) -> None:
    """50 wrong passwords from 10 addresses kept a chosen user out for 5 minutes, even with
    the right password, as often as they were sent. The owner's browser, which has signed
    in as them before, still gets in; a new browser (a guesser's) does not."""
    from dash_app.known_browsers import KNOWN_COOKIE

    app = auth_app(login_max_attempts_per_account=6, portal_proxy_hops=1, portal_front=False)
    owner = app.test_client()
    assert _login(owner, "103@acme.example", Directory.PASSWORD, "192.0.2.50").status_code == 302
    owner.delete_cookie(app.config["SESSION_COOKIE_NAME"])  # signed out; the browser stays
    attacker = app.test_client()
    for target in ("103@acme.example", "102@acme.example"):
        for i in range(6):
            assert _login(attacker, target, "guess", f"198.51.100.{i}").status_code == 401
    newcomer = app.test_client()
    newcomer.set_cookie(KNOWN_COOKIE, "103@acme.example")  # not signed by the portal
    refused = _login(newcomer, "103@acme.example", Directory.PASSWORD, "192.0.2.60")
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    assert _login(owner, "103@acme.example", Directory.PASSWORD, "192.0.2.50").status_code == 302
    owner.delete_cookie(app.config["SESSION_COOKIE_NAME"])
    # the cookie speaks for the login it was given for only
    other = _login(owner, "102@acme.example", Directory.PASSWORD, "192.0.2.50")
    assert "Too many failed attempts" in other.get_data(as_text=True)
