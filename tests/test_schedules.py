"""Scheduled reports: files and emails with the right rows, one catch-up, broken SMTP."""

from __future__ import annotations

import csv
import email
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline.schedules import run_due
from switchboard.report_schedules import ReportSchedule, latest_due
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from tests.fixtures.analytics import ACME, GLOBEX, write_lake
from tests.fixtures.core import Directory, free_port, make_settings

NY = ZoneInfo("America/New_York")


class Inbox:
    """Messages an aiosmtpd server on loopback received."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def yesterday_calls(now: datetime) -> list[dict[str, Any]]:
    """Three acme calls and one globex call on the local day before ``now``."""
    day = (now.astimezone(NY) - timedelta(days=1)).date()
    rows = []
    for i, (tenant, direction) in enumerate(
        [(ACME, "inbound"), (ACME, "internal"), (ACME, "inbound"), (GLOBEX, "inbound")], start=1
    ):
        invite = datetime(day.year, day.month, day.day, 9 + i, tzinfo=NY).timestamp()
        rows.append(
            {
                "id": i,
                "call_id": f"s{i}",
                "tenant": tenant,
                "direction": direction,
                "caller": "+15550001111" if direction == "inbound" else "101",
                "callee": "102",
                "answered_by": "102",
                "invite_at": invite,
                "answer_at": invite + 3,
                "end_at": invite + 33,
                "sip_code": 200,
            }
        )
    return rows


def schedule(name: str, **kw: Any) -> ReportSchedule:
    base: dict[str, Any] = dict(
        tenant=ACME, name=name, kind="calls", format="csv", cron="* * * * *", timezone=str(NY)
    )
    base.update(kw)
    return ReportSchedule(**base)


def test_every_minute_writes_files_and_emails_with_the_right_rows(
    tmp_path: Any, directory: Directory, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    settings = make_settings(directory.store.path.parent, smtp_host="127.0.0.1", smtp_port=port)
    now = datetime.now(UTC)
    write_lake(settings, yesterday_calls(now))
    store = directory.store
    inbound = store.add_schedule(
        schedule("Inbound calls", query={"direction": "inbound"}, emails=("sup@acme.example",))
    )
    store.add_schedule(schedule("KPIs", kind="kpis", format="xlsx"))
    store.add_schedule(schedule("Parquet calls", format="parquet"))
    outcomes = run_due(settings, store, now + timedelta(minutes=1, seconds=1))
    assert [(o.rows, o.error) for o in outcomes] == [(2, None), (1, None), (3, None)]
    text = outcomes[0].file.read_text()  # type: ignore[union-attr]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["call_id"] for r in rows) == ["s1", "s3"]  # acme inbound only, no globex
    (message,) = inbox.messages
    assert message["To"] == "sup@acme.example"
    (attachment,) = [p for p in message.walk() if p.get_filename()]
    assert attachment.get_payload(decode=True).decode() == text
    import zipfile

    import pyarrow.parquet as pq

    assert "xl/worksheets/sheet1.xml" in zipfile.ZipFile(outcomes[1].file).namelist()  # type: ignore[arg-type]
    assert pq.read_table(outcomes[2].file).num_rows == 3
    runs = store.report_runs(ACME, inbound.id)
    assert len(runs) == 1 and runs[0].ok and runs[0].rows == 2


def test_downtime_across_two_due_times_runs_once(directory: Directory, settings: Settings) -> None:
    store = directory.store
    saved = store.add_schedule(schedule("Every 5", cron="*/5 * * * *"))
    assert saved.created_at is not None
    # Back just after a due time, at least two due times after creation: the checks
    # 30 s later must not cross the next due time, whatever the clock said at creation.
    late = saved.created_at + timedelta(minutes=12)
    back = late.replace(minute=late.minute - late.minute % 5, second=1, microsecond=0)
    first = run_due(settings, store, back)
    assert len(first) == 1
    assert first[0].due_at == latest_due("*/5 * * * *", str(NY), saved.created_at, back)
    assert run_due(settings, store, back) == []  # never twice
    assert run_due(settings, store, back + timedelta(seconds=30)) == []
    assert len(run_due(settings, store, back + timedelta(minutes=5))) == 1
    assert len(store.report_runs(ACME, saved.id)) == 2


def test_broken_smtp_records_an_error_and_the_next_schedule_runs(
    directory: Directory,
) -> None:
    settings = make_settings(
        directory.store.path.parent, smtp_host="127.0.0.1", smtp_port=free_port()
    )
    store = directory.store
    broken = store.add_schedule(schedule("Mail only", emails=("x@acme.example",), to_folder=False))
    fine = store.add_schedule(schedule("Folder", format="xlsx"))
    outcomes = run_due(settings, store, datetime.now(UTC) + timedelta(minutes=2))
    by_id = {o.schedule_id: o for o in outcomes}
    assert by_id[broken.id].error and by_id[broken.id].error.startswith("email:")
    assert by_id[fine.id].error is None and by_id[fine.id].file.exists()  # type: ignore[union-attr]
    (run,) = store.report_runs(ACME, broken.id)
    assert run.error and run.finished_at is not None and not run.ok


def test_schedules_are_validated_and_kept_per_tenant(directory: Directory) -> None:
    store = directory.store
    with pytest.raises(ProvisioningError, match="cron"):
        store.add_schedule(schedule("Bad", cron="every minute"))
    with pytest.raises(ProvisioningError, match="destination"):
        store.add_schedule(schedule("Nowhere", to_folder=False))
    saved = store.add_schedule(schedule("Mine"))
    with pytest.raises(ProvisioningError):
        store.delete_schedule(GLOBEX, saved.id or 0)
    assert [s.name for s in store.schedules(GLOBEX)] == []
    store.delete_schedule(ACME, saved.id or 0)
    assert store.schedules(ACME) == []
