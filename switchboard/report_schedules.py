"""Scheduled reports: what a schedule is, and when it is due (pure, no I/O).

A schedule names what to export (``kind``: ``calls``, a filtered call export,
or ``kpis``, the KPI report), a format, a cron expression read in its own
IANA time zone, and where the file goes (a folder under ``data/exports``
and/or email). The provisioning store keeps schedules and runs;
``pipeline.schedules`` runs them.

Catch-up rule: at each check, only the *latest* due time since the last
handled one runs. After downtime across several due times the schedule runs
once for the newest of them, never once per missed time, and never twice for
one due time (``report_run`` is unique per schedule and due time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from switchboard.identifiers import EMAIL_RE
from switchboard.zones import require_zone

ReportKind = Literal["calls", "kpis"]
ReportFormat = Literal["csv", "xlsx", "parquet"]
REPORT_KINDS: tuple[str, ...] = get_args(ReportKind)
REPORT_FORMATS: tuple[str, ...] = get_args(ReportFormat)
# Stop looking for due times after this many (a schedule every minute down for ~70 days).
MAX_DUE_STEPS = 100_000
_NAME_RE = re.compile(r"^[\w .,()\-]{1,80}$")


class ScheduleError(ValueError):
    """A schedule that cannot be saved; the message says why."""


@dataclass(frozen=True)
class ReportSchedule:
    """One scheduled report of one tenant."""

    tenant: str
    name: str
    kind: str
    format: str
    cron: str
    timezone: str
    query: dict[str, str] = field(default_factory=dict)  # CallFilter URL keys, plus "days"
    to_folder: bool = True
    emails: tuple[str, ...] = ()
    id: int | None = None
    created_at: datetime | None = None
    last_due_at: datetime | None = None
    # Whose scope its runs read (pipeline.schedules): the owner's user id (None once that
    # user is removed), extension and role as saved; no extension: the operator's tools.
    owner_id: int | None = None
    owner_extension: str = ""
    owner_role: str = ""


@dataclass(frozen=True)
class ReportRun:
    """One run of a schedule, as recorded."""

    id: int
    schedule_id: int
    schedule_name: str
    due_at: datetime
    started_at: datetime
    finished_at: datetime | None
    rows: int | None
    file: str | None
    emailed_to: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and self.error is None


def cron_trigger(expression: str, timezone: str) -> Any:
    """APScheduler's CronTrigger for a 5-field crontab line in ``timezone``."""
    from apscheduler.triggers.cron import CronTrigger

    zone = require_zone(timezone, ScheduleError)
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ScheduleError(f"{expression!r} is not a cron expression: {exc}") from exc


def validate_schedule(schedule: ReportSchedule) -> None:
    """Refuse a schedule that could never run correctly."""
    if not _NAME_RE.fullmatch(schedule.name):  # match() let "Daily\n" through ($)
        raise ScheduleError("a schedule name is 1 to 80 letters, digits, spaces or .,()-")
    if schedule.kind not in REPORT_KINDS:
        raise ScheduleError(f"kind must be one of {', '.join(REPORT_KINDS)}")
    if schedule.format not in REPORT_FORMATS:
        raise ScheduleError(f"format must be one of {', '.join(REPORT_FORMATS)}")
    cron_trigger(schedule.cron, schedule.timezone)
    if not schedule.to_folder and not schedule.emails:
        raise ScheduleError("choose a destination: the exports folder, email recipients, or both")
    for address in schedule.emails:
        if not EMAIL_RE.fullmatch(address):
            raise ScheduleError(f"{address!r} is not an email address")
    days = schedule.query.get("days", "1")
    if not str(days).isdigit() or not 1 <= int(days) <= 366:
        raise ScheduleError("a report covers 1 to 366 days")


def due_times(cron: str, timezone: str, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every due time t with ``after < t <= until``, oldest first (aware datetimes)."""
    trigger = cron_trigger(cron, timezone)
    cursor = after
    for _ in range(MAX_DUE_STEPS):
        nxt = trigger.get_next_fire_time(None, cursor + timedelta(microseconds=1))
        if nxt is None or nxt > until:
            return
        yield nxt
        cursor = nxt


def latest_due(cron: str, timezone: str, after: datetime, now: datetime) -> datetime | None:
    """The newest due time in (``after``, ``now``], or None: what a check runs, at most once."""
    latest = None
    for latest in due_times(cron, timezone, after, now):  # noqa: B007 - keep the last one
        pass
    return latest


def next_due(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first due time after ``after`` (shown in the portal)."""
    trigger = cron_trigger(cron, timezone)
    nxt = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if nxt is None else nxt  # type: ignore[no-any-return]
