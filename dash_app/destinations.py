"""Where a call can be sent, as a form control: the one picker rules, numbers and home share.

A destination is a kind (voicemail, extension, number, auto attendant,
announcement, or a tone) and, for most kinds, a target. The picker is two controls with
pattern-matching ids ``{"type": "<page>-dest-kind" | "<page>-dest-target",
"field": <field>}`` so a page reads every picker of its form with one ``ALL``
state, and one clientside callback per page greys out the target when the
kind needs none. Turning the two values back into a
:class:`~switchboard.rules.Destination` is pure and says what is missing.
"""

from __future__ import annotations

import re
from typing import Any

import dash_mantine_components as dmc
from dash import MATCH, Input, Output, State, clientside_callback, dcc

from switchboard.rules import Destination, DestinationKind, RuleError

OFF = "off"  # every form select's "none" value: a forward not set, no exit key, the default track
KIND_LABELS: dict[str, str] = {
    OFF: "Off",
    "voicemail": "Voicemail",
    "extension": "Extension",
    "number": "Phone number",
    "queue": "Queue",
    "auto_attendant": "Auto attendant",
    "announcement": "Announcement",
    "busy": "Busy tone",
    "unavailable": "Unavailable tone",
    "hangup": "Hang up",
}
# Every kind that takes a caller today (queues since issue 12).
FORWARD_KINDS: tuple[str, ...] = (
    "voicemail", "extension", "number", "queue", "auto_attendant", "announcement",
)  # fmt: skip
FALLBACK_KINDS: tuple[str, ...] = (*FORWARD_KINDS, "busy", "unavailable", "hangup")
# Kinds whose target must be given; a voicemail target is optional (default: the owner's box).
NEEDS_TARGET: frozenset[str] = frozenset(
    {"extension", "number", "queue", "auto_attendant", "announcement"}
)
PLACEHOLDERS: dict[str, str] = {
    "voicemail": "box (default: own)",
    "extension": "e.g. 102",
    "number": "e.g. +15551234567",
    "queue": "queue id (Queues page)",
    "auto_attendant": "menu id (Auto Attendants page)",
    "announcement": "announcement id (Auto Attendants page)",
}
# Kinds whose target is an extension of the tenant: the target box suggests them.
SUGGESTED: frozenset[str] = frozenset({"extension", "voicemail"})
_NUMBER_RE = re.compile(r"^\+?[0-9]{3,15}$")
_TARGET_RE = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")


def kind_options(kinds: tuple[str, ...], *, optional: bool) -> list[dict[str, str]]:
    """Select options for ``kinds``, with "Off" first when the forward is optional."""
    values = (OFF, *kinds) if optional else kinds
    return [{"value": k, "label": KIND_LABELS[k]} for k in values]


def destination_picker(
    page: str,
    field: str,
    label: str,
    dest: Destination | None,
    *,
    kinds: tuple[str, ...] = FORWARD_KINDS,
    optional: bool = True,
    extensions: list[str] | None = None,
    description: str | None = None,
) -> Any:
    """A labelled kind select and target box for ``field`` of ``page``'s form."""
    kind = dest.kind if dest is not None else (OFF if optional else kinds[0])
    target = dest.target if dest is not None else ""
    return dmc.Stack(
        [
            # Suggestions for the target box, offered only when the kind is an extension.
            dcc.Store(id={"type": f"{page}-dest-options", "field": field}, data=extensions or []),
            dmc.Text(label, size="sm", fw=500),
            dmc.Text(description, size="xs", c="dimmed") if description else None,
            dmc.Group(
                [
                    dmc.Select(
                        id={"type": f"{page}-dest-kind", "field": field},
                        data=kind_options(kinds, optional=optional),
                        value=kind,
                        allowDeselect=False,
                        w=170,
                    ),
                    dmc.Autocomplete(
                        id={"type": f"{page}-dest-target", "field": field},
                        value=target,
                        data=extensions if kind in SUGGESTED else [],
                        placeholder=PLACEHOLDERS.get(kind, ""),
                        disabled=kind not in NEEDS_TARGET and kind != "voicemail",
                        style={"flex": 1},
                    ),
                ],
                gap="xs",
                wrap="nowrap",
            ),
        ],
        gap=4,
        className="sb-dest-picker",
        **{"data-field": field},
    )


def register_target_hints(page: str) -> None:
    """One clientside callback: the target box follows its kind (placeholder, suggestions)."""
    placeholders = ", ".join(f'"{k}": "{v}"' for k, v in PLACEHOLDERS.items())
    suggested = ", ".join(f'"{k}"' for k in sorted(SUGGESTED))
    clientside_callback(
        f"""function(kind, extensions) {{
            const hints = {{{placeholders}}};
            const used = kind in hints;
            const suggest = [{suggested}].includes(kind);
            return [!used, hints[kind] || "", suggest ? (extensions || []) : []];
        }}""",
        Output({"type": f"{page}-dest-target", "field": MATCH}, "disabled"),
        Output({"type": f"{page}-dest-target", "field": MATCH}, "placeholder"),
        Output({"type": f"{page}-dest-target", "field": MATCH}, "data"),
        Input({"type": f"{page}-dest-kind", "field": MATCH}, "value"),
        State({"type": f"{page}-dest-options", "field": MATCH}, "data"),
    )


def destination_from_form(label: str, kind: str | None, target: str | None) -> Destination | None:
    """The destination a picker describes, None when "Off"; refuses a missing target."""
    if not kind or kind == OFF:
        return None
    if kind not in KIND_LABELS:
        raise RuleError(f"{label}: unknown destination {kind!r}")
    target = (target or "").strip()
    if kind in NEEDS_TARGET and not target:
        raise RuleError(f"{label}: enter the {KIND_LABELS[kind].lower()} to send calls to")
    if kind == "number" and not _NUMBER_RE.match(target):
        raise RuleError(f"{label}: {target!r} is not a phone number (digits, optional +)")
    if target and not _TARGET_RE.match(target):
        raise RuleError(f"{label}: {target!r} is not a valid target")
    if kind not in NEEDS_TARGET and kind != "voicemail":
        target = ""  # tones have no target; a stale one from another kind is dropped
    valid: DestinationKind = kind  # type: ignore[assignment]
    return Destination(valid, target)
