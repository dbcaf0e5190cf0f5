"""The audit trail's lake table is the managers' alone, and one tenant's (issue 13).

The worker copies the trail's closed days into the lake (``access_log``); the
warehouse shows it as a view. Each row below is who opens the warehouse and how
many of acme's rows the ``access_log`` view then holds: a manager (and the operator's
tools, which name a tenant without a user) every one of their own tenant's, anyone
else none. Raw SQL on a non-manager's connection cannot read the files either.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from pipeline.access_log_export import export_access_log
from pipeline.viewer import open_for_viewer
from pipeline.warehouse import tenant_table_dir
from switchboard.settings import Settings
from switchboard.store.access_log import Access, Actor
from tests.fixtures.core import Directory

DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ACME_ROWS = 3

# (viewer: a login, or a tenant named without a user; own_calls_only; acme rows shown)
SCOPE = [
    ("100@acme.example", False, ACME_ROWS),  # manager
    ("acme.example", False, ACME_ROWS),  # the operator's tools (CLI, notebooks)
    ("103@acme.example", False, 0),  # supervisor
    ("101@acme.example", False, 0),  # user
    ("100@acme.example", True, 0),  # a manager asking for their own calls only
]


@pytest.fixture
def trail(settings: Settings, directory: Directory) -> Settings:
    """Three accesses in acme and one in globex, on a closed day, in the lake."""
    store = directory.store
    manager = Actor.of(directory.users["100@acme.example"])
    user = Actor.of(directory.users["101@acme.example"])
    at = DAY.timestamp()
    store.log_access(manager, Access("recording", "rec-1", "play", "call 101 to 102"), at)
    store.log_access(user, Access("voicemail", "vm-1", "download", "mailbox 101"), at + 1)
    retention = Actor.system("acme.example", "retention")
    store.log_access(retention, Access("recording", "rec-2", "delete"), at + 2)
    globex = Actor.of(directory.users["100@globex.example"])
    store.log_access(globex, Access("recording", "rec-g", "play"), at)
    assert export_access_log(settings, store, now=datetime(2026, 11, 5, tzinfo=UTC)) == 4
    return settings


@pytest.mark.parametrize(("viewer", "own_only", "rows"), SCOPE)
def test_only_a_manager_reads_the_audit_trail(
    trail: Settings, directory: Directory, viewer: str, own_only: bool, rows: int
) -> None:
    who = directory.users.get(viewer, viewer)
    with open_for_viewer(trail, who, own_calls_only=own_only) as seen:
        found = seen.conn.execute(
            "select count(*), count(distinct tenant) from access_log"
        ).fetchone()
        assert found == (rows, 1 if rows else 0)  # never a globex row
        if rows:
            actors = {r[0] for r in seen.conn.execute("select actor from access_log").fetchall()}
            assert actors == {"100@acme.example", "101@acme.example", "system:retention"}
            return
        # not a manager: the files are out of the connection's reach, not only out of the view
        folder = tenant_table_dir(trail.lake_dir, "access_log", "acme.example")
        with pytest.raises(duckdb.Error):
            seen.conn.execute(f"select * from read_parquet('{folder}/*/*.parquet')").fetchall()
