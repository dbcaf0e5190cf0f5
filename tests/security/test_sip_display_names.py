"""Who calls, as a colleague's phone shows it: the directory's name, never the one the
caller's phone wrote (through the real Kamailio; each test failed before the fix).

Measured before: ``"CEO - urgent" <sip:101@acme.example>`` reached the callee's phone as
written, while accounting, history and voicemail showed the directory's "Front Desk".
Route CALLER_NAME (kamailio-security.cfg) now replaces the display name on every branch
to a phone with htable ``names`` (kamailio/caller_names.py). Only the display name
changes, so in-dialog requests need no restoring: each test hangs up from one side and
sees the BYE answered. The carrier's callers keep the carrier's name. The phones are raw
SIP (:mod:`tests.security.sip_phone`).
"""

from __future__ import annotations

import pytest

from kamailio.caller_names import NAMES_HTABLE, display_name
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import push_change, push_did
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.security.raw_sip import Listener, RawSip, header, headers, status_code
from tests.security.sip_dialogs import wait_for
from tests.security.sip_phone import Dialog, SipPhone

pytestmark = [pytest.mark.kamailio]

ACME = "acme.example"
FORGED = "CEO - urgent"


def phone(kamailio: KamailioProcess, made: list[SipPhone], ext: str | None = None) -> SipPhone:
    """A raw SIP phone (registered as ``ext`` of acme if given)."""
    new = SipPhone((kamailio.settings.sip_host, kamailio.settings.sip_port))
    made.append(new)
    if ext is not None:
        assert new.register(ext, ACME, Directory.SIP_PASSWORD) == 200
    return new


def call(caller: SipPhone, ext: str, callee: str, display: str) -> tuple[str, Dialog]:
    """``ext`` calls ``callee`` writing ``display`` in From; the answered call's dialog."""
    code, call_id, dialog = caller.request(
        "INVITE", f"sip:{callee}@{ACME}", login=(ext, ACME, Directory.SIP_PASSWORD),
        display=display,
    )  # fmt: skip
    assert code == 200 and dialog is not None
    return call_id, dialog


def the_invite(callee: SipPhone, call_id: str) -> bytes:
    [invite] = callee.requests("INVITE", call_id)
    return invite


def answered(sender: SipPhone, call_id: str, method: str) -> bool:
    """A 200 to ``method`` of the call reached ``sender`` (within 3 s)."""
    return wait_for(lambda: any(
        status_code(d) == 200 and (header(d, "CSeq") or "").endswith(f" {method}")
        and header(d, "Call-ID") == call_id for d in sender.received
    ))  # fmt: skip


def caller_hangs_up(caller: SipPhone, callee: SipPhone, call_id: str, dialog: Dialog) -> None:
    caller.send(caller.build(
        "BYE", f"sip:phone@{callee.host}:{callee.port}", from_uri=dialog.from_uri,
        to_uri=dialog.to_uri, call_id=call_id, from_tag=dialog.from_tag, to_tag=dialog.to_tag,
        cseq=3, routes=dialog.routes, display=FORGED,
    ))  # fmt: skip
    assert answered(caller, call_id, "BYE")
    assert callee.requests("BYE", call_id)


def callee_sends(callee: SipPhone, invite: bytes, method: str, cseq: int) -> bytes:
    """``method`` from the callee's side of the call ``invite`` opened, as a phone builds it:
    To is the From it was shown (the directory's name), its route set the Record-Route."""
    shown_from = header(invite, "From") or ""
    caller_uri = shown_from.split("<", 1)[1].split(">", 1)[0]
    caller_contact = (header(invite, "Contact") or "").strip("<>").split(">")[0]
    request = callee.build(
        method, caller_contact, from_uri=(header(invite, "To") or "").strip("<>"),
        call_id=header(invite, "Call-ID") or "", from_tag=f"uas{callee.port}", cseq=cseq,
        to_uri=caller_uri, to_tag=shown_from.partition(";tag=")[2].split(";")[0],
        routes=tuple(headers(invite, "Record-Route")),
    )  # fmt: skip
    plain_to = f"To: <{caller_uri}>".encode()
    return request.replace(plain_to, b"To: " + shown_from.split(";tag=")[0].encode(), 1)


def test_a_colleague_s_phone_shows_the_directory_name_not_the_one_the_caller_wrote(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    bob = phone(kamailio, phones, "102")
    caller = phone(kamailio, phones)
    call_id, dialog = call(caller, "101", "102", FORGED)
    invite = the_invite(bob, call_id)
    assert (header(invite, "From") or "").startswith('"Front Desk" <sip:101@acme.example>;tag=')
    assert FORGED.encode() not in invite
    assert wait_for(lambda: bob.requests("ACK", call_id))  # the ACK found its way too

    caller_hangs_up(caller, bob, call_id, dialog)


def test_the_callee_s_requests_in_the_call_reach_the_caller(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    """The callee's phone writes the name it was shown in To: the dialog matches on tags."""
    bob = phone(kamailio, phones, "102")
    caller = phone(kamailio, phones)
    call_id, _ = call(caller, "101", "102", FORGED)
    invite = the_invite(bob, call_id)
    assert wait_for(lambda: bob.requests("ACK", call_id))

    reinvite = callee_sends(bob, invite, "INVITE", 1)
    assert b'To: "Front Desk" <sip:101@acme.example>;tag=' in reinvite
    bob.send(reinvite)
    assert answered(bob, call_id, "INVITE")
    assert caller.requests("INVITE", call_id)
    bob.send(callee_sends(bob, invite, "ACK", 1))
    assert wait_for(lambda: caller.requests("ACK", call_id))

    bob.send(callee_sends(bob, invite, "BYE", 2))
    assert answered(bob, call_id, "BYE")
    assert caller.requests("BYE", call_id)


def test_a_name_with_quotes_and_a_backslash_stays_one_display_name(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    name = 'Sue "The Boss" Back\\slash'
    sue = directory.store.update_user(ACME, "103", name=name)
    assert push_change(kamailio.settings, directory.store, users=[sue])
    bob = phone(kamailio, phones, "102")
    caller = phone(kamailio, phones)
    call_id, dialog = call(caller, "103", "102", FORGED)
    shown = header(the_invite(bob, call_id), "From") or ""
    assert shown.startswith('"Sue \\"The Boss\\" Back\\\\slash" <sip:103@acme.example>;tag=')
    assert display_name(name) == 'Sue \\"The Boss\\" Back\\\\slash'

    caller_hangs_up(caller, bob, call_id, dialog)


def test_a_caller_kamailio_has_no_name_for_shows_as_the_extension(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    kamailio.rpc.call("htable.delete", NAMES_HTABLE, f"101@{ACME}")
    bob = phone(kamailio, phones, "102")
    caller = phone(kamailio, phones)
    call_id, dialog = call(caller, "101", "102", FORGED)
    shown = header(the_invite(bob, call_id), "From") or ""
    assert shown.startswith('"101" <sip:101@acme.example>;tag=')

    caller_hangs_up(caller, bob, call_id, dialog)


def test_a_forward_to_a_colleague_shows_who_calls_and_an_edit_shows_at_once(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    """103 forwards to 102: 102's phone sees the caller (101), renamed a second ago."""
    store = directory.store
    sue = directory.users[f"103@{ACME}"]
    store.save_rule(sue, AnsweringRule(
        "Away", 1, None, forward_always=Destination("extension", "102")))  # fmt: skip
    desk = store.update_user(ACME, "101", name="Reception")
    assert push_change(kamailio.settings, store, users=[sue, desk])
    bob = phone(kamailio, phones, "102")
    caller = phone(kamailio, phones)
    call_id, dialog = call(caller, "101", "103", FORGED)
    shown = header(the_invite(bob, call_id), "From") or ""
    assert shown.startswith('"Reception" <sip:101@acme.example>;tag=')

    caller_hangs_up(caller, bob, call_id, dialog)


def from_the_carrier(
    kamailio: KamailioProcess,
    directory: Directory,
    phones: list[SipPhone],
    from_uri: str,
    display: str,
) -> str:
    """A carrier call to the main number (forwarded to 102) whose From is ``display``
    <``from_uri``>: the From 102's phone is shown."""
    s = kamailio.settings
    store = directory.store
    did = store.add_did(ACME, "+15550001000", "Main line")
    store.save_did_rule(did, AnsweringRule(
        "All", 1, None, forward_always=Destination("extension", "102")))  # fmt: skip
    push_did(s, store, did)
    bob = phone(kamailio, phones, "102")
    with RawSip((s.sip_host, s.sip_port), host=s.trunk_host, port=s.trunk_port) as carrier:
        data, call_id = carrier.request(
            "INVITE", f"sip:+15550001000@{s.sip_host}:{s.sip_port}", from_uri=from_uri
        )
        carrier.send(data.replace(b"From: <", f'From: "{display}" <'.encode(), 1))
        assert carrier.final(wait=3.0) == 200
    return header(the_invite(bob, call_id), "From") or ""


def test_the_carrier_s_caller_keeps_the_carrier_s_name(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    outside = "sip:+15551234567@carrier.example"
    shown = from_the_carrier(kamailio, directory, phones, outside, "Jane Public")
    assert shown.startswith(f'"Jane Public" <{outside}>;tag=')


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Front Desk", "Front Desk"),
        ('Dwayne "The Rock" Johnson', 'Dwayne \\"The Rock\\" Johnson'),
        ("C:\\Temp", "C:\\\\Temp"),
        ("line\r\nbreak\x00", "linebreak"),
        ("right\u202eto left", "rightto left"),
        ("  many   spaces ", "many spaces"),
        ("\r\n", ""),
        ("x" * 100, "x" * 80),
    ],
)
def test_a_name_is_escaped_for_a_quoted_string(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_an_outside_caller_presenting_a_colleague_s_extension_is_shown_as_outside(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone]
) -> None:
    """The carrier passes on the From an outside caller set: "Front Desk" <sip:101@…>
    would show on 102's phone as a colleague's call."""
    shown = from_the_carrier(kamailio, directory, phones, f"sip:101@{ACME}", "Front Desk")
    assert shown.startswith(f'"Outside caller" <sip:101@{ACME}>;tag='), shown


def test_the_carrier_sees_the_directory_name_never_the_one_the_phone_wrote(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone], trunk: Listener
) -> None:
    """A call out, with and without a chosen caller ID: "Bank of America" reached the
    carrier beside our number as the phone wrote it."""
    caller = phone(kamailio, phones)
    login = ("101", ACME, Directory.SIP_PASSWORD)
    first = caller.request("INVITE", "sip:+15550003333@acme.example", login=login,
                           display="Bank of America", wait=2.0)[1]  # fmt: skip
    user = directory.users[f"101@{ACME}"]
    directory.store.add_did(ACME, "+15550001000", "Main line")
    user = directory.store.set_allowed_caller_ids(user, ["+15550001000"])
    user = directory.store.set_caller_id(user, "+15550001000")
    push_change(kamailio.settings, directory.store, users=[user])
    second = caller.request("INVITE", "sip:+15550004444@acme.example", login=login,
                            display="Bank of America", wait=2.0)[1]  # fmt: skip
    sent = {header(d, "Call-ID"): header(d, "From") or "" for d in trunk.requests()}
    assert sent[first].startswith('"Front Desk" <sip:101@acme.example>;tag='), sent[first]
    assert sent[second].startswith('"Front Desk" <sip:+15550001000@acme.example>;tag=')


def test_a_simultaneous_ring_to_a_number_shows_the_carrier_the_directory_name(
    kamailio: KamailioProcess, directory: Directory, phones: list[SipPhone], trunk: Listener
) -> None:
    """The carrier's branch a simultaneous ring adds had the From the phone wrote."""
    bob = phone(kamailio, phones, "102")
    bob.answer = False
    user = directory.users[f"102@{ACME}"]
    directory.store.save_rule(user, AnsweringRule("Both", 1, None, simultaneous=("+15550002222",)))
    push_change(kamailio.settings, directory.store, users=[user])
    caller = phone(kamailio, phones)
    call_id = caller.request("INVITE", f"sip:102@{ACME}", display="Bank of America",
                             login=("101", ACME, Directory.SIP_PASSWORD), wait=2.0)[1]  # fmt: skip
    sent = [d for d in trunk.requests() if header(d, "Call-ID") == call_id]
    assert sent and (header(sent[0], "From") or "").startswith('"Front Desk" <sip:101@')
