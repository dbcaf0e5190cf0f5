"""Only the media server may place a bridge leg without a password (route FROM_MEDIA).

Kamailio believes ``X-SB-Bridge`` only from a media worker's own SIP address
with the media secret. A phone that forges it (even with the right secret),
or the media port with a wrong key, gets 403 and 102's phone hears nothing;
the real thing reaches 102 with both bridge headers stripped. A phone's own
``X-SB-Origin-Call-ID`` never reaches the callee or the accounting row.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from kamailio.launcher import KamailioProcess, render_dispatcher_list
from switchboard.sip_trust import media_secret
from tests.fixtures.core import make_settings
from tests.fixtures.sip import cdr_rows
from tests.security.raw_sip import SDP, Listener, RawSip, header

pytestmark = [pytest.mark.kamailio]


def _bridge_invite(sender: RawSip, key: str, origin: str = "orig-1@test") -> bytes:
    data, _ = sender.request(
        "INVITE",
        "sip:102@acme.example",
        from_uri="sip:101@acme.example",
        extra=(
            f"X-SB-Bridge: tenant=acme.example;identity=101@acme.example;key={key}\n"
            f"X-SB-Origin-Call-ID: {origin}"
        ),
        body=SDP,
    )
    return data


def _invites(phone: Listener, wait: float = 1.0) -> list[bytes]:
    time.sleep(wait)
    return [d for d in phone.requests() if d.startswith(b"INVITE")]


def test_a_phone_forging_the_bridge_header_gets_403_and_reaches_nobody(
    kamailio: KamailioProcess, silent_phone: Listener
) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port)) as forger:  # any port but the media server's
        forger.send(_bridge_invite(forger, media_secret(s)))  # even with the right secret
        assert forger.final() == 403
    assert _invites(silent_phone) == []


def test_the_media_port_with_a_wrong_key_gets_403(
    kamailio: KamailioProcess, silent_phone: Listener
) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port), port=s.media_port) as forger:
        forger.send(_bridge_invite(forger, "not-the-secret"))
        assert forger.final() == 403
        forger.send(_bridge_invite(forger, ""))
        assert forger.final() == 403
    assert _invites(silent_phone) == []


def test_the_media_server_reaches_102_without_its_headers(
    kamailio: KamailioProcess, silent_phone: Listener
) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port), port=s.media_port) as media:
        media.send(_bridge_invite(media, media_secret(s)))
        invite = _invites(silent_phone)[0]  # (retransmitted: 102 never answers)
    assert header(invite, "X-SB-Bridge") is None and header(invite, "X-SB-Origin-Call-ID") is None
    assert "sip:101@acme.example" in (header(invite, "From") or "")


def test_a_phones_origin_header_never_reaches_the_callee_or_the_row(
    kamailio: KamailioProcess, silent_phone: Listener
) -> None:
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port)) as caller:
        code, _ = caller.invite(
            "101", "acme.example", "sip-secret-1", "102", wait=1.0,
            extra="X-SB-Origin-Call-ID: smuggled@evil",
        )  # fmt: skip
    assert code in (None, 100, 180, 408, 480)
    invite = _invites(silent_phone)[0]
    assert header(invite, "X-SB-Origin-Call-ID") is None
    rows = cdr_rows(s, at_least=1, timeout=30)  # 102 never answers: ring timeouts first
    assert rows and all(r["origin_call_id"] is None for r in rows)


def test_the_dispatcher_lists_every_media_worker(tmp_path: object) -> None:
    settings = dataclasses.replace(
        make_settings(tmp_path / "d"),  # type: ignore[operator]
        media_port=6000,
        media_workers=3,
    )
    lines = [line for line in render_dispatcher_list(settings).splitlines() if line[0] != "#"]
    assert lines == [f"1 sip:{settings.media_host}:{p}" for p in (6000, 6001, 6002)]


def test_an_outside_number_goes_to_the_carrier_with_the_callers_number(
    kamailio: KamailioProcess,
) -> None:
    s = kamailio.settings
    carrier = Listener(s.trunk_host, s.trunk_port)
    try:
        with RawSip((s.sip_host, s.sip_port), port=s.media_port) as media:
            data, _ = media.request(
                "INVITE", "sip:+15557654321@acme.example", from_uri="sip:101@acme.example",
                extra=f"X-SB-Bridge: tenant=acme.example;identity=101@acme.example;"
                f"key={media_secret(s)}\nX-SB-Origin-Call-ID: orig-2@test",
                body=SDP,
            )  # fmt: skip
            media.send(data)
            time.sleep(1.0)
        invites = [d for d in carrier.requests() if d.startswith(b"INVITE")]
    finally:
        carrier.close()
    assert invites and invites[0].startswith(b"INVITE sip:+15557654321@")
    assert "sip:101@acme.example" in (header(invites[0], "From") or "")
    assert header(invites[0], "X-SB-Bridge") is None
