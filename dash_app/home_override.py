"""Home's "Active Answering Rule" box: what decides my calls now, and the manual override.

The override is an ``AnsweringRule`` (forward everything, do not disturb, or a
copy of one of the user's saved rules, its time frame dropped) that wins over
every scheduled rule until it expires; ``active_rule_at``
already knows that, so the box and the routing simulator agree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.describe import data_attrs, describe_rule, format_until
from dash_app.destinations import destination_from_form, destination_picker
from dash_app.editing import sentence
from switchboard.routing import no_rule_behaviour
from switchboard.rules import AnsweringRule, Destination, RuleError, active_rule_at
from switchboard.store import ProvisioningStore, User

MAX_OVERRIDE_HOURS = 72


def active_rule_box(user: User, extensions: list[str], rules: Sequence[AnsweringRule] = ()) -> Any:
    """The active rule (filled by ``refresh_active_rule``) and the override switch.

    ``extensions`` are the tenant's, offered as forward targets (the user's own left out);
    ``rules`` the user's saved rules, any of which can be switched on for a time.
    """
    override_form = dmc.Stack(
        [
            dmc.SegmentedControl(
                id="home-override-mode",
                data=[
                    {"value": "forward", "label": "Forward all calls"},
                    {"value": "dnd", "label": "Do not disturb"},
                    {"value": "rule", "label": "One of my rules"},
                ],
                value="forward",
                fullWidth=True,
                size="xs",
            ),
            html.Div(
                destination_picker(
                    "home",
                    "override",
                    "Forward all calls to",
                    Destination("voicemail"),
                    optional=False,
                    extensions=[e for e in extensions if e != user.extension],
                ),
                id="home-override-target-box",
            ),
            html.Div(
                dmc.Select(
                    id="home-override-rule",
                    label="Use this rule at all times",
                    data=[{"value": str(r.id), "label": r.name} for r in rules],
                    value=str(rules[0].id) if rules else None,
                    placeholder="You have no saved rules yet" if not rules else None,
                    allowDeselect=False,
                ),
                id="home-override-rule-box",
                style={"display": "none"},
            ),
            dmc.Group(
                [
                    dmc.NumberInput(
                        id="home-override-hours",
                        label="For (hours)",
                        value=2,
                        min=1,
                        max=MAX_OVERRIDE_HOURS,
                        w=100,
                    ),
                    dmc.Button("Switch on", id="home-override-on"),
                    dmc.Button(
                        "Cancel override",
                        id="home-override-cancel",
                        variant="light",
                        color="red",
                        disabled=True,
                    ),
                ],
                gap="xs",
                align="flex-end",
            ),
            html.Div(id="home-override-feedback"),
        ],
        gap="xs",
    )
    return dmc.Stack(
        [
            html.Div(dmc.Skeleton(height=48), id="home-rule-active"),
            dmc.Divider(label="Manual override", labelPosition="left"),
            override_form,
        ],
        gap="sm",
    )


def active_rule_summary(
    store: ProvisioningStore, user: User, now: datetime, *, ring_seconds: int
) -> tuple[Any, bool]:
    """What decides the user's calls at ``now`` and until when; and whether it is an override.

    ``ring_seconds`` is the setting ``ring_timeout``: how long the default (no rule) rings.
    """
    inputs = store.routing_inputs(user)
    active = active_rule_at(inputs.rules, inputs.frames, now, inputs.override)
    until = format_until(active.until, user.timezone, now)
    if active.rule is None:
        name, why = "No rule applies", no_rule_behaviour(ring_seconds)
        lines: list[str] = []
    elif active.overridden:
        name, why = "Manual override", "You switched this on."
        lines = describe_rule(active.rule)
    else:
        name = active.rule.name
        why = f"During {active.frame.name}." if active.frame else "Applies at all times."
        lines = describe_rule(active.rule)
    body = html.Div(
        [
            dmc.Group(
                [
                    html.Span(name, className="sb-active-rule-name", id="home-rule-name"),
                    dmc.Badge(
                        until, variant="light", color="indigo", tt="none", id="home-rule-until"
                    ),
                ],
                gap="xs",
            ),
            dmc.Text(why, size="sm", c="dimmed"),
            html.Ul([html.Li(line) for line in lines], className="sb-rule-do", id="home-rule-do"),
        ],
        className="sb-override-on" if active.overridden else "",
        **data_attrs(overridden="1" if active.overridden else "0"),
    )
    return body, active.overridden


def override_rule(
    user: User,
    mode: str | None,
    kind: str | None,
    target: str | None,
    saved: Sequence[AnsweringRule] = (),
    rule_id: str | None = None,
) -> AnsweringRule:
    """The rule a manual override applies: forward everything, do not disturb, or a saved rule.

    ``saved`` are the user's own rules (read from the store for them, never from the
    browser); ``rule_id`` picks one of them, which then applies at all times.
    """
    if mode == "rule":
        chosen = next((r for r in saved if str(r.id) == str(rule_id)), None)
        if chosen is None:
            raise RuleError("choose one of your rules")
        return replace(chosen, priority=0, frame=None, enabled=True, id=None)
    if mode == "dnd":
        return AnsweringRule("Do not disturb", 0, dnd=True, fallback=Destination("voicemail"))
    dest = destination_from_form("Forward all calls to", kind, target)
    if dest is None:
        raise RuleError("choose where to forward your calls")
    if dest.kind == "extension" and dest.target == user.extension:
        raise RuleError("forwarding your calls to yourself would loop")
    return AnsweringRule("Forward all calls", 0, forward_always=dest)


def override_error(message: str) -> Any:
    """Why the override was refused, under its form."""
    return dmc.Text(sentence(message), c="red", size="sm", id="home-override-error")
