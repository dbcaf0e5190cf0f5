"""The Answering Rules editor as data: its values to an ``AnsweringRule``, and rule order.

Pure: no store, no request. What is malformed (a ring time that is not a
number, "Also ring" entries that are not numbers) is refused here with the
reason; whether targets and frames exist is the store's check (``save_rule``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from dash_app.destinations import destination_from_form
from dash_app.editing import PRIORITY_STEP, frame_of
from switchboard.rules import AnsweringRule, Destination, RuleError

# The pickers of the editor, in layout order (the ALL states arrive in this order).
DEST_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("forward_always", "Forward all calls", "Phones do not ring; every call goes here."),
    ("forward_busy", "When busy", "All my phones are on a call."),
    ("forward_no_answer", "When not answered", "After the ring time; default: the fallback."),
    ("forward_offline", "When no phone is registered", "E.g. my mobile when I am away."),
    ("fallback", "Fallback", "Where unanswered calls end up."),
)
_PHONE_RE = re.compile(r"^\+?[0-9]{2,15}$")
_BLOCK_RE = re.compile(r"^\+?[0-9]{1,15}\*?$")


def _entries(values: list[str] | None, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in values or []:
        value = raw.strip().replace(" ", "")
        if not value:
            continue
        if not pattern.match(value):
            raise RuleError(f"{what}: {raw!r} is not a number or extension")
        if value not in out:
            out.append(value)
    return tuple(out)


def rule_from_form(
    *,
    rule_id: int | None,
    priority: int,
    name: str | None,
    frame: str | None,
    enabled: bool,
    ring_seconds: Any,
    simultaneous: list[str] | None,
    dnd: bool,
    block: list[str] | None,
    block_anonymous: bool,
    dest_kinds: list[str | None],
    dest_targets: list[str | None],
) -> AnsweringRule:
    """An answering rule from the editor's values; refuses what is malformed, says what.

    Whether targets and frames exist is the store's check (``save_rule``).
    """
    try:
        ring = int(ring_seconds)
    except (TypeError, ValueError) as exc:
        raise RuleError("ring time must be a number of seconds") from exc
    dests: dict[str, Destination | None] = {}
    for (field, label, _), kind, target in zip(DEST_FIELDS, dest_kinds, dest_targets, strict=True):
        dests[field] = destination_from_form(label, kind, target)
    fallback = dests.pop("fallback") or Destination("voicemail")
    return AnsweringRule(
        name=(name or "").strip(),
        priority=priority,
        frame=frame_of(frame),
        ring_seconds=ring,
        simultaneous=_entries(simultaneous, _PHONE_RE, "Also ring"),
        forward_always=dests["forward_always"],
        forward_busy=dests["forward_busy"],
        forward_no_answer=dests["forward_no_answer"],
        forward_offline=dests["forward_offline"],
        dnd=dnd,
        block=_entries(block, _BLOCK_RE, "Block list"),
        block_anonymous=block_anonymous,
        fallback=fallback,
        enabled=enabled,
        id=rule_id,
    )


def reordered(rules: list[AnsweringRule], rule_id: int, step: int) -> list[AnsweringRule]:
    """The rules (in order) with ``rule_id`` moved by ``step``, renumbered 10, 20, …

    Only the rules whose priority changed are returned: those are the saves needed.
    """
    ordered = sorted(rules, key=lambda r: (r.priority, r.name))
    index = next((i for i, r in enumerate(ordered) if r.id == rule_id), None)
    if index is None:
        return []
    other = index + step
    if not 0 <= other < len(ordered):
        return []
    ordered[index], ordered[other] = ordered[other], ordered[index]
    changed = []
    for position, rule in enumerate(ordered, start=1):
        priority = position * PRIORITY_STEP
        if rule.priority != priority:
            changed.append(replace(rule, priority=priority))
    return changed
