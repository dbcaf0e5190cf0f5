"""The Auto Attendants page's forms and cards: menus, announcements, hold music.

Pure parts (tested without a browser): ``attendant_from_form`` turns the
editor's values into an ``Attendant`` and says what is missing;
``greeting_file_from_form`` rebuilds an uploaded greeting's path from the
manager's tenant and the digest the browser kept (the browser never holds a
path: one it sent back could name any audio file the media server can play);
``keys_from_text`` reads the simulator's key list. The rest renders: the menu cards (with what a
menu points to that no longer exists, so a manager sees it before a caller
does), the editor (one destination picker per key, plus no input and invalid
key), the announcement and hold-music lists.

Destination pickers use pattern ids ``{"type": "attendants-mdest-kind" |
"attendants-mdest-target", "field": <key | "no_input" | "invalid" | "then">}``
so one ``ALL`` state reads a whole form. Queues are not offered: they do
not take calls yet (issue 12), and no destination is offered that does not
work end to end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import dash_mantine_components as dmc
from dash import MATCH, Input, Output, clientside_callback, dcc, html

from dash_app.auth import portal
from dash_app.destinations import OFF
from dash_app.editing import delete_button, edit_button, name_input
from dash_app.greetings import largest_upload_bytes, upload_hint
from dash_app.upload_limits import AUDIO_ADVICE, sized_upload
from switchboard.attendants import (
    MENU_KEYS,
    TARGETED_KINDS,
    Announcement,
    Attendant,
    AttendantError,
    DestinationKind,
    HoldMusic,
    MenuDestination,
    describe_destination,
)
from switchboard.library_paths import is_digest, library_relpath

PAGE = "attendants"
MENU_KIND_LABELS: dict[str, str] = {
    OFF: "Not used",
    "extension": "Extension",
    "attendant": "Another menu",
    "voicemail": "Voicemail box",
    "announcement": "Announcement",
    "queue": "Queue",
    "number": "Outside number",
    "repeat": "Play the menu again",
    "dial_by_extension": "Dial by extension",
    "hangup": "Hang up",
}
PLACEHOLDERS = {
    "extension": "e.g. 102",
    "attendant": "menu id",
    "voicemail": "extension, e.g. 100",
    "announcement": "announcement id",
    "queue": "queue id",
    "number": "e.g. +15551234567",
}
OUTCOME_FIELDS = {"no_input": "No key pressed", "invalid": "Invalid key"}


def destination_from_form(
    label: str,
    kind: str | None,
    target: str | None,
    kind_labels: Mapping[str, str] = MENU_KIND_LABELS,
) -> MenuDestination | None:
    """The destination a picker describes (None: "Not used"); refuses a missing target.

    ``kind_labels`` are the kinds the picker offers, by their labels (a queue's
    overflow offers fewer than a menu key); a missing target is asked for by label.
    """
    if not kind or kind == OFF:
        return None
    if kind not in kind_labels:
        raise AttendantError(f"{label}: unknown destination {kind!r}")
    target = (target or "").strip()
    if kind in TARGETED_KINDS and not target:
        raise AttendantError(f"{label}: enter the {kind_labels[kind].lower()}")
    return MenuDestination(cast(DestinationKind, kind), target if kind in TARGETED_KINDS else "")


def greeting_file_from_form(data_dir: Path, tenant: str, digest: object) -> str:
    """The library path of the greeting upload ``digest`` names ("" when none was uploaded).

    Built from the signed-in manager's ``tenant``, so it names a greeting of their
    own library or nothing; refused when the digest is malformed or its file is gone.
    """
    if digest in (None, ""):
        return ""
    if not is_digest(digest):
        raise AttendantError("the uploaded greeting is not known; upload it again")
    relpath = library_relpath(tenant, "greeting", cast(str, digest))
    if not (data_dir / relpath).is_file():
        raise AttendantError("the uploaded greeting is gone; upload it again")
    return relpath.as_posix()


def attendant_from_form(
    tenant: str,
    attendant_id: int | None,
    name: str | None,
    greeting_text: str | None,
    greeting_file: str | None,
    timeout: Any,
    repeats: Any,
    fields: list[str],
    kinds: list[str | None],
    targets: list[str | None],
) -> Attendant:
    """An ``Attendant`` from the editor's values (``fields`` name each picker, in order).

    ``greeting_file`` is the path ``greeting_file_from_form`` rebuilt, never a browser's value.
    """
    options: dict[str, MenuDestination] = {}
    outcomes: dict[str, MenuDestination] = {}
    for field, kind, target in zip(fields, kinds, targets, strict=True):
        label = OUTCOME_FIELDS.get(field, f"Key {field}")
        dest = destination_from_form(label, kind, target)
        if field in OUTCOME_FIELDS:
            outcomes[field] = dest or MenuDestination("hangup")
        elif dest is not None:
            options[field] = dest
    try:
        timeout_seconds, max_repeats = int(timeout), int(repeats)
    except (TypeError, ValueError) as exc:
        raise AttendantError("the wait for a key and the repeats are whole numbers") from exc
    return Attendant(
        tenant, (name or "").strip(), options,
        greeting_text=(greeting_text or "").strip(), greeting_file=greeting_file or "",
        timeout_seconds=timeout_seconds, max_repeats=max_repeats,
        no_input=outcomes.get("no_input", MenuDestination("hangup")),
        invalid=outcomes.get("invalid", MenuDestination("hangup")), id=attendant_id,
    )  # fmt: skip


def register_target_hints() -> None:
    """The target box follows its kind: a hint where a target is needed, greyed out elsewhere."""
    script = "function(kind) { const hints = HINTS; return [hints[kind] || '', !(kind in hints)]; }"
    for group in ("mdest", "adest"):
        clientside_callback(
            script.replace("HINTS", json.dumps(PLACEHOLDERS)),
            Output({"type": f"{PAGE}-{group}-target", "field": MATCH}, "placeholder"),
            Output({"type": f"{PAGE}-{group}-target", "field": MATCH}, "disabled"),
            Input({"type": f"{PAGE}-{group}-kind", "field": MATCH}, "value"),
        )


def keys_from_text(text: str | None) -> list[str | None]:
    """``1`` / ``none, 2`` / ``9, 103``: keys in order; ``none`` waits past the timeout."""
    out: list[str | None] = []
    for part in (text or "").replace(" ", ",").split(","):
        if not part:
            continue
        out.append(None if part.lower() in ("none", "wait") else part)
    return out


# --- rendering ---------------------------------------------------------------------------------


def picker(
    field: str,
    label: str,
    dest: MenuDestination | None,
    *,
    allow_off: bool = True,
    group: str = "mdest",
) -> Any:
    """A kind select and a target box for one key or outcome (``group`` "adest": announcement)."""
    kinds = [k for k in MENU_KIND_LABELS if allow_off or k != OFF]
    kind = dest.kind if dest is not None else (OFF if allow_off else "hangup")
    return dmc.Group(
        [
            dmc.Text(label, size="sm", fw=500, w=120),
            dmc.Select(
                id={"type": f"{PAGE}-{group}-kind", "field": field},
                data=[{"value": k, "label": MENU_KIND_LABELS[k]} for k in kinds],
                value=kind,
                allowDeselect=False,
                w=190,
            ),
            dmc.TextInput(
                id={"type": f"{PAGE}-{group}-target", "field": field},
                value=dest.target if dest is not None else "",
                placeholder=PLACEHOLDERS.get(kind, ""),
                style={"flex": 1},
            ),
        ],
        gap="xs",
        wrap="nowrap",
        className="sb-menu-key",
        **{"data-field": field},
    )


def editor_fields(menu: Attendant | None) -> list[Any]:
    """The pickers of the editor: every key, then no input and invalid key."""
    options = menu.options if menu else {}
    rows = [picker(key, f"Key {key}", options.get(key)) for key in MENU_KEYS]
    rows.append(dmc.Divider(my="xs"))
    for field, label in OUTCOME_FIELDS.items():
        dest = getattr(menu, field) if menu else MenuDestination("hangup")
        rows.append(picker(field, label, dest, allow_off=False))
    return rows


def menu_card(menu: Attendant, names: dict[str, str], problems: list[str]) -> Any:
    """One menu: its keys in words, what is broken, Edit and Delete."""
    keys = [
        dmc.Text(f"{key} → {describe_destination(menu.options[key], names)}", size="sm")
        for key in MENU_KEYS
        if key in menu.options
    ]
    warnings = [
        dmc.Alert(problem[:1].upper() + problem[1:], color="red", variant="light", p="xs",
                  className="sb-menu-problem")
        for problem in problems
    ]  # fmt: skip
    return dmc.Paper(
        dmc.Stack(
            [
                dmc.Group(
                    [
                        dmc.Text(f"{menu.name}  (menu {menu.id})", fw=600),
                        dmc.Group(
                            [
                                edit_button({"type": f"{PAGE}-edit", "id": menu.id}, size="xs"),
                                delete_button({"type": f"{PAGE}-delete", "id": menu.id}, size="xs"),
                            ],
                            gap="xs",
                        ),
                    ],
                    justify="space-between",
                ),
                dmc.Text(menu.greeting_text or "(recorded greeting)", size="sm", c="dimmed"),
                *keys,
                dmc.Text(
                    f"No key within {menu.timeout_seconds} s or an invalid key: played again"
                    f" {menu.max_repeats} times, then"
                    f" {describe_destination(menu.no_input, names)} /"
                    f" {describe_destination(menu.invalid, names)}.",
                    size="xs",
                    c="dimmed",
                ),
                *warnings,
            ],
            gap=4,
        ),
        withBorder=True,
        p="sm",
        radius="md",
        id=f"{PAGE}-menu-{menu.id}",
        className="sb-menu-card",
    )


def announcement_row(ann: Announcement, names: dict[str, str]) -> Any:
    return dmc.Group(
        [
            dmc.Text(f"{ann.name}  (announcement {ann.id})", fw=500),
            dmc.Text(f"then {describe_destination(ann.then, names)}", size="sm", c="dimmed"),
            delete_button({"type": f"{PAGE}-ann-delete", "id": ann.id}, size="xs"),
        ],
        justify="space-between",
        className="sb-announcement",
    )


def hold_row(track: HoldMusic) -> Any:
    return dmc.Group(
        [
            dmc.Text(track.name, fw=500),
            dmc.Badge("Default", color="green") if track.is_default else None,
            dmc.Group(
                [
                    dmc.Button(
                        "Make default",
                        size="xs",
                        variant="light",
                        id={"type": f"{PAGE}-hold-default", "id": track.id},
                        disabled=track.is_default,
                    ),
                    delete_button({"type": f"{PAGE}-hold-delete", "id": track.id}, size="xs"),
                ],
                gap="xs",
            ),
        ],
        justify="space-between",
        className="sb-hold-track",
    )


def upload(upload_id: str, label: str) -> Any:
    """An MP3/WAV drop zone (the server checks what it really is), saying its largest file.

    The browser keeps back a file over ``max_size`` (one the portal would refuse
    with a bare 413: ``dash_app.greetings.largest_upload_bytes``); the size in the
    label says the limit, and ``sized_upload`` says so when a larger file is dropped.
    """
    max_bytes = largest_upload_bytes(portal().settings.portal_max_request_mb)
    return sized_upload(
        upload_id,
        dmc.Stack(
            [
                dmc.Text(label, size="sm", c="dimmed", ta="center"),
                dmc.Text(
                    upload_hint(max_bytes),
                    size="xs",
                    c="dimmed",
                    ta="center",
                    id=f"{upload_id}-limit",
                ),
            ],
            gap=0,
        ),
        max_bytes,
        AUDIO_ADVICE,
        accept=".mp3,.wav,audio/mpeg,audio/wav",
        style={"border": "1px dashed #adb5bd", "borderRadius": 8, "padding": "10px"},
    )


# --- the page's sections -------------------------------------------------------------------------


def editor_section() -> Any:
    """Name, greeting (text or upload), timeout/repeats, a picker per key, Save/New."""
    return dmc.Stack(
        [
            dmc.Group(
                [
                    name_input("attendants-name", "Day menu", style={"flex": 1}),
                    dmc.NumberInput(
                        id="attendants-timeout",
                        label="Wait for a key (s)",
                        value=5,
                        min=1,
                        max=60,
                        w=150,
                    ),
                    dmc.NumberInput(
                        id="attendants-repeats",
                        label="Play again (times)",
                        value=2,
                        min=0,
                        max=5,
                        w=150,
                    ),
                ],
                align="flex-end",
            ),
            dmc.Textarea(
                id="attendants-greeting-text",
                label="Greeting (spoken when saved)",
                placeholder="Thank you for calling. For sales press 1.",
                autosize=True,
                minRows=2,
            ),
            upload("attendants-greeting-upload", "…or drop an MP3/WAV greeting here"),
            html.Div(id="attendants-greeting-feedback"),
            # the uploaded greeting's digest, never its path (greeting_file_from_form)
            dcc.Store(id="attendants-greeting-digest", data=""),
            dmc.Stack(editor_fields(None), gap=4, id="attendants-keys"),
            html.Div(id="attendants-editor-alert"),
            dmc.Group(
                [
                    dmc.Button("Save menu", id="attendants-save"),
                    dmc.Button("New menu", id="attendants-new", variant="light"),
                ]
            ),
        ],
        gap="sm",
    )


def simulator_section(numbers: list[str]) -> Any:
    """Main number (optional), time, keys: where the caller goes."""
    return dmc.Stack(
        [
            dmc.Select(
                id="attendants-sim-number",
                label="Calling main number (optional)",
                data=numbers,
                clearable=True,
                placeholder="start at this menu",
            ),
            dmc.TextInput(
                id="attendants-sim-at",
                label="At (company time)",
                placeholder="2026-12-24 20:00 (default: now)",
            ),
            dmc.TextInput(
                id="attendants-sim-keys",
                label="Caller presses",
                placeholder="1   or   none, 2   or   9, 103",
            ),
            dmc.Button("Simulate", id="attendants-simulate", variant="light"),
            html.Div(id="attendants-sim-result"),
        ],
        gap="xs",
    )


def announcements_section() -> Any:
    """The list and an add form (text or upload, then a destination)."""
    return dmc.Stack(
        [
            html.Div(id="attendants-ann-list"),
            dmc.TextInput(
                id="attendants-ann-name", label="New announcement", placeholder="Holidays"
            ),
            dmc.Textarea(
                id="attendants-ann-text",
                placeholder="We are closed for the holidays.",
                autosize=True,
            ),
            upload("attendants-ann-upload", "…or drop an MP3/WAV recording here"),
            picker("then", "Then", None, group="adest"),
            html.Div(id="attendants-ann-alert"),
            dmc.Button("Add announcement", id="attendants-ann-add", variant="light"),
        ],
        gap="xs",
    )


def hold_section() -> Any:
    """The tracks and an upload that adds one."""
    return dmc.Stack(
        [
            html.Div(id="attendants-hold-list"),
            dmc.TextInput(id="attendants-hold-name", label="New track", placeholder="Jazz"),
            upload("attendants-hold-upload", "Drop an MP3/WAV track here to add it"),
            html.Div(id="attendants-hold-alert"),
        ],
        gap="xs",
    )
