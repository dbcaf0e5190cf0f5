"""The Queues page's form: every setting of a queue, read back into a ``CallQueue`` (pure).

``queue_from_form`` turns the form's values into a queue for the store,
which checks everything again and says what is wrong; members are typed
``101, 102:2`` (extension, optional priority). The editor is rebuilt from a
queue when one is opened, so the field ids are the same for a new queue.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.attendants_form import destination_from_form
from dash_app.destinations import OFF
from dash_app.editing import delete_button, edit_button
from switchboard.attendants import MENU_KEYS, AttendantError, MenuDestination
from switchboard.store.queues import STRATEGIES, CallQueue, QueueMember

PAGE = "queues"
DEST_LABELS: dict[str, str] = {
    OFF: "Goodbye (hang up)",
    "voicemail": "Voicemail box",
    "queue": "Another queue",
    "extension": "Extension",
    "attendant": "Auto attendant",
    "announcement": "Announcement",
    "number": "Outside number",
}
STRATEGY_LABELS = {
    "ring_all": "Ring all",
    "round_robin": "Round robin",
    "longest_idle": "Longest idle",
    "fewest_calls": "Fewest calls",
    "linear": "Linear (by priority)",
}
# form field -> (CallQueue field, label)
NUMBERS: dict[str, tuple[str, str]] = {
    "ring": ("ring_seconds", "Ring each agent (s)"),
    "wrapup": ("wrapup_seconds", "Wrap-up after a call (s)"),
    "max-wait": ("max_wait_seconds", "Maximum wait (s)"),
    "max-callers": ("max_callers", "Maximum callers"),
    "announce": ("announce_seconds", "Announce position every (s, 0 off)"),
    "sl": ("service_level_seconds", "Service level threshold T (s)"),
    "short-abandon": ("short_abandon_seconds", "Short abandon under (s)"),
}
FIELDS: tuple[str, ...] = (
    "name", "extension", "strategy", *NUMBERS, "overflow-kind", "overflow-target",
    "join-empty", "hold-music", "exit-key", "exit-kind", "exit-target", "pause-no-answer",
    "members",
)  # fmt: skip


class FormError(ValueError):
    """The form cannot become a queue; the message is for the manager."""


def members_from_text(text: str | None) -> tuple[QueueMember, ...]:
    """``101, 102:2`` -> members (priority 1 unless given)."""
    out = []
    for item in (text or "").replace(";", ",").replace(" ", ",").split(","):
        if not item:
            continue
        ext, _, prio = item.partition(":")
        if not ext.isdigit() or (prio and not prio.isdigit()):
            raise FormError(f"members: {item!r} is not EXT or EXT:PRIORITY (e.g. 102:2)")
        out.append(QueueMember(ext, int(prio or 1)))
    return tuple(out)


def members_to_text(queue: CallQueue) -> str:
    return ", ".join(
        m.extension if m.priority == 1 else f"{m.extension}:{m.priority}" for m in queue.members
    )


def _destination(label: str, kind: str | None, target: str | None) -> MenuDestination | None:
    """A queue's overflow or exit: a menu's destination, among the kinds a queue offers."""
    try:
        return destination_from_form(label, kind, target, DEST_LABELS)
    except AttendantError as exc:
        raise FormError(str(exc)) from exc


def _int(label: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormError(f"{label}: enter a whole number") from None


def queue_from_form(tenant: str, queue_id: int | None, values: dict[str, Any]) -> CallQueue:
    """The queue the form describes (the store validates ranges and destinations)."""
    numbers: dict[str, Any] = {
        field: _int(label, values.get(key)) for key, (field, label) in NUMBERS.items()
    }
    exit_key = values.get("exit-key") or None
    hold = values.get("hold-music")
    queue = CallQueue(
        tenant, str(values.get("name") or ""), id=queue_id,
        extension=(values.get("extension") or "").strip() or None,
        strategy=values.get("strategy") or "ring_all",
        overflow=_destination("overflow", values.get("overflow-kind"),
                              values.get("overflow-target")),
        join_empty=bool(values.get("join-empty")),
        hold_music_id=int(hold) if hold not in (None, "", OFF) else None,
        exit_key=None if exit_key == OFF else exit_key,
        exit_destination=_destination("exit key", values.get("exit-kind"),
                                      values.get("exit-target")),
        pause_on_no_answer=bool(values.get("pause-no-answer")),
        members=members_from_text(values.get("members")),
    )  # fmt: skip
    return replace(queue, **numbers)


def _fid(name: str) -> str:
    return f"{PAGE}-{name}"


def _dest_fields(prefix: str, label: str, dest: MenuDestination | None) -> list[Any]:
    return [
        dmc.Select(id=_fid(f"{prefix}-kind"), label=label, value=dest.kind if dest else OFF,
                   data=[{"value": k, "label": v} for k, v in DEST_LABELS.items()], w=200),
        dmc.TextInput(id=_fid(f"{prefix}-target"), label="Which (number or id)",
                      value=dest.target if dest else "", w=160),
    ]  # fmt: skip


def editor_fields(queue: CallQueue, tracks: list[tuple[int, str]]) -> list[Any]:
    """The form for ``queue`` (a new one: the defaults); ``tracks``: the hold-music library."""
    hold = [{"value": OFF, "label": "The company default"}] + [
        {"value": str(i), "label": name} for i, name in tracks
    ]
    numbers = [
        dmc.NumberInput(id=_fid(key), label=label, value=getattr(queue, field), min=0, w=210)
        for key, (field, label) in NUMBERS.items()
    ]
    return [
        dmc.Group([
            dmc.TextInput(id=_fid("name"), label="Name", value=queue.name, w=220),
            dmc.TextInput(id=_fid("extension"), label="Extension (internal)",
                          value=queue.extension or "", w=160),
            dmc.Select(id=_fid("strategy"), label="Ring strategy", value=queue.strategy,
                       data=[{"value": s, "label": STRATEGY_LABELS[s]} for s in STRATEGIES]),
        ], align="flex-end"),
        dmc.Group(numbers, align="flex-end"),
        dmc.Group([*_dest_fields("overflow", "Overflow to", queue.overflow),
                   dmc.Checkbox(id=_fid("join-empty"), checked=queue.join_empty,
                                label="Callers join when no agent is logged in")],
                  align="flex-end"),
        dmc.Group([
            dmc.Select(id=_fid("exit-key"), label="Exit key", value=queue.exit_key or OFF, w=120,
                       data=[{"value": OFF, "label": "None"}] + [
                           {"value": k, "label": k} for k in MENU_KEYS]),
            *_dest_fields("exit", "Exit key sends to", queue.exit_destination),
        ], align="flex-end"),
        dmc.Group([
            dmc.Select(id=_fid("hold-music"), label="Hold music", data=hold,
                       value=str(queue.hold_music_id) if queue.hold_music_id else OFF, w=220),
            dmc.Checkbox(id=_fid("pause-no-answer"), checked=queue.pause_on_no_answer,
                         label="Pause an agent who does not answer"),
        ], align="flex-end"),
        dmc.Textarea(id=_fid("members"), label="Agents (extension, or extension:priority)",
                     value=members_to_text(queue), placeholder="101, 102:2", autosize=True),
    ]  # fmt: skip


def queue_card(queue: CallQueue, paused: dict[str, str]) -> Any:
    """One queue in the list, with its agents' login and pause state."""
    agents = [
        dmc.Badge(
            f"{m.extension} " + (f"paused: {paused[m.extension]}" if m.extension in paused
                                 else "logged in" if m.logged_in else "logged out"),
            color="orange" if m.extension in paused else "green" if m.logged_in else "gray",
            variant="light",
        )
        for m in queue.members
    ]  # fmt: skip
    return dmc.Paper(
        dmc.Group([
            dmc.Stack([
                dmc.Text(f"{queue.name}" + (f" · ext {queue.extension}" if queue.extension else "")
                         + f" · queue:{queue.id}", fw=600),
                dmc.Text(f"{STRATEGY_LABELS[queue.strategy]}, ring {queue.ring_seconds} s, "
                         f"wrap-up {queue.wrapup_seconds} s, SL {queue.service_level_seconds} s",
                         size="sm", c="dimmed"),
                dmc.Group(agents or [dmc.Text("No agents", size="sm")], gap=4),
            ], gap=4),
            dmc.Group([
                edit_button({"type": f"{PAGE}-edit", "id": queue.id}, size="xs"),
                delete_button({"type": f"{PAGE}-delete", "id": queue.id}, size="xs"),
            ]),
        ], justify="space-between"),
        withBorder=True, p="sm", className="sb-queue-card",
    )  # fmt: skip


def empty_list() -> Any:
    return html.Div(dmc.Text("No queues yet.", c="dimmed"), id=f"{PAGE}-none")
