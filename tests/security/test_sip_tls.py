"""SIP over TLS: a phone registers and calls over TLS, verifying Kamailio's certificate.

The launcher made a self-signed certificate for ``sip_host`` under the data
dir (setting ``sip_tls_cert`` empty); the phone trusts exactly that file, so
the handshake also proves Kamailio serves the configured certificate. SIPp
here is built without TLS, so the phone is Python's ``ssl`` over the raw SIP
client; the callee is a SIPp phone on UDP (Kamailio bridges the transports).
"""

from __future__ import annotations

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.tls_cert import tls_paths
from kamailio.traffic import SippUAS, scenario
from tests.fixtures.core import Directory
from tests.fixtures.sip import cdr_rows, register_at
from tests.security.raw_sip import TlsSip, header, headers, status_code

pytestmark = pytest.mark.kamailio


def test_a_phone_registers_and_calls_over_tls(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    cert, key = tls_paths(s)
    assert cert.is_file() and key.stat().st_mode & 0o077 == 0
    with SippUAS(scenario("uas_answer.xml")) as bob_phone:
        assert register_at(s, "102@acme.example", bob_phone).returncode == 0
        with TlsSip((s.sip_host, s.sip_tls_port), cafile=str(cert)) as alice:
            assert alice.register("101", "acme.example", Directory.SIP_PASSWORD) == 200
            code, call_id = alice.invite(
                "101", "acme.example", Directory.SIP_PASSWORD, "102", wait=5.0
            )
            assert code == 200
            [ok] = [d for d in alice.received if status_code(d) == 200 and b"INVITE" in d]
            routes = list(reversed(headers(ok, "Record-Route")))
            assert any("transport=tls" in r for r in routes)
            contact = header(ok, "Contact")
            to = header(ok, "To")
            from_tag = (header(ok, "From") or "").split("tag=")[1]
            assert contact is not None and to is not None
            for method, cseq in (("ACK", 2), ("BYE", 3)):
                data, _ = alice.request(
                    method, contact.strip("<>").split(">")[0], from_uri="sip:101@acme.example",
                    from_tag=from_tag, to_uri="sip:102@acme.example",
                    to_tag=to.split("tag=")[1], route=", ".join(routes), call_id=call_id,
                    cseq=cseq,
                )  # fmt: skip
                alice.send(data)
            assert alice.final(5.0) == 200  # Bob's 200 to the BYE, back over TLS
    [row] = cdr_rows(s)
    assert (row["call_id"], row["sip_code"], row["answered_by"]) == (call_id, 200, "102")
