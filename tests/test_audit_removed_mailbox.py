"""A removed user's kept mailbox, purged when its keep-days are over, is in the audit trail.

Each message the purge drops is a deletion by whoever removed the user (the manager,
as they were then), or by ``system:retention`` when the operator's tools removed them;
the trail is written with the purge, so a purge that ran is never missing from it and
one that did not run is never in it.
"""

from __future__ import annotations

import time

import pytest

from switchboard.store import ProvisioningStore, User
from switchboard.store.access_log import AccessEntry, AccessQuery
from tests.fixtures.core import Directory

T = "acme.example"
DAY = 86_400


def deletions(store: ProvisioningStore, tenant: str = T) -> list[AccessEntry]:
    return store.access_log(tenant, AccessQuery(action="delete"))


def leave_messages(store: ProvisioningStore, mailbox: str, count: int) -> list[str]:
    ids = [f"vm-{mailbox}-{n}" for n in range(count)]
    for n, message_id in enumerate(ids):
        store.record_voicemail(T, mailbox, message_id, started_at=time.time() + n, duration=3.0,
                               audio_path=f"voicemail/{T}/{mailbox}/{message_id}.wav")  # fmt: skip
    return ids


@pytest.mark.parametrize("by_manager", [True, False], ids=["manager", "operator"])
def test_each_purged_message_is_a_deletion_by_who_removed_the_user(
    directory: Directory, by_manager: bool
) -> None:
    store = directory.store
    manager: User | None = directory.users["100@acme.example"] if by_manager else None
    removed = directory.users["102@acme.example"]
    ids = leave_messages(store, "102", 2)
    now = time.time()
    store.remove_user(T, "102", keep_days=30, now=now, removed_by=manager)

    assert store.purge_removed_mailboxes(now + 29 * DAY) == []
    assert deletions(store) == []  # nothing purged, nothing logged

    purged = store.purge_removed_mailboxes(now + 31 * DAY)
    assert sorted(purged) == sorted(f"voicemail/{T}/102/{m}.wav" for m in ids)
    entries = deletions(store)
    assert sorted(e.object_id for e in entries) == sorted(ids)
    expected = (
        (manager.login, manager.name, "manager")
        if manager
        else ("system:retention", "Retention", "system")
    )
    for entry in entries:
        assert (entry.actor, entry.actor_name, entry.actor_role) == expected
        assert entry.kind == "voicemail"
        assert entry.object_label == f"mailbox 102 of removed user {removed.name}"
    assert store.purge_removed_mailboxes(now + 32 * DAY) == []
    assert len(deletions(store)) == 2  # never logged twice
    assert deletions(store, "globex.example") == []
