"""The phone-access lock in the portal: shown on the Voicemail settings tab, lifted by Unlock.

Only the mailbox owner and the tenant's managers see the tab of a mailbox,
so only they can unlock it; the callback re-checks that (a colleague or
another tenant's manager posting it gets a refusal and the lock stays).
Callbacks and the layout are called directly in a signed-in request.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
import pytest
from flask_login import login_user

from dash_app.auth import PortalUser
from dash_app.voicemail_settings import lock_notice
from switchboard.store import PinLock, PinLockPolicy, ProvisioningStore
from tests.fixtures.core import make_settings, seed

PIN = "4739"
POLICY = PinLockPolicy(max_failures=3, window_seconds=600, lock_seconds=1800)


def _texts(component: Any) -> str:
    """Every string in a rendered component tree, joined (what a person would read)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif hasattr(node, "children"):
            walk(node.children)
            for value in vars(node).values():
                if isinstance(value, dash.development.base_component.Component):
                    walk(value)

    walk(component)
    return " ".join(found)


def test_the_notice_says_until_when_and_after_how_many_wrong_pins() -> None:
    zone = ZoneInfo("America/New_York")
    until = datetime(2026, 12, 2, 14, 5, tzinfo=zone).timestamp()
    lock = PinLock(locked_at=until - 1800, locked_until=until, failures=5)
    same_day = _texts(lock_notice(lock, "America/New_York", now=until - 600))
    assert "Phone access locked until 14:05 after 5 wrong PINs." in same_day
    assert "Unlock" in same_day
    next_day = _texts(lock_notice(lock, "America/New_York", now=until - 86_400))
    assert "locked until Dec 2, 14:05" in next_day
    assert lock_notice(None, "UTC") is None


@pytest.fixture(scope="module")
def vm_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dash.Dash, Any]]:
    """An in-process portal (never served) whose 102 has a PIN."""
    from dash_app.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("pin-lock") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    store.set_voicemail_pin("acme.example", "102", PIN)
    yield create_app(settings), store
    store.close()


def _lock_102(store: ProvisioningStore) -> None:
    for wrong in ("1357", "2468", "1470"):
        store.check_voicemail_pin("acme.example", "102", wrong, POLICY)
    assert store.pin_lock("acme.example", "102") is not None


def _as(app: dash.Dash, store: ProvisioningStore, login: str) -> Any:
    extension, _, tenant = login.partition("@")
    ctx = app.server.test_request_context("/")
    ctx.push()
    login_user(PortalUser(store.user(tenant, extension)))
    return ctx


def _page() -> Any:
    return sys.modules["dash_app.pages.voicemail"]


def test_owner_sees_the_lock_on_the_settings_tab(vm_app: Any) -> None:
    app, store = vm_app
    _lock_102(store)
    ctx = _as(app, store, "102@acme.example")
    try:
        text = _texts(_page().layout())
    finally:
        ctx.pop()
    assert "Phone access locked until" in text and "after 3 wrong PINs." in text
    ctx = _as(app, store, "101@acme.example")  # their own box is open
    try:
        assert "Phone access locked" not in _texts(_page().layout())
    finally:
        ctx.pop()
    store.unlock_pin("acme.example", "102")


@pytest.mark.parametrize(
    ("login", "lifted"),
    [
        ("102@acme.example", True),  # the owner
        ("100@acme.example", True),  # a manager of the tenant
        ("101@acme.example", False),  # a colleague
        ("103@acme.example", False),  # a supervisor is not a manager
        ("100@globex.example", False),  # another tenant's manager
    ],
)
def test_only_the_owner_and_a_manager_unlock(vm_app: Any, login: str, lifted: bool) -> None:
    app, store = vm_app
    _lock_102(store)
    ctx = _as(app, store, login)
    try:
        answer = _texts(_page().unlock_phone_access(1, "102"))
    finally:
        ctx.pop()
    assert ("Phone access unlocked." in answer) is lifted
    assert (store.pin_lock("acme.example", "102") is None) is lifted
    assert store.check_voicemail_pin("acme.example", "102", PIN, POLICY) is lifted
    store.unlock_pin("acme.example", "102")
