"""Time Frames: when "Open Hours", "Closed" and "Holidays" are, for the company and for me.

Company (tenant-wide) frames are edited by managers and seen by everyone;
personal frames belong to one user. A frame is a name, an IANA zone and
periods (weekly hours, specific dates, date ranges with optional times), or
"always". The editor is a modal whose period rows carry pattern-matching ids
(``{"type": "timeframes-period-…", "index": <key>}``): rows are appended with
``Patch`` so typed values survive, and a removed row is hidden and marked
rather than deleted, so every ``ALL`` list of the form stays aligned.

Every callback re-checks on the server who may edit what: the ids sent by the
browser are never trusted.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import dash
import dash_mantine_components as dmc
from dash import ALL, MATCH, Input, Output, Patch, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.editing import alert, close_on_cancel, require_click
from dash_app.layout import section
from dash_app.page_shell import page_header
from dash_app.push import push_after_edit, saved_banner
from dash_app.timeframes_cards import frame_list
from dash_app.timeframes_editor import frame_editor, period_row
from dash_app.timeframes_form import (
    PERIOD_KINDS,
    PERSONAL,
    TENANT,
    empty_row,
    frame_from_form,
    rows_of_frame,
)
from switchboard.store import ProvisioningError, ProvisioningStore, User
from switchboard.timeframes import TimeFrame, TimeFrameError
from switchboard.zones import picked_zones

dash.register_page(
    __name__,
    path="/timeframes",
    name="Time Frames",
    title="Time Frames · Switchboard",
    order=3,
)

log = logging.getLogger(__name__)

EDITOR_ALERT = "timeframes-editor-alert"  # the editor's refusals

close_on_cancel("timeframes-editor", "timeframes-cancel")


# -- who may edit which frame ------------------------------------------------------
# NamedTuple, not dataclass: Dash executes page modules before listing them in sys.modules.
class FrameLists(NamedTuple):
    """The frames a user sees, split by scope, and whether they may edit company frames."""

    tenant: list[TimeFrame]
    personal: list[TimeFrame]
    can_edit_tenant: bool

    def editable_ids(self, scope: str) -> set[int]:
        if scope == TENANT:
            return (
                {f.id for f in self.tenant if f.id is not None} if self.can_edit_tenant else set()
            )
        return {f.id for f in self.personal if f.id is not None}


def frame_lists(store: ProvisioningStore, user: User) -> FrameLists:
    """Company frames and the user's own; the store mixes them, the ids tell them apart."""
    tenant = store.frames(user.tenant_domain)
    tenant_ids = {f.id for f in tenant.values()}
    mine = [f for f in store.frames(user.tenant_domain, user.id).values() if f.id not in tenant_ids]
    return FrameLists(list(tenant.values()), mine, user.role == "manager")


def layout(**query: str) -> Any:
    """Company and personal frames, filled by ``refresh_lists``; the editor is a modal."""
    user = optional_user()
    if user is None:
        return html.Div()
    return dmc.Stack(
        [
            dmc.Group(
                [
                    page_header(
                        "timeframes",
                        "Time Frames",
                        "When answering rules and main-number routes apply: "
                        "opening hours, closures and holidays.",
                    ),
                    dmc.Button("New time frame", id="timeframes-new"),
                ],
                justify="space-between",
            ),
            html.Div(id="timeframes-notice"),
            dmc.Grid(
                [
                    dmc.GridCol(
                        section(
                            "Company time frames",
                            html.Div(dmc.Skeleton(height=80), id="timeframes-tenant"),
                            id_prefix="timeframes-tenant",
                            extra=dmc.Text(
                                "Edited by managers" if user.role != "manager" else "",
                                size="xs",
                                c="dimmed",
                            ),
                        ),
                        span={"base": 12, "lg": 6},
                    ),
                    dmc.GridCol(
                        section(
                            "My time frames",
                            html.Div(dmc.Skeleton(height=80), id="timeframes-personal"),
                            id_prefix="timeframes-personal",
                        ),
                        span={"base": 12, "lg": 6},
                    ),
                ],
                gutter="lg",
            ),
            dcc.Store(id="timeframes-version", data=0),
            dcc.Store(id="timeframes-editing", data=None),
            frame_editor(),
        ],
        gap="lg",
    )


# -- callbacks ---------------------------------------------------------------------------
@callback(
    Output("timeframes-tenant", "children"),
    Output("timeframes-personal", "children"),
    Input("timeframes-version", "data"),
)
def refresh_lists(_version: int | None) -> tuple[Any, Any]:
    """Both lists, re-read after every save or delete."""
    user = signed_in_user()
    with provisioning() as store:
        lists = frame_lists(store, user)
    tenant = frame_list(
        lists.tenant,
        editable=lists.can_edit_tenant,
        empty="No company time frames yet."
        + (" Create Open Hours, Closed and Holidays." if lists.can_edit_tenant else ""),
        list_id="timeframes-tenant-list",
    )
    personal = frame_list(
        lists.personal,
        editable=True,
        empty="No personal time frames. Create one for your own hours, e.g. “Lunch”.",
        list_id="timeframes-personal-list",
    )
    return tenant, personal


@callback(
    Output("timeframes-editor", "opened"),
    Output("timeframes-editing", "data"),
    Output("timeframes-editor", "title"),
    Output("timeframes-name", "value"),
    Output("timeframes-zone", "data"),
    Output("timeframes-zone", "value"),
    Output("timeframes-always", "checked"),
    Output("timeframes-periods", "children"),
    Output("timeframes-scope", "value"),
    Output("timeframes-scope", "style"),
    Output("timeframes-editor-error", "children"),
    Input("timeframes-new", "n_clicks"),
    Input({"type": "timeframes-edit", "frame": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_editor(_new: int | None, _edits: list[int | None]) -> tuple[Any, ...]:
    """Open the editor empty ("New") or on a frame the viewer may edit."""
    user = signed_in_user()
    trigger = ctx.triggered_id
    require_click()
    with provisioning() as store:
        lists = frame_lists(store, user)
        tenant_tz = store.tenant(user.tenant_domain).timezone
    zones = picked_zones()
    if trigger == "timeframes-new":
        scope = TENANT if lists.can_edit_tenant else PERSONAL
        scope_style = {} if lists.can_edit_tenant else {"display": "none"}
        rows = [period_row(empty_row("weekly"))]
        # A company frame follows the company's zone, a personal one the user's.
        zone = tenant_tz if scope == TENANT else user.timezone
        return (
            True, {"id": None, "scope": scope}, "New time frame", "", zones, zone, False,
            rows, scope, scope_style, None,
        )  # fmt: skip
    frame_id = trigger.get("frame") if isinstance(trigger, dict) else None
    frame = next((f for f in lists.tenant + lists.personal if f.id == frame_id), None)
    scope = TENANT if frame in lists.tenant else PERSONAL
    if frame is None or frame_id not in lists.editable_ids(scope):
        raise PreventUpdate
    rows = [period_row(values) for values in rows_of_frame(frame)]
    return (
        True, {"id": frame.id, "scope": scope}, f"Edit “{frame.name}”", frame.name, zones,
        frame.timezone, frame.always, rows, scope, {"display": "none"}, None,
    )  # fmt: skip


@callback(
    Output("timeframes-zone", "value", allow_duplicate=True),
    Input("timeframes-scope", "value"),
    State("timeframes-editing", "data"),
    prevent_initial_call=True,
)
def zone_follows_scope(scope: str | None, editing: dict[str, Any] | None) -> Any:
    """A new frame's default zone: the company's for company frames, else the user's."""
    if not editing or editing.get("id") is not None:
        raise PreventUpdate
    user = signed_in_user()
    if scope == TENANT:
        with provisioning() as store:
            return store.tenant(user.tenant_domain).timezone
    return user.timezone


@callback(
    Output("timeframes-periods", "children", allow_duplicate=True),
    Input({"type": "timeframes-add", "kind": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def add_period(_clicks: list[int | None]) -> Any:
    """Append one row; ``Patch`` keeps what was typed in the others."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or trigger.get("kind") not in PERIOD_KINDS:
        raise PreventUpdate
    patch = Patch()
    patch.append(period_row(empty_row(trigger["kind"])))
    return patch


@callback(
    Output({"type": "timeframes-period-row", "index": MATCH}, "style"),
    Output({"type": "timeframes-period-kind", "index": MATCH}, "data"),
    Input({"type": "timeframes-period-remove", "index": MATCH}, "n_clicks"),
    prevent_initial_call=True,
)
def remove_period(clicks: int | None) -> tuple[Any, str]:
    """Hide the row and mark it removed (deleting it would misalign the form's lists)."""
    if not clicks:
        raise PreventUpdate
    return {"display": "none"}, "removed"


@callback(
    Output("timeframes-periods-box", "style"),
    Input("timeframes-always", "checked"),
)
def hide_periods_when_always(always: bool | None) -> dict[str, str]:
    return {"display": "none"} if always else {}


def _push_for_frame(store: ProvisioningStore, user: User, scope: str) -> str:
    """A company frame can change anyone's active rule and every main number's route."""
    if scope == TENANT:
        return push_after_edit(store, tenant=user.tenant_domain)
    return push_after_edit(store, [user])


@callback(
    Output("timeframes-editor-error", "children", allow_duplicate=True),
    Output("timeframes-editor", "opened", allow_duplicate=True),
    Output("timeframes-version", "data"),
    Output("timeframes-notice", "children"),
    Input("timeframes-save", "n_clicks"),
    State("timeframes-editing", "data"),
    State("timeframes-scope", "value"),
    State("timeframes-name", "value"),
    State("timeframes-zone", "value"),
    State("timeframes-always", "checked"),
    State({"type": "timeframes-period-kind", "index": ALL}, "data"),
    State({"type": "timeframes-period-days", "index": ALL}, "value"),
    State({"type": "timeframes-period-dates", "index": ALL}, "value"),
    State({"type": "timeframes-period-range", "index": ALL}, "value"),
    State({"type": "timeframes-period-start", "index": ALL}, "value"),
    State({"type": "timeframes-period-end", "index": ALL}, "value"),
    State("timeframes-version", "data"),
    prevent_initial_call=True,
)
def save_frame(
    clicks: int | None,
    editing: dict[str, Any] | None,
    scope: str | None,
    name: str | None,
    timezone: str | None,
    always: bool | None,
    kinds: list[str],
    days: list[list[str] | None],
    dates: list[list[str] | None],
    ranges: list[list[str | None] | None],
    starts: list[str | None],
    ends: list[str | None],
    version: int | None,
) -> tuple[Any, Any, Any, Any]:
    """Validate and save the frame; refusals keep the editor open with the reason."""
    if not clicks or not editing:
        raise PreventUpdate
    user = signed_in_user()
    frame_id = editing.get("id")
    # A new frame's scope comes from the form, an edited frame's from where it already is.
    scope = (editing.get("scope") if frame_id is not None else scope) or PERSONAL
    try:
        frame = frame_from_form(
            frame_id, name, timezone, bool(always), (kinds, days, dates, ranges, starts, ends)
        )
    except TimeFrameError as exc:
        return alert(str(exc), alert_id=EDITOR_ALERT), no_update, no_update, no_update
    with provisioning() as store:
        lists = frame_lists(store, user)
        if scope == TENANT and not lists.can_edit_tenant:
            refused = "only managers can change company time frames"
            return alert(refused, alert_id=EDITOR_ALERT), *(no_update,) * 3
        if frame_id is not None and frame_id not in lists.editable_ids(scope):
            refused = "you cannot edit this time frame"
            return alert(refused, alert_id=EDITOR_ALERT), *(no_update,) * 3
        try:
            saved = store.save_frame(
                user.tenant_domain, frame, None if scope == TENANT else user.id
            )
        except ProvisioningError as exc:
            return alert(str(exc), alert_id=EDITOR_ALERT), no_update, no_update, no_update
        notice = _push_for_frame(store, user, scope)
    banner = saved_banner(f"Saved time frame “{saved.name}”", notice, alert_id="timeframes-saved")
    return None, False, (version or 0) + 1, banner


@callback(
    Output("timeframes-version", "data", allow_duplicate=True),
    Output("timeframes-notice", "children", allow_duplicate=True),
    Input({"type": "timeframes-delete", "frame": ALL}, "n_clicks"),
    State("timeframes-version", "data"),
    prevent_initial_call=True,
)
def delete_frame(_clicks: list[int | None], version: int | None) -> tuple[Any, Any]:
    """Delete a frame the viewer may edit; a frame still used by a rule is refused."""
    require_click()
    trigger = ctx.triggered_id
    frame_id = trigger.get("frame") if isinstance(trigger, dict) else None
    user = signed_in_user()
    with provisioning() as store:
        lists = frame_lists(store, user)
        scope = TENANT if frame_id in {f.id for f in lists.tenant} else PERSONAL
        if not isinstance(frame_id, int) or frame_id not in lists.editable_ids(scope):
            return no_update, alert(
                "you cannot delete this time frame", alert_id="timeframes-error"
            )
        name = next(f.name for f in lists.tenant + lists.personal if f.id == frame_id)
        try:
            store.delete_frame(user.tenant_domain, frame_id)
        except ProvisioningError as exc:
            return no_update, alert(f"{name}: {exc}", alert_id="timeframes-error")
        notice = _push_for_frame(store, user, scope)
    banner = saved_banner(f"Deleted time frame “{name}”", notice, alert_id="timeframes-deleted")
    return (version or 0) + 1, banner
