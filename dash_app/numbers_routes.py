"""A main number's routes: the card that lists them, the route editor, and its form's parsing.

A route is an ``AnsweringRule`` whose ``forward_always`` is the destination:
during its frame, calls to the number go there. The card shows the routes in
the order they are tried and the one in force now, in the company's zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.describe import data_attrs, format_until
from dash_app.destinations import FALLBACK_KINDS, destination_from_form, destination_picker
from dash_app.editing import editor_modal, frame_of, name_input
from switchboard.rules import AnsweringRule, RuleError, active_rule_at
from switchboard.store import Did, ProvisioningStore


def did_card(store: ProvisioningStore, did: Did, timezone: str, now: datetime) -> Any:
    """One number: its routes in order, and the one in force now."""
    inputs = store.did_routing_inputs(did)
    active = active_rule_at(inputs.rules, inputs.frames, now)
    if active.rule is not None and active.rule.forward_always is not None:
        during = f" ({active.frame.name})" if active.frame else ""
        current = (
            f"Now{during}: {active.rule.forward_always.describe()}, "
            f"{format_until(active.until, timezone, now)}"
        )
        current_color = "green"
    else:
        current, current_color = "Now: no route applies", "orange"
    rows = []
    for position, rule in enumerate(inputs.rules, start=1):
        is_active = active.rule is not None and rule.id == active.rule.id
        dest = rule.forward_always.describe() if rule.forward_always else "—"
        rows.append(
            html.Tr(
                [
                    html.Td(str(position)),
                    html.Td(
                        dmc.Group(
                            [
                                dmc.Text(rule.name, size="sm", fw=600),
                                dmc.Badge("Active now", color="green", size="xs")
                                if is_active
                                else None,
                                dmc.Badge("Disabled", color="gray", variant="outline", size="xs")
                                if not rule.enabled
                                else None,
                            ],
                            gap=6,
                        )
                    ),
                    html.Td(rule.frame or "Always"),
                    html.Td(dest, className="sb-route-dest"),
                    html.Td(
                        dmc.Button(
                            "Edit",
                            id={"type": "numbers-edit-route", "did": did.id, "route": rule.id},
                            variant="light",
                            size="compact-xs",
                        ),
                        style={"textAlign": "right"},
                    ),
                ],
                **data_attrs(route=rule.name),
            )
        )
    table = (
        dmc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("#", style={"width": 30}),
                            html.Th("Route"),
                            html.Th("During"),
                            html.Th("Calls go to"),
                            html.Th(""),
                        ]
                    ),
                    className="sb-table-head",
                ),
                html.Tbody(rows),
            ],
            verticalSpacing="xs",
            highlightOnHover=True,
        )
        if rows
        else dmc.Text("No routes yet: add one per time frame.", size="sm", c="dimmed")
    )
    return dmc.Paper(
        [
            dmc.Group(
                [
                    html.Div(
                        [
                            dmc.Text(did.number, fw=700, size="lg", className="sb-did-number"),
                            dmc.Text(did.name, size="sm", c="dimmed"),
                        ]
                    ),
                    dmc.Group(
                        [
                            dmc.Badge(
                                current,
                                color=current_color,
                                variant="light",
                                size="lg",
                                className="sb-did-now",
                                tt="none",
                            ),
                            dmc.Button(
                                "Add route",
                                id={"type": "numbers-add-route", "did": did.id},
                                size="xs",
                                variant="default",
                            ),
                        ],
                        gap="sm",
                    ),
                ],
                justify="space-between",
                mb="sm",
            ),
            table,
        ],
        withBorder=True,
        radius="md",
        p="lg",
        className="sb-did-card",
        **{"data-number": did.number},
    )


def route_editor(extensions: list[str]) -> Any:
    """The route editor modal (closed); ``open_route_editor`` fills it."""
    return editor_modal(
        [
            dmc.Group(
                [
                    name_input("numbers-route-name", "Open hours", label="Route name"),
                    dmc.Select(id="numbers-route-frame", label="During", data=[]),
                ],
                grow=True,
                align="flex-start",
            ),
            destination_picker(
                "numbers",
                "route",
                "Send calls to",
                None,
                kinds=FALLBACK_KINDS,
                optional=False,
                extensions=extensions,
            ),
            dmc.Group(
                [
                    dmc.NumberInput(
                        id="numbers-route-priority",
                        label="Order (lower is tried first)",
                        min=1,
                        max=1000,
                        w=220,
                    ),
                    dmc.Switch(id="numbers-route-enabled", label="Enabled", mt=28),
                ],
                align="flex-start",
            ),
        ],
        modal_id="numbers-route-editor",
        title="Route",
        size="lg",
        error_id="numbers-route-error",
        save=("Save route", "numbers-route-save"),
        cancel_id="numbers-route-cancel",
    )


def route_from_form(
    route_id: int | None,
    name: str | None,
    frame: str | None,
    priority: Any,
    enabled: bool,
    kind: str | None,
    target: str | None,
) -> AnsweringRule:
    """A main-number route from the editor: during ``frame``, send calls to one destination."""
    name = (name or "").strip()
    if not name:
        raise RuleError("give the route a name")
    try:
        order = int(priority)
    except (TypeError, ValueError) as exc:
        raise RuleError("the order must be a number") from exc
    dest = destination_from_form("Send calls to", kind, target)
    if dest is None:
        raise RuleError("choose where the calls go")
    return AnsweringRule(
        name,
        order,
        frame_of(frame),
        forward_always=dest,
        enabled=enabled,
        id=route_id,
    )
