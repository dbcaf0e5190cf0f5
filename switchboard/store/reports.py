"""Analytics state: callback-worklist marks and scheduled reports with their runs.

Migration 0005_analytics. The schedule types and due-time rules live in
``switchboard.report_schedules``; this section only keeps them. ``claim_run``
is the exactly-once point of the report worker.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime

from switchboard.report_schedules import ReportRun, ReportSchedule, ScheduleError, validate_schedule
from switchboard.store.accounts import AccountsSection
from switchboard.store.connection import ProvisioningError


def _instant(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class ReportsSection(AccountsSection):
    """Callback marks of a tenant; report schedules and the record of their runs."""

    def mark_callback_handled(
        self, tenant: str, number: str, user_id: int | None = None, at: float | None = None
    ) -> None:
        """Hide ``number`` from the tenant's callback worklist until it misses another call."""
        digits = re.sub(r"[^0-9]", "", number)
        if not digits:
            raise ProvisioningError(f"{number!r} is not a phone number")
        t = self.tenant(tenant)
        with self._tx() as db:
            db.execute(
                "insert into callback_handled (tenant_id, number, handled_at, handled_by)"
                " values (?, ?, ?, ?) on conflict (tenant_id, number) do update set"
                " handled_at = excluded.handled_at, handled_by = excluded.handled_by",
                (t.id, digits, time.time() if at is None else at, user_id),
            )

    def callback_marks(self, tenant: str) -> dict[str, datetime]:
        """Number (digits) → when it was marked handled (UTC)."""
        rows = self._db.execute(
            "select c.number, c.handled_at from callback_handled c"
            " join tenant t on t.id = c.tenant_id where t.domain = ?",
            (tenant,),
        )
        return {r[0]: datetime.fromtimestamp(r[1], UTC) for r in rows}

    def add_schedule(self, schedule: ReportSchedule, user_id: int | None = None) -> ReportSchedule:
        """Save a new scheduled report (validated: cron, zone, destination, recipients).

        ``user_id``: its owner, whose scope (extension, role, as of now) its runs read.
        """
        t = self.tenant(schedule.tenant)
        owner = None if user_id is None else self.user_by_id(user_id)
        if user_id is not None and (owner is None or owner.tenant_id != t.id):
            raise ProvisioningError(f"no user {user_id} in {schedule.tenant}")
        try:
            validate_schedule(schedule)
        except ScheduleError as exc:
            raise ProvisioningError(str(exc)) from exc
        with self._tx() as db:
            if db.execute(
                "select 1 from report_schedule where tenant_id = ? and name = ?",
                (t.id, schedule.name),
            ).fetchone():
                raise ProvisioningError(f"a schedule named {schedule.name!r} exists")
            cur = db.execute(
                "insert into report_schedule (tenant_id, name, kind, query_json, format, cron,"
                " timezone, to_folder, emails, created_by, created_at, owner_extension,"
                " owner_role) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t.id,
                    schedule.name,
                    schedule.kind,
                    json.dumps(schedule.query, sort_keys=True),
                    schedule.format,
                    schedule.cron,
                    schedule.timezone,
                    int(schedule.to_folder),
                    ",".join(schedule.emails),
                    user_id,
                    time.time(),
                    owner.extension if owner else "",
                    owner.role if owner else "",
                ),
            )
            schedule_id = int(cur.lastrowid or 0)
        return self.schedule(schedule_id)

    @staticmethod
    def _schedule(row: sqlite3.Row) -> ReportSchedule:
        return ReportSchedule(
            tenant=row["domain"],
            name=row["name"],
            kind=row["kind"],
            format=row["format"],
            cron=row["cron"],
            timezone=row["timezone"],
            query=json.loads(row["query_json"]),
            to_folder=bool(row["to_folder"]),
            emails=tuple(e for e in row["emails"].split(",") if e),
            id=row["id"],
            created_at=_instant(row["created_at"]),
            last_due_at=_instant(row["last_due_at"]),
            owner_id=row["created_by"],
            owner_extension=row["owner_extension"],
            owner_role=row["owner_role"],
        )

    def schedule(self, schedule_id: int, tenant: str | None = None) -> ReportSchedule:
        """One schedule (of ``tenant`` when given: a manager never reaches another tenant's)."""
        row = self._db.execute(
            "select s.*, t.domain from report_schedule s join tenant t on t.id = s.tenant_id"
            " where s.id = ? and (? is null or t.domain = ?)",
            (schedule_id, tenant, tenant),
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no schedule {schedule_id}")
        return self._schedule(row)

    def schedules(self, tenant: str | None = None) -> list[ReportSchedule]:
        """Every schedule (of one tenant, or all for the worker), oldest first."""
        rows = self._db.execute(
            "select s.*, t.domain from report_schedule s join tenant t on t.id = s.tenant_id"
            " where ? is null or t.domain = ? order by s.id",
            (tenant, tenant),
        )
        return [self._schedule(r) for r in rows]

    def delete_schedule(self, tenant: str, schedule_id: int) -> None:
        """Delete a schedule of ``tenant`` and its run history."""
        self.schedule(schedule_id, tenant)
        with self._tx() as db:
            db.execute("delete from report_run where schedule_id = ?", (schedule_id,))
            db.execute("delete from report_schedule where id = ?", (schedule_id,))

    def claim_run(self, schedule_id: int, due_at: datetime, started_at: float) -> int | None:
        """Record that the run for ``due_at`` starts; None if that due time was handled already.

        One transaction moves the schedule's ``last_due_at`` forward and inserts
        the run, so two workers (or a restart) can never run one due time twice.
        """
        due = due_at.timestamp()
        with self._tx() as db:
            moved = db.execute(
                "update report_schedule set last_due_at = ?"
                " where id = ? and (last_due_at is null or last_due_at < ?)",
                (due, schedule_id, due),
            ).rowcount
            if not moved:
                return None
            cur = db.execute(
                "insert into report_run (schedule_id, due_at, started_at) values (?, ?, ?)",
                (schedule_id, due, started_at),
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        rows: int | None,
        file: str | None,
        emailed_to: str | None,
        error: str | None,
    ) -> None:
        """Record how a run ended (``error`` None: it succeeded)."""
        with self._tx() as db:
            db.execute(
                "update report_run set finished_at = ?, rows = ?, file = ?, emailed_to = ?,"
                " error = ? where id = ?",
                (time.time(), rows, file, emailed_to, error, run_id),
            )

    def report_runs(
        self, tenant: str, schedule_id: int | None = None, limit: int = 50
    ) -> list[ReportRun]:
        """The latest runs of a tenant's schedules, newest first."""
        rows = self._db.execute(
            "select r.*, s.name from report_run r join report_schedule s on s.id = r.schedule_id"
            " join tenant t on t.id = s.tenant_id where t.domain = ?"
            " and (? is null or s.id = ?) order by r.started_at desc, r.id desc limit ?",
            (tenant, schedule_id, schedule_id, limit),
        )
        return [
            ReportRun(
                id=r["id"],
                schedule_id=r["schedule_id"],
                schedule_name=r["name"],
                due_at=datetime.fromtimestamp(r["due_at"], UTC),
                started_at=datetime.fromtimestamp(r["started_at"], UTC),
                finished_at=_instant(r["finished_at"]),
                rows=r["rows"],
                file=r["file"],
                emailed_to=r["emailed_to"],
                error=r["error"],
            )
            for r in rows
        ]
