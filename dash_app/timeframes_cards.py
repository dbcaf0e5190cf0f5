"""The Time Frames lists: one card per frame, its periods in words, and what the viewer may do."""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.describe import data_attrs, describe_frame
from dash_app.editing import delete_button, edit_button
from switchboard.timeframes import TimeFrame


def frame_card(frame: TimeFrame, *, editable: bool) -> Any:
    """One frame in a list: name, zone, its periods in words, and what the viewer may do."""
    actions = (
        dmc.Group(
            [
                edit_button({"type": "timeframes-edit", "frame": frame.id}),
                delete_button({"type": "timeframes-delete", "frame": frame.id}),
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
    """The cards, or ``empty`` (with id ``<list_id>-empty``) when there is no frame."""
    if not frames:
        return dmc.Text(empty, size="sm", c="dimmed", id=f"{list_id}-empty")
    return html.Div([frame_card(f, editable=editable) for f in frames], id=list_id)
