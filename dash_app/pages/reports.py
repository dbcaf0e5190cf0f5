"""Scheduled Reports: the tenant's report schedules and every run of them.

Managers create and delete schedules; supervisors see them and their runs.
The pipeline worker runs them (``pipeline.schedules``); each run's start,
end, rows, file and error are shown here as the store recorded them.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, html, no_update

from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.layout import format_local, section

dash.register_page(
    __name__,
    path="/reports",
    name="Scheduled Reports",
    title="Scheduled Reports · Switchboard",
    order=3,
    roles=("manager", "supervisor"),  # read by the shell's navigation
)


def _schedule_rows(tenant: str, timezone: str) -> list[dict[str, Any]]:
    from switchboard.report_schedules import next_due

    with provisioning() as store:
        schedules = store.schedules(tenant)
    rows = []
    for s in schedules:
        after = s.last_due_at or s.created_at
        upcoming = next_due(s.cron, s.timezone, after) if after else None
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "what": f"{s.kind} · {s.format}",
                "when": f"{s.cron} ({s.timezone})",
                "next_due": format_local(upcoming, timezone),
                "to": ", ".join((["folder"] if s.to_folder else []) + list(s.emails)),
                "query": ", ".join(f"{k}={v}" for k, v in sorted(s.query.items())),
            }
        )
    return rows


def _run_rows(tenant: str, timezone: str) -> list[dict[str, Any]]:
    with provisioning() as store:
        runs = store.report_runs(tenant, limit=100)
    return [
        {
            "schedule": r.schedule_name,
            "due_at": format_local(r.due_at, timezone),
            "started_at": format_local(r.started_at, timezone),
            "finished_at": format_local(r.finished_at, timezone),
            "rows": r.rows,
            "file": r.file or "",
            "emailed_to": r.emailed_to or "",
            "status": "ok" if r.ok else (r.error or "running"),
        }
        for r in runs
    ]


def _form() -> Any:
    return dmc.Stack(
        [
            dmc.Group(
                [
                    dmc.TextInput(id="reports-name", label="Name", w=200),
                    dmc.Select(
                        id="reports-kind",
                        label="What",
                        data=[
                            {"value": "kpis", "label": "KPI report"},
                            {"value": "calls", "label": "Call export"},
                        ],
                        value="kpis",
                        w=140,
                    ),
                    dmc.Select(
                        id="reports-format",
                        label="Format",
                        data=["csv", "xlsx", "parquet"],
                        value="xlsx",
                        w=100,
                    ),
                    dmc.TextInput(id="reports-cron", label="Cron", value="0 7 * * 1-5", w=130),
                    dmc.NumberInput(id="reports-days", label="Days", value=1, min=1, max=366, w=80),
                    dmc.TextInput(
                        id="reports-filter",
                        label="Call filter (URL keys)",
                        placeholder="direction=inbound",
                        w=190,
                    ),
                ],
                align="flex-end",
            ),
            dmc.Group(
                [
                    dmc.TextInput(id="reports-emails", label="Email to (comma-separated)", w=320),
                    dmc.Checkbox(id="reports-folder", label="Keep in data/exports", checked=True),
                    dmc.Button("Add schedule", id="reports-add"),
                ],
                align="flex-end",
            ),
            html.Div(id="reports-message"),
        ]
    )


def layout(**_query: Any) -> Any:
    """The schedules and runs of the viewer's tenant."""
    user = optional_user()
    if user is None:
        return html.Div()
    if not user.sees_whole_tenant:
        return dmc.Alert("Scheduled reports are for managers and supervisors.", color="gray")
    manager = user.role == "manager"
    schedules = dag.AgGrid(
        id="reports-schedules",
        rowData=_schedule_rows(user.tenant_domain, user.timezone),
        columnDefs=[
            {"field": f, "checkboxSelection": f == "name"}
            for f in ("name", "what", "when", "next_due", "to", "query")
        ],
        defaultColDef={"resizable": True},
        columnSize="responsiveSizeToFit",
        getRowId="params.data.id",
        dashGridOptions={"domLayout": "autoHeight", "rowSelection": "single"},
    )
    runs = dag.AgGrid(
        id="reports-runs",
        rowData=_run_rows(user.tenant_domain, user.timezone),
        columnDefs=[
            {"field": f}
            for f in (
                "schedule",
                "due_at",
                "started_at",
                "finished_at",
                "rows",
                "status",
                "file",
                "emailed_to",
            )
        ],
        defaultColDef={"resizable": True, "sortable": True},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"domLayout": "autoHeight", "pagination": True, "paginationPageSize": 20},
    )
    delete = dmc.Button(
        "Delete selected", id="reports-delete", color="red", variant="light", disabled=not manager
    )
    return dmc.Stack(
        [
            dmc.Title("Scheduled Reports", order=2),
            dmc.Text(
                f"Reports of {user.tenant_domain}; times in {user.timezone}. A report covers the"
                " complete days before its due date.",
                c="dimmed",
                size="sm",
            ),
            section("New schedule", _form(), id_prefix="reports-new") if manager else None,
            section("Schedules", schedules, id_prefix="reports-list", extra=delete),
            section("Runs", runs, id_prefix="reports-run-list"),
        ],
        gap="md",
    )


@callback(
    Output("reports-schedules", "rowData"),
    Output("reports-message", "children"),
    Input("reports-add", "n_clicks"),
    State("reports-name", "value"),
    State("reports-kind", "value"),
    State("reports-format", "value"),
    State("reports-cron", "value"),
    State("reports-days", "value"),
    State("reports-filter", "value"),
    State("reports-emails", "value"),
    State("reports-folder", "checked"),
    prevent_initial_call=True,
)
def add_schedule(
    _clicks: int | None,
    name: str | None,
    kind: str | None,
    fmt: str | None,
    cron: str | None,
    days: int | None,
    query: str | None,
    emails: str | None,
    to_folder: bool | None,
) -> tuple[Any, Any]:
    """Save a schedule (managers only); the store validates it."""
    from switchboard.report_schedules import ReportSchedule
    from switchboard.store import ProvisioningError

    user = signed_in_user()
    if user.role != "manager":
        return no_update, dmc.Alert("Only managers create schedules.", color="red")
    pairs = [p.split("=", 1) for p in (query or "").replace(",", "&").split("&") if "=" in p]
    params = {k.strip(): v.strip() for k, v in pairs}
    params["days"] = str(int(days or 1))
    schedule = ReportSchedule(
        tenant=user.tenant_domain,
        name=(name or "").strip(),
        kind=kind or "kpis",
        format=fmt or "csv",
        cron=(cron or "").strip(),
        timezone=user.timezone,
        query=params,
        to_folder=bool(to_folder),
        emails=tuple(e.strip() for e in (emails or "").split(",") if e.strip()),
    )
    try:
        with provisioning() as store:
            store.add_schedule(schedule, user.id)
    except ProvisioningError as exc:
        return no_update, dmc.Alert(str(exc), color="red", variant="light")
    message = dmc.Alert(f"Schedule {schedule.name!r} added.", color="green", variant="light")
    return _schedule_rows(user.tenant_domain, user.timezone), message


@callback(
    Output("reports-schedules", "rowData", allow_duplicate=True),
    Input("reports-delete", "n_clicks"),
    State("reports-schedules", "selectedRows"),
    prevent_initial_call=True,
)
def delete_schedule(_clicks: int | None, selected: list[dict[str, Any]] | None) -> Any:
    """Delete the selected schedule of the manager's own tenant."""
    user = signed_in_user()
    if user.role != "manager" or not selected:
        return no_update
    with provisioning() as store:
        for row in selected:
            store.delete_schedule(user.tenant_domain, int(row["id"]))
    return _schedule_rows(user.tenant_domain, user.timezone)
