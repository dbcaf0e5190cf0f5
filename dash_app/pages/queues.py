"""Queues (managers and supervisors): call queues, their settings and their agents.

A queue holds callers on hold music and offers them to its agents in the
order of its ring strategy (``media.queue``); main numbers, rules and menus
send callers to it as ``queue:<id>``. The list shows each agent's login and
pause; the editor holds every setting (``dash_app.queues_form``) and the
store checks them all again on save.

Every callback checks the role again and reads queues by the viewer's own
tenant (an id from another company is "no such queue"): hiding a link is
not access control.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.auth import provisioning, signed_in_user
from dash_app.editing import NotAllowed, alert, require_click
from dash_app.layout import section
from dash_app.page_shell import SUPERVISORS, supervisor_page_viewer
from dash_app.push import push_after_edit, saved_banner
from dash_app.queues_form import (
    FIELDS,
    PAGE,
    FormError,
    editor_fields,
    empty_list,
    queue_card,
    queue_from_form,
)
from switchboard.store import ProvisioningError, ProvisioningStore, User
from switchboard.store.queues import CallQueue

dash.register_page(
    __name__,
    path="/queues",
    name="Queues",
    title="Queues · Switchboard",
    order=6,
    roles=SUPERVISORS,  # read by the shell's navigation
)

ONLY = "only managers and supervisors can see and change queues"
CHECKBOXES = {"join-empty", "pause-no-answer"}


def require_queue_admin(user: User) -> User:
    if user.role not in SUPERVISORS:
        raise NotAllowed(ONLY)
    return user


def _tracks(store: ProvisioningStore, tenant: str) -> list[tuple[int, str]]:
    return [(t.id or 0, t.name) for t in store.hold_music(tenant)]


def layout(**query: str) -> Any:
    user = supervisor_page_viewer(
        PAGE, "Queues are managed by your company's managers and supervisors."
    )
    if not isinstance(user, User):
        return user
    with provisioning() as store:
        tracks = _tracks(store, user.tenant_domain)
    editor = dmc.Stack(
        [
            html.Div(editor_fields(CallQueue(user.tenant_domain, ""), tracks), id=f"{PAGE}-editor"),
            dmc.Group(
                [
                    dmc.Button("Save queue", id=f"{PAGE}-save"),
                    dmc.Button("New queue", id=f"{PAGE}-new", variant="light"),
                ]
            ),
            html.Div(id=f"{PAGE}-editor-alert"),
        ]
    )
    return dmc.Stack(
        [
            html.Div(
                [
                    dmc.Title("Queues", order=2, id=f"{PAGE}-title"),
                    dmc.Text(
                        "Callers wait on hold music until one of the queue's agents answers.",
                        c="dimmed",
                    ),
                ]
            ),
            html.Div(id=f"{PAGE}-alert"),
            html.Div(dmc.Skeleton(height=80), id=f"{PAGE}-list"),
            section("Queue", editor, id_prefix=f"{PAGE}-form"),
            dcc.Store(id=f"{PAGE}-version", data=0),
            dcc.Store(id=f"{PAGE}-editing", data=None),
        ],
        gap="lg",
    )


@callback(Output(f"{PAGE}-list", "children"), Input(f"{PAGE}-version", "data"))
def refresh_list(_version: int | None) -> Any:
    """The tenant's queues with their agents' state."""
    try:
        user = require_queue_admin(signed_in_user())
    except NotAllowed as exc:
        return alert(str(exc), alert_id=f"{PAGE}-refused")
    with provisioning() as store:
        queues = store.queues(user.tenant_domain)
        paused = {e: p.reason for e, p in store.agent_pauses(user.tenant_domain).items()}
    if not queues:
        return empty_list()
    return dmc.Stack([queue_card(q, paused) for q in queues], gap="sm")


@callback(
    Output(f"{PAGE}-editor", "children"),
    Output(f"{PAGE}-editing", "data"),
    Output(f"{PAGE}-editor-alert", "children"),
    Input(f"{PAGE}-new", "n_clicks"),
    Input({"type": f"{PAGE}-edit", "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_queue(_new: int | None, _edits: list[int | None]) -> Any:
    """Fill the editor with a queue of the viewer's tenant (or a new one)."""
    require_click()
    trigger = ctx.triggered_id
    try:
        user = require_queue_admin(signed_in_user())
        with provisioning() as store:
            tracks = _tracks(store, user.tenant_domain)
            queue = CallQueue(user.tenant_domain, "")
            if isinstance(trigger, dict):
                queue = store.queue(user.tenant_domain, int(trigger.get("id") or 0))
    except (NotAllowed, ProvisioningError) as exc:
        return no_update, no_update, alert(str(exc), alert_id=f"{PAGE}-open-refused")
    return editor_fields(queue, tracks), queue.id, None


@callback(
    Output(f"{PAGE}-editor-alert", "children", allow_duplicate=True),
    Output(f"{PAGE}-version", "data", allow_duplicate=True),
    Output(f"{PAGE}-editing", "data", allow_duplicate=True),
    Input(f"{PAGE}-save", "n_clicks"),
    State(f"{PAGE}-editing", "data"),
    State(f"{PAGE}-version", "data"),
    *[State(f"{PAGE}-{f}", "checked" if f in CHECKBOXES else "value") for f in FIELDS],
    prevent_initial_call=True,
)
def save_queue(_clicks: int | None, editing: int | None, version: int | None, *values: Any) -> Any:
    """Save the editor's queue (created, or the one opened: by the viewer's tenant)."""
    require_click()
    try:
        user = require_queue_admin(signed_in_user())
        queue = queue_from_form(user.tenant_domain, editing, dict(zip(FIELDS, values, strict=True)))
        with provisioning() as store:
            saved = store.save_queue(queue)
            caveat = push_after_edit(store, tenant=user.tenant_domain)  # its extension's route
    except (NotAllowed, ProvisioningError, FormError) as exc:
        return alert(str(exc), alert_id=f"{PAGE}-save-refused"), no_update, no_update
    done = f"saved queue {saved.name!r} (send calls to it as queue {saved.id})"
    return saved_banner(done, caveat, alert_id=f"{PAGE}-saved"), (version or 0) + 1, saved.id


@callback(
    Output(f"{PAGE}-alert", "children"),
    Output(f"{PAGE}-version", "data", allow_duplicate=True),
    Input({"type": f"{PAGE}-delete", "id": ALL}, "n_clicks"),
    State(f"{PAGE}-version", "data"),
    prevent_initial_call=True,
)
def delete_queue(_clicks: list[int | None], version: int | None) -> Any:
    """Delete a queue nothing sends callers to (else the store says what does)."""
    require_click()
    trigger = ctx.triggered_id
    queue_id = int(trigger.get("id") or 0) if isinstance(trigger, dict) else 0
    try:
        user = require_queue_admin(signed_in_user())
        with provisioning() as store:
            store.delete_queue(user.tenant_domain, queue_id)
            caveat = push_after_edit(store, tenant=user.tenant_domain)  # its extension's route
    except (NotAllowed, ProvisioningError) as exc:
        return alert(str(exc), alert_id=f"{PAGE}-delete-refused"), no_update
    return saved_banner("queue deleted", caveat, alert_id=f"{PAGE}-deleted"), (version or 0) + 1
