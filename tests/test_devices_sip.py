"""Device credentials through a real Kamailio: each speaks for its extension only, revoked alone."""

from __future__ import annotations

import pytest

from kamailio.devices import by_username, forget_device, live_registrations, record_presence
from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.core import Directory
from tests.fixtures.sip import register_at, register_device

pytestmark = pytest.mark.kamailio
T = "acme.example"


def test_a_device_registers_its_extension_and_is_revoked_alone(
    kamailio: KamailioProcess, directory: Directory
) -> None:
    s = kamailio.settings
    store = directory.store
    desk = store.add_device(T, "101", "Desk")
    mobile = store.add_device(T, "101", "Mobile")
    with SippUAS(scenario("uas_answer.xml")) as a, SippUAS(scenario("uas_answer.xml")) as b:
        assert register_device(s, "101", desk.device.username, desk.password, a).returncode == 0
        assert register_device(s, "101", mobile.device.username, mobile.password, b).returncode == 0
        # the device's credentials speak for 101 only
        posing = register_device(s, "102", desk.device.username, desk.password, a)
        assert posing.returncode != 0 and "403" in posing.errors
        assert kamailio.rpc.registrations("102", T) == []
        # the extension's own credential works as before
        assert register_at(s, "103@acme.example", a).returncode == 0

        live = by_username(live_registrations(s), T)
        assert set(live) == {"101-desk", "101-mobile", "103"}
        assert live["101-desk"][0].contact == f"sip:101@127.0.0.1:{a.port}"
        assert live["101-desk"][0].user_agent == "SIPp switchboard"
        assert record_presence(s, store) == 2
        assert all(d.last_seen_at for d in store.devices(T, "101"))

        store.revoke_device(T, desk.device.username)
        assert forget_device(s, T, desk.device.username)
        contacts = [r.contact for r in kamailio.rpc.registrations("101", T)]
        assert contacts == [f"sip:101@127.0.0.1:{b.port}"]  # the mobile stays
        again = register_device(s, "101", desk.device.username, desk.password, a)
        assert again.returncode != 0 and "403" in again.errors
