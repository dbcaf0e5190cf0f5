"""A disabled user's phones are refused by the real Kamailio, and enabled again work again.

Disabling moves the user's ``subscriber`` row aside (Kamailio's auth_db reads
only that table) and ``kamailio.user_state.forget_user`` drops the phones
already registered, so the user's calls stop ringing them at once.
"""

from __future__ import annotations

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rpc import KamailioRPC, RPCFault
from kamailio.traffic import register
from kamailio.user_state import forget_user
from tests.fixtures.core import Directory
from tests.fixtures.sip import account
from tests.security.raw_sip import Listener

pytestmark = pytest.mark.kamailio

T = "acme.example"


def _registered(kamailio: KamailioProcess, ext: str) -> int:
    with KamailioRPC(kamailio.settings.rpc_url) as rpc:
        return len(rpc.registrations(ext, T))


def test_a_disabled_user_cannot_register_and_is_unregistered(
    kamailio: KamailioProcess, directory: Directory
) -> None:
    phone = Listener()
    try:
        contact = f"127.0.0.1:{phone.port}"
        assert register(kamailio.settings, [account(f"102@{T}")], contact).returncode == 0
        assert _registered(kamailio, "102") == 1

        directory.store.set_user_disabled(T, "102", True)
        assert forget_user(kamailio.settings, T, "102", removed=False)
        assert _registered(kamailio, "102") == 0
        refused = register(kamailio.settings, [account(f"102@{T}")], contact, timeout=5)
        assert refused.returncode != 0

        directory.store.set_user_disabled(T, "102", False)
        assert register(kamailio.settings, [account(f"102@{T}")], contact).returncode == 0
        assert _registered(kamailio, "102") == 1

        # a removed user: refused too, and their decision is gone from Kamailio
        directory.store.remove_user(T, "102", keep_days=30)
        assert forget_user(kamailio.settings, T, "102", removed=True)
        assert _registered(kamailio, "102") == 0
        assert _decision(kamailio, f"{T}:101") and not _decision(kamailio, f"{T}:102")
        gone = register(kamailio.settings, [account(f"102@{T}")], contact, timeout=5)
        assert gone.returncode != 0
    finally:
        phone.close()


def _decision(kamailio: KamailioProcess, key: str) -> bool:
    """True when Kamailio's rules htable holds ``key``."""
    with KamailioRPC(kamailio.settings.rpc_url) as rpc:
        try:
            return bool(rpc.call("htable.get", "rules", key))
        except RPCFault:
            return False
