"""Inside its own call a phone reaches the other end of that call, nowhere else (route
DIALOG_TARGET with PARTY_HOPS and HOP_LISTED, kamailio-dialogs.cfg; the real Kamailio).

Measured before the fix: a phone in a call sent an in-dialog MESSAGE (or INVITE) whose
Request-URI named any address, and Kamailio relayed it from its own address: a relay for
SIP to hosts of the caller's choosing (only the carrier was protected). Now each end of a
call is reached only where it is (the address its INVITE or answer came from, or its
Contact). The call itself still works both ways, behind NAT too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kamailio.launcher import KamailioProcess
from tests.fixtures.core import Directory
from tests.security.raw_sip import (
    Listener,
    RawSip,
    header,
    headers,
    response_to,
    status_code,
)
from tests.security.sip_dialogs import (
    callee_request,
    caller_contact,
    challenged_then,
    final_code,
    from_callee,
    from_caller,
    hang_up,
)
from tests.security.sip_phone import Dialog, SipPhone

pytestmark = [pytest.mark.kamailio]

ACME = "acme.example"


@pytest.fixture
def made(kamailio: KamailioProcess) -> Iterator[list[SipPhone | Listener]]:
    sockets: list[SipPhone | Listener] = []
    yield sockets
    for s in sockets:
        s.close()


def new_phone(
    kamailio: KamailioProcess, made: list[SipPhone | Listener], host: str = "127.0.0.1"
) -> SipPhone:
    phone = SipPhone((kamailio.settings.sip_host, kamailio.settings.sip_port), host=host)
    made.append(phone)
    return phone


def answered_call(
    kamailio: KamailioProcess,
    made: list[SipPhone | Listener],
    bob_contact: str | None = None,
    caller_contact: str | None = None,
) -> tuple[SipPhone, SipPhone, str, Dialog]:
    """101 calls 102's phone (on 127.0.0.3, another machine; registered with
    ``bob_contact``), which answers; the caller's INVITE names ``caller_contact``."""
    bob = new_phone(kamailio, made, host="127.0.0.3")
    assert bob.register("102", ACME, Directory.SIP_PASSWORD, contact=bob_contact) == 200
    caller = new_phone(kamailio, made)
    code, call_id, dialog = caller.request(
        "INVITE", f"sip:102@{ACME}", login=("101", ACME, Directory.SIP_PASSWORD),
        contact=caller_contact,
    )  # fmt: skip
    assert code == 200 and dialog is not None
    return caller, bob, call_id, dialog


def test_inside_its_call_a_phone_reaches_no_other_address(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    victim = Listener("127.0.0.2")  # another machine
    made.append(victim)
    caller, bob, call_id, dialog = answered_call(kamailio, made)
    elsewhere = f"sip:anyone@127.0.0.2:{victim.port}"

    from_caller(caller, dialog, call_id, "MESSAGE", elsewhere, 5)
    assert final_code(caller, call_id, 5) == 403
    from_callee(bob, call_id, "MESSAGE", elsewhere, 6)
    assert final_code(bob, call_id, 6) == 403
    time.sleep(0.5)
    assert victim.requests() == []

    # each end still reaches the other: a MESSAGE each way, then the caller hangs up
    from_caller(caller, dialog, call_id, "MESSAGE", f"sip:phone@{bob.host}:{bob.port}", 7)
    assert final_code(caller, call_id, 7) == 200
    from_callee(bob, call_id, "MESSAGE", caller_contact(bob, call_id), 8)
    assert final_code(bob, call_id, 8) == 200
    hang_up(caller, dialog, call_id, bob, 9)


def test_a_refused_bye_ends_nothing(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """Kamailio's dialog module ends a call on the BYE it routes: a BYE to an address that
    is no end of the call, refused after that, ended the call's accounting and call limit
    while the call went on, and the real hang-up then got 481 and never reached 102."""
    victim = Listener("127.0.0.2")
    made.append(victim)
    caller, bob, call_id, dialog = answered_call(kamailio, made)
    from_caller(caller, dialog, call_id, "BYE", f"sip:anyone@127.0.0.2:{victim.port}", 5)
    assert final_code(caller, call_id, 5) == 403
    time.sleep(0.3)
    assert victim.requests() == [] and not bob.requests("BYE", call_id)
    hang_up(caller, dialog, call_id, bob, 6)


def _bye_variants(victim: Listener, bob: SipPhone, ours: str) -> dict[str, tuple[str, str | None]]:
    """BYEs that could be checked for one address and sent to another: (Request-URI, Route
    set: None for the dialog's own, else one Route that replaces it)."""
    at_bob = f"sip:phone@{bob.host}:{bob.port}"
    at_victim = f"sip:phone@127.0.0.2:{victim.port}"
    via_victim = f"<sip:127.0.0.2:{victim.port};lr>"
    return {
        "a second Route to elsewhere": (at_bob, f"{ours}, {via_victim}"),
        "a Route to elsewhere first": (at_bob, f"{via_victim}, {ours}"),
        "an upper-case alias": (f"{at_victim};Alias={bob.host}~{bob.port}~1", None),
        "an alias without its protocol": (f"{at_victim};alias={bob.host}~{bob.port}", None),
        "an alias with a trailing character": (f"{at_victim};alias={bob.host}~{bob.port}~1x",
                                               None),
        "two aliases": (f"{at_bob};alias={bob.host}~{bob.port}~1;alias=127.0.0.2~{victim.port}~1",
                        None),
        "strict routing to us": (ours.strip("<>").replace(";lr", "")
                                 + f";alias={bob.host}~{bob.port}~1", via_victim),
    }  # fmt: skip


@pytest.mark.parametrize(
    "variant",
    [
        "a second Route to elsewhere",
        "a Route to elsewhere first",
        "an upper-case alias",
        "an alias without its protocol",
        "an alias with a trailing character",
        "two aliases",
        "strict routing to us",
    ],
)
def test_a_bye_goes_where_it_was_checked_for_or_nowhere(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener], variant: str
) -> None:
    """The review of the BYE check before loose_route(): each of these passed it naming
    102's address, then went to the victim (from our address) and ended the call."""
    victim = Listener("127.0.0.2")
    made.append(victim)
    caller, bob, call_id, dialog = answered_call(kamailio, made)
    ruri, route = _bye_variants(victim, bob, dialog.routes[0])[variant]
    caller.send(caller.build(
        "BYE", ruri, from_uri=dialog.from_uri, to_uri=dialog.to_uri, call_id=call_id,
        from_tag=dialog.from_tag, to_tag=dialog.to_tag, cseq=5,
        routes=dialog.routes if route is None else (route,),
    ))  # fmt: skip
    assert final_code(caller, call_id, 5) == 403
    time.sleep(0.3)
    assert victim.requests() == [] and not bob.requests("BYE", call_id)
    hang_up(caller, dialog, call_id, bob, 6)  # the call was still up


def test_a_bye_to_a_media_worker_s_address_is_no_way_around(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """A call without the media server: a BYE from another machine "to a media worker" was
    not checked for who sent it (the review), and ended the call's accounting."""
    caller, bob, call_id, dialog = answered_call(kamailio, made)
    s = kamailio.settings
    stranger = new_phone(kamailio, made, host="127.0.0.6")
    to_media = f"sip:x@{s.media_host}:{s.media_port}"
    stranger.send(stranger.build(
        "BYE", to_media, from_uri=dialog.from_uri, to_uri=dialog.to_uri, call_id=call_id,
        from_tag=dialog.from_tag, to_tag=dialog.to_tag, cseq=5, routes=dialog.routes,
    ))  # fmt: skip
    assert final_code(stranger, call_id, 5) == 407  # only the caller could go on
    from_caller(caller, dialog, call_id, "BYE", to_media, 6)  # the caller itself: no end there
    assert final_code(caller, call_id, 6) == 403
    hang_up(caller, dialog, call_id, bob, 7)


def test_a_natted_callee_is_reached_where_its_answer_came_from(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """102 registers a private Contact: its calls and in-dialog requests go where its
    packets come from (the alias), and the answer's address is where it is reached."""
    caller, bob, call_id, dialog = answered_call(
        kamailio, made, bob_contact="sip:phone@192.168.1.50:5060"
    )
    [answer] = [d for d in caller.received if status_code(d) == 200
                and header(d, "Call-ID") == call_id]  # fmt: skip
    bob_target = (header(answer, "Contact") or "").strip("<>").split(">")[0]
    from_callee(bob, call_id, "MESSAGE", caller_contact(bob, call_id), 6)
    assert final_code(bob, call_id, 6) == 200
    from_caller(caller, dialog, call_id, "BYE", bob_target, 7)
    assert final_code(caller, call_id, 7) == 200
    assert bob.requests("BYE", call_id)


@pytest.mark.parametrize("method", ["MESSAGE", "INVITE"])
def test_a_caller_naming_another_address_or_writing_the_callee_s_tags_reaches_nowhere(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener], method: str
) -> None:
    """The caller's INVITE names the victim as its Contact; it then sends as if it were the
    callee (From-tag = the callee's To-tag): the review of this fix relayed that."""
    victim = Listener("127.0.0.2")
    made.append(victim)
    there = f"sip:anyone@127.0.0.2:{victim.port}"
    caller, _bob, call_id, dialog = answered_call(kamailio, made, caller_contact=there)
    as_callee = caller.build(
        method, there, from_uri=dialog.to_uri, to_uri=dialog.from_uri, call_id=call_id,
        from_tag=dialog.to_tag, to_tag=dialog.from_tag, cseq=6, routes=dialog.routes,
    )  # fmt: skip
    # the callee's end from another address: only 102 could sign in for it (route ROAMED)
    assert challenged_then(caller, as_callee, call_id, "101") == 403
    from_caller(caller, dialog, call_id, method, there, 8)
    assert final_code(caller, call_id, 8) == 403
    time.sleep(0.5)
    assert victim.requests() == []


def test_a_carrier_whose_contact_names_a_host_gets_its_ack_and_bye(
    kamailio: KamailioProcess, directory: Directory, trunk: Listener
) -> None:
    """A call out answered by a carrier whose Contact is a host name (an SBC's): the end
    of the call the carrier answered for is reached there."""
    s = kamailio.settings
    with RawSip((s.sip_host, s.sip_port)) as alice:
        _, call_id = alice.invite("101", ACME, Directory.SIP_PASSWORD, "+19005550100")
        invite = next(d for d in trunk.requests() if d.startswith(b"INVITE "))
        contact = f"sip:+19005550100@localhost:{s.trunk_port}"
        answer = response_to(invite, 200, "OK", to_tag="carrier1", contact=contact)
        trunk.sock.sendto(answer, (s.sip_host, s.sip_port))
        [ok] = [d for d in alice.replies(2.0, until_final=True) if status_code(d) == 200]
        tag = (header(ok, "From") or "").split("tag=")[1]
        for method, cseq in (("ACK", 2), ("BYE", 3)):
            data, _ = alice.request(
                method, contact, from_uri=f"sip:101@{ACME}", from_tag=tag,
                to_uri=f"sip:+19005550100@{ACME}", to_tag="carrier1",
                route=header(ok, "Record-Route"), call_id=call_id, cseq=cseq,
            )  # fmt: skip
            alice.send(data)
        time.sleep(1.0)
    assert {b"ACK", b"BYE"} <= {d.split(b" ", 1)[0] for d in trunk.requests()}


def test_a_re_invite_from_a_new_port_moves_where_the_callee_is_reached(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """102's phone re-INVITEs from a new port of its address (a new NAT mapping, a new TCP
    connection): the caller's BYE follows it there."""
    caller, bob, call_id, dialog = answered_call(kamailio, made)
    moved = new_phone(kamailio, made, host=bob.host)  # same machine, another port

    def reinvite(phone: SipPhone, cseq: int) -> int | None:
        phone.send(
            callee_request(phone, bob, call_id, "INVITE", caller_contact(bob, call_id), cseq)
        )
        return final_code(phone, call_id, cseq)

    # holds and resumes from where it is (the review: their copies filled the list, and
    # a later move was not followed), then a new NAT mapping
    for cseq in range(20, 30):
        assert reinvite(bob, cseq) == 200
    assert reinvite(moved, 40) == 200
    hang_up(caller, dialog, call_id, moved, 9)


def test_a_phone_that_moves_to_another_address_is_followed_once_it_signs_in(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """102's softphone moves to another network mid-call (a new address, not only a new
    port): its re-INVITE is challenged and, signed in as 102, moves where 102 is reached,
    so the caller's BYE reaches it there. Another user's credentials, or none, move
    nothing; the caller moving is followed the same way."""
    caller, bob, call_id, dialog = answered_call(kamailio, made)

    def reinvite(phone: SipPhone, cseq: int) -> bytes:
        return callee_request(phone, bob, call_id, "INVITE", caller_contact(bob, call_id), cseq)

    # someone else on another machine, with the call's Call-ID and tags: 103's
    # credentials are refused and nothing reaches the caller
    intruder = new_phone(kamailio, made, host="127.0.0.2")
    assert challenged_then(intruder, reinvite(intruder, 20), call_id, "103") == 403
    time.sleep(0.3)
    assert caller.requests("INVITE", call_id) == []

    # 102's phone on its new network, signed in as 102 (a device of 102 would do too)
    moved = new_phone(kamailio, made, host="127.0.0.4")
    assert challenged_then(moved, reinvite(moved, 30), call_id, "102") == 200
    assert len(caller.requests("INVITE", call_id)) == 1

    # the caller moves too, and hangs up from there: the BYE reaches 102 where it went
    roaming_caller = new_phone(kamailio, made, host="127.0.0.5")
    bye = roaming_caller.build(
        "BYE", f"sip:phone@{moved.host}:{moved.port}", from_uri=dialog.from_uri,
        to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag,
        to_tag=dialog.to_tag, cseq=9, routes=dialog.routes,
    )  # fmt: skip
    assert challenged_then(roaming_caller, bye, call_id, "101") == 200
    assert moved.requests("BYE", call_id)
    assert not bob.requests("BYE", call_id)


class Ringing(SipPhone):
    """A phone that rings and rings (180, no final answer); 200 to anything else."""

    def _answer(self, request: bytes) -> None:
        if request.startswith(b"INVITE ") and ";tag=" not in (header(request, "To") or ""):
            self._reply(request, 180, "Ringing")
        else:
            self._reply(request, 200, "OK")


def test_no_re_invite_before_the_answer(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone | Listener]
) -> None:
    """An INVITE into a ringing fork's early dialog (RFC 3261 forbids it) is refused: its
    200 passed for the call's answer, and the phone that really answered was unreachable."""
    bob = Ringing((kamailio.settings.sip_host, kamailio.settings.sip_port), host="127.0.0.3")
    made.append(bob)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    caller = new_phone(kamailio, made)
    _, call_id, _ = caller.request(
        "INVITE", f"sip:102@{ACME}", login=("101", ACME, Directory.SIP_PASSWORD), wait=0.5
    )
    [ringing] = [d for d in caller.received if status_code(d) == 180]
    shown_from = header(ringing, "From") or ""
    caller.send(caller.build(
        "INVITE", f"sip:phone@{bob.host}:{bob.port}",
        from_uri=shown_from.split("<", 1)[1].split(">", 1)[0], to_uri=f"sip:102@{ACME}",
        call_id=call_id, from_tag=shown_from.partition(";tag=")[2].split(";")[0],
        to_tag=f"uas{bob.port}", cseq=3, routes=tuple(reversed(headers(ringing, "Record-Route"))),
    ))  # fmt: skip
    assert final_code(caller, call_id, 3) == 491
