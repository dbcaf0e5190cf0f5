"""Floods, scanners and password guessing get silence; everyone else is served.

Kamailio runs with small limits (the settings of this module's ``settings``):
20 requests per 2 s per address, a ban of ``BAN_SECONDS`` after 3 failed
digest auths. Each attacker has its own loopback address (127.0.0.x: the whole
range reaches Kamailio on 127.0.0.1), so a second address shows that only the
offender is cut off. Kamailio's own address is never limited (the media server
and the existing SIP tests speak from it), so no attacker here uses 127.0.0.1.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.testbed import make_settings
from kamailio.launcher import KamailioProcess
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.security.raw_sip import RawSip

pytestmark = pytest.mark.kamailio

BAN_SECONDS = 3
PASSWORD = Directory.SIP_PASSWORD


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The seeded directory's settings, with limits a test reaches in a second."""
    return make_settings(
        tmp_path / "data",
        sip_flood_window_seconds=2,
        sip_flood_max_requests=20,
        sip_auth_failures_max=3,
        sip_ban_seconds=BAN_SECONDS,
    )


def _options(sender: RawSip, user_agent: str = "flood-test") -> bytes:
    data, _ = sender.request("OPTIONS", f"sip:{sender.kamailio[0]}", user_agent=user_agent)
    return data


def test_a_flood_is_cut_off_while_another_address_still_registers(
    kamailio: KamailioProcess,
) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port), host="127.0.0.3") as flooder:
        for _ in range(200):
            flooder.send(_options(flooder))
        answered = len(flooder.replies(1.0))
        assert 20 <= answered < 100  # pike blocks between 1x and 3x the density
        flooder.send(_options(flooder))
        assert flooder.replies(0.5) == []  # banned: silence
        with RawSip((s.sip_host, s.sip_port), host="127.0.0.2") as office:
            assert office.register("101", "acme.example", PASSWORD) == 200
    assert "flood from 127.0.0.3" in kamailio.log_path.read_text(errors="replace")


@pytest.mark.parametrize("user_agent", ["friendly-scanner", "sipvicious 0.3", "sipcli/v1.8"])
def test_a_scanner_gets_no_reply_at_all(kamailio: KamailioProcess, user_agent: str) -> None:
    s = kamailio.settings
    for host in ("127.0.0.1", "127.0.0.6"):
        with RawSip((s.sip_host, s.sip_port), host=host) as scanner:
            scanner.send(_options(scanner, user_agent))
            data, _ = scanner.request(
                "INVITE", "sip:100@acme.example", from_uri="sip:100@acme.example",
                user_agent=user_agent,
            )  # fmt: skip
            scanner.send(data)
            data, _ = scanner.request(
                "REGISTER", "sip:acme.example", from_uri="sip:101@acme.example",
                to_uri="sip:101@acme.example", user_agent=user_agent,
            )  # fmt: skip
            scanner.send(data)
            assert scanner.replies(0.8) == []


def test_password_guessing_bans_the_address_for_the_ban_time(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port), host="127.0.0.4") as guesser:
        assert [guesser.register("101", "acme.example", f"guess-{n}") for n in range(3)] == [
            403
        ] * 3
        # banned now: even the right password gets nothing
        assert guesser.register("101", "acme.example", PASSWORD, wait=1.0) is None
        with RawSip((s.sip_host, s.sip_port), host="127.0.0.5") as colleague:
            assert colleague.register("101", "acme.example", PASSWORD) == 200
        banned_at = time.monotonic()
        while time.monotonic() - banned_at < BAN_SECONDS + 25:
            if guesser.register("101", "acme.example", PASSWORD, wait=1.0) == 200:
                break
        waited = time.monotonic() - banned_at
    assert BAN_SECONDS - 1 <= waited < BAN_SECONDS + 25
    log = kamailio.log_path.read_text(errors="replace")
    assert "127.0.0.4 banned for 3 s after 3 failed auths" in log
