"""The Answering Rules list: one card per rule, in the order rules are tried.

A card says what the rule does in words (:func:`dash_app.describe.describe_rule`),
marks the one active now, and carries the move/edit/delete buttons whose
pattern-matching ids (``{"type": "rules-up", "rule": <id>}``…) the page's
callbacks listen to.
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.describe import data_attrs, describe_rule
from dash_app.editing import delete_button, edit_button
from switchboard.routing import no_rule_behaviour
from switchboard.rules import AnsweringRule


def rule_card(rule: AnsweringRule, position: int, count: int, *, active: bool) -> Any:
    """One rule in the ordered list: order, name, frame, what it does, and its controls."""
    badges = [
        dmc.Badge(rule.frame or "Always", variant="light", color="indigo", size="sm"),
    ]
    if active:
        badges.append(
            dmc.Badge("Active now", color="green", size="sm", className="sb-rule-active-badge")
        )
    if not rule.enabled:
        badges.append(dmc.Badge("Disabled", color="gray", variant="outline", size="sm"))
    controls = dmc.Group(
        [
            dmc.ActionIcon(
                "↑",
                id={"type": "rules-up", "rule": rule.id},
                variant="default",
                disabled=position == 1,
                **{"aria-label": "Move up: try this rule earlier"},
            ),
            dmc.ActionIcon(
                "↓",
                id={"type": "rules-down", "rule": rule.id},
                variant="default",
                disabled=position == count,
                **{"aria-label": "Move down: try this rule later"},
            ),
            edit_button({"type": "rules-edit", "rule": rule.id}),
            delete_button({"type": "rules-delete", "rule": rule.id}),
        ],
        gap=6,
        wrap="nowrap",
    )
    return html.Div(
        [
            html.Div(str(position), className="sb-rule-position"),
            html.Div(
                [
                    dmc.Group(
                        [dmc.Text(rule.name, fw=600, className="sb-rule-name"), *badges],
                        gap="xs",
                    ),
                    html.Ul(
                        [html.Li(line) for line in describe_rule(rule)], className="sb-rule-do"
                    ),
                ],
                style={"flex": 1, "minWidth": 0},
            ),
            controls,
        ],
        className="sb-rule-card" + (" sb-rule-card--active" if active else ""),
        **data_attrs(rule=rule.name),
    )


def rule_list(
    rules: list[AnsweringRule], active: AnsweringRule | None, *, ring_seconds: int
) -> Any:
    """The cards in order, or what happens to calls while there is no rule."""
    if not rules:
        return dmc.Text(
            "No answering rules. " + no_rule_behaviour(ring_seconds),
            size="sm",
            c="dimmed",
            id="rules-empty",
        )
    ordered = sorted(rules, key=lambda r: (r.priority, r.name))
    cards = [
        rule_card(rule, i, len(ordered), active=active is not None and rule.id == active.id)
        for i, rule in enumerate(ordered, start=1)
    ]
    return html.Div(cards, id="rules-list")
