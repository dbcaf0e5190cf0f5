"""The Time Frames editor: a modal with scope, name, zone and period rows.

Period rows carry pattern-matching ids (``{"type": "timeframes-period-…",
"index": <key>}``); the page appends them with ``Patch`` so typed values
survive, and hides a removed row rather than deleting it, so every ``ALL``
list the save callback receives stays aligned.
"""

from __future__ import annotations

import secrets
from typing import Any

import dash_mantine_components as dmc
from dash import dcc, html

from dash_app.describe import DAY_NAMES
from dash_app.editing import editor_modal, name_input
from dash_app.timeframes_form import PERIOD_KINDS, PERSONAL, TENANT, RowValues


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


def frame_editor() -> Any:
    """The editor modal (closed); ``open_editor`` fills it for a new frame or a saved one."""
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
    return editor_modal(
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
                    name_input("timeframes-name", "Open Hours", style={"flex": 1}),
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
        ],
        modal_id="timeframes-editor",
        title="Time frame",
        size="xl",
        error_id="timeframes-editor-error",
        save=("Save time frame", "timeframes-save"),
        cancel_id="timeframes-cancel",
        gap="md",
    )
