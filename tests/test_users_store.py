"""Running users in the store: edit, disable, remove, one-time passwords, caller IDs, import."""

from __future__ import annotations

import time

import pytest

from switchboard.rules import AnsweringRule, Destination
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.accounts import NewUser
from switchboard.user_csv import parse_users_csv, preview_import, users_csv
from tests.fixtures.core import Directory

T = "acme.example"


def _login(store: ProvisioningStore, ext: str, password: str = Directory.PASSWORD) -> None:
    store.authenticate(f"{ext}@{T}", password, "192.0.2.1", 100, 300)


def _subscriber(store: ProvisioningStore, ext: str) -> bool:
    row = store._db.execute(
        "select 1 from subscriber where username = ? and domain = ?", (ext, T)
    ).fetchone()
    return row is not None


def test_edit_checks_every_field_and_keeps_the_rest(directory: Directory) -> None:
    store = directory.store
    u = store.update_user(T, "101", name="Front Office", email="front@acme.example")
    assert (u.name, u.email, u.role) == ("Front Office", "front@acme.example", "user")
    u = store.update_user(T, "101", timezone="Europe/Berlin", role="agent")
    assert (u.timezone, u.role, u.name) == ("Europe/Berlin", "agent", "Front Office")
    assert store.update_user(T, "101", timezone="").timezone == "America/New_York"
    for bad in ({"email": "not an email"}, {"role": "boss"}, {"timezone": "Mars/Base"},
                {"name": "  "}):  # fmt: skip
        with pytest.raises(ProvisioningError):
            store.update_user(T, "101", **bad)
    assert store.user(T, "101").name == "Front Office"


def test_the_only_manager_can_be_neither_demoted_disabled_nor_removed(
    directory: Directory,
) -> None:
    store = directory.store
    for attempt in (
        lambda: store.update_user(T, "100", role="user"),
        lambda: store.set_user_disabled(T, "100", True),
        lambda: store.remove_user(T, "100", keep_days=30),
    ):
        with pytest.raises(ProvisioningError, match=r"only manager of acme\.example"):
            attempt()
    assert store.user(T, "100").role == "manager" and not store.user(T, "100").disabled
    store.update_user(T, "103", role="manager")  # a second manager: now it may go
    assert store.update_user(T, "100", role="user").role == "user"
    with pytest.raises(ProvisioningError, match="only manager"):
        store.set_user_disabled(T, "103", True)


def test_a_disabled_user_cannot_sign_in_nor_authenticate_a_phone(directory: Directory) -> None:
    store = directory.store
    before = store._db.execute("select ha1 from subscriber where username = '102'").fetchone()[0]
    assert store.set_user_disabled(T, "102", True).disabled
    assert not _subscriber(store, "102")  # Kamailio's auth_db finds no credentials
    with pytest.raises(ProvisioningError, match="disabled"):
        _login(store, "102")
    # a SIP password set while disabled waits with the parked row
    store.set_sip_password(T, "102", "new-sip-secret")
    assert not store.set_user_disabled(T, "102", False).disabled
    after = store._db.execute("select ha1 from subscriber where username = '102'").fetchone()[0]
    assert after != before and _subscriber(store, "102")
    _login(store, "102")


def test_removing_a_user_states_what_stays_and_what_goes(directory: Directory) -> None:
    store = directory.store
    bob = store.user(T, "102")
    store.save_rule(bob, AnsweringRule("Desk", 10))
    store.record_voicemail(T, "102", "vm-1", started_at=time.time(), duration=3.0,
                           audio_path="voicemail/acme.example/102/vm-1.wav")  # fmt: skip
    # a colleague forwards to 102: removal is refused until that changes
    desk = store.save_rule(
        store.user(T, "101"),
        AnsweringRule("To Bob", 10, forward_always=Destination("extension", "102")),
    )
    with pytest.raises(ProvisioningError, match="rule of 101 'To Bob'"):
        store.remove_user(T, "102", keep_days=30)
    store.delete_rule(store.user(T, "101"), desk.id or 0)

    now = time.time()
    removal = store.remove_user(T, "102", keep_days=30, now=now)
    assert removal.rules_removed == 1 and removal.mailbox.startswith("kept until ")
    with pytest.raises(ProvisioningError):
        store.user(T, "102")
    assert not _subscriber(store, "102")
    # the mailbox is kept, and the extension cannot be reused meanwhile
    kept = store.voicemail_messages(T, "102", ("new",), "newest")
    assert [m.message_id for m in kept] == ["vm-1"]
    with pytest.raises(ProvisioningError, match="mailbox is kept until"):
        store.add_user(tenant=T, extension="102", name="New Bob", email="", password="p" * 8,
                       sip_password="s" * 8)  # fmt: skip
    assert store.purge_removed_mailboxes(now + 29 * 86400) == []
    assert store.purge_removed_mailboxes(now + 31 * 86400) == [
        "voicemail/acme.example/102/vm-1.wav"
    ]
    assert store.voicemail_messages(T, "102", ("new",), "newest") == []


def test_a_removed_users_mailbox_can_go_to_a_colleague(directory: Directory) -> None:
    store = directory.store
    store.record_voicemail(T, "102", "vm-2", started_at=time.time(), duration=3.0,
                           audio_path="voicemail/acme.example/102/vm-2.wav")  # fmt: skip
    removal = store.remove_user(T, "102", keep_days=30, reassign_mailbox_to="101")
    assert removal.mailbox == "reassigned to 101"
    assert [m.message_id for m in store.voicemail_messages(T, "101", ("new",))] == ["vm-2"]


def test_a_one_time_password_works_once_expires_and_must_be_replaced(
    directory: Directory,
) -> None:
    store = directory.store
    code = store.reset_password(T, "101", hours=1)
    with pytest.raises(ProvisioningError):
        _login(store, "101")  # the old password stopped working
    store.authenticate(f"101@{T}", code, "192.0.2.1", 100, 300)
    assert store.user(T, "101").must_change_password
    with pytest.raises(ProvisioningError, match="different"):
        store.set_new_password(store.user(T, "101").id, code)
    store.set_new_password(store.user(T, "101").id, "brand-new-pass")
    assert not store.user(T, "101").must_change_password
    _login(store, "101", "brand-new-pass")

    expired = store.reset_password(T, "101", hours=-1)
    with pytest.raises(ProvisioningError, match="expired"):
        store.authenticate(f"101@{T}", expired, "192.0.2.1", 100, 300)


def test_a_password_change_needs_the_current_password(directory: Directory) -> None:
    store = directory.store
    uid = store.user(T, "101").id
    with pytest.raises(ProvisioningError, match="current password is wrong"):
        store.change_password(uid, "guess-guess", "new-password-1")
    with pytest.raises(ProvisioningError, match="at least 8"):
        store.change_password(uid, Directory.PASSWORD, "short")
    store.change_password(uid, Directory.PASSWORD, "new-password-1")
    _login(store, "101", "new-password-1")


def test_caller_id_is_chosen_among_the_numbers_the_manager_allowed(
    directory: Directory,
) -> None:
    store = directory.store
    store.add_did(T, "+15551230001", "Sales")
    store.add_did(T, "+15551230002", "Support")
    user = store.user(T, "101")
    with pytest.raises(ProvisioningError, match="not a caller ID you may use"):
        store.set_caller_id(user, "+15551230001")
    user = store.set_allowed_caller_ids(user, ["+15551230001"])
    assert store.set_caller_id(user, "+15551230001").caller_id == "+15551230001"
    with pytest.raises(ProvisioningError, match="not a main number"):
        store.set_allowed_caller_ids(user, ["+19999999999"])
    # the grant withdrawn: the choice falls back to the default
    assert store.set_allowed_caller_ids(user, []).caller_id == ""


def test_home_sections_are_a_preference(directory: Directory) -> None:
    store = directory.store
    uid = store.user(T, "101").id
    assert "colleagues" in store.home_sections(uid)
    store.set_home_sections(uid, ["recent", "rule"])
    assert store.home_sections(uid) == ["recent", "rule"]
    with pytest.raises(ProvisioningError):
        store.set_home_sections(uid, ["nonsense"])


GOOD = """extension,name,email,role,timezone
201,Ann One,ann@acme.example,user,
202,Ben Two,ben@acme.example,agent,Europe/Berlin
203,Cat Three,,manager,
"""


def test_a_csv_with_broken_rows_is_previewed_with_their_errors_and_writes_nothing(
    directory: Directory,
) -> None:
    store = directory.store
    broken = GOOD + "204,Dan Four,not-an-email,user,\n205,Eve Five,eve@acme.example,boss,\n"
    preview = preview_import(store, T, broken)
    assert not preview.ready
    assert [(e.line, e.error.split(" ")[0]) for e in preview.errors] == [
        (5, "'not-an-email'"),
        (6, "role"),
    ]
    assert len(preview.users) == 3
    assert {u.extension for u in store.users(T)}.isdisjoint({"201", "202", "203"})

    fixed = preview_import(store, T, GOOD)
    assert fixed.ready
    creds = store.import_users(T, fixed.users, one_time_hours=24)
    assert [c.extension for c in creds] == ["201", "202", "203"]
    assert store.user(T, "202").timezone == "Europe/Berlin"
    assert store.user(T, "201").must_change_password
    store.authenticate(f"201@{T}", creds[0].one_time_password, "192.0.2.1", 100, 300)


def test_a_duplicate_extension_mid_file_writes_nothing(directory: Directory) -> None:
    store = directory.store
    rows = [NewUser("301", "A"), NewUser("102", "Taken"), NewUser("302", "B")]
    assert store.import_problems(T, rows) == {1: "extension 102 already exists in acme.example"}
    with pytest.raises(ProvisioningError, match="extension 102 already exists"):
        store.import_users(T, rows, one_time_hours=24)
    assert {u.extension for u in store.users(T)}.isdisjoint({"301", "302"})
    dup = parse_users_csv("extension,name\n401,A\n401,B\n")
    assert dup.errors[0].error == "extension 401 is also on line 2"


def test_a_file_without_the_columns_is_refused_whole() -> None:
    with pytest.raises(ProvisioningError, match="header line"):
        parse_users_csv("101,Ann\n")
    with pytest.raises(ProvisioningError, match="unknown column 'salary'"):
        parse_users_csv("extension,name,salary\n101,Ann,1\n")


def test_export_uses_the_import_columns_and_reimports(directory: Directory) -> None:
    store = directory.store
    store.set_user_disabled(T, "102", True)
    text = users_csv(store.users(T))
    assert text.splitlines()[0] == "extension,name,email,role,timezone,status"
    assert "102,Bob Builder,102@acme.example,user,America/New_York,disabled" in text
    assert len(parse_users_csv(text).lines) == 4


def test_an_exported_list_imported_elsewhere_keeps_who_was_disabled(
    directory: Directory,
) -> None:
    store = directory.store
    store.set_user_disabled(T, "102", True)
    other = store.add_tenant("branch.example", "Europe/Berlin").domain
    preview = preview_import(store, other, users_csv(store.users(T)))
    assert preview.ready
    assert {u.extension: u.disabled for u in preview.users}["102"]
    store.import_users(other, preview.users, one_time_hours=24)
    assert [u.extension for u in store.users(other) if u.disabled] == ["102"]
    # parked like a user disabled by hand: no phone registers, enabling brings it back
    domains = store._db.execute("select domain from subscriber where username = '102'")
    assert not list(domains)  # neither tenant's 102 may register
    store.set_user_disabled(other, "102", False)
    domains = store._db.execute("select domain from subscriber where username = '102'")
    assert {row[0] for row in domains} == {other}
    bad = parse_users_csv("extension,name,status\n401,Ann,retired\n402,Ben,Disabled\n")
    assert bad.errors[0].error == "status 'retired' must be enabled or disabled"
    assert bad.users[0].disabled


def test_tenant_edit_and_did_removal(directory: Directory) -> None:
    store = directory.store
    assert store.update_tenant(T, name="Acme Inc", timezone="Europe/Paris").name == "Acme Inc"
    with pytest.raises(ProvisioningError):
        store.update_tenant(T, timezone="Nowhere/City")
    store.add_did(T, "+15551230009", "Spare")
    store.remove_did(T, "+15551230009")
    assert store.dids(T) == []
    assert "+15551230009" in store.allocated_numbers(T)  # still the tenant's to add again
    with pytest.raises(ProvisioningError):
        store.remove_did("globex.example", "+15551230009")
