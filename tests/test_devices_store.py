"""Devices in the store: one credential per phone, revoked alone, parked with a disabled user."""

from __future__ import annotations

import pytest

from switchboard.store import ProvisioningError, ProvisioningStore, sip_ha1
from switchboard.store.devices import Sighting, extension_of_username
from tests.fixtures.core import Directory

T = "acme.example"


def _ha1(store: ProvisioningStore, username: str, table: str = "subscriber") -> str | None:
    row = store._db.execute(
        f"select ha1 from {table} where username = ? and domain = ?", (username, T)
    ).fetchone()
    return None if row is None else row[0]


def test_a_device_is_its_own_subscriber_row_with_ha1_only(directory: Directory) -> None:
    store = directory.store
    added = store.add_device(T, "101", "Desk phone")
    assert added.device.username == "101-deskphone"
    assert extension_of_username(added.device.username) == "101"
    assert _ha1(store, "101-deskphone") == sip_ha1("101-deskphone", T, added.password)[0]
    assert added.password not in str(store._db.execute("select * from subscriber").fetchall())
    # the extension's own credential is untouched
    assert _ha1(store, "101") is not None
    second = store.add_device(T, "101", "Desk-phone!")  # same slug, another name
    assert second.device.username == "101-deskphone2"
    with pytest.raises(ProvisioningError, match="already has a device"):
        store.add_device(T, "101", "desk PHONE")
    assert [d.name for d in store.devices(T, "101")] == ["Desk phone", "Desk-phone!"]
    assert store.devices("globex.example") == []


def test_revoking_one_device_leaves_the_others(directory: Directory) -> None:
    store = directory.store
    desk = store.add_device(T, "101", "Desk").device
    mobile = store.add_device(T, "101", "Mobile").device
    store.revoke_device(T, desk.username)
    assert _ha1(store, desk.username) is None
    assert _ha1(store, mobile.username) is not None
    assert [d.name for d in store.devices(T)] == ["Mobile"]
    with pytest.raises(ProvisioningError):
        store.revoke_device(T, desk.username)
    with pytest.raises(ProvisioningError):  # another tenant's device is "no such device"
        store.revoke_device("globex.example", mobile.username)


def test_disable_parks_device_credentials_and_remove_deletes_them(directory: Directory) -> None:
    store = directory.store
    desk = store.add_device(T, "102", "Desk").device
    store.set_user_disabled(T, "102", True)
    assert _ha1(store, desk.username) is None
    assert _ha1(store, desk.username, "subscriber_parked") is not None
    late = store.add_device(T, "102", "Late").device  # added while disabled: parked too
    assert _ha1(store, late.username) is None
    store.set_user_disabled(T, "102", False)
    assert _ha1(store, desk.username) is not None and _ha1(store, late.username) is not None
    store.remove_user(T, "102", keep_days=1)
    assert _ha1(store, desk.username) is None and _ha1(store, late.username) is None
    assert store.devices(T) == []


def test_last_seen_keeps_the_latest_sighting(directory: Directory) -> None:
    store = directory.store
    desk = store.add_device(T, "101", "Desk").device
    assert store.devices(T)[0].last_seen_at is None
    seen = {
        desk.username: Sighting(1000.0, "Yealink T46", "192.0.2.7:5060"),
        "nobody": Sighting(1, "", ""),
    }
    assert store.record_device_presence(T, seen) == 1
    assert store.record_device_presence(T, seen) == 0  # nothing new: nothing written
    store.record_device_presence(
        T, {desk.username: Sighting(900.0, "Yealink T46", "192.0.2.7:5060")}
    )
    (d,) = store.devices(T)
    assert (d.last_seen_at, d.last_user_agent, d.last_address) == (
        1000.0, "Yealink T46", "192.0.2.7:5060",
    )  # fmt: skip
