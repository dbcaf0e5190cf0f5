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
import secrets
import sqlite3
from datetime import date, time
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import available_timezones

import dash
import dash_mantine_components as dmc
from dash import ALL, MATCH, Input, Output, Patch, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.describe import DAY_NAMES, data_attrs, describe_frame
from dash_app.layout import section
from dash_app.push import push_after_edit, saved_message
from switchboard.store import ProvisioningError, ProvisioningStore, User
from switchboard.timeframes import DatePeriod, Period, TimeFrame, TimeFrameError, WeeklyPeriod

dash.register_page(
    __name__,
    path="/timeframes",
    name="Time Frames",
    title="Time Frames · Switchboard",
    order=3,
)

log = logging.getLogger(__name__)

PeriodKind = str  # "weekly" | "dates" | "range" | "removed"
PERIOD_KINDS: dict[str, str] = {
    "weekly": "Weekly hours",
    "dates": "Specific dates",
    "range": "Date range",
}
TENANT, PERSONAL = "tenant", "personal"


@lru_cache(maxsize=1)
def zone_options() -> list[str]:
    """IANA zones people pick from (region/city names and UTC), computed on first use."""
    zones = {z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV"))}
    return ["UTC", *sorted(zones)]


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


# -- the form, as data ---------------------------------------------------------------
def _time(value: str | None, label: str) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(value[:5])
    except ValueError as exc:
        raise TimeFrameError(f"{label}: {value!r} is not a time (HH:MM)") from exc


def _date(value: str | None, label: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise TimeFrameError(f"{label}: {value!r} is not a date") from exc


def periods_from_form(
    kinds: list[str],
    days: list[list[str] | None],
    dates: list[list[str] | None],
    ranges: list[list[str | None] | None],
    starts: list[str | None],
    ends: list[str | None],
) -> tuple[Period, ...]:
    """The periods of the editor's rows (aligned lists, one item per row), in order.

    Weekly hours may cross midnight (22:00–06:00); blank times mean all day.
    Dates and ranges take both times or none, and the end must be after the start.
    """
    periods: list[Period] = []
    shown = 0
    for kind, row_days, row_dates, row_range, start_text, end_text in zip(
        kinds, days, dates, ranges, starts, ends, strict=True
    ):
        if kind not in PERIOD_KINDS:
            continue  # a removed row
        shown += 1
        label = f"Period {shown} ({PERIOD_KINDS[kind].lower()})"
        start, end = _time(start_text, label), _time(end_text, label)
        if (start is None) != (end is None):
            raise TimeFrameError(f"{label}: give both a start and an end time, or neither")
        if kind == "weekly":
            if not row_days:
                raise TimeFrameError(f"{label}: pick at least one day")
            chosen = frozenset(int(d) for d in row_days)
            if start is None or end is None:
                start = end = time(0)  # start == end: the whole day
            periods.append(WeeklyPeriod(chosen, start, end))
            continue
        if start is not None and end is not None and end <= start:
            raise TimeFrameError(
                f"{label}: the end time {end:%H:%M} is before the start {start:%H:%M}"
            )
        if kind == "dates":
            if not row_dates:
                raise TimeFrameError(f"{label}: pick at least one date")
            for day in sorted({_date(d, label) for d in row_dates}):
                periods.append(DatePeriod(day, day, start, end))
        else:
            first, last = ((row_range or []) + [None, None])[:2]
            if not first or not last:
                raise TimeFrameError(f"{label}: pick the first and the last day")
            first_day, last_day = _date(first, label), _date(last, label)
            if last_day < first_day:
                raise TimeFrameError(
                    f"{label}: the range ends ({last_day}) before it starts ({first_day})"
                )
            periods.append(DatePeriod(first_day, last_day, start, end))
    if not periods:
        raise TimeFrameError("add at least one period, or switch on “Always”")
    return tuple(periods)


def frame_from_form(
    frame_id: int | None,
    name: str | None,
    timezone: str | None,
    always: bool,
    rows: tuple[list[Any], ...],
) -> TimeFrame:
    """A frame from the editor; ``rows`` are the aligned lists of ``periods_from_form``."""
    name = (name or "").strip()
    if not name:
        raise TimeFrameError("give the time frame a name")
    if not timezone:
        raise TimeFrameError("pick a time zone")
    periods = () if always else periods_from_form(*rows)
    return TimeFrame(name, timezone, periods, frame_id)


class RowValues(NamedTuple):
    """What one editor row starts with."""

    kind: str
    days: list[str]
    dates: list[str]
    range: list[str | None]
    start: str | None
    end: str | None


def rows_of_frame(frame: TimeFrame) -> list[RowValues]:
    """Editor rows for a saved frame; single days with the same hours share one row."""
    rows: list[RowValues] = []
    for p in frame.periods:
        if isinstance(p, WeeklyPeriod):
            whole_day = p.start == p.end
            rows.append(
                RowValues(
                    "weekly",
                    [str(d) for d in sorted(p.days)],
                    [],
                    [None, None],
                    None if whole_day else f"{p.start:%H:%M}",
                    None if whole_day else f"{p.end:%H:%M}",
                )
            )
            continue
        start = f"{p.start:%H:%M}" if p.start else None
        end = f"{p.end:%H:%M}" if p.end else None
        if p.first == p.last:
            last = rows[-1] if rows else None
            if last and last.kind == "dates" and (last.start, last.end) == (start, end):
                last.dates.append(p.first.isoformat())
                continue
            rows.append(RowValues("dates", [], [p.first.isoformat()], [None, None], start, end))
        else:
            rows.append(
                RowValues("range", [], [], [p.first.isoformat(), p.last.isoformat()], start, end)
            )
    return rows


# -- components ------------------------------------------------------------------------
def period_row(values: RowValues, key: str | None = None) -> Any:
    """One period of the editor; its kind is fixed, its other fields hidden when unused."""
    key = key or secrets.token_hex(4)

    def pid(kind: str) -> dict[str, str]:
        return {"type": f"timeframes-period-{kind}", "index": key}

    def shown(*kinds: str) -> dict[str, str]:
        return {} if values.kind in kinds else {"display": "none"}

    times_hint = "blank: all day" if values.kind == "weekly" else "optional"
    return dmc.Paper(
        [
            dcc.Store(id=pid("kind"), data=values.kind),
            dmc.Group(
                [
                    dmc.Badge(PERIOD_KINDS[values.kind], variant="light"),
                    dmc.Button(
                        "Remove",
                        id=pid("remove"),
                        variant="subtle",
                        color="red",
                        size="compact-sm",
                    ),
                ],
                justify="space-between",
                mb="xs",
            ),
            html.Div(
                dmc.ChipGroup(
                    dmc.Group(
                        [dmc.Chip(day, value=str(i), size="sm") for i, day in enumerate(DAY_NAMES)],
                        gap=6,
                    ),
                    id=pid("days"),
                    multiple=True,
                    value=values.days,
                ),
                style=shown("weekly"),
            ),
            html.Div(
                dmc.DatePickerInput(
                    id=pid("dates"),
                    type="multiple",
                    value=values.dates,
                    placeholder="Pick one or more dates",
                    valueFormat="MMM D, YYYY",
                    clearable=True,
                ),
                style=shown("dates"),
            ),
            html.Div(
                dmc.DatePickerInput(
                    id=pid("range"),
                    type="range",
                    value=values.range,
                    placeholder="First day – last day",
                    valueFormat="MMM D, YYYY",
                    allowSingleDateInRange=True,
                    clearable=True,
                ),
                style=shown("range"),
            ),
            dmc.Group(
                [
                    dmc.TimeInput(id=pid("start"), value=values.start or "", label="From", w=130),
                    dmc.TimeInput(id=pid("end"), value=values.end or "", label="To", w=130),
                    dmc.Text(times_hint, size="xs", c="dimmed", mt=22),
                ],
                gap="sm",
                mt="xs",
            ),
        ],
        id=pid("row"),
        withBorder=True,
        p="sm",
        radius="md",
        className="sb-period-row",
        **{"data-kind": values.kind},
    )


def _empty_row(kind: str) -> RowValues:
    weekly = kind == "weekly"
    days = ["0", "1", "2", "3", "4"] if weekly else []
    return RowValues(
        kind, days, [], [None, None], "09:00" if weekly else None, "17:00" if weekly else None
    )


def frame_card(frame: TimeFrame, *, editable: bool) -> Any:
    """One frame in a list: name, zone, its periods in words, and what the viewer may do."""
    actions = (
        dmc.Group(
            [
                dmc.Button(
                    "Edit",
                    id={"type": "timeframes-edit", "frame": frame.id},
                    variant="light",
                    size="compact-sm",
                ),
                dmc.Button(
                    "Delete",
                    id={"type": "timeframes-delete", "frame": frame.id},
                    variant="subtle",
                    color="red",
                    size="compact-sm",
                ),
            ],
            gap=6,
        )
        if editable
        else dmc.Badge("View only", variant="outline", color="gray")
    )
    return html.Div(
        [
            html.Div(
                [
                    dmc.Group(
                        [
                            dmc.Text(frame.name, fw=600, className="sb-frame-name"),
                            dmc.Badge(
                                frame.timezone, variant="light", color="gray", size="sm", tt="none"
                            ),
                        ],
                        gap="xs",
                    ),
                    html.Ul(
                        [html.Li(line) for line in describe_frame(frame)],
                        className="sb-frame-periods",
                    ),
                ],
                style={"flex": 1},
            ),
            actions,
        ],
        className="sb-frame-card",
        **data_attrs(frame=frame.name),
    )


def frame_list(frames: list[TimeFrame], *, editable: bool, empty: str, list_id: str) -> Any:
    if not frames:
        return dmc.Text(empty, size="sm", c="dimmed", id=f"{list_id}-empty")
    return html.Div([frame_card(f, editable=editable) for f in frames], id=list_id)


def _editor() -> Any:
    add_buttons = dmc.Group(
        [
            dmc.Button(
                f"+ {label}",
                id={"type": "timeframes-add", "kind": kind},
                variant="default",
                size="xs",
            )
            for kind, label in PERIOD_KINDS.items()
        ],
        gap="xs",
    )
    return dmc.Modal(
        dmc.Stack(
            [
                dmc.SegmentedControl(
                    id="timeframes-scope",
                    data=[
                        {"value": TENANT, "label": "Company-wide"},
                        {"value": PERSONAL, "label": "Personal"},
                    ],
                    value=PERSONAL,
                ),
                dmc.Group(
                    [
                        dmc.TextInput(
                            id="timeframes-name",
                            label="Name",
                            placeholder="Open Hours",
                            inputProps={"maxLength": 60},
                            style={"flex": 1},
                        ),
                        dmc.Select(
                            id="timeframes-zone",
                            label="Time zone",
                            data=[],
                            searchable=True,
                            allowDeselect=False,
                            w=260,
                        ),
                    ],
                    grow=True,
                    align="flex-start",
                ),
                dmc.Switch(
                    id="timeframes-always",
                    label="Always (the frame covers every moment)",
                    checked=False,
                ),
                html.Div(
                    [
                        dmc.Text("Periods", size="sm", fw=500, mb=4),
                        dmc.Text(
                            "A moment is in the frame when it falls in any period, in the "
                            "frame's time zone. Weekly hours may end after midnight.",
                            size="xs",
                            c="dimmed",
                            mb="xs",
                        ),
                        dmc.Stack(id="timeframes-periods", gap="xs"),
                        html.Div(add_buttons, style={"marginTop": 10}),
                    ],
                    id="timeframes-periods-box",
                ),
                html.Div(id="timeframes-editor-error"),
                dmc.Group(
                    [
                        dmc.Button("Cancel", id="timeframes-cancel", variant="default"),
                        dmc.Button("Save time frame", id="timeframes-save"),
                    ],
                    justify="flex-end",
                ),
            ],
            gap="md",
        ),
        id="timeframes-editor",
        title="Time frame",
        size="xl",
        opened=False,
    )


def layout(**query: str) -> Any:
    """Company and personal frames, filled by ``refresh_lists``; the editor is a modal."""
    user = optional_user()
    if user is None:
        return html.Div()
    return dmc.Stack(
        [
            dmc.Group(
                [
                    html.Div(
                        [
                            dmc.Title("Time Frames", order=2, id="timeframes-title"),
                            dmc.Text(
                                "When answering rules and main-number routes apply: "
                                "opening hours, closures and holidays.",
                                c="dimmed",
                            ),
                        ]
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
            _editor(),
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
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate  # the list re-rendered its buttons; nobody clicked
    with provisioning() as store:
        lists = frame_lists(store, user)
        tenant_tz = store.tenant(user.tenant_domain).timezone
    zones = zone_options()
    if trigger == "timeframes-new":
        scope = TENANT if lists.can_edit_tenant else PERSONAL
        scope_style = {} if lists.can_edit_tenant else {"display": "none"}
        rows = [period_row(_empty_row("weekly"))]
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
    patch.append(period_row(_empty_row(trigger["kind"])))
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


@callback(
    Output("timeframes-editor", "opened", allow_duplicate=True),
    Input("timeframes-cancel", "n_clicks"),
    prevent_initial_call=True,
)
def close_editor(_clicks: int | None) -> bool:
    return False


def _alert(message: str, *, color: str = "red", alert_id: str = "timeframes-editor-alert") -> Any:
    text = message[:1].upper() + message[1:]
    return dmc.Alert(text, color=color, variant="light", id=alert_id)


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
        return _alert(str(exc)), no_update, no_update, no_update
    with provisioning() as store:
        lists = frame_lists(store, user)
        if scope == TENANT and not lists.can_edit_tenant:
            return _alert("only managers can change company time frames"), *(no_update,) * 3
        if frame_id is not None and frame_id not in lists.editable_ids(scope):
            return _alert("you cannot edit this time frame"), *(no_update,) * 3
        try:
            saved = store.save_frame(
                user.tenant_domain, frame, None if scope == TENANT else user.id
            )
        except ProvisioningError as exc:
            return _alert(str(exc)), no_update, no_update, no_update
        notice = _push_for_frame(store, user, scope)
    message, color = saved_message(f"Saved time frame “{saved.name}”", notice)
    banner = _alert(message, color=color, alert_id="timeframes-saved")
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
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    trigger = ctx.triggered_id
    frame_id = trigger.get("frame") if isinstance(trigger, dict) else None
    user = signed_in_user()
    with provisioning() as store:
        lists = frame_lists(store, user)
        scope = TENANT if frame_id in {f.id for f in lists.tenant} else PERSONAL
        if not isinstance(frame_id, int) or frame_id not in lists.editable_ids(scope):
            return no_update, _alert(
                "you cannot delete this time frame", alert_id="timeframes-error"
            )
        name = next(f.name for f in lists.tenant + lists.personal if f.id == frame_id)
        try:
            store.delete_frame(user.tenant_domain, frame_id)
        except ProvisioningError as exc:
            return no_update, _alert(f"{name}: {exc}", alert_id="timeframes-error")
        except sqlite3.IntegrityError:  # the store checks rules, not main-number routes
            message = f"{name}: time frame is used by a main-number route"
            return no_update, _alert(message, alert_id="timeframes-error")
        notice = _push_for_frame(store, user, scope)
    message, color = saved_message(f"Deleted time frame “{name}”", notice)
    banner = _alert(message, color=color, alert_id="timeframes-deleted")
    return (version or 0) + 1, banner
