"""CLI: ``switchboard kpis`` and ``switchboard schedule add|list|delete|run-due``.

The numbers come from :mod:`pipeline.metrics`, the same query layer as the
portal, the notebooks and the scheduled reports. The tenant's time zone
decides which instants "2025-03-10" covers, unless ``--timezone`` says
otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cli.output import row

# The catalogue, not pipeline.metrics: building the parser must not load DuckDB.
from pipeline.metric_catalogue import (
    DEFINITIONS,
    GROUP_BYS,
    KPI_COLUMNS,
    METRICS_VERSION,
    format_value,
)
from switchboard.days import parse_day
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _params(args: argparse.Namespace) -> Any:
    from pipeline.metrics import MetricParams

    return MetricParams(
        open_frames=tuple(args.open_frame) if args.open_frame else ("Open Hours",),
        repeat_window_hours=args.repeat_window_hours,
    )


def _group_label(value: Any, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %z")
    if isinstance(value, date):
        return value.isoformat()
    return "(none)" if value is None else str(value)


def cmd_queue_kpis(settings: Settings, args: argparse.Namespace) -> int:
    """``kpis --queue``: the queue family (pipeline.queue_metrics) per interval, then agents."""
    from pipeline.metric_catalogue import QUEUE_DEFINITIONS, format_queue_value
    from pipeline.metrics import Period
    from pipeline.queue_metrics import queue_report

    period = Period(date.fromisoformat(args.date_from), date.fromisoformat(args.date_to))
    report = queue_report(
        settings, args.tenant, period, queue_id=args.queue, bucket_minutes=args.interval or 0,
        timezone=args.timezone,
    )  # fmt: skip
    if args.json:
        body = {"tenant": report.tenant, "timezone": report.timezone,
                "from": args.date_from, "to": args.date_to, "queue_id": args.queue,
                "metrics_version": report.version, "interval_minutes": args.interval or 0,
                "rows": report.queues, "agents": report.agents,
                "pauses": report.pauses}  # fmt: skip
        print(json.dumps(body, default=_json_default, indent=2))
        return 0
    name = report.names.get(args.queue, f"queue {args.queue}")
    t = report.thresholds.get(args.queue)
    print(f"{report.tenant} · {name}: {period.start} to {period.end} ({report.timezone})"
          f" · T {t.service_level_seconds if t else 20} s, short abandon"
          f" {t.short_abandon_seconds if t else 5} s · metrics v{report.version}")  # fmt: skip
    queue_cols = [d.name for d in QUEUE_DEFINITIONS if d.family == "queues"]
    agent_cols = [d.name for d in QUEUE_DEFINITIONS if d.family == "queue agents"]
    for title, rows, cols, key in (
        ("interval" if args.interval else "period", report.queues, queue_cols, "interval_start"),
        ("agent", report.agents, agent_cols, "agent"),
    ):
        lines = [[title, *cols]]
        for r in rows:
            label = r.get(key)
            lines.append([str(label or "all")] + [format_queue_value(c, r.get(c)) for c in cols])
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
        for line in lines:
            print("  ".join(str(v).rjust(w) for v, w in zip(line, widths, strict=True)))
        print()
    return 0


def cmd_kpis(settings: Settings, args: argparse.Namespace) -> int:
    """Print the KPIs of a tenant for a period (all of them, or a table per group)."""
    if args.queue is not None:
        return cmd_queue_kpis(settings, args)
    from pipeline import metrics
    from pipeline.filters import CallFilter
    from pipeline.viewer import open_for_viewer

    viewer = open_for_viewer(settings, args.tenant, timezone=args.timezone)
    conn, tenant, tz, marks = viewer.conn, viewer.tenant, viewer.timezone, viewer.handled
    try:
        period = metrics.Period(
            date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
        )
        query = {"extension": args.extension, "direction": args.direction}
        flt = CallFilter.from_query({k: v for k, v in query.items() if v}, tz)
        params = _params(args)
        if args.group_by:
            rows = metrics.kpis(
                conn, period, group_by=args.group_by, tz=tz, filters=flt, params=params
            )
            result: Any = rows
        else:
            result = metrics.summary(conn, period, tz=tz, filters=flt, params=params, handled=marks)
    finally:
        viewer.close()
    head = metrics.envelope(tenant, period, tz, params, flt.describe())
    if args.json:
        body = {**head, "group_by": args.group_by}
        body["rows" if args.group_by else "kpis"] = result
        print(json.dumps(body, default=_json_default, indent=2))
        return 0
    print(
        f"{tenant}: {period.start} to {period.end} ({tz}) · {flt.describe()}"
        f" · metrics v{METRICS_VERSION}"
    )
    if args.group_by:
        header = [args.group_by, *KPI_COLUMNS]
        lines = [header]
        for r in result:
            lines.append(
                [_group_label(r["grp"], tz)] + [format_value(c, r.get(c)) for c in KPI_COLUMNS]
            )
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
        for line in lines:
            print("  ".join(str(v).rjust(w) for v, w in zip(line, widths, strict=True)))
        return 0
    width = max(len(d.label) for d in DEFINITIONS)
    for d in DEFINITIONS:
        print(f"{d.label:<{width}}  {format_value(d.name, result.get(d.name))}")
    return 0


def cmd_schedule_add(settings: Settings, args: argparse.Namespace) -> int:
    from switchboard.report_schedules import ReportSchedule

    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        tenant = store.tenant(args.tenant)
        query = dict(kv.split("=", 1) for kv in args.filter or [])
        query["days"] = str(args.days)
        if args.group_by:
            query["group_by"] = args.group_by
        saved = store.add_schedule(
            ReportSchedule(
                tenant=tenant.domain,
                name=args.name,
                kind=args.kind,
                format=args.format,
                cron=args.cron,
                timezone=args.timezone or tenant.timezone,
                query=query,
                to_folder=not args.no_folder,
                emails=tuple(args.email or ()),
            )
        )
    print(f"schedule {saved.id} {saved.name!r} added ({saved.cron}, {saved.timezone})")
    return 0


def cmd_schedule_list(settings: Settings, args: argparse.Namespace) -> int:
    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        for s in store.schedules(args.tenant):
            dest = ", ".join(
                ([f"folder data/exports/{s.tenant}"] if s.to_folder else []) + list(s.emails)
            )
            print(
                row(s.id, s.tenant, s.name, f"{s.kind}/{s.format}", f"{s.cron} {s.timezone}", dest)
            )
            if args.runs:
                for run in store.report_runs(s.tenant, s.id, limit=args.runs):
                    status = "ok" if run.ok else f"error: {run.error}"
                    when = f"  {run.due_at.isoformat()}"
                    print(row("", when, f"{run.rows} rows", run.file, status))
    return 0


def cmd_schedule_delete(settings: Settings, args: argparse.Namespace) -> int:
    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        store.delete_schedule(args.tenant, args.id)
    print(f"schedule {args.id} deleted")
    return 0


def cmd_schedule_run_due(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.schedules import run_due

    with closing(ProvisioningStore(settings.provisioning_db)) as store:
        outcomes = run_due(settings, store)
    for o in outcomes:
        status = "ok" if o.error is None else f"error: {o.error}"
        print(f"schedule {o.schedule_id} due {o.due_at.isoformat()}: {o.rows} rows, {status}")
    if not outcomes:
        print("nothing due", file=sys.stderr)
    return 1 if any(o.error for o in outcomes) else 0


def day_option(value: str) -> str:
    """An argparse ``type``: a day within the portal's bound (``switchboard.days``), refused
    before any work starts (a day past it overflows a period's arithmetic)."""
    try:
        parse_day(value)
    except ValueError as exc:  # argparse prints this message as it is
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {exc}") from None
    return value


def add_parsers(sub: Any) -> None:
    """The ``kpis`` and ``schedule`` sub-commands."""

    k = sub.add_parser("kpis", help="call KPIs of a tenant (the portal's numbers)")
    k.add_argument("--tenant", required=True)
    k.add_argument("--from", dest="date_from", type=day_option, required=True)
    k.add_argument("--to", dest="date_to", type=day_option, required=True)
    k.add_argument("--group-by", choices=GROUP_BYS)
    k.add_argument("--timezone", help="default: the tenant's zone")
    k.add_argument("--extension")
    k.add_argument("--direction")
    k.add_argument("--open-frame", action="append", help="a time frame that means open hours")
    k.add_argument("--repeat-window-hours", type=float, default=24.0)
    k.add_argument("--json", action="store_true", help="machine-readable output")
    k.add_argument("--queue", type=int, help="a queue's id: the queue metrics instead")
    k.add_argument("--interval", type=int, choices=(15, 30, 60), help="with --queue: minutes")
    k.set_defaults(fn=cmd_kpis)

    sched = sub.add_parser("schedule", help="scheduled reports").add_subparsers(required=True)
    sa = sched.add_parser("add", help="add a scheduled report")
    sa.add_argument("--tenant", required=True)
    sa.add_argument("--name", required=True)
    sa.add_argument("--kind", choices=("calls", "kpis"), default="kpis")
    sa.add_argument("--format", choices=("csv", "xlsx", "parquet"), default="csv")
    sa.add_argument("--cron", required=True, help="5 fields, e.g. '0 7 * * 1-5'")
    sa.add_argument("--timezone", help="default: the tenant's zone")
    sa.add_argument("--days", type=int, default=1, help="complete days before the due date")
    sa.add_argument("--group-by", choices=GROUP_BYS)
    sa.add_argument(
        "--filter", action="append", help="a call-history URL key, e.g. direction=inbound"
    )
    sa.add_argument("--email", action="append", help="a recipient (repeat for more)")
    sa.add_argument("--no-folder", action="store_true", help="email only, keep no file")
    sa.set_defaults(fn=cmd_schedule_add)
    sl = sched.add_parser("list", help="schedules (and their latest runs)")
    sl.add_argument("--tenant")
    sl.add_argument("--runs", type=int, default=0, help="show this many latest runs")
    sl.set_defaults(fn=cmd_schedule_list)
    sd = sched.add_parser("delete", help="delete a schedule")
    sd.add_argument("--tenant", required=True)
    sd.add_argument("id", type=int)
    sd.set_defaults(fn=cmd_schedule_delete)
    sched.add_parser("run-due", help="run the schedules that came due").set_defaults(
        fn=cmd_schedule_run_due
    )
