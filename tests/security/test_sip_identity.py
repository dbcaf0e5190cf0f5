"""Who calls, and where a call goes, come from authentication and our routing, never from
what a phone writes (an audit through the real Kamailio, 2026-12; each test failed before).

Measured before the fix: a phone's ``P-Asserted-Identity``, ``Remote-Party-ID`` and
``Diversion`` reached the callee's phone, and the carrier through a forward to a number; a
phone that registered ``sip:+1555…@<carrier>`` had every call to its extension placed with
the carrier, accounted as internal; inside its own call a phone's in-dialog INVITE to
``sip:+1900…@<carrier>`` was relayed from our address. The carrier is a UDP listener (the
one stand-in), the phones raw SIP (:mod:`tests.security.sip_phone`).
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import push_user
from switchboard.rules import AnsweringRule, Destination
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.sip import cdr_rows
from tests.security.raw_sip import Listener, header
from tests.security.sip_phone import SipPhone

pytestmark = [pytest.mark.kamailio]

ACME = "acme.example"
FORGED = (
    "P-Asserted-Identity: <sip:100@acme.example>",
    "P-Preferred-Identity: <sip:+12125550100@acme.example>",
    "Remote-Party-ID: <sip:100@globex.example>;party=calling;screen=yes",
    "Diversion: <sip:+12125550100@acme.example>;reason=unconditional",
    "History-Info: <sip:100@acme.example>;index=1",
)
IDENTITY_HEADERS = ("P-Asserted-Identity", "P-Preferred-Identity", "Remote-Party-ID",
                    "Diversion", "History-Info")  # fmt: skip


def login(ext: str) -> tuple[str, str, str]:
    return ext, ACME, Directory.SIP_PASSWORD


def phone(kamailio: KamailioProcess, made: list[SipPhone], *, answer: bool = True) -> SipPhone:
    new = SipPhone((kamailio.settings.sip_host, kamailio.settings.sip_port), answer=answer)
    made.append(new)
    return new


def arrived(listener: Listener, call_id: str) -> list[bytes]:
    return [d for d in listener.requests() if header(d, "Call-ID") == call_id]


def test_a_phone_s_identity_headers_reach_neither_the_callee_nor_the_carrier(
    kamailio: KamailioProcess, directory: Directory, trunk: Listener, phones: list[SipPhone]
) -> None:
    bob = phone(kamailio, phones)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    caller = phone(kamailio, phones)
    code, call_id, _ = caller.request("INVITE", f"sip:102@{ACME}", login=login("101"),
                                      extra=FORGED)  # fmt: skip
    assert code == 200
    [invite] = bob.requests("INVITE", call_id)
    # the URI as the caller's, the name the directory's (tests/security/test_sip_display_names.py)
    assert (header(invite, "From") or "").startswith('"Front Desk" <sip:101@acme.example>')
    assert [h for h in IDENTITY_HEADERS if header(invite, h)] == []

    # a forward to a number: the carrier sees our caller ID and our Diversion only
    sue = directory.users[f"103@{ACME}"]
    directory.store.save_rule(sue, AnsweringRule(
        "Mobile", 1, None, forward_always=Destination("number", "+15550002222")))  # fmt: skip
    push_user(kamailio.settings, directory.store, sue)
    code, call_id, _ = caller.request("INVITE", f"sip:103@{ACME}", login=login("101"),
                                      extra=FORGED, wait=3.0)  # fmt: skip
    invite = arrived(trunk, call_id)[0]  # (retransmitted: the listener never answers)
    assert invite.startswith(b"INVITE sip:+15550002222@")
    assert not any(header(invite, h) for h in IDENTITY_HEADERS[:3] + IDENTITY_HEADERS[4:])
    assert header(invite, "Diversion") == "<sip:103@acme.example>;reason=unconditional"


def test_a_phone_cannot_register_the_carrier_as_where_its_calls_go(
    kamailio: KamailioProcess, directory: Directory, trunk: Listener, phones: list[SipPhone]
) -> None:
    s = kamailio.settings
    mia = phone(kamailio, phones)
    carrier = f"sip:+15550004444@{s.trunk_host}:{s.trunk_port}"
    assert mia.register("100", ACME, Directory.SIP_PASSWORD, contact=carrier) == 403
    media = f"sip:x@{s.media_host}:{s.media_port}"
    assert mia.register("100", ACME, Directory.SIP_PASSWORD, contact=media) == 403
    named = f"sip:+15550004444@localhost:{s.trunk_port}"  # a name resolves to anything
    assert mia.register("100", ACME, Directory.SIP_PASSWORD, contact=named) == 403
    # a second Contact in one REGISTER passes the first look: its branch is dropped
    both = f"sip:phone@{mia.host}:{mia.port}>, <{carrier}"
    assert mia.register("100", ACME, Directory.SIP_PASSWORD, contact=both) == 200
    caller = phone(kamailio, phones)
    code, call_id, _ = caller.request("INVITE", f"sip:100@{ACME}", login=login("101"))
    assert code == 200  # Mia's own phone answered
    assert mia.requests("INVITE", call_id)
    assert arrived(trunk, call_id) == []


def test_inside_its_own_call_a_phone_cannot_reach_the_carrier(
    kamailio: KamailioProcess, directory: Directory, trunk: Listener, phones: list[SipPhone]
) -> None:
    s = kamailio.settings
    bob = phone(kamailio, phones)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    caller = phone(kamailio, phones)
    code, call_id, dialog = caller.request("INVITE", f"sip:102@{ACME}", login=login("101"))
    assert code == 200 and dialog is not None
    premium = f"sip:+19005550199@{s.trunk_host}:{s.trunk_port}"
    caller.send(caller.build(
        "INVITE", premium, from_uri=dialog.from_uri, to_uri=dialog.to_uri, call_id=call_id,
        from_tag=dialog.from_tag, to_tag=dialog.to_tag, cseq=10, routes=dialog.routes,
    ))  # fmt: skip
    # the call itself still works: its BYE reaches Bob
    caller.send(caller.build(
        "BYE", f"sip:phone@{bob.host}:{bob.port}", from_uri=dialog.from_uri,
        to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag,
        to_tag=dialog.to_tag, cseq=11, routes=dialog.routes,
    ))  # fmt: skip
    deadline = time.monotonic() + 2.0
    while not bob.requests("BYE", call_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bob.requests("BYE", call_id)
    assert arrived(trunk, call_id) == []


@pytest.mark.parametrize("natted", [False, True], ids=["phone", "natted-phone"])
def test_a_simultaneous_ring_to_a_number_rings_the_carrier_and_stays_a_phone_call(
    kamailio: KamailioProcess,
    directory: Directory,
    trunk: Listener,
    phones: list[SipPhone],
    natted: bool,
) -> None:
    """The number's branch is appended while the R-URI is the phone's (its flags, and a
    natted phone's address): it goes to the carrier all the same. Answered by the phone,
    the call has no carrier end: an in-dialog INVITE to the carrier is refused."""
    bob = phone(kamailio, phones)
    contact = "sip:phone@192.168.1.50:5060" if natted else None  # behind NAT: "received"
    assert bob.register("102", ACME, Directory.SIP_PASSWORD, contact=contact) == 200
    user = directory.users[f"102@{ACME}"]
    directory.store.save_rule(user, AnsweringRule("Both", 1, None, simultaneous=("+15550002222",)))
    push_user(kamailio.settings, directory.store, user)
    caller = phone(kamailio, phones)
    code, call_id, dialog = caller.request(
        "INVITE", f"sip:102@{ACME}", login=login("101"), extra=FORGED
    )
    assert code == 200 and dialog is not None
    to_carrier = arrived(trunk, call_id)
    assert to_carrier and to_carrier[0].startswith(b"INVITE sip:+15550002222@")
    assert not any(header(to_carrier[0], h) for h in IDENTITY_HEADERS)
    assert [
        d for d in bob.requests("INVITE", call_id) if b"+15550002222" in d.split(b"\r\n")[0]
    ] == []
    s = kamailio.settings
    before = len(arrived(trunk, call_id))
    caller.send(caller.build(
        "INVITE", f"sip:+19005550199@{s.trunk_host}:{s.trunk_port}", from_uri=dialog.from_uri,
        to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag, to_tag=dialog.to_tag,
        cseq=10, routes=dialog.routes,
    ))  # fmt: skip
    time.sleep(1.0)
    assert [d for d in arrived(trunk, call_id)[before:] if d.startswith(b"INVITE")] == []


def test_the_carrier_s_address_is_the_carrier_on_every_port(
    settings: Settings, directory: Directory
) -> None:
    """A carrier trusts our address, not a port (sips: with no port is 5061); an IPv4
    address written as IPv6 compares unequal to it. The carrier here has its own address."""
    kam = KamailioProcess(dataclasses.replace(settings, trunk_host="127.0.0.2"))
    kam.start()
    mia = SipPhone((kam.settings.sip_host, kam.settings.sip_port))
    try:
        for contact in (
            "sip:+15550004444@127.0.0.2:5090",
            "sips:+15550004444@127.0.0.2",
            "sip:+15550004444@127.0.0.2:7000;transport=tls",
            f"sip:+15550004444@[::ffff:127.0.0.1]:{mia.port}",
        ):
            assert mia.register("100", ACME, Directory.SIP_PASSWORD, contact=contact) == 403
        assert mia.register("100", ACME, Directory.SIP_PASSWORD) == 200  # its own: fine
    finally:
        mia.close()
        kam.stop()


def test_what_a_caller_writes_is_stored_as_written_and_no_more(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    """Measured before: {sql.val} escapes a quote MySQL's way, which SQLite does not read,
    so "O'Brien" lost a batch of call records and a crafted name wrote rows of its own."""
    bob = phone(kamailio, phones, answer=False)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    caller = phone(kamailio, phones)
    crafted = (  # closes the string the old escaping opened, adds a row, hides the rest
        "x'),('forged','victim.example','inbound','+1900',NULL,NULL,NULL,NULL,NULL,"
        "1,1,1,200,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL) --"
    )
    names = ["Mary O'Brien", crafted, "Zoë 'Z' O'Neil"]
    agents = ("User-Agent: it's \\ a phone \\' --",)
    calls = [
        caller.request("INVITE", f"sip:102@{ACME}", login=login("101"), display=name,
                       extra=agents, wait=2.0)[1]
        for name in names
    ]  # fmt: skip
    rows = cdr_rows(kamailio.settings, at_least=3, timeout=10.0)
    assert [r["call_id"] for r in rows] == calls  # nothing lost, nothing forged
    assert [r["caller_name"] for r in rows] == names
    assert {r["user_agent"] for r in rows} == {"it's \\ a phone \\' --"}
    assert {r["tenant"] for r in rows} == {ACME}


def test_a_user_s_phones_have_a_few_calls_open_at_once(
    settings: Settings, directory: Directory
) -> None:
    """A stolen SIP password or a looping script placed ~100 calls a second; the flood
    limit is per address. The third open call of a user is refused; a hang-up frees one."""
    kam = KamailioProcess(dataclasses.replace(settings, sip_max_calls_per_user=2))
    kam.start()
    made: list[SipPhone] = []
    try:
        bob = phone(kam, made)
        assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
        caller = phone(kam, made)
        calls = [caller.request("INVITE", f"sip:102@{ACME}", login=login("101")) for _ in range(3)]
        assert [code for code, _, _ in calls] == [200, 200, 486]
        assert b"Too Many Calls" in next(
            d for d in caller.received if b"486" in d.split(b"\r\n")[0]
        )
        assert phone(kam, made).request("INVITE", f"sip:101@{ACME}", login=login("102"))[0] != 486
        _, call_id, dialog = calls[0]
        assert dialog is not None
        caller.send(caller.build(
            "BYE", f"sip:phone@{bob.host}:{bob.port}", from_uri=dialog.from_uri,
            to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag,
            to_tag=dialog.to_tag, cseq=11, routes=dialog.routes,
        ))  # fmt: skip
        time.sleep(0.5)
        assert caller.request("INVITE", f"sip:102@{ACME}", login=login("101"))[0] == 200
    finally:
        for p in made:
            p.close()
        kam.stop()
