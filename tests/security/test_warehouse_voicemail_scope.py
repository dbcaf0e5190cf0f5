"""The warehouse's voicemail views follow the voicemail rule, not the calls' one.

Who may read a mailbox is its owner or a manager
(:func:`switchboard.store.voicemail.may_open_mailbox`). A supervisor sees the
tenant's calls and call recordings, so a warehouse opened for them once showed
every mailbox's voicemails and transcripts to any reader (notebooks, CLI,
exports, the recordings search, analytics). Each row below is who opens the
warehouse and which mailboxes' messages its ``voicemails`` and ``transcripts``
views then hold.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from pipeline.viewer import open_for_viewer
from pipeline.warehouse import WarehouseError, connect, scope_of
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.portal import PORTAL_CALLS, build_lake
from tests.fixtures.recorded_calls import (
    REC_C01,
    REC_C04,
    add_voicemail_transcript,
    seed_recordings,
)

AT = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
# One transcribed message in each of acme's mailboxes (100 manager, 101 and 102 users,
# 103 supervisor).
MESSAGES = {mailbox: "vm-" + mailbox.rjust(32, "0") for mailbox in ("100", "101", "102", "103")}
EVERY_MAILBOX = set(MESSAGES)

# (login, own_calls_only, mailboxes whose messages the views show, recordings shown)
SCOPE = [
    ("100@acme.example", False, EVERY_MAILBOX, {REC_C01, REC_C04}),  # manager: all
    ("103@acme.example", False, {"103"}, {REC_C01, REC_C04}),  # supervisor: own box only
    ("102@acme.example", False, {"102"}, {REC_C01, REC_C04}),  # user: own box, own calls
    ("101@acme.example", False, {"101"}, {REC_C01}),
    ("100@acme.example", True, {"100"}, set()),  # anyone asking for their own only
]


@pytest.fixture
def lake(settings: Settings, directory: Directory) -> Settings:
    for mailbox, message_id in MESSAGES.items():
        add_voicemail_transcript(settings, message_id, mailbox, f"message for {mailbox}", AT)
    build_lake(settings, PORTAL_CALLS[:4])  # c01 (101 -> 102) .. c04 (103 -> 102)
    seed_recordings(settings)  # recordings of c01 and c04
    return settings


def mailboxes(conn: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    return {r[0] for r in conn.execute(f"select mailbox from {view}").fetchall()}


@pytest.mark.parametrize(("login", "own_only", "boxes", "recordings"), SCOPE)
def test_a_viewer_reads_the_mailboxes_the_voicemail_rule_allows(
    lake: Settings,
    directory: Directory,
    login: str,
    own_only: bool,
    boxes: set[str],
    recordings: set[str],
) -> None:
    user = directory.users[login]
    with open_for_viewer(lake, user, own_calls_only=own_only) as viewer:
        assert mailboxes(viewer.conn, "voicemails") == boxes
        assert mailboxes(viewer.conn, "transcripts") == boxes
        # the recordings scope is the calls' one: a supervisor keeps the tenant's
        rows = viewer.conn.execute("select recording_id from recordings").fetchall()
        assert {r[0] for r in rows} == recordings
        scope = scope_of(viewer.conn)
        assert scope is not None
        assert scope.mailbox == (None if boxes == EVERY_MAILBOX else user.extension)


def test_a_supervisor_and_a_manager_never_share_a_cached_database(
    lake: Settings, directory: Directory
) -> None:
    """Same tenant, same calls scope, same files: only the mailbox differs (the cache key)."""
    manager, supervisor = directory.users["100@acme.example"], directory.users["103@acme.example"]
    with open_for_viewer(lake, manager) as seen_by_manager:
        assert mailboxes(seen_by_manager.conn, "voicemails") == EVERY_MAILBOX
        with open_for_viewer(lake, supervisor) as seen_by_supervisor:
            assert mailboxes(seen_by_supervisor.conn, "voicemails") == {"103"}


def test_a_mailbox_scope_keeps_the_originals_forwarded_to_it(lake: Settings) -> None:
    forwarded = [MESSAGES["102"]]
    with connect(lake, "acme.example", mailbox="103", forwarded_message_ids=forwarded) as conn:
        assert mailboxes(conn, "voicemails") == {"102", "103"}
        assert mailboxes(conn, "transcripts") == {"102", "103"}
        assert conn.execute("select count(*) from calls").fetchone() == (4,)  # whole tenant
    with connect(lake, "acme.example", extension="101", forwarded_message_ids=forwarded) as conn:
        assert mailboxes(conn, "voicemails") == {"101", "102"}


@pytest.mark.parametrize(
    ("extension", "mailbox", "error"),
    [
        (None, "103' or '1'='1", "is not a mailbox"),
        (None, "", "is not a mailbox"),
        ("101", "102", "shows that extension's mailbox"),
    ],
)
def test_a_bad_mailbox_scope_is_refused(
    settings: Settings, extension: str | None, mailbox: str, error: str
) -> None:
    with pytest.raises(WarehouseError, match=error):
        connect(settings, "acme.example", extension=extension, mailbox=mailbox)
