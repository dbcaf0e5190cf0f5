"""The audit trail in the store: one row per access, repeats counted, each tenant its own."""

from __future__ import annotations

import pytest

from switchboard.store import ProvisioningError
from switchboard.store.access_log import (
    REPEAT_WINDOW_SECONDS,
    Access,
    AccessQuery,
    Actor,
)
from tests.fixtures.core import Directory

T0 = 1_760_000_000.0


def test_a_listening_is_one_row_and_every_request_is_counted(directory: Directory) -> None:
    store = directory.store
    manager = Actor.of(directory.users["100@acme.example"])
    play = Access("voicemail", "vm-1", "play", "mailbox 102", "192.0.2.7")
    first = store.log_access(manager, play, now=T0)
    assert store.log_access(manager, play, now=T0 + 5) == first  # a seek: same access
    assert store.log_access(manager, play, now=T0 + 9) == first
    # Another client address, another action, or back much later: a new access.
    other_client = Access("voicemail", "vm-1", "play", "mailbox 102", "192.0.2.8")
    assert store.log_access(manager, other_client, now=T0 + 10) != first
    download = Access("voicemail", "vm-1", "download", "mailbox 102", "192.0.2.7")
    assert store.log_access(manager, download, now=T0 + 11) != first
    later = T0 + 9 + REPEAT_WINDOW_SECONDS + 1
    assert store.log_access(manager, play, now=later) != first

    rows = store.access_log("acme.example")
    assert [r.action for r in rows] == ["play", "download", "play", "play"]  # newest first
    oldest = rows[-1]
    assert (oldest.actor, oldest.actor_name, oldest.actor_role) == (
        "100@acme.example",
        "Mia Manager",
        "manager",
    )
    assert (oldest.at, oldest.last_at, oldest.requests) == (T0, T0 + 9, 3)
    assert (oldest.kind, oldest.object_id, oldest.object_label, oldest.client) == (
        "voicemail",
        "vm-1",
        "mailbox 102",
        "192.0.2.7",
    )


def test_deletions_are_never_merged_and_filters_bind(directory: Directory) -> None:
    store = directory.store
    bob = Actor.of(directory.users["102@acme.example"])
    retention = Actor.system("acme.example", "retention")
    store.log_access(bob, Access("recording", "rec-a", "delete", "call 101 to 102"), now=T0)
    store.log_access(bob, Access("recording", "rec-a", "delete", "call 101 to 102"), now=T0 + 1)
    store.log_access(retention, Access("recording", "rec-b", "delete"), now=T0 + 2)
    store.log_access(bob, Access("recording", "rec-a", "play"), now=T0 + 3)

    assert store.access_log_count("acme.example", AccessQuery(action="delete")) == 3
    by_bob = store.access_log("acme.example", AccessQuery(actor="102@acme.example"))
    assert len(by_bob) == 3
    assert [r.actor for r in store.access_log("acme.example", AccessQuery(object_id="rec-b"))] == [
        "system:retention"
    ]
    window = AccessQuery(since=T0 + 1, until=T0 + 3)  # until is exclusive
    assert [r.at for r in store.access_log("acme.example", window)] == [T0 + 2, T0 + 1]
    # An injection attempt is a value like any other: it matches nothing.
    assert store.access_log("acme.example", AccessQuery(actor="x' or 1=1 --")) == []
    # Paging a long export by id never repeats or skips a row.
    newest = store.access_log("acme.example", limit=2)
    rest = store.access_log("acme.example", before_id=newest[-1].id)
    assert len(newest) + len(rest) == 4 and not {r.id for r in newest} & {r.id for r in rest}


def test_a_tenant_reads_only_its_own_trail(directory: Directory) -> None:
    store = directory.store
    globex = Actor.of(directory.users["100@globex.example"])
    store.log_access(globex, Access("voicemail", "vm-g", "play"), now=T0)
    assert store.access_log("acme.example") == []
    assert store.access_log_count("globex.example") == 1


def test_unknown_kinds_and_actions_are_refused(directory: Directory) -> None:
    store = directory.store
    bob = Actor.of(directory.users["102@acme.example"])
    with pytest.raises(ProvisioningError):
        store.log_access(bob, Access("fax", "x", "play"))  # type: ignore[arg-type]
    with pytest.raises(ProvisioningError):
        store.log_access(bob, Access("voicemail", "x", "forward"))  # type: ignore[arg-type]
    with pytest.raises(ProvisioningError, match="action must be one of"):
        AccessQuery(action="edit")
