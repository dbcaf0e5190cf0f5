"""Contacts in the store and as files: who sees and edits which, previews, names of numbers."""

from __future__ import annotations

import pytest

from switchboard.contact_files import contacts_csv, contacts_vcard, parse_contacts
from switchboard.store import ProvisioningError
from switchboard.store.contacts import ContactInput
from tests.fixtures.core import Directory

T = "acme.example"

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carla Customer\r\nORG:Big Buyer Inc;Sales\r\n"
    "TEL;TYPE=WORK,VOICE:+1 (555) 010-0100\r\nTEL;TYPE=CELL:+1 555 010 0199\r\n"
    "EMAIL;TYPE=INTERNET:carla@buyer.example\r\nNOTE:folded li\r\n ne\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Supplier;Sam;;;\r\nitem1.TEL:555-0142\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Number\r\nEND:VCARD\r\n"
)
CSV = (
    "Name,Company,Email,Phone,Mobile\n"
    "Dora Dealer,Dealers,dora@dealers.example,+44 20 7946 0000,\n"
    "Broken Row,,not-an-email,12345,\n"
    ",,,,\n"
    "Eve Engineer,,,,07700 900123\n"
)


def test_vcard_and_csv_previews_give_each_entry_its_contact_or_error() -> None:
    cards = parse_contacts(VCARDS)
    assert cards.kind == "vcard"
    assert [(c.name, c.company, c.phone, c.mobile) for c in cards.contacts] == [
        ("Carla Customer", "Big Buyer Inc", "+1 (555) 010-0100", "+1 555 010 0199"),
        ("Sam Supplier", "", "555-0142", ""),
    ]
    assert [(e.line, e.label) for e in cards.errors] == [(16, "No Number")]
    rows = parse_contacts(CSV)
    assert rows.kind == "csv"
    assert [c.name for c in rows.contacts] == ["Dora Dealer", "Eve Engineer"]
    assert [(e.line, e.label) for e in rows.errors] == [(3, "Broken Row")]
    assert "email" in rows.errors[0].error
    for bad in ("", "just,some,columns\n1,2,3\n"):
        with pytest.raises(ProvisioningError):
            parse_contacts(bad)
    assert parse_contacts("BEGIN:VCARD\nFN:x\n").errors[0].error == "no END:VCARD"


def test_a_user_sees_shared_and_own_contacts_and_edits_only_their_own(
    directory: Directory,
) -> None:
    store = directory.store
    manager, front, bob = (directory.users[f"{e}@{T}"] for e in ("100", "101", "102"))
    shared = store.add_contact(
        manager, ContactInput("Shared Supplier", phone="555 0100"), shared=True
    )
    mine = store.add_contact(front, ContactInput("Front's Friend", mobile="+1 555 0101"))
    bobs = store.add_contact(bob, ContactInput("Bob's Mum", phone="5550102"))
    assert {c.name for c in store.contacts(front)} == {"Shared Supplier", "Front's Friend"}
    assert {c.name for c in store.contacts(manager)} == {"Shared Supplier"}  # not the users' own
    with pytest.raises(ProvisioningError, match="shared"):
        store.add_contact(front, ContactInput("X", phone="1234"), shared=True)
    with pytest.raises(ProvisioningError, match="shared"):
        store.update_contact(front, shared.id, ContactInput("Renamed", phone="1234"))
    with pytest.raises(ProvisioningError, match="no contact"):
        store.delete_contact(front, bobs.id)
    with pytest.raises(ProvisioningError, match="no contact"):
        store.update_contact(manager, bobs.id, ContactInput("Renamed", phone="1234"))
    store.update_contact(front, mine.id, ContactInput("Front's Best Friend", mobile="+1 555 0101"))
    store.set_favourite(front, shared.id, True)  # a star is the user's own
    assert [(c.name, c.favourite) for c in store.contacts(front)] == [
        ("Shared Supplier", True), ("Front's Best Friend", False),
    ]  # fmt: skip
    assert not store.contacts(manager)[0].favourite
    assert [c.name for c in store.contacts(front, scope="favourites")] == ["Shared Supplier"]
    assert [c.name for c in store.contacts(front, scope="personal")] == ["Front's Best Friend"]
    assert [c.name for c in store.contacts(front, search="best")] == ["Front's Best Friend"]
    assert [c.name for c in store.contacts(front, search="5550100")] == ["Shared Supplier"]
    assert store.contacts(front, search="zz%") == []
    store.delete_contact(front, mine.id)
    assert [c.name for c in store.contacts(front)] == ["Shared Supplier"]


def test_calls_are_named_by_shared_and_own_contacts_only(directory: Directory) -> None:
    store = directory.store
    manager, front, bob = (directory.users[f"{e}@{T}"] for e in ("100", "101", "102"))
    store.add_contact(manager, ContactInput("Supplier", phone="+1 555 0100"), shared=True)
    store.add_contact(front, ContactInput("My Supplier Rep", phone="15550100", mobile="555-0199"))
    store.add_contact(bob, ContactInput("Bob's Mum", phone="5550102"))
    assert store.contact_names(T) == {"15550100": "Supplier"}
    assert store.contact_names(T, front) == {
        "15550100": "My Supplier Rep",
        "5550199": "My Supplier Rep",
    }
    assert store.contact_names(T, manager) == {"15550100": "Supplier"}


def test_import_adds_all_good_rows_and_export_round_trips(directory: Directory) -> None:
    store = directory.store
    front = directory.users[f"101@{T}"]
    preview = parse_contacts(CSV)
    assert store.import_contacts(front, preview.contacts) == 2
    exported = store.contacts(front)
    again = parse_contacts(contacts_csv(exported))
    assert [c.name for c in again.contacts] == ["Dora Dealer", "Eve Engineer"] and not again.errors
    cards = parse_contacts(contacts_vcard(exported))
    assert [(c.name, c.phone, c.mobile) for c in cards.contacts] == [
        (c.name, c.phone, c.mobile) for c in exported
    ]
    with pytest.raises(ProvisioningError):  # a bad row refuses the whole batch
        store.import_contacts(
            front, [ContactInput("Ok", phone="1234"), ContactInput("", phone="1")]
        )
    assert len(store.contacts(front)) == 2
