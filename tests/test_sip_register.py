"""REGISTER through a real Kamailio: digest auth against the provisioning DB."""

from __future__ import annotations

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.sip import register_at

pytestmark = pytest.mark.kamailio


def test_register_with_the_sip_password_shows_the_contact(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone:
        result = register_at(s, "102@acme.example", phone)
    assert result.returncode == 0, result.errors
    assert result.log_lines and "registered 102@acme.example" in result.log_lines[-1]

    [registration] = kamailio.rpc.registrations("102", "acme.example")
    assert registration.contact == f"sip:102@127.0.0.1:{phone.port}"
    assert registration.user_agent == "SIPp switchboard"
    assert 500 < registration.expires_in <= 600
    # tenants are separate: the same extension elsewhere is not registered
    assert kamailio.rpc.registrations("102", "globex.example") == []


def test_wrong_password_is_refused(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone:
        result = register_at(s, "102@acme.example", phone, password="not-the-password")
    assert result.returncode != 0
    assert "403" in result.errors
    assert kamailio.rpc.registrations("102", "acme.example") == []
