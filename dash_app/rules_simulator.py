"""The routing simulator: "a call from X at time T — where does it go, and why?"

It answers with ``switchboard.routing.explain_route``, the same function the
decisions pushed to Kamailio start from, so the page cannot promise a route
the phones will not take.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
from dash import html

from dash_app.editing import alert
from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.routing import explain_route
from switchboard.store import ProvisioningStore, User


def simulator_form(user: User, query: dict[str, str]) -> Any:
    """The simulator's form; ``?at=YYYY-MM-DDTHH:MM&from=…`` pre-fills it (a shareable what-if)."""
    now = datetime.now(ZoneInfo(user.timezone)).replace(tzinfo=None)
    try:
        at = datetime.fromisoformat(query["at"]) if query.get("at") else now
    except ValueError:
        at = now
    caller = query.get("from", "+15551234567")
    return dmc.Stack(
        [
            dmc.Text(
                "Where would a call go, and why? The same logic the phone system uses.",
                size="sm",
                c="dimmed",
            ),
            dmc.TextInput(
                id="rules-sim-caller",
                label="Call from",
                value=caller,
                description="A number or extension; leave empty for an anonymous caller",
            ),
            dmc.Group(
                [
                    dmc.DateInput(
                        id="rules-sim-date",
                        label="Date",
                        value=at.date().isoformat(),
                        valueFormat="ddd MMM D, YYYY",
                        style={"flex": 1},
                    ),
                    dmc.TimeInput(id="rules-sim-time", label="Time", value=f"{at:%H:%M}", w=130),
                ],
                align="flex-start",
                grow=True,
            ),
            dmc.Text(id="rules-sim-zone", size="xs", c="dimmed"),
            dmc.Button("Simulate call", id="rules-sim-run", variant="light"),
            html.Div(id="rules-sim-result"),
        ],
        gap="sm",
    )


def simulate(
    store: ProvisioningStore,
    user: User,
    caller: str | None,
    day: str | None,
    at: str | None,
    *,
    ring_seconds: int,
) -> Any:
    """The simulator's answer for a call to ``user`` at ``day`` ``at`` in the user's zone.

    ``ring_seconds`` is the setting ``ring_timeout`` (the default's ring time, no rule active).
    """
    try:
        local_day = parse_day(str(day)[:10])
        local_time = time.fromisoformat(str(at)[:5]) if at else time(0)
    except ValueError:
        return alert(
            f"pick a date between {FIRST_DAY} and {LAST_DAY} and a time (HH:MM)",
            alert_id="rules-sim-error",
        )
    instant = datetime.combine(local_day, local_time, tzinfo=ZoneInfo(user.timezone))
    explanation = explain_route(
        user,
        store.routing_inputs(user),
        (caller or "").strip(),
        instant,
        default_ring_seconds=ring_seconds,
    )
    rule = explanation.active.rule
    decided = (
        f"Decided by {rule.name!r}"
        + (
            " (manual override)"
            if explanation.active.overridden
            else f" during {explanation.active.frame.name}"
            if explanation.active.frame
            else " (always)"
        )
        if rule
        else "No rule applies: the default route"
    )
    return dmc.Stack(
        [
            dmc.Paper(
                [
                    dmc.Text("Outcome", size="xs", c="dimmed", tt="uppercase", fw=700),
                    dmc.Text(explanation.outcome, fw=700, size="lg", id="rules-sim-outcome"),
                    dmc.Text(decided, size="sm", c="dimmed", id="rules-sim-decided"),
                ],
                p="sm",
                radius="md",
                className="sb-sim-outcome",
            ),
            dmc.Timeline(
                [dmc.TimelineItem(dmc.Text(step, size="sm")) for step in explanation.steps],
                active=len(explanation.steps) - 1,
                bulletSize=14,
                lineWidth=2,
                id="rules-sim-steps",
            ),
        ],
        gap="sm",
    )
