"""Which agents the queues see on a call comes from what Kamailio established, never from the
From or To a caller wrote.

Before: ``media.queue.dialog_parties`` took every ``<ext>@<tenant>`` of a dialog's
``from_uri``/``to_uri``, so a carrier's caller writing ``From: sip:102@acme.example`` kept
agent 102 from every queue call for as long as the call lasted, and an agent who took a
call from the main number (To: the DID) was offered queue calls on top of it. Now the
dialog variables of routes CALL_START and MANAGE_REPLY decide
(``kamailio.dialogs.engaged_extensions``): the authenticated caller, the extension that
answered, and while it rings, the extension dialled and every extension whose phone it
rings (a forward, a main number's rule: before, an agent whose phone a forward rang was
offered queue calls on top of it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rpc import KamailioRPC
from kamailio.rules_push import RulesClock, push_all, push_change
from media.queue import dialog_parties
from switchboard.rules import AnsweringRule, Destination
from tests.fixtures.core import Directory
from tests.security.raw_sip import SDP, Listener, RawSip, header, headers, status_code
from tests.security.sip_phone import SipPhone

ACME = "acme.example"
MAIN = "+15550001000"
EARLY, ANSWERED, DELETED = 2, 4, 5


def dialog(state: int, from_uri: str, to_uri: str, **facts: str) -> dict[str, Any]:
    """One dialog as ``dlg.list`` shows it (shape as Kamailio 5.6 answers it)."""
    return {
        "call-id": "c1", "state": state, "from_uri": from_uri, "to_uri": to_uri,
        "start_ts": 1, "caller": {"tag": "t1"}, "variables": [{k: v} for k, v in facts.items()],
    }  # fmt: skip


def inbound(**facts: str) -> dict[str, str]:
    """The variables FROM_TRUNK sets for a carrier's call to acme's main number."""
    return {"tenant": ACME, "direction": "inbound", "asserted": "trunk", "caller": "+15551234567",
            "callee": MAIN, "callee_domain": ACME, **facts}  # fmt: skip


def internal(caller: str, callee: str, tenant: str = ACME, **facts: str) -> dict[str, str]:
    """The variables CALL_START sets for a call a phone (or the media server) places."""
    return {"tenant": tenant, "direction": "internal", "asserted": f"{caller}@{tenant}",
            "caller": caller, "callee": callee, "callee_domain": tenant, **facts}  # fmt: skip


# (what happens, the dialog, the extensions of acme on a call)
SCENARIOS = [
    ("carrier caller forges From 102, 101 answered",
     dialog(ANSWERED, f"sip:102@{ACME}", f"sip:{MAIN}@127.0.0.1", **inbound(answered_by="101")),
     {"101"}),
    ("carrier caller forges From and To 102, still ringing",
     dialog(EARLY, f"sip:102@{ACME}", f"sip:102@{ACME}", **inbound()),
     set()),
    ("carrier rings a main number written like an extension (DIDs are 3-15 digits)",
     dialog(EARLY, "sip:+15551234567@carrier.example", f"sip:5550100@{ACME}",
            **inbound(callee="5550100")),
     set()),
    ("101 dials globex's 102: refused, its dialog still open a moment",
     dialog(EARLY, f"sip:101@{ACME}", "sip:102@globex.example",
            **internal("101", "102", callee_domain="globex.example")),
     {"101"}),
    ("101 writes To 102 but dials 103, ringing",
     dialog(EARLY, f"sip:101@{ACME}", f"sip:102@{ACME}", **internal("101", "103")),
     {"101", "103"}),
    ("101 dials 200, forwarded, 103 answered: the number dialled rings no more",
     dialog(ANSWERED, f"sip:101@{ACME}", f"sip:200@{ACME}",
            **internal("101", "200", answered_by="103")),
     {"101", "103"}),
    ("102 took a main-number call: neither From nor To names 102",
     dialog(ANSWERED, "sip:+15551234567@carrier.example", f"sip:{MAIN}@127.0.0.1",
            **inbound(answered_by="102")),
     {"102"}),
    ("102 calls out to the carrier",
     dialog(EARLY, f"sip:102@{ACME}", "sip:+15550002222@127.0.0.1",
            **internal("102", "+15550002222", direction="outbound")),
     {"102"}),
    ("a queue's leg rings agent 102 for a carrier's caller",
     dialog(EARLY, "sip:+15551234567@acme.example", f"sip:102@{ACME}",
            **internal("trunk", "102", asserted="trunk")),
     {"102"}),
    ("101 dials 103, whose forward rings 102's phone",
     dialog(EARLY, f"sip:101@{ACME}", f"sip:103@{ACME}", **internal("101", "103", ringing="102,")),
     {"101", "102", "103"}),
    ("the main number's rule rings 102 and 103 for a carrier's caller",
     dialog(EARLY, "sip:+15551234567@carrier.example", f"sip:{MAIN}@127.0.0.1",
            **inbound(ringing="102,103,")),
     {"102", "103"}),
    ("103 answered a ring group: the other phones ring no more",
     dialog(ANSWERED, "sip:+15551234567@carrier.example", f"sip:{MAIN}@127.0.0.1",
            **inbound(ringing="102,103,", answered_by="103")),
     {"103"}),
    ("what rang was no extension (a Contact's user, a mailbox)",
     dialog(EARLY, "sip:+15551234567@carrier.example", f"sip:{MAIN}@127.0.0.1",
            **inbound(ringing=f"phone,vm-{ACME}-102,+15550002222,")),
     set()),
    ("the queue's caller reached voicemail: answered_by names a mailbox",
     dialog(ANSWERED, f"sip:101@{ACME}", f"sip:102@{ACME}",
            **internal("101", "102", answered_by=f"vm-{ACME}-102")),
     {"101"}),
    ("globex's 102 on a call with globex's 101",
     dialog(ANSWERED, f"sip:102@{ACME}", f"sip:101@{ACME}",
            **internal("102", "101", tenant="globex.example", answered_by="101")),
     set()),
    ("a call that ended",
     dialog(DELETED, f"sip:101@{ACME}", f"sip:102@{ACME}",
            **internal("101", "102", answered_by="102")),
     set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("dialogs", "busy"), [([d], busy) for _, d, busy in SCENARIOS], ids=[s[0] for s in SCENARIOS]
)
def test_agents_on_a_call_are_who_kamailio_established(
    dialogs: list[dict[str, Any]], busy: set[str]
) -> None:
    assert dialog_parties(dialogs, ACME) == busy


def test_every_open_dialog_counts_and_nothing_else_is_a_dialog() -> None:
    assert dialog_parties([d for _, d, _ in SCENARIOS], ACME) == {"101", "102", "103"}
    assert dialog_parties(None, ACME) == set()
    assert dialog_parties({"error": "x"}, ACME) == set()
    assert dialog_parties(["not a dialog", {"state": 4}], ACME) == set()


@pytest.mark.kamailio
def test_a_carrier_caller_writing_an_agent_s_extension_keeps_no_agent_from_the_queue(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> None:
    """The main number rings 101; the carrier's caller writes 102 in From and To. Through the
    real Kamailio, ``dlg.list`` of the answered call names 101 busy, never 102."""
    s, store = kamailio.settings, directory.store
    did = store.add_did(ACME, MAIN, "Main line")
    store.save_did_rule(
        did, AnsweringRule("Reception", 1, forward_always=Destination("extension", "101"))
    )
    now = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
    rules_clock.pin(now)
    push_all(s, store, now=now)
    desk = SipPhone((s.sip_host, s.sip_port))
    carrier = RawSip((s.sip_host, s.sip_port), host=s.trunk_host, port=s.trunk_port)
    try:
        assert desk.register("101", ACME, Directory.SIP_PASSWORD) == 200
        ruri = f"sip:{MAIN}@{s.sip_host}:{s.sip_port}"
        forged = f"sip:102@{ACME}"
        invite, call_id = carrier.request(
            "INVITE", ruri, from_uri=forged, to_uri=forged, from_tag="c1", body=SDP
        )
        carrier.send(invite)
        [ok] = [r for r in carrier.replies(4.0, until_final=True) if status_code(r) == 200]
        to_tag = (header(ok, "To") or "").partition(";tag=")[2].split(";")[0]
        contact = (header(ok, "Contact") or "").strip("<>")
        routes = ", ".join(reversed(headers(ok, "Record-Route")))
        ack, _ = carrier.request(
            "ACK", contact, from_uri=forged, to_uri=forged, to_tag=to_tag, from_tag="c1",
            call_id=call_id, route=routes,
        )  # fmt: skip
        carrier.send(ack)
        dialogs = KamailioRPC(s.rpc_url).call("dlg.list")
    finally:
        carrier.close()
        desk.close()
    [call] = [d for d in dialogs if d.get("call-id") == call_id]
    assert call["from_uri"] == forged  # the forged From is what dlg.list shows
    assert dialog_parties(dialogs, ACME) == {"101"}


@pytest.mark.kamailio
def test_an_agent_whose_phone_a_forward_rings_is_on_a_call_while_it_rings(
    kamailio: KamailioProcess, directory: Directory, silent_phone: Listener
) -> None:
    """101 dials 103, whose rule forwards every call to 102; 102's phone rings (and never
    answers). While it rings, ``dlg.list`` names 102 as well as 101 and 103."""
    s, store = kamailio.settings, directory.store
    sue = directory.users[f"103@{ACME}"]
    store.save_rule(sue, AnsweringRule("To Bob", 1, forward_always=Destination("extension", "102")))
    assert push_change(s, store, users=[sue])
    caller = SipPhone((s.sip_host, s.sip_port))
    try:
        code, call_id, _ = caller.request(
            "INVITE", f"sip:103@{ACME}", login=("101", ACME, Directory.SIP_PASSWORD), wait=1.0
        )
        assert code is None  # still ringing
        assert any(d.startswith(b"INVITE ") for d in silent_phone.received)
        dialogs = KamailioRPC(s.rpc_url).call("dlg.list")
    finally:
        caller.close()
    [call] = [d for d in dialogs if d.get("call-id") == call_id]
    assert dialog_parties([call], ACME) == {"101", "102", "103"}
