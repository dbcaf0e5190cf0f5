"""A scheduled report holds what its owner may see, never more (issue 9).

Yesterday acme had four calls (two internal, two from outside) and one message in
each of four mailboxes. Each schedule below is saved by one person and run by the
worker's own entry point (:func:`pipeline.schedules.run_due`); the file it writes
is what the recipients get. A supervisor's KPI report counts the tenant's calls but
only their own mailbox's messages (the voicemail rule, as in the portal and notebooks);
a plain user's call export lists their calls; a manager's and the operator's (no
owner) hold everything. An owner demoted since saving gets their new, narrower scope;
an owner removed or disabled gets no report, and the run log says why.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from pipeline.schedules import RunOutcome, run_due
from switchboard.report_schedules import ReportSchedule
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.analytics import ACME, write_lake
from tests.fixtures.core import Directory
from tests.fixtures.recorded_calls import add_voicemail_transcript

NY = ZoneInfo("America/New_York")
# (call id, caller, callee); every call answered by its callee
CALLS = [
    ("k1", "101", "102"),
    ("k2", "103", "100"),
    ("k3", "+15550001111", "102"),
    ("k4", "+15550002222", "101"),
]
MAILBOXES = ("100", "101", "102", "103")


@pytest.fixture
def due_at() -> datetime:
    """When the worker runs the schedules: past their next due minute. The calls are on
    the day before it in New York (one clock: a run just after midnight there reports the
    day that just ended)."""
    return datetime.now(UTC) + timedelta(minutes=2)


def yesterday(due_at: datetime, hour: int) -> datetime:
    day = (due_at.astimezone(NY) - timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NY)


@pytest.fixture
def lake(settings: Settings, directory: Directory, due_at: datetime) -> Settings:
    rows = []
    for i, (call_id, caller, callee) in enumerate(CALLS, start=1):
        invite = yesterday(due_at, 9 + i).timestamp()
        rows.append(
            {
                "id": i, "call_id": call_id, "tenant": ACME,
                "direction": "internal" if caller.isdigit() and len(caller) == 3 else "inbound",
                "caller": caller, "callee": callee, "answered_by": callee,
                "invite_at": invite, "answer_at": invite + 3, "end_at": invite + 33,
                "sip_code": 200,
            }
        )  # fmt: skip
    write_lake(settings, rows)
    for mailbox in MAILBOXES:
        message_id = "vm-" + mailbox.rjust(32, "0")
        add_voicemail_transcript(settings, message_id, mailbox, "call me", yesterday(due_at, 15))
    return settings


def save(store: ProvisioningStore, name: str, owner: str | None, kind: str) -> ReportSchedule:
    user_id = None if owner is None else store.user(ACME, owner).id
    fmt = "parquet" if kind == "calls" else "csv"
    schedule = ReportSchedule(
        tenant=ACME, name=name, kind=kind, format=fmt, cron="* * * * *", timezone=str(NY)
    )
    return store.add_schedule(schedule, user_id)


def run(settings: Settings, store: ProvisioningStore, due_at: datetime) -> dict[int, RunOutcome]:
    return {o.schedule_id: o for o in run_due(settings, store, due_at)}


def kpi_total(outcome: RunOutcome) -> dict[str, Any]:
    assert outcome.error is None and outcome.file is not None
    rows = list(csv.DictReader(io.StringIO(outcome.file.read_text())))
    return next(r for r in rows if r.get("group", r.get("Group")) == "total")


def total_of(row: dict[str, Any], *names: str) -> int:
    return int(next(row[n] for n in names if n in row))


def call_ids(outcome: RunOutcome) -> set[str]:
    assert outcome.error is None and outcome.file is not None
    return set(pq.read_table(outcome.file).column("call_id").to_pylist())


def test_each_report_holds_what_its_owner_may_see(
    lake: Settings, directory: Directory, due_at: datetime
) -> None:
    store = directory.store
    by = {
        "supervisor": save(store, "Sup KPIs", "103", "kpis"),
        "manager": save(store, "Mgr KPIs", "100", "kpis"),
        "operator": save(store, "Ops KPIs", None, "kpis"),
        "user": save(store, "Desk calls", "101", "calls"),
        "manager calls": save(store, "Mgr calls", "100", "calls"),
    }
    done = run(lake, store, due_at)
    messages = {k: total_of(kpi_total(done[s.id or 0]), "voicemails_left", "Voicemails left")
                for k, s in by.items() if s.kind == "kpis"}  # fmt: skip
    calls = {k: total_of(kpi_total(done[s.id or 0]), "calls", "Calls")
             for k, s in by.items() if s.kind == "kpis"}  # fmt: skip
    assert messages == {"supervisor": 1, "manager": 4, "operator": 4}
    assert calls == {"supervisor": 4, "manager": 4, "operator": 4}  # calls: tenant-wide
    assert call_ids(done[by["user"].id or 0]) == {"k1", "k4"}  # 101's own calls
    assert call_ids(done[by["manager calls"].id or 0]) == {"k1", "k2", "k3", "k4"}


def test_a_demoted_owner_gets_the_narrower_scope(
    lake: Settings, directory: Directory, due_at: datetime
) -> None:
    store = directory.store
    saved = save(store, "Sup calls", "103", "calls")
    store.update_user(ACME, "103", role="user")
    assert call_ids(run(lake, store, due_at)[saved.id or 0]) == {"k2"}  # 103's own call only


def test_a_promoted_owner_keeps_the_scope_they_saved(
    lake: Settings, directory: Directory, due_at: datetime
) -> None:
    store = directory.store
    saved = save(store, "Desk calls", "101", "calls")
    store.update_user(ACME, "101", role="manager")
    assert call_ids(run(lake, store, due_at)[saved.id or 0]) == {"k1", "k4"}


@pytest.mark.parametrize("gone", ["removed", "disabled"])
def test_a_removed_or_disabled_owner_gets_no_report(
    lake: Settings, directory: Directory, due_at: datetime, gone: str
) -> None:
    store = directory.store
    saved = save(store, "Sup KPIs", "103", "kpis")
    if gone == "removed":
        store.remove_user(ACME, "103", keep_days=30)
    else:
        store.set_user_disabled(ACME, "103", True)
    outcome = run(lake, store, due_at)[saved.id or 0]
    assert outcome.rows is None and outcome.file is None
    said = {"removed": "owner 103 was removed", "disabled": "owner 103 is disabled"}[gone]
    assert outcome.error is not None and said in outcome.error
    [logged] = store.report_runs(ACME, saved.id)
    assert not logged.ok and logged.error == outcome.error
    assert not list((lake.data_dir / "exports").rglob("*.csv"))
