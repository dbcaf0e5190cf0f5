"""Audit (managers only): who played, downloaded or deleted which recording or voicemail.

The data-access trail of :mod:`switchboard.store.access_log`, newest first,
filtered like Call History with the filter in the URL (keys in
:mod:`dash_app.audit_view`), so a view is a link; "Export CSV" downloads
exactly the filtered rows from the guarded route of
:mod:`dash_app.audit_downloads`. The grid pages through the trail on the
server (AG Grid's infinite row model). Every callback checks the role again:
hiding the link is not access control.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.audit_view import (
    ACTION_LABELS,
    BLOCK_SIZE,
    KIND_LABELS,
    access_query,
    clean_query,
    csv_url,
    describe,
    grid_columns,
    grid_row,
    parse_query,
)
from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.editing import NotAllowed
from switchboard.store import User

dash.register_page(
    __name__,
    path="/audit",
    name="Audit",
    title="Audit · Switchboard",
    order=9,
    roles=("manager",),  # read by the shell's navigation
)

MANAGERS_ONLY = "only managers can read the audit trail"


def require_manager(user: User) -> User:
    if user.role != "manager":
        raise NotAllowed(MANAGERS_ONLY)
    return user


def layout(**query: Any) -> Any:
    """The trail for the filter in the URL; anyone but a manager is told it is not theirs."""
    user = optional_user()
    if user is None:
        return html.Div()
    if user.role != "manager":
        return dmc.Alert(
            "The audit trail is for your company's managers.",
            title="Managers only",
            color="gray",
            id="audit-denied",
        )
    params, _query, error = parse_query(query, user.tenant_domain, user.timezone)
    with provisioning() as store:
        people = [
            {"value": u.extension, "label": f"{u.name} ({u.extension})"}
            for u in store.users(user.tenant_domain)
        ]
    controls = dmc.Group(
        [
            dmc.DatePickerInput(
                id="audit-dates",
                type="range",
                label="Date range",
                placeholder="Any date",
                value=[params.get("from"), params.get("to")],
                valueFormat="YYYY-MM-DD",
                clearable=True,
                allowSingleDateInRange=True,
                w=250,
            ),
            dmc.Select(
                id="audit-actor",
                label="Who",
                placeholder="Anyone",
                data=people,
                value=params.get("actor"),
                searchable=True,
                clearable=True,
                w=220,
            ),
            dmc.Select(
                id="audit-action",
                label="Did",
                placeholder="Anything",
                data=[{"value": k, "label": v} for k, v in ACTION_LABELS.items()],
                value=params.get("action"),
                clearable=True,
                w=150,
            ),
            dmc.Select(
                id="audit-kind",
                label="What",
                placeholder="Recordings and voicemail",
                data=[{"value": k, "label": v} for k, v in KIND_LABELS.items()],
                value=params.get("kind"),
                clearable=True,
                w=200,
            ),
            dmc.TextInput(
                id="audit-object",
                label="Recording or message id",
                placeholder="rec-… or vm-…",
                value=params.get("object", ""),
                debounce=400,
                w=220,
            ),
        ],
        align="flex-end",
        gap="sm",
    )
    grid = dag.AgGrid(
        id="audit-grid",
        rowModelType="infinite",
        columnDefs=grid_columns(user.timezone),
        defaultColDef={"sortable": False, "resizable": True, "suppressHeaderMenuButton": True},
        getRowId="params.data.id",
        dashGridOptions={
            "cacheBlockSize": BLOCK_SIZE,
            "maxBlocksInCache": 20,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 0,
            "animateRows": False,
        },
        style={"height": "calc(100vh - 330px)", "minHeight": "360px"},
    )
    return dmc.Stack(
        [
            dcc.Location(id="audit-url", refresh=False),
            dcc.Store(id="audit-filter", data=params),
            dcc.Store(id="audit-purged"),
            dmc.Group(
                [
                    dmc.Stack(
                        [
                            dmc.Title("Audit", order=2, id="audit-title"),
                            dmc.Text(
                                "Every play, download and deletion of a call recording or"
                                f" voicemail in {user.tenant_domain} · times in {user.timezone}",
                                c="dimmed",
                                size="sm",
                            ),
                        ],
                        gap=0,
                    ),
                    html.A(
                        [
                            html.Span(className="sb-button-icon sb-button-icon--download"),
                            "Export CSV",
                        ],
                        id="audit-export",
                        href=csv_url(params),
                        className="sb-link-button",
                    ),
                ],
                justify="space-between",
            ),
            dmc.Paper(controls, withBorder=True, p="md", radius="md"),
            html.Div(
                dmc.Alert(error, color="red", variant="light", title="Filter ignored")
                if error
                else None,
                id="audit-filter-error",
            ),
            dmc.Group(
                [
                    dmc.Text(describe(params), size="sm", id="audit-summary"),
                    dmc.Text("", size="sm", c="dimmed", id="audit-count"),
                ],
                justify="space-between",
            ),
            dmc.Paper(grid, withBorder=True, radius="md", className="sb-grid-paper"),
        ],
        gap="md",
    )


@callback(
    Output("audit-url", "search"),
    Output("audit-filter", "data"),
    Output("audit-summary", "children"),
    Output("audit-export", "href"),
    Output("audit-filter-error", "children"),
    Input("audit-dates", "value"),
    Input("audit-actor", "value"),
    Input("audit-action", "value"),
    Input("audit-kind", "value"),
    Input("audit-object", "value"),
    State("audit-filter", "data"),
    prevent_initial_call=True,
)
def apply_filters(
    dates: list[str | None] | None,
    actor: str | None,
    action: str | None,
    kind: str | None,
    obj: str | None,
    current: dict[str, str] | None,
) -> tuple[Any, ...]:
    """Controls → filter → URL, grid filter, sentence and export link."""
    from dash_app.audit_view import AuditFilterError

    user = require_manager(signed_in_user())
    date_from, date_to = ((dates or []) + [None, None])[:2]
    params = clean_query(
        {
            "from": (date_from or "")[:10],
            "to": (date_to or "")[:10],
            "actor": actor,
            "action": action,
            "kind": kind,
            "object": obj,
        }
    )
    try:
        access_query(params, user.tenant_domain, user.timezone)
    except AuditFilterError as exc:
        alert = dmc.Alert(str(exc), color="red", variant="light", title="Check the filter")
        return no_update, no_update, no_update, no_update, alert
    if params == (current or {}):
        raise PreventUpdate
    search = csv_url(params).partition("?")[2]
    return (f"?{search}" if search else ""), params, describe(params), csv_url(params), None


# A new filter must drop the rows the grid has cached; only the browser can tell it to.
clientside_callback(
    """
    async function (query) {
        const api = await dash_ag_grid.getApiAsync("audit-grid");
        if (api.getDisplayedRowCount() > 0) { api.ensureIndexVisible(0, "top"); }
        api.purgeInfiniteCache();
        return window.dash_clientside.no_update;
    }
    """,
    Output("audit-purged", "data"),
    Input("audit-filter", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("audit-grid", "getRowsResponse"),
    Output("audit-count", "children"),
    Input("audit-grid", "getRowsRequest"),
    State("audit-filter", "data"),
)
def load_rows(request: dict[str, Any] | None, params: dict[str, str] | None) -> tuple[Any, str]:
    """One block of the manager's tenant's trail for the grid."""
    if not request:
        raise PreventUpdate
    user = require_manager(signed_in_user())
    _clean, query, error = parse_query(params or {}, user.tenant_domain, user.timezone)
    if error:
        return {"rowData": [], "rowCount": 0}, "0 accesses"
    start = max(0, int(request.get("startRow") or 0))
    end = int(request.get("endRow") or start + BLOCK_SIZE)
    limit = max(1, min(end - start, 1000))
    with provisioning() as store:
        rows = store.access_log(user.tenant_domain, query, limit=limit, offset=start)
        total = store.access_log_count(user.tenant_domain, query)
    label = "1 access" if total == 1 else f"{total:,} accesses"
    return {"rowData": [grid_row(r, user.timezone) for r in rows], "rowCount": total}, label
