"""The number a carrier is shown, on every path a call takes to it, and the hang-ups both
ways once it answered (route CALLER_ID on the carrier's branch, BRANCH_NOTE; the real
Kamailio, raw SIP phones and a raw SIP carrier on the trunk's address).

Kamailio's uac module rewrites the From of the carrier's INVITE to the caller ID the user
chose, and keeps both URIs in the dialog: each later request toward the carrier carries
the chosen number (the one the carrier knows), each one back toward the caller the URI its
phone wrote. It does so by direction alone, for whichever end answered; so the rewrite
must happen exactly on the carrier's branches — every one of them, and only those: a
phone that answers a ring shared with a number must see its caller as the caller is. The
later tests are a review's findings through the real Kamailio (a carrier answering from
another port, the directory name without a chosen number, a re-INVITE overtaking its ACK,
a To without angle brackets, a main-number call forwarded back out); each failed before.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import push_change
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.security.raw_sip import header, headers, response_to, status_code
from tests.security.sip_dialogs import (
    callee_request,
    caller_contact,
    final_code,
    from_caller,
    hang_up,
    reply_to,
    the_invite,
    wait_for,
)
from tests.security.sip_phone import SDP, Dialog, SipPhone

pytestmark = [pytest.mark.kamailio]

ACME = "acme.example"
MAIN = "+15550001000"
OUTSIDE = "+15557654321"
FORWARD = "+15557650001"
SECOND = "+15557650002"
OURS = f"sip:{MAIN}@{ACME}"  # the caller ID 101 chose
PHONES = f"sip:101@{ACME}"  # what 101's phone writes


class Answering(SipPhone):
    """Answers a new INVITE only for the Request-URI users in ``answers``; rings for the
    others (180, no final reply), as a phone left ringing or a carrier's other number."""

    def __init__(self, kamailio: KamailioProcess, answers: set[str], **where: object) -> None:
        s = kamailio.settings
        self.answers = answers
        super().__init__((s.sip_host, s.sip_port), **where)  # type: ignore[arg-type]

    def answering(self, invite: bytes) -> bool:
        user = re.match(rb"INVITE sips?:([^@;>]+)@", invite)
        return user is not None and user.group(1).decode() in self.answers

    def _answer(self, request: bytes) -> None:
        new = request.startswith(b"INVITE ") and ";tag=" not in (header(request, "To") or "")
        if new and not self.answering(request):
            self._reply(request, 180, "Ringing")
        else:
            super()._answer(request)


@pytest.fixture
def made() -> Iterator[list[SipPhone]]:
    sockets: list[SipPhone] = []
    yield sockets
    for s in sockets:
        s.close()


def carrier(kamailio: KamailioProcess, made: list[SipPhone], *answers: str) -> Answering:
    """The carrier at the trunk's address: answers calls to ``answers`` (all if none)."""
    s = kamailio.settings
    numbers = set(answers) or {OUTSIDE, FORWARD, SECOND}
    made.append(Answering(kamailio, numbers, host=s.trunk_host, port=s.trunk_port))
    return made[-1]  # type: ignore[return-value]


def choose_main_number(kamailio: KamailioProcess, directory: Directory) -> None:
    """101 shows the main number to the carrier (allowed, chosen, pushed)."""
    store = directory.store
    store.add_did(ACME, MAIN, "Main line")
    user = store.set_allowed_caller_ids(directory.users[f"101@{ACME}"], [MAIN])
    assert push_change(kamailio.settings, store, users=[store.set_caller_id(user, MAIN)])


def rule_for_102(kamailio: KamailioProcess, directory: Directory, rule: AnsweringRule) -> None:
    user = directory.users[f"102@{ACME}"]
    directory.store.save_rule(user, rule)
    assert push_change(kamailio.settings, directory.store, users=[user])


def dial(caller: SipPhone, number: str) -> tuple[str, Dialog]:
    """101 calls ``number`` (signed in); the answered call."""
    code, call_id, dialog = caller.request(
        "INVITE", f"sip:{number}@{ACME}", login=("101", ACME, Directory.SIP_PASSWORD)
    )
    assert code == 200 and dialog is not None, code
    return call_id, dialog


def uri_of(value: str | None) -> str:
    return (value or "").split("<", 1)[-1].split(">", 1)[0]


def carrier_call_ends_both_ways(
    caller: SipPhone, far: Answering, place: Callable[[], tuple[str, Dialog]]
) -> None:
    """Two calls placed by ``place`` reach the carrier ``far`` showing our number; the caller
    re-INVITEs and hangs up in the first, the carrier in the second. Each BYE reaches the
    other end; the carrier's requests and replies name our number, the caller's its own."""
    call_id, dialog = place()
    invite = the_invite(far, call_id)
    assert (header(invite, "From") or "").startswith(f'"Front Desk" <{OURS}>')
    assert header(invite, "P-Asserted-Identity") == f"<{OURS}>"
    assert uri_of(header(reply_to(caller, call_id, 2), "From")) == PHONES  # the answer
    # on hold and back: the re-INVITE's From is ours, written once (a second display name
    # made it one a carrier cannot parse)
    from_caller(caller, dialog, call_id, "INVITE", f"sip:phone@{far.host}:{far.port}", 3)
    assert final_code(caller, call_id, 3) == 200
    assert uri_of(header(reply_to(caller, call_id, 3), "From")) == PHONES
    reinvite = far.requests("INVITE", call_id)[-1]
    assert (header(reinvite, "From") or "").startswith(f'"Front Desk" <{OURS}>;tag=')
    hang_up(caller, dialog, call_id, far, 4)
    [bye] = far.requests("BYE", call_id)
    assert uri_of(header(bye, "From")) == OURS
    assert uri_of(header(reply_to(caller, call_id, 4), "From")) == PHONES

    call_id, _ = place()
    far.send(callee_request(far, far, call_id, "INVITE", caller_contact(far, call_id), 6))
    assert uri_of(header(reply_to(far, call_id, 6), "To")) == OURS  # a re-INVITE's answer
    far.send(callee_request(far, far, call_id, "BYE", caller_contact(far, call_id), 7))
    assert final_code(far, call_id, 7) == 200
    [bye] = caller.requests("BYE", call_id)
    assert uri_of(header(bye, "To")) == PHONES
    assert uri_of(header(reply_to(far, call_id, 7), "To")) == OURS  # its own To, back


def test_a_call_out_shows_the_chosen_number_both_ways(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    choose_main_number(kamailio, directory)
    far = carrier(kamailio, made)
    caller = Answering(kamailio, set())
    made.append(caller)
    carrier_call_ends_both_ways(caller, far, lambda: dial(caller, OUTSIDE))


def test_a_forward_to_a_number_shows_the_caller_s_chosen_number_both_ways(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    choose_main_number(kamailio, directory)
    forward = Destination("number", FORWARD)
    rule_for_102(kamailio, directory, AnsweringRule("Out", 1, None, forward_always=forward))
    far = carrier(kamailio, made)
    caller = Answering(kamailio, set())
    made.append(caller)
    carrier_call_ends_both_ways(caller, far, lambda: dial(caller, "102"))


def test_every_number_of_a_simultaneous_ring_is_shown_the_chosen_number(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """102's phone and two numbers ring; the second number answers."""
    choose_main_number(kamailio, directory)
    both = AnsweringRule("Both", 1, None, simultaneous=(FORWARD, SECOND))
    rule_for_102(kamailio, directory, both)
    bob = Answering(kamailio, set(), host="127.0.0.3")  # rings, never answers
    made.append(bob)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    far = carrier(kamailio, made, SECOND)
    caller = Answering(kamailio, set())
    made.append(caller)

    call_id, _ = dial(caller, "102")
    invites = far.requests("INVITE", call_id)
    assert sorted(uri_of(i.split(b" ", 2)[1].decode()) for i in invites) == sorted(
        f"sip:{n}@{kamailio.settings.trunk_host}:{kamailio.settings.trunk_port}"
        for n in (FORWARD, SECOND)
    )
    for invite in invites:
        assert (header(invite, "From") or "").startswith(f'"Front Desk" <{OURS}>'), invite
        assert header(invite, "P-Asserted-Identity") == f"<{OURS}>"
    [to_phone] = bob.requests("INVITE", call_id)
    assert uri_of(header(to_phone, "From")) == PHONES
    carrier_call_ends_both_ways(caller, far, lambda: dial(caller, "102"))


def test_a_phone_answering_a_ring_shared_with_a_number_sees_its_caller_as_is(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """102's phone answers while the carrier's number rings: neither phone sees our
    number in the call, whoever hangs up."""
    choose_main_number(kamailio, directory)
    rule_for_102(kamailio, directory, AnsweringRule("Both", 1, None, simultaneous=(FORWARD,)))
    bob = Answering(kamailio, {"phone"}, host="127.0.0.3")  # its Contact's user
    made.append(bob)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    carrier(kamailio, made, "nobody")  # rings
    caller = Answering(kamailio, set())
    made.append(caller)

    call_id, dialog = dial(caller, "102")
    assert uri_of(header(reply_to(caller, call_id, 2), "From")) == PHONES
    hang_up(caller, dialog, call_id, bob, 3)
    [bye] = bob.requests("BYE", call_id)
    assert uri_of(header(bye, "From")) == PHONES
    assert uri_of(header(bye, "To")) == f"sip:102@{ACME}"

    call_id, _ = dial(caller, "102")
    bob.send(callee_request(bob, bob, call_id, "BYE", caller_contact(bob, call_id), 7))
    assert final_code(bob, call_id, 7) == 200
    [bye] = caller.requests("BYE", call_id)
    assert uri_of(header(bye, "To")) == PHONES
    assert uri_of(header(reply_to(bob, call_id, 7), "To")) == PHONES


def test_a_carrier_answering_from_another_port_keeps_our_number(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """The carrier rings from the trunk's port and answers from another port of its host (an
    SBC's other socket): the call's BYE still shows it our number. Before, "the carrier
    answered" was read from where the answer came from, and uac's rewrite was dropped."""
    choose_main_number(kamailio, directory)
    s = kamailio.settings
    far = carrier(kamailio, made, "nobody")  # rings only
    other = SipPhone((s.sip_host, s.sip_port), host=s.trunk_host)
    made.append(other)
    caller = Answering(kamailio, set())
    made.append(caller)
    answered: dict[str, Any] = {}
    dialling = threading.Thread(target=lambda: answered.update(call=dial(caller, OUTSIDE)))
    dialling.start()
    assert wait_for(lambda: far.requests("INVITE"))
    [invite] = far.requests("INVITE")
    sdp = SDP.format(port=40002)
    contact = f"sip:phone@{far.host}:{far.port}"  # the same end as its 180 (its tag)
    other.sock.sendto(
        response_to(invite, 200, "OK", to_tag=f"uas{far.port}", contact=contact, sdp=sdp),
        (s.sip_host, s.sip_port),
    )
    dialling.join(10)
    call_id, dialog = answered["call"]
    hang_up(caller, dialog, call_id, far, 3)
    [bye] = far.requests("BYE", call_id)
    assert (header(bye, "From") or "").startswith(f'"Front Desk" <{OURS}>;tag=')


def test_the_directory_name_is_shown_in_the_whole_call_without_a_chosen_number(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """101 keeps its extension as caller ID and its phone writes "Bank of America" in every
    request: the carrier sees "Front Desk" in the INVITE, the re-INVITE and the BYE (uac
    rewrote only the INVITE when given the name alone)."""
    far = carrier(kamailio, made)
    caller = Answering(kamailio, set())
    made.append(caller)
    code, call_id, dialog = caller.request(
        "INVITE", f"sip:{OUTSIDE}@{ACME}", login=("101", ACME, Directory.SIP_PASSWORD),
        display="Bank of America",
    )  # fmt: skip
    assert code == 200 and dialog is not None
    for cseq, method in ((3, "INVITE"), (4, "BYE")):
        caller.send(caller.build(
            method, f"sip:phone@{far.host}:{far.port}", from_uri=dialog.from_uri,
            to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag,
            to_tag=dialog.to_tag, cseq=cseq, routes=dialog.routes, display="Bank of America",
        ))  # fmt: skip
        assert final_code(caller, call_id, cseq) == 200
    sent = far.requests("INVITE", call_id) + far.requests("BYE", call_id)
    assert len(sent) == 3
    for request in sent:
        assert (header(request, "From") or "").startswith(f'"Front Desk" <{PHONES}>;tag=')


def ack_held(phone: SipPhone) -> tuple[list[bytes], Callable[[], None]]:
    """Hold back the ACKs ``phone`` sends (reordered datagrams); and what sends them."""
    held: list[bytes] = []
    send = phone.send

    def release() -> None:
        phone.send = send  # type: ignore[method-assign]
        for ack in held:
            send(ack)
        time.sleep(0.2)

    phone.send = lambda data: held.append(data) if data.startswith(b"ACK ") else send(data)  # type: ignore[method-assign]
    return held, release


def test_a_request_overtaking_the_answer_s_ack_is_asked_again(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """The phone's re-INVITE, UPDATE and INFO overtake its ACK: 491, 491 and 500 with
    Retry-After, so the phone tries again (RFC 3261 14.1, 14.2). Before, each reached the
    carrier with the phone's own From (the dialog module hands uac no request but a BYE
    until the ACK). After the ACK they go through with our number; the carrier's own
    requests are never held up."""
    choose_main_number(kamailio, directory)
    far = carrier(kamailio, made)
    caller = Answering(kamailio, set())
    made.append(caller)
    _, release = ack_held(caller)
    call_id, dialog = dial(caller, OUTSIDE)
    there = f"sip:phone@{far.host}:{far.port}"
    for cseq, method, code in ((3, "INVITE", 491), (4, "UPDATE", 491), (5, "INFO", 500)):
        from_caller(caller, dialog, call_id, method, there, cseq)
        assert final_code(caller, call_id, cseq) == code, method
    assert "Retry-After" in (reply_to(caller, call_id, 5) or b"").decode()
    assert not far.requests("UPDATE", call_id) and not far.requests("INFO", call_id)
    # the carrier's own request meanwhile goes through (nothing of ours to hide in it)
    far.send(callee_request(far, far, call_id, "INFO", caller_contact(far, call_id), 9))
    assert final_code(far, call_id, 9) == 200
    release()
    for cseq, method in ((6, "INVITE"), (7, "UPDATE"), (8, "INFO")):
        from_caller(caller, dialog, call_id, method, there, cseq)
        assert final_code(caller, call_id, cseq) == 200, method
        [sent] = [r for r in far.requests(method, call_id) if f"CSeq: {cseq} ".encode() in r]
        assert uri_of(header(sent, "From")) == OURS


def test_a_re_invite_overtaking_its_ack_between_phones_goes_through(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """Where nothing rewrites the call (101 calls 102), a re-INVITE right after the answer is
    relayed as it comes: a refusal there would cost a phone that does not retry its hold."""
    bob = Answering(kamailio, {"phone"}, host="127.0.0.3")
    made.append(bob)
    assert bob.register("102", ACME, Directory.SIP_PASSWORD) == 200
    caller = Answering(kamailio, set())
    made.append(caller)
    _, release = ack_held(caller)
    call_id, dialog = dial(caller, "102")
    from_caller(caller, dialog, call_id, "INVITE", f"sip:phone@{bob.host}:{bob.port}", 3)
    assert final_code(caller, call_id, 3) == 200
    release()


def test_a_carrier_writing_its_to_without_angle_brackets_gets_it_back(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """``To: sip:+1555…;tag=…`` (an addr-spec, valid SIP) in the carrier's request: the reply
    names our number, not 101's URI."""
    choose_main_number(kamailio, directory)
    far = carrier(kamailio, made)
    caller = Answering(kamailio, set())
    made.append(caller)
    call_id, _ = dial(caller, OUTSIDE)
    request = callee_request(far, far, call_id, "INFO", caller_contact(far, call_id), 5)
    request = re.sub(rb"\r\nTo: <([^>]*)>", rb"\r\nTo: \1", request, count=1)
    assert f"\r\nTo: {OURS};tag=".encode() in request
    far.send(request)
    assert uri_of(header(reply_to(far, call_id, 5), "To")) == OURS
    [info] = caller.requests("INFO", call_id)
    assert PHONES in (header(info, "To") or "")


def test_a_main_number_call_sent_back_out_hangs_up_after_a_re_invite(
    kamailio: KamailioProcess, directory: Directory, made: list[SipPhone]
) -> None:
    """An outside caller's call to the main number, which a rule forwards to a number: both
    ends are the carrier's. The forwarded end re-INVITEs (hold), then the caller hangs up:
    the BYE reaches that end. Before, the re-INVITE's answer (with the caller's tag, from
    the carrier's address) was taken for the carrier's end of the call, and the BYE got 403
    while the forwarded leg stayed up."""
    s, store = kamailio.settings, directory.store
    did = store.add_did(ACME, MAIN, "Main line")
    store.save_did_rule(did, AnsweringRule("Out", 1, forward_always=Destination("number", FORWARD)))
    assert push_change(s, store, dids=[did])
    far = carrier(kamailio, made, FORWARD)
    call_id, caller_uri = f"cc-{time.monotonic_ns()}@carrier", "sip:+15551234567@carrier.example"
    far.send(far.build(
        "INVITE", f"sip:{MAIN}@{s.sip_host}:{s.sip_port}", from_uri=caller_uri,
        call_id=call_id, from_tag="c1", cseq=1, body=SDP.format(port=40000),
    ))  # fmt: skip
    ok = reply_to(far, call_id, 1, wait=10.0)
    assert ok is not None and status_code(ok) == 200
    to = header(ok, "To") or ""
    dialog = Dialog(call_id, caller_uri, "c1", uri_of(to), to.partition(";tag=")[2],
                    tuple(reversed(headers(ok, "Record-Route"))))  # fmt: skip
    contact = uri_of(header(ok, "Contact"))
    from_caller(far, dialog, call_id, "ACK", contact, 1)
    far.send(callee_request(far, far, call_id, "INVITE", caller_contact(far, call_id), 6))
    assert final_code(far, call_id, 6) == 200
    from_caller(far, dialog, call_id, "BYE", contact, 2)
    assert final_code(far, call_id, 2) == 200
    assert far.requests("BYE", call_id)  # the forwarded end got it
