"""Contact names in the warehouse: every reader shows a number as the viewer's contact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipeline import metrics
from pipeline.filters import CallFilter
from pipeline.history import call_page
from pipeline.viewer import open_for_viewer
from switchboard.settings import Settings
from switchboard.store.contacts import ContactInput
from tests.fixtures.analytics import ACME, HAND_DAY, hand_acc_rows, write_lake
from tests.fixtures.core import Directory

DAY = metrics.Period(date.fromisoformat(HAND_DAY), date.fromisoformat(HAND_DAY))


def _names(rows: list[dict[str, object]]) -> dict[str, object]:
    return {str(r["call_id"]): (r["caller_name"], r["callee_name"]) for r in rows}


def test_calls_and_the_worklist_show_shared_and_own_contact_names(
    settings: Settings, directory: Directory
) -> None:
    write_lake(settings, hand_acc_rows())
    store = directory.store
    manager, front = directory.users[f"100@{ACME}"], directory.users[f"101@{ACME}"]
    store.add_contact(manager, ContactInput("Carla Customer", phone="+1 555 000 1111"), shared=True)
    store.add_contact(front, ContactInput("Dan Private", phone="1-555-000-2222"))

    with open_for_viewer(settings, ACME) as whole:  # the operator: shared names only
        rows, _ = call_page(whole.conn, CallFilter(timezone="UTC"), offset=0, limit=100)
        names = _names(rows)
        assert names["a1"][0] == "Carla Customer" and names["a2"][0] == "Carla Customer"
        assert names["a3"][0] is None  # Dan is 101's own contact
        assert names["a5"] == ("Front Desk", "Bob Builder")  # colleagues keep their names
        worklist = metrics.callback_worklist(whole.conn, DAY, tz="America/New_York")
        assert [(r["number"], r["caller_name"]) for r in worklist] == [
            ("15550001111", "Carla Customer")
        ]
    with open_for_viewer(settings, manager) as seen:  # not the users' personal contacts
        rows, _ = call_page(seen.conn, CallFilter(timezone="UTC"), offset=0, limit=100)
        assert _names(rows)["a6"][1] is None
    front_view = open_for_viewer(settings, front)
    with front_view:
        rows, _ = call_page(front_view.conn, CallFilter(timezone="UTC"), offset=0, limit=100)
        assert _names(rows)["a1"][0] == "Carla Customer"  # 101 answered it


def test_a_voicemail_from_a_contact_shows_their_name(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    from pipeline.voicemail_ingest import ingest_voicemail
    from pipeline.voicemail_query import mailbox_messages, open_mailbox
    from tests.fixtures.voicemail import silence_wav, write_spool_item

    store = directory.store
    bob = directory.users[f"102@{ACME}"]
    store.add_contact(bob, ContactInput("Carla Customer", phone="(555) 123-0000"))
    write_spool_item(settings, ACME, "102", silence_wav(tmp_path / "a.wav"), caller="5551230000")
    ingest_voicemail(settings, store)
    messages = store.voicemail_messages(ACME, "102")
    names = store.contact_names(ACME, bob)
    with open_mailbox(settings, ACME, "102", messages, names) as conn:
        [row] = mailbox_messages(conn, messages, None)
    assert row["caller_name"] == "Carla Customer"  # not the "Jane Customer" the call sent
