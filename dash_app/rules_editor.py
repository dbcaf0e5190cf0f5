"""The Answering Rules editor: a modal with the rule's name, frame, ring, forwards and blocks.

Its destination pickers come from :data:`dash_app.rules_form.DEST_FIELDS` in
that order, so the ``ALL`` states the save callback receives line up with
what :func:`dash_app.rules_form.rule_from_form` expects.
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc

from dash_app.destinations import FALLBACK_KINDS, FORWARD_KINDS, destination_picker
from dash_app.editing import editor_modal, name_input
from dash_app.rules_form import DEST_FIELDS


def rule_editor(extensions: list[str]) -> Any:
    """The editor modal (closed); ``open_editor`` fills it for a new rule or a saved one."""
    pickers = [
        destination_picker(
            "rules",
            field,
            label,
            None,
            kinds=FALLBACK_KINDS if field == "fallback" else FORWARD_KINDS,
            optional=field != "fallback",
            extensions=extensions,
            description=description,
        )
        for field, label, description in DEST_FIELDS
    ]
    return editor_modal(
        [
            dmc.Group(
                [
                    name_input("rules-name", "Office hours", label="Rule name"),
                    dmc.Select(
                        id="rules-frame",
                        label="Applies during",
                        data=[],
                        allowDeselect=False,
                    ),
                ],
                grow=True,
                align="flex-start",
            ),
            dmc.Switch(id="rules-enabled", label="Enabled", checked=True),
            dmc.Divider(label="Ring", labelPosition="left"),
            dmc.Group(
                [
                    dmc.NumberInput(
                        id="rules-ring",
                        label="Ring my phones for (seconds)",
                        min=5,
                        max=300,
                        step=5,
                        value=25,
                        w=220,
                    ),
                    dmc.TagsInput(
                        id="rules-simultaneous",
                        label="Also ring at the same time",
                        placeholder="Extension or number, Enter to add",
                        data=extensions,
                        value=[],
                        style={"flex": 1},
                    ),
                ],
                align="flex-start",
            ),
            dmc.Switch(
                id="rules-dnd",
                label="Do not disturb: phones do not ring, calls go to the fallback",
                checked=False,
            ),
            dmc.Divider(label="Forwarding", labelPosition="left"),
            dmc.SimpleGrid(pickers[:4], cols={"base": 1, "sm": 2}, spacing="md"),
            dmc.Divider(label="Blocking and fallback", labelPosition="left"),
            dmc.Group(
                [
                    dmc.TagsInput(
                        id="rules-block",
                        label="Block these callers",
                        description="Exact numbers, or prefixes ending in * (e.g. +1900*)",
                        placeholder="Number or prefix*, Enter to add",
                        value=[],
                        style={"flex": 1},
                    ),
                    dmc.Switch(
                        id="rules-block-anonymous",
                        label="Block anonymous callers",
                        checked=False,
                        mt=30,
                    ),
                ],
                align="flex-start",
            ),
            pickers[4],
        ],
        modal_id="rules-editor",
        title="Answering rule",
        size="xl",
        error_id="rules-editor-error",
        save=("Save rule", "rules-save"),
        cancel_id="rules-cancel",
    )
