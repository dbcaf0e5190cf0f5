"""Queues in the store: settings checked with clear messages, members, logins and pauses.

Scenario: Acme's "Support" queue with 101 and 102, overflow to 100's
voicemail and exit key 1 to the same mailbox; what the store refuses; a
menu, a rule and a route may now name a queue of the tenant (never
another tenant's); agent logins and pauses persist across a reopen.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from switchboard.attendants import Attendant, MenuDestination
from switchboard.rules import OFFERED_KINDS, AnsweringRule, Destination
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.queues import CallQueue, QueueMember
from tests.fixtures.core import Directory

ACME = "acme.example"
GLOBEX = "globex.example"
VM100 = MenuDestination("voicemail", "100")


def support(**changes: object) -> CallQueue:
    queue = CallQueue(
        ACME, "Support", extension="600", members=(QueueMember("101", 1), QueueMember("102", 2)),
        overflow=VM100, exit_key="1", exit_destination=VM100,
    )  # fmt: skip
    return replace(queue, **changes)  # type: ignore[arg-type]


def test_queue_round_trip_members_and_tenant(directory: Directory) -> None:
    store = directory.store
    q = store.save_queue(support())
    assert q.id is not None and store.queue(ACME, q.id) == q
    assert [(m.extension, m.priority, m.logged_in) for m in q.members] == [
        ("101", 1, False), ("102", 2, False),
    ]  # fmt: skip
    assert q.members[0].name == "Front Desk"
    assert store.queues(GLOBEX) == []
    with pytest.raises(ProvisioningError, match="no such queue"):
        store.queue(GLOBEX, q.id)
    q2 = store.save_queue(replace(q, strategy="linear", ring_seconds=20))
    assert (q2.strategy, q2.ring_seconds, q2.id) == ("linear", 20, q.id)
    q3 = store.add_queue_member(ACME, q.id, "103", 3)
    assert [m.extension for m in q3.members] == ["101", "102", "103"]
    q4 = store.remove_queue_member(ACME, q.id, "101")
    assert [m.extension for m in q4.members] == ["102", "103"]
    assert OFFERED_KINDS.count("queue") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": " "}, "a queue needs a name"),
        ({"strategy": "random"}, "no ring strategy 'random'"),
        ({"ring_seconds": 2}, "ring time per agent must be 5 to 120 seconds"),
        ({"wrapup_seconds": -1}, "wrap-up time must be 0 to 600 seconds"),
        ({"max_callers": 0}, "maximum callers must be 1 to 500$"),
        ({"max_wait_seconds": 4}, "maximum wait must be 5 to 7200 seconds"),
        ({"extension": "101"}, "extension 101 belongs to a user"),
        ({"extension": "x1"}, "2 to 8 digits"),
        ({"exit_key": "A"}, "no key 'A' on a phone"),
        ({"exit_destination": None}, "exit key 1: where does it send callers"),
        ({"overflow": MenuDestination("extension", "999")}, "overflow: extension 999 does not"),
        ({"overflow": MenuDestination("queue", "42")}, "overflow: queue 42 does not exist"),
        ({"overflow": MenuDestination("repeat")}, "overflow: a queue cannot repeat"),
        ({"members": (QueueMember("999"),)}, "member 999: extension does not exist"),
        ({"members": (QueueMember("101"), QueueMember("101"))}, "listed twice"),
        ({"members": (QueueMember("101", 0),)}, "priority must be 1 to 99"),
        ({"hold_music_id": 5}, "no such hold-music track 5"),
    ],
)
def test_store_refuses_with_a_clear_message(
    directory: Directory, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ProvisioningError, match=message):
        directory.store.save_queue(support(**changes))


def test_queue_names_are_unique_and_destinations_may_name_queues(directory: Directory) -> None:
    store = directory.store
    q = store.save_queue(support())
    with pytest.raises(ProvisioningError, match="exists"):
        store.save_queue(support(extension="601"))
    menu = store.save_attendant(
        Attendant(ACME, "Day", {"1": MenuDestination("queue", str(q.id))}, greeting_text="hi")
    )
    with pytest.raises(ProvisioningError, match=f"queue {q.id} does not exist"):
        store.save_attendant(
            Attendant(GLOBEX, "G", {"1": MenuDestination("queue", str(q.id))}, greeting_text="x")
        )
    bob = directory.users[f"102@{ACME}"]
    rule = store.save_rule(
        bob, AnsweringRule("Q", 1, forward_always=Destination("queue", str(q.id)))
    )
    globex = directory.users[f"101@{GLOBEX}"]
    with pytest.raises(ProvisioningError, match="does not exist"):
        store.save_rule(globex, AnsweringRule("Q", 1, fallback=Destination("queue", str(q.id))))
    with pytest.raises(ProvisioningError, match=r'auto attendant "Day".*rule of 102'):
        store.delete_queue(ACME, q.id or 0)
    store.delete_attendant(ACME, menu.id or 0)
    store.delete_rule(bob, rule.id or 0)
    store.delete_queue(ACME, q.id or 0)
    assert store.queues(ACME) == []


def test_agent_login_and_pause_persist(directory: Directory) -> None:
    store = directory.store
    q = store.save_queue(support())
    other = store.save_queue(support(name="Sales", extension=None, members=(QueueMember("101"),)))
    assert sorted(store.set_agent_login(ACME, "101", True)) == sorted([q.id, other.id])
    assert store.set_agent_login(ACME, "101", True) == []
    assert store.set_agent_login(ACME, "101", False, queue_id=other.id) == [other.id]
    with pytest.raises(ProvisioningError, match="not a member of any queue"):
        store.set_agent_login(ACME, "103", True)
    assert store.set_agent_pause(ACME, "101", "lunch") is True
    assert store.set_agent_pause(ACME, "101", "lunch") is False
    with pytest.raises(ProvisioningError, match="needs a reason"):
        store.set_agent_pause(ACME, "101", " ")
    path = store.path
    store.close()
    reopened = ProvisioningStore(path)
    try:
        again = reopened.queue(ACME, q.id or 0)
        assert [(m.extension, m.logged_in) for m in again.members] == [
            ("101", True), ("102", False),
        ]  # fmt: skip
        pause = reopened.agent_pause(ACME, "101")
        assert pause is not None and pause.reason == "lunch"
        assert reopened.set_agent_pause(ACME, "101", None) is True
        assert reopened.agent_pauses(ACME) == {}
        assert reopened.tenants_with_queues() == [ACME]
    finally:
        reopened.close()
        directory.store = ProvisioningStore(path)


def test_a_queue_extension_has_a_decision_until_the_queue_is_gone(directory: Directory) -> None:
    """The pusher's decisions for a queue's extension; the store drops what routes nothing."""
    from kamailio.rules_push import queue_decisions
    from switchboard.routing import read_decision

    store = directory.store
    q = store.save_queue(support())
    (key, value, until), *more = queue_decisions(store, ACME, 30)
    assert (key, until, more) == (f"{ACME}:600", None, [])
    fields = read_decision(value)
    assert (fields["fwd_all"], fields["rule"], fields["tenant"]) == (f"queue:{q.id}", "", ACME)
    store.write_decisions({key: value, f"{GLOBEX}:600": value, "did:+15550001000": value})
    assert store.drop_stale_decisions(ACME) == []  # the queue holds it still
    store.save_queue(replace(q, extension="601"))
    assert store.drop_stale_decisions(GLOBEX) == [f"{GLOBEX}:600"]  # one tenant only
    assert store.drop_stale_decisions() == [f"{ACME}:600"]
    store.write_decisions(dict([queue_decisions(store, ACME, 30)[0][:2]]))
    store.delete_queue(ACME, q.id or 0)
    assert store.drop_stale_decisions() == [f"{ACME}:601"]
    assert "did:+15550001000" in store.decisions()  # main numbers are never touched


def test_a_user_cannot_take_a_queues_extension(directory: Directory) -> None:
    store = directory.store
    store.save_queue(CallQueue("acme.example", "Sales", extension="600"))
    with pytest.raises(ProvisioningError, match="extension 600 belongs to a queue"):
        store.add_user(
            tenant="acme.example", extension="600", name="Nora", email="nora@acme.example",
            password="pw-123456789", sip_password="sip-123456789",
        )  # fmt: skip
    assert "600" not in {u.extension for u in store.users("acme.example")}
