"""Malformed SIP (after RFC 4475's torture tests) must not take Kamailio down."""

from __future__ import annotations

import socket
import time

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.sip import call, cdr_rows, lake_calls, register_at

pytestmark = pytest.mark.kamailio


def _request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


VALID_HEAD = """INVITE sip:102@acme.example SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-torture-{n}
Max-Forwards: 70
From: <sip:101@acme.example>;tag=t{n}
To: <sip:102@acme.example>
Call-ID: torture-{n}@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:101@127.0.0.1:5999>
"""

TORTURE: dict[str, bytes] = {
    # RFC 4475 3.1.2.1 (clerr): Content-Length larger than the body
    "content_length_too_big": _request(
        VALID_HEAD.format(n=1) + "Content-Type: application/sdp\nContent-Length: 9999\n", b"v=0\r\n"
    ),
    # 3.1.2.7: negative Content-Length
    "content_length_negative": _request(VALID_HEAD.format(n=2) + "Content-Length: -999\n"),
    # 3.1.2.11 style: no Call-ID at all
    "missing_call_id": _request(
        VALID_HEAD.format(n=3).replace("Call-ID: torture-3@127.0.0.1\n", "") + "Content-Length: 0\n"
    ),
    # 3.1.2.12 (invut) / garbage request line
    "garbage_request_line": b"!interesting-Method0123456789_*+`.%indeed'~ \x01\x02 SIP/7.0\r\n\r\n",
    "not_sip_at_all": bytes(range(256)) * 4,
    # 3.1.2.4 (quotbal): display name with an unterminated quote
    "unterminated_display_name": _request(
        VALID_HEAD.format(n=5).replace(
            "From: <sip:101@acme.example>", 'From: "Bob <sip:101@acme.example>'
        )
        + "Content-Length: 0\n"
    ),
    # 3.1.1.12-ish: a header far larger than any sane phone sends
    "huge_header": _request(
        VALID_HEAD.format(n=6) + "Subject: " + "x" * 60000 + "\nContent-Length: 0\n"
    ),
    # 3.1.2.6 (scalarlg): CSeq and Max-Forwards out of range
    "scalar_too_large": _request(
        VALID_HEAD.format(n=7)
        .replace("CSeq: 1 INVITE", "CSeq: 36893488147419103232 INVITE")
        .replace("Max-Forwards: 70", "Max-Forwards: 300")
        + "Content-Length: 0\n"
    ),
    # 3.1.2.10 (escnull): NUL bytes inside headers
    "nul_in_header": _request(VALID_HEAD.format(n=8) + "Subject: a\x00b\nContent-Length: 0\n"),
    "empty_datagram_like": b"\r\n\r\n",
}


def test_torture_messages_leave_kamailio_serving(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for name, payload in TORTURE.items():
            sock.sendto(payload[:65000], (s.sip_host, s.sip_port))
            # anything Kamailio says back must be a SIP status line, never a crash
            sock.settimeout(0.3)
            try:
                reply, _ = sock.recvfrom(65535)
            except TimeoutError:
                continue
            assert reply.startswith(b"SIP/2.0 "), name
    time.sleep(0.3)

    assert kamailio.running, "kamailio died"
    assert kamailio.rpc.call("core.version").startswith("kamailio")
    # no half-parsed request became a call
    assert cdr_rows(s, at_least=0, timeout=0) == []

    with SippUAS(scenario("uas_answer.xml")) as phone_102:
        assert register_at(s, "102@acme.example", phone_102).returncode == 0
        result = call(s, "101@acme.example", "102@acme.example", duration_ms=200)
    assert list(result.finals.values()) == [200]
    [row] = cdr_rows(s)
    assert (row["call_id"], row["sip_code"]) == (next(iter(result.finals)), 200)
    assert [c["disposition"] for c in lake_calls(s, "acme.example")] == ["answered"]
