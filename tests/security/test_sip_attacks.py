"""An attacker outside every tenant, one UDP packet at a time: Kamailio is no open relay.

Measured before the fix (issue 9): ``INVITE sip:+19005550100@<trunk>`` with a
To-tag and ``Route: <sip:<kamailio>;lr>``, no credentials, reached the carrier
from Kamailio's own address. Here the real Kamailio and the real media server
run; the carrier is a UDP listener (the one stand-in); the phone is a UDP
listener registered (digest auth) by SIPp as 102. Every forged in-dialog
request, of every method, to each of them must arrive nowhere, write no CDR,
and be answered 481 (ACK: silence) with a log line. A real dialog (an
authenticated call to the carrier) still carries its ACK and BYE.
"""

from __future__ import annotations

import pytest

from kamailio.launcher import KamailioProcess
from tests.fixtures.core import Directory
from tests.fixtures.media import MediaServerThread
from tests.fixtures.sip import cdr_rows
from tests.security.raw_sip import SDP, Listener, RawSip, header, response_to, status_code

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

IN_DIALOG_METHODS = ("INVITE", "BYE", "ACK", "MESSAGE", "UPDATE", "INFO", "NOTIFY", "REFER")


@pytest.fixture
def media_inbox(media_server: MediaServerThread) -> list[bytes]:
    """Every SIP message the real media server receives (a spy in front of its handler)."""
    assert media_server.server is not None and media_server.server._uas is not None
    transport = media_server.server._uas.transport
    seen: list[bytes] = []
    handler = transport.on_message

    def spy(msg: object, addr: tuple[str, int]) -> None:
        seen.append(bytes(msg))  # type: ignore[call-overload]
        assert handler is not None
        handler(msg, addr)  # type: ignore[arg-type]

    transport.on_message = spy
    return seen


def _targets(kamailio: KamailioProcess, phone: Listener) -> dict[str, str]:
    s = kamailio.settings
    return {
        "trunk": f"sip:+19005550100@{s.trunk_host}:{s.trunk_port}",
        "voicemail": f"sip:vm-acme.example-102@{s.media_host}:{s.media_port}",
        "mailbox": f"sip:vmaccess-acme.example@{s.media_host}:{s.media_port}",
        "phone": f"sip:102@127.0.0.1:{phone.port}",
    }


def test_the_relay_packet_of_issue_9_reaches_nobody(
    kamailio: KamailioProcess,
    trunk: Listener,
    silent_phone: Listener,
    media_server: MediaServerThread,
    media_inbox: list[bytes],
) -> None:
    s = kamailio.settings
    own_route = f"<sip:{s.sip_host}:{s.sip_port};lr>"
    forged_cookie = f"<sip:{s.sip_host}:{s.sip_port};lr;ftag=f1;did=a1b.c2d>"
    answers: dict[str, int | None] = {}
    with RawSip((s.sip_host, s.sip_port)) as attacker:
        for name, ruri in _targets(kamailio, silent_phone).items():
            for method in IN_DIALOG_METHODS:
                for route in (own_route, forged_cookie):
                    data, _ = attacker.request(
                        method, ruri, to_tag="x", route=route,
                        body=SDP if method == "INVITE" else "",
                    )  # fmt: skip
                    attacker.send(data)
                    wait = 0.2 if method == "ACK" else 3.0  # a final reply ends the wait
                    answers[f"{method} {name} {route}"] = attacker.final(wait)
            # the same without a To-tag: an initial request wants credentials
            for method in ("INVITE", "MESSAGE", "BYE"):
                data, _ = attacker.request(method, ruri, route=own_route)
                attacker.send(data)
                answers[f"initial {method} {name}"] = attacker.final(3.0)

    forged = {k: v for k, v in answers.items() if not k.startswith(("initial", "ACK"))}
    assert set(forged.values()) == {481}, forged
    assert {v for k, v in answers.items() if k.startswith("ACK")} == {None}
    assert {v for k, v in answers.items() if k.startswith("initial")} <= {401, 407, 403, 405}

    assert cdr_rows(s, at_least=1, timeout=1.5) == []
    assert trunk.received == []
    assert silent_phone.requests() == []
    assert media_inbox == []
    log = kamailio.log_path.read_text(errors="replace")
    assert "unknown dialog" in log


def test_a_real_dialog_still_carries_its_ack_and_bye(
    kamailio: KamailioProcess, trunk: Listener
) -> None:
    """101 calls an outside number (digest auth); the carrier answers; ACK and BYE reach it."""
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port)) as alice:
        code, call_id = alice.invite("101", "acme.example", Directory.SIP_PASSWORD, "+19005550100")
        assert code is None  # nobody answered yet: the INVITE is at the carrier
        invite = next(d for d in trunk.requests() if d.startswith(b"INVITE "))  # or retransmitted
        assert header(invite, "Call-ID") == call_id
        contact = f"sip:+19005550100@{s.trunk_host}:{s.trunk_port}"
        trunk.sock.sendto(
            response_to(invite, 200, "OK", to_tag="carrier1", contact=contact),
            (s.sip_host, s.sip_port),
        )
        [ok] = [d for d in alice.replies(2.0, until_final=True) if status_code(d) == 200]
        routes = header(ok, "Record-Route")
        assert routes is not None
        to = header(ok, "To")
        assert to is not None and "carrier1" in to
        tag = header(ok, "From").split("tag=")[1]  # type: ignore[union-attr]
        for method, cseq in (("ACK", 2), ("BYE", 3)):
            data, _ = alice.request(
                method, contact, from_uri="sip:101@acme.example", from_tag=tag,
                to_uri="sip:+19005550100@acme.example", to_tag="carrier1", route=routes,
                call_id=call_id, cseq=cseq,
            )  # fmt: skip
            alice.send(data)
        deadline_methods = {b"ACK", b"BYE"}
        for _ in range(20):
            got = {d.split(b" ", 1)[0] for d in trunk.requests()}
            if deadline_methods <= got:
                break
            alice.replies(0.1)
        assert deadline_methods <= {d.split(b" ", 1)[0] for d in trunk.requests()}
