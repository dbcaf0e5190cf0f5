"""The number a carrier is shown, on every path a call takes to it, and the hang-ups both
ways once it answered (route CALLER_ID on the carrier's branch, BRANCH_NOTE; the real
Kamailio, raw SIP phones and a raw SIP carrier on the trunk's address).

Kamailio's uac module rewrites the From of the carrier's INVITE to the caller ID the user
chose, and keeps both URIs in the dialog: each later request toward the carrier carries
the chosen number (the one the carrier knows), each one back toward the caller the URI its
phone wrote. It does so by direction alone, for whichever end answered; so the rewrite
must happen exactly on the carrier's branches — every one of them, and only those: a
phone that answers a ring shared with a number must see its caller as the caller is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import push_change
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.security.raw_sip import header
from tests.security.sip_dialogs import (
    callee_request,
    caller_contact,
    final_code,
    from_caller,
    hang_up,
    reply_to,
    the_invite,
)
from tests.security.sip_phone import Dialog, SipPhone

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
