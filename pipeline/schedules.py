"""Scheduled reports, run by the pipeline worker (and ``switchboard schedule run-due``).

At each check, every schedule whose cron has come due since its last handled
due time runs once, for the newest due time (see
:mod:`switchboard.report_schedules` for the catch-up rule). The run is
claimed in the provisioning store first, so a due time runs once even with
two workers or a crash and restart; what happened is recorded on the run.

A failure (a query, the folder, the SMTP server) is recorded as that run's
error and the loop goes on with the next schedule: one broken destination
never stops the others.

What a report holds: the ``days`` complete local days (default 1) before the
local date of the due time, in the schedule's zone; ``calls`` exports the
filtered calls (``query`` holds CallFilter URL keys), ``kpis`` writes the
KPI table (a total row, then one row per ``group_by`` group, default day).

Whose data a report holds (issue 9): its owner's, never more. The warehouse opens in
the scope of the schedule's owner (:func:`pipeline.viewer.open_for_viewer`: a plain
user's own calls, a supervisor's own mailbox, a manager everything) as saved, narrowed
to what the owner may see at the run (a demoted owner's reports shrink with them, a
promoted one's do not grow). An owner removed or disabled since: the run is refused and
the refusal recorded as the run's error. A schedule saved by the operator's tools (no
owner) reads the whole tenant.
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline import metrics
from pipeline.filters import CallFilter
from pipeline.report_files import MEDIA_TYPES, write_calls_file, write_table
from pipeline.viewer import ViewerConnection, open_for_viewer
from switchboard.identifiers import header_text
from switchboard.report_schedules import ReportSchedule, latest_due
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, User
from switchboard.store.accounts import ROLES

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunOutcome:
    """What one run did (also recorded in the store)."""

    schedule_id: int
    due_at: datetime
    rows: int | None
    file: Path | None
    emailed_to: tuple[str, ...]
    error: str | None


class OwnerRefused(Exception):
    """The schedule's owner may no longer run it (removed, disabled); the message says why."""


# Whose scope a run reads: a user (their scope) or a tenant domain (the operator's tools).
RunsAs = User | str


def runs_as(schedule: ReportSchedule, owner_now: User | None) -> RunsAs:
    """Whose scope a run of ``schedule`` reads, given its owner as the store has them now.

    The saved role, or the current one if lower (:data:`ROLES` runs from the widest);
    raises :class:`OwnerRefused` when the owner is gone or disabled (module docstring).
    """
    if not schedule.owner_extension:
        return schedule.tenant
    who = f"its owner {schedule.owner_extension}"
    if (
        owner_now is None
        or owner_now.tenant_domain != schedule.tenant
        or owner_now.extension != schedule.owner_extension
    ):
        raise OwnerRefused(f"{who} was removed; the report no longer runs")
    if owner_now.disabled:
        raise OwnerRefused(f"{who} is disabled; the report does not run")
    saved = schedule.owner_role if schedule.owner_role in ROLES else ROLES[-1]
    narrower = max(ROLES.index(saved), ROLES.index(owner_now.role))
    return replace(owner_now, role=ROLES[narrower])


def open_report_warehouse(
    settings: Settings, store: ProvisioningStore, schedule: ReportSchedule, who: RunsAs
) -> ViewerConnection:
    """The warehouse in the scope a run reads, its days in the schedule's zone."""
    return open_for_viewer(
        settings, who, timezone=schedule.timezone, borrow_store=lambda: nullcontext(store)
    )


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports"


def report_period(schedule: ReportSchedule, due_at: datetime) -> metrics.Period:
    """The complete local days a run due at ``due_at`` reports on."""
    days = int(schedule.query.get("days", "1"))
    local_due = due_at.astimezone(ZoneInfo(schedule.timezone)).date()
    return metrics.Period(local_due - timedelta(days=days), local_due - timedelta(days=1))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "report"


def _group_text(key: object) -> str:
    iso = getattr(key, "isoformat", None)
    return str(iso() if callable(iso) else key)


def report_kpi_rows(
    warehouse: ViewerConnection, schedule: ReportSchedule, period: metrics.Period
) -> tuple[list[dict[str, object]], list[str]]:
    """The KPI report's rows (total first) and columns: the metric layer, nothing else."""
    group_by = schedule.query.get("group_by", "day")
    flt = CallFilter.from_query(
        {k: v for k, v in schedule.query.items() if k not in ("days", "group_by")},
        schedule.timezone,
    )
    conn = warehouse.conn
    total = metrics.summary(conn, period, tz=schedule.timezone, filters=flt)
    groups = metrics.kpis(conn, period, group_by=group_by, tz=schedule.timezone, filters=flt)
    total_row: dict[str, object] = {"group": "total", **total}
    # One column holds "total" and the group keys (dates, hours, names): text, or the
    # CSV and Parquet writers refuse a column mixing a string and dates.
    rows = [total_row] + [{"group": _group_text(r["grp"]), **r} for r in groups]
    columns = ["group", *[k for k in total if k in metrics.DEFINITION_BY_NAME]]
    return rows, columns


def produce(
    warehouse: ViewerConnection, schedule: ReportSchedule, due_at: datetime, out: Path
) -> int:
    """Write the report file of one run from ``warehouse`` (its reader's scope); rows written."""
    period = report_period(schedule, due_at)
    if schedule.kind == "kpis":
        rows, columns = report_kpi_rows(warehouse, schedule, period)
        write_table(rows, columns, schedule.format, out, schedule.timezone)
        return len(rows) - 1  # the groups; the total row is not a data row
    keys = {k: v for k, v in schedule.query.items() if k not in ("days", "group_by")}
    flt = metrics.scope_filter(
        period, schedule.timezone, CallFilter.from_query(keys, schedule.timezone)
    )
    return write_calls_file(warehouse.conn, flt, schedule.format, out, schedule.timezone)


def email_report(
    settings: Settings, schedule: ReportSchedule, file: Path, period: metrics.Period, rows: int
) -> None:
    """Send the file to the schedule's recipients; raises on any SMTP failure."""
    if not settings.smtp_host:
        raise RuntimeError("email is not configured (smtp_host is empty)")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(schedule.emails)
    message["Subject"] = header_text(
        f"[Switchboard] {schedule.name}: {period.start.isoformat()} to {period.end.isoformat()}"
    )
    message.set_content(
        f"{schedule.name} ({schedule.kind}, {rows} rows) for {schedule.tenant},"
        f" {period.start.isoformat()} to {period.end.isoformat()} ({schedule.timezone}).\n"
        f"Metric definitions: version {metrics.METRICS_VERSION} (docs/metrics.md).\n"
    )
    maintype, subtype = MEDIA_TYPES[schedule.format].split("/", 1)
    message.add_attachment(
        file.read_bytes(), maintype=maintype, subtype=subtype, filename=file.name
    )
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        smtp.send_message(message)


def run_schedule(
    settings: Settings, store: ProvisioningStore, schedule: ReportSchedule, due_at: datetime
) -> RunOutcome | None:
    """Claim and run ``schedule`` for ``due_at``; None when that due time was handled."""
    assert schedule.id is not None
    run_id = store.claim_run(schedule.id, due_at, time.time())
    if run_id is None:
        return None
    local = due_at.astimezone(ZoneInfo(schedule.timezone))
    name = f"{_slug(schedule.name)}-{local.strftime('%Y%m%d-%H%M')}.{schedule.format}"
    folder = exports_dir(settings) / schedule.tenant / _slug(schedule.name)
    # Without a folder destination the file is still written (to attach it), in a scratch dir.
    out = folder / name if schedule.to_folder else settings.data_dir / "tmp" / "reports" / name
    rows: int | None = None
    errors: list[str] = []
    emailed: tuple[str, ...] = ()
    try:
        owner = store.user_by_id(schedule.owner_id) if schedule.owner_id is not None else None
        with open_report_warehouse(settings, store, schedule, runs_as(schedule, owner)) as seen:
            rows = produce(seen, schedule, due_at, out)
    except OwnerRefused as exc:
        log.warning("schedule %s: %s", schedule.id, exc)
        errors.append(f"refused: {exc}")
    except Exception as exc:
        log.exception("schedule %s: the report failed", schedule.id)
        errors.append(f"report: {exc}")
    if rows is not None and schedule.emails:
        try:
            email_report(settings, schedule, out, report_period(schedule, due_at), rows)
            emailed = schedule.emails
        except Exception as exc:
            log.warning("schedule %s: email failed: %s", schedule.id, exc)
            errors.append(f"email: {exc}")
    if not schedule.to_folder:
        out.unlink(missing_ok=True)
    kept = out if schedule.to_folder and rows is not None else None
    error = "; ".join(errors) or None
    store.finish_run(
        run_id,
        rows=rows,
        file=str(kept) if kept else None,
        emailed_to=",".join(emailed) or None,
        error=error,
    )
    return RunOutcome(schedule.id, due_at, rows, kept, emailed, error)


def run_due(
    settings: Settings, store: ProvisioningStore, now: datetime | None = None
) -> list[RunOutcome]:
    """Run every schedule that has come due; one run per schedule at most (the catch-up)."""
    now = now or datetime.now(UTC)
    outcomes: list[RunOutcome] = []
    for schedule in store.schedules():
        try:
            after = schedule.last_due_at or schedule.created_at or now
            due = latest_due(schedule.cron, schedule.timezone, after, now)
            if due is None:
                continue
            outcome = run_schedule(settings, store, schedule, due)
        except Exception:  # a broken schedule must not stop the others
            log.exception("schedule %s could not run", schedule.id)
            continue
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
