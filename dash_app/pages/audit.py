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

from dash_app.audit_view import (
    ACTION_LABELS,
    KIND_LABELS,
    MANAGERS_ONLY,
    access_query,
    clean_query,
    csv_url,
    describe,
    grid_columns,
    grid_row,
    parse_query,
)
from dash_app.auth import provisioning
from dash_app.page_shell import managers_only_viewer, signed_in_manager
from dash_app.paged_grid import PagedGrid, choice, date_range, labelled, text_box
from dash_app.paged_grid_filters import controls_query
from switchboard.store import User

dash.register_page(
    __name__,
    path="/audit",
    name="Audit",
    title="Audit · Switchboard",
    order=9,
    roles=("manager",),  # read by the shell's navigation
)

GRID = PagedGrid("audit", row_id="id", noun=("access", "accesses"), export=csv_url)


def layout(**query: Any) -> Any:
    """The trail for the filter in the URL; anyone but a manager is told it is not theirs."""
    user = managers_only_viewer("audit", "The audit trail is for your company's managers.")
    if not isinstance(user, User):
        return user
    params, _query, error = parse_query(query, user.tenant_domain, user.timezone)
    with provisioning() as store:
        people = [
            {"value": u.extension, "label": f"{u.name} ({u.extension})"}
            for u in store.users(user.tenant_domain)
        ]
    controls = [
        date_range("audit-dates", [params.get("from"), params.get("to")], w=250),
        choice("audit-actor", "Who", "Anyone", people, params.get("actor"), w=220, searchable=True),
        choice(
            "audit-action", "Did", "Anything", labelled(ACTION_LABELS), params.get("action"), w=150
        ),
        choice(
            "audit-kind",
            "What",
            "Recordings and voicemail",
            labelled(KIND_LABELS),
            params.get("kind"),
            w=200,
        ),
        text_box(
            "audit-object", "Recording or message id", "rec-… or vm-…", params.get("object"), w=220
        ),
    ]
    return GRID.page(
        title="Audit",
        scope="Every play, download and deletion of a call recording or"
        f" voicemail in {user.tenant_domain} · times in {user.timezone}",
        controls=controls,
        params=params,
        summary=describe(params),
        error=error,
        columns=grid_columns(user.timezone),
    )


@GRID.filter_callback(("audit-dates", "audit-actor", "audit-action", "audit-kind", "audit-object"))
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

    user = signed_in_manager(MANAGERS_ONLY)
    values = {"actor": actor, "action": action, "kind": kind, "object": obj}
    params = clean_query(controls_query(dates, values))
    try:
        access_query(params, user.tenant_domain, user.timezone)
    except AuditFilterError as exc:
        return GRID.refused(str(exc))
    return GRID.applied(params, current, describe(params))


GRID.purge_on_change()


@GRID.rows_callback()
def load_rows(request: dict[str, Any] | None, params: dict[str, str] | None) -> tuple[Any, str]:
    """One block of the manager's tenant's trail for the grid."""
    user = signed_in_manager(MANAGERS_ONLY)  # before reading anything the browser sent
    start, limit = GRID.block(request)
    _clean, query, error = parse_query(params or {}, user.tenant_domain, user.timezone)
    if error:
        return GRID.nothing()
    with provisioning() as store:
        rows = store.access_log(user.tenant_domain, query, limit=limit, offset=start)
        total = store.access_log_count(user.tenant_domain, query)
    return GRID.answer([grid_row(r, user.timezone) for r in rows], total)
