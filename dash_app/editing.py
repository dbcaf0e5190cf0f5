"""What the portal's editing pages share: the "Always" choice, rule order, refusals, buttons.

Answering Rules and Main Numbers edit the same kind of ordered rule (a main
number's route is an ``AnsweringRule`` with a forward), so the value of the
frame select's "Always" entry and the step between priorities are defined here
once. Every page that edits says a refusal or a success the same way: an
alert whose text starts with a capital (the store's messages start lower-case)
and whose id names the outcome, which the browser tests look for; a listed
item's Edit and Delete buttons look the same on every page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import dash_mantine_components as dmc
from dash import Input, Output, callback, ctx, html
from dash.exceptions import PreventUpdate

from switchboard.rules import AnsweringRule

ALWAYS = "__always__"  # the frame select's value for a rule without a time frame
PRIORITY_STEP = 10  # new rules go last, this far after the last one; reordering renumbers
NAME_MAX = 60  # the longest name an editor takes: it must fit a card's title and a select's label


class NotAllowed(Exception):
    """The viewer asked for something their role or tenant does not give them.

    Callbacks raise it on ids that came from the browser (another user's
    rules, another tenant's number): hiding a button is not access control.
    """


def sentence(message: str) -> str:
    """``message`` with a capital first letter (store and rule errors start lower-case)."""
    return message[:1].upper() + message[1:]


def alert(message: str, *, alert_id: str, color: str = "red") -> Any:
    """A banner saying ``message``; red refuses, green or yellow confirm a save."""
    return dmc.Alert(sentence(message), color=color, variant="light", id=alert_id)


def edit_button(button_id: dict[str, Any], *, size: str = "compact-sm") -> Any:
    """A listed item's Edit button; light, so the red Delete beside it stands out."""
    return dmc.Button("Edit", id=button_id, variant="light", size=size)


def delete_button(button_id: dict[str, Any], *, size: str = "compact-sm") -> Any:
    """A listed item's Delete button: subtle red, every list's same warning colour."""
    return dmc.Button("Delete", id=button_id, variant="subtle", color="red", size=size)


def name_input(input_id: str, placeholder: str, *, label: str = "Name", **props: Any) -> Any:
    """The name field of an edited item (rule, route, frame, menu, number): NAME_MAX at most."""
    max_length = {"maxLength": NAME_MAX}
    return dmc.TextInput(
        id=input_id, label=label, placeholder=placeholder, inputProps=max_length, **props
    )


def dialog_actions(cancel_id: str, action: Any, **group_props: Any) -> Any:
    """Cancel, then the button that acts, at the bottom right: every dialog's same footer."""
    cancel = dmc.Button("Cancel", id=cancel_id, variant="default")
    return dmc.Group([cancel, action], justify="flex-end", **group_props)


def editor_modal(
    fields: list[Any],
    *,
    modal_id: str,
    title: str,
    size: str,
    error_id: str,
    save: tuple[str, str],
    cancel_id: str,
    gap: str = "sm",
) -> Any:
    """A closed editor modal: its fields, the box its refusals go to, then Cancel and Save.

    ``save`` is the Save button's (label, id); :func:`close_on_cancel` wires the Cancel.
    """
    label, save_id = save
    footer = dialog_actions(cancel_id, dmc.Button(label, id=save_id))
    body = dmc.Stack([*fields, html.Div(id=error_id), footer], gap=gap)
    return dmc.Modal(body, id=modal_id, title=title, size=size, opened=False)


def new_rule_after(rules: Iterable[AnsweringRule]) -> AnsweringRule:
    """An empty rule for the editor, ordered after every existing one."""
    last = max((r.priority for r in rules), default=0)
    return AnsweringRule("", last + PRIORITY_STEP)


def frame_options(frames: Iterable[str]) -> list[dict[str, str]]:
    """The "Applies during" select: Always first, then the frames by name."""
    return [{"value": ALWAYS, "label": "Always"}] + [
        {"value": name, "label": name} for name in sorted(frames)
    ]


def frame_of(value: str | None) -> str | None:
    """The frame the select names, or ``None`` for Always (and for nothing chosen)."""
    return None if not value or value == ALWAYS else value


def require_click() -> None:
    """Stop a callback that fired because its buttons were (re)rendered, not clicked.

    Pattern-matching inputs fire when a list re-renders with new buttons,
    with ``n_clicks`` still empty: that is nobody's click.
    """
    if not ctx.triggered or not ctx.triggered[0].get("value"):
        raise PreventUpdate


def digest(component: Any) -> str:
    """What a rendered component says, as a short hash.

    A page that polls sends nothing when it would render the same thing again: a
    re-rendered button can swallow a click in flight (Dash fires the button's callback
    again for the new button, with ``n_clicks`` empty, and :func:`require_click` drops it).
    """
    from plotly.utils import PlotlyJSONEncoder

    text = json.dumps(component, cls=PlotlyJSONEncoder, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def close_on_cancel(modal_id: str, cancel_id: str) -> None:
    """Register the callback every editor modal has: its Cancel button closes it, unsaved."""

    @callback(
        Output(modal_id, "opened", allow_duplicate=True),
        Input(cancel_id, "n_clicks"),
        prevent_initial_call=True,
    )
    def close_editor(_clicks: int | None) -> bool:
        return False
