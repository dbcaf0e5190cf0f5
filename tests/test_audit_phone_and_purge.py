"""Voicemail deletions nobody made in the portal are in the audit trail too (issue 13).

A message deleted from the phone's mailbox menu (``3``) is a deletion by the
mailbox's owner, from ``phone``; a message the trash purge removes 30 days
later is a deletion by ``system:retention``, as recordings retention logs its
own. Messages come in the way production gets them: a spool item, ingested.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

from media.mailbox import PHONE, StoreMailboxes
from pipeline.voicemail_ingest import ingest_voicemail
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.access_log import AccessEntry, AccessQuery
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import write_spool_item

TENANT = "acme.example"


def short_wav(path: Path) -> Path:
    """Half a second of 8 kHz audio: what is in it does not matter here."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(8000))
    return path


def deletions(store: ProvisioningStore, tenant: str = TENANT) -> list[AccessEntry]:
    return store.access_log(tenant, AccessQuery(action="delete"))


def ingest_voicemail_except(settings: Settings, store: ProvisioningStore, waiting: str) -> None:
    """Ingest the spool but leave ``waiting`` there (the phone menu also plays those)."""
    spooled = settings.spool_dir / "voicemail" / TENANT / "102"
    parked = settings.data_dir / "parked"
    parked.mkdir()
    moved = [p.rename(parked / p.name) for p in spooled.glob(f"{waiting}*")]
    ingest_voicemail(settings, store)
    for path in moved:
        path.rename(spooled / path.name)


def test_a_message_deleted_by_phone_is_logged_as_its_owner_from_the_phone(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    store = directory.store
    wav = short_wav(tmp_path / "m.wav")
    deleted, saved = (write_spool_item(settings, TENANT, "102", wav) for _ in range(2))
    waiting = write_spool_item(settings, TENANT, "102", wav)  # not ingested yet
    ingest_voicemail_except(settings, store, waiting)
    mailboxes = StoreMailboxes(store, settings.data_dir, settings.spool_dir)

    mailboxes.set_message_state(TENANT, "102", saved, "saved")
    mailboxes.set_message_state(TENANT, "102", deleted, "deleted")
    mailboxes.set_message_state(TENANT, "102", waiting, "deleted")  # no row: nothing deleted

    [entry] = deletions(store)
    owner = directory.users["102@acme.example"]
    assert (entry.actor, entry.actor_name, entry.actor_role) == (owner.login, owner.name, "user")
    assert (entry.kind, entry.object_id, entry.client) == ("voicemail", deleted, PHONE)
    assert entry.object_label == "mailbox 102, by phone"
    [trashed] = store.voicemail_messages(TENANT, "102", ("trash",))
    assert trashed.message_id == deleted


def test_the_trash_purge_logs_each_message_it_removes_as_retention(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    store = directory.store
    wav = short_wav(tmp_path / "m.wav")
    old, recent = (write_spool_item(settings, TENANT, box, wav) for box in ("102", "101"))
    ingest_voicemail(settings, store)
    long_ago = time.time() - 31 * 86_400
    store.set_message_folder(TENANT, "102", old, "trash", now=long_ago)
    store.set_message_folder(TENANT, "101", recent, "trash")  # still restorable: stays

    assert store.purge_voicemail_trash() == [f"voicemail/{TENANT}/102/{old}.wav"]

    [entry] = deletions(store)
    assert (entry.actor, entry.actor_role) == ("system:retention", "system")
    assert (entry.kind, entry.object_id, entry.object_label) == ("voicemail", old, "mailbox 102")
    assert store.purge_voicemail_trash() == []  # nothing left to purge, nothing logged twice
    assert len(deletions(store)) == 1
    assert deletions(store, "globex.example") == []
