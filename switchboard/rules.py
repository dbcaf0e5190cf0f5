"""Answering rules and the one function that decides which is active.

``active_rule_at`` is the single source of truth: the portal's "Active
answering rule", the routing simulator and the decisions pushed to Kamailio
all call it, so they cannot disagree. Pure: the caller passes the instant.

Selection: a manual override wins until it expires; otherwise the enabled
rule with the lowest ``priority`` whose time frame contains the instant (a
rule without a frame always applies). Overlapping frames are therefore
resolved by priority, never by the order rows happen to come back in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal, get_args

from switchboard.timeframes import TimeFrame

DestinationKind = Literal[
    "voicemail",
    "extension",
    "number",
    "queue",
    "auto_attendant",
    "announcement",
    "busy",
    "unavailable",
    "hangup",
]
# Kinds a rule may name but that do not take calls yet (none since queues, issue 12).
NOT_YET: dict[str, str] = {}
# What a person may choose today, in the order pickers offer them.
OFFERED_KINDS: tuple[str, ...] = tuple(k for k in get_args(DestinationKind) if k not in NOT_YET)
# Kinds that name something (an extension, a number, a menu…): "kind:target".
TARGETED_KINDS: frozenset[str] = frozenset(
    {"extension", "number", "queue", "auto_attendant", "announcement"}
)


class RuleError(ValueError):
    """An answering rule that cannot be saved; the message says why."""


@dataclass(frozen=True)
class Destination:
    kind: DestinationKind
    target: str = ""

    def describe(self) -> str:
        return {
            "voicemail": f"voicemail{' of ' + self.target if self.target else ''}",
            "extension": f"extension {self.target}",
            "number": f"number {self.target}",
            "queue": f"queue {self.target}",
            "auto_attendant": f"auto attendant {self.target}",
            "announcement": f"announcement {self.target}",
            "busy": "busy tone",
            "unavailable": "unavailable tone",
            "hangup": "hang up",
        }[self.kind]


@dataclass(frozen=True)
class AnsweringRule:
    name: str
    priority: int
    frame: str | None = None  # time frame name; None: always
    ring_seconds: int = 25
    simultaneous: tuple[str, ...] = ()
    forward_always: Destination | None = None
    forward_busy: Destination | None = None
    forward_no_answer: Destination | None = None
    forward_offline: Destination | None = None
    dnd: bool = False
    block: tuple[str, ...] = ()  # exact numbers, or prefixes ending in "*"
    block_anonymous: bool = False
    fallback: Destination = Destination("voicemail")
    enabled: bool = True
    id: int | None = None


@dataclass(frozen=True)
class Override:
    """A manual switch ("forward all calls for the next 2 hours") until ``until``."""

    rule: AnsweringRule
    until: datetime


@dataclass(frozen=True)
class ActiveRule:
    rule: AnsweringRule | None
    frame: TimeFrame | None
    until: datetime | None  # when the decision next changes; None: not within a year
    overridden: bool = False

    def describe(self, tz: tzinfo | None = None) -> str:
        """One sentence; ``until`` is shown in ``tz`` (the reader's zone) when given."""
        if self.rule is None:
            return "no answering rule applies (the default: ring phones, then voicemail)"
        why = (
            "manual override"
            if self.overridden
            else (f"time frame {self.frame.name}" if self.frame else "always")
        )
        until = f" until {readable(self.until.astimezone(tz))}" if self.until else ""
        return f"rule {self.rule.name!r} ({why}){until}"


def readable(at: datetime) -> str:
    """``Fri 25 Dec 2026 10:00 EST``: what a person reads, zone included."""
    return at.strftime("%a %d %b %Y %H:%M %Z").strip()


_HORIZONS_DAYS = (8, 62, 400)


def _select(
    rules: Sequence[AnsweringRule],
    frames: Mapping[str, TimeFrame],
    instant: datetime,
    override: Override | None,
) -> tuple[AnsweringRule | None, TimeFrame | None, bool]:
    if override is not None and instant < override.until:
        return override.rule, None, True
    for rule in sorted((r for r in rules if r.enabled), key=lambda r: (r.priority, r.name)):
        frame = frames[rule.frame] if rule.frame is not None else None
        if frame is None or frame.contains(instant):
            return rule, frame, False
    return None, None, False


def active_rule_at(
    rules: Sequence[AnsweringRule],
    frames: Mapping[str, TimeFrame],
    instant: datetime,
    override: Override | None = None,
) -> ActiveRule:
    """The rule in force at ``instant`` (timezone-aware) and until when it stays so."""
    if instant.tzinfo is None:
        raise ValueError("active_rule_at needs a timezone-aware instant")
    rule, frame, overridden = _select(rules, frames, instant, override)
    used = {r.frame for r in rules if r.enabled and r.frame is not None}
    for days in _HORIZONS_DAYS:
        candidates: set[datetime] = set()
        for name in used:
            candidates.update(frames[name].boundaries(instant, days))
        if override is not None and override.until > instant:
            candidates.add(override.until)
        horizon = instant + timedelta(days=days)
        for candidate in sorted(c for c in candidates if c <= horizon):
            nxt = _select(rules, frames, candidate, override)
            if (nxt[0], nxt[1], nxt[2]) != (rule, frame, overridden):
                return ActiveRule(rule, frame, candidate, overridden)
    return ActiveRule(rule, frame, None, overridden)


def is_blocked(rule: AnsweringRule, caller: str | None) -> bool:
    """Whether the rule's block list refuses this caller (None/"anonymous": no caller id)."""
    if not caller or caller.lower() in ("anonymous", "unknown", "restricted"):
        return rule.block_anonymous
    for entry in rule.block:
        if entry.endswith("*"):
            if caller.startswith(entry[:-1]):
                return True
        elif caller == entry:
            return True
    return False


def validate_rule(
    rule: AnsweringRule, frames: Mapping[str, TimeFrame], extensions: set[str]
) -> AnsweringRule:
    """Refuse a rule whose frame or targets do not exist, with a message saying which."""
    if not rule.name.strip():
        raise RuleError("an answering rule needs a name")
    if rule.frame is not None and rule.frame not in frames:
        raise RuleError(f"rule {rule.name!r}: no time frame named {rule.frame!r}")
    if not 5 <= rule.ring_seconds <= 300:
        raise RuleError(f"rule {rule.name!r}: ring time must be 5 to 300 seconds")
    targets = [
        rule.forward_always,
        rule.forward_busy,
        rule.forward_no_answer,
        rule.forward_offline,
        rule.fallback,
    ]
    for dest in targets:
        if dest is not None and dest.kind == "extension" and dest.target not in extensions:
            raise RuleError(f"rule {rule.name!r}: extension {dest.target} does not exist")
        if dest is not None and dest.kind in NOT_YET:
            raise RuleError(f"rule {rule.name!r}: {NOT_YET[dest.kind]}")
    for ext in rule.simultaneous:
        if ext.isdigit() and len(ext) <= 8 and ext not in extensions:
            raise RuleError(f"rule {rule.name!r}: simultaneous ring target {ext} does not exist")
    return rule


def forward_chain_loop(
    start: str, forward_of: Mapping[str, str | None], max_hops: int = 5
) -> list[str] | None:
    """The extensions of a forwarding loop starting at ``start``, or None if there is none.

    ``forward_of`` maps an extension to the extension its active rule forwards
    every call to (None: it does not). Too many hops counts as a loop too.
    """
    seen = [start]
    current = forward_of.get(start)
    while current is not None:
        if current in seen or len(seen) > max_hops:
            return [*seen, current]
        seen.append(current)
        current = forward_of.get(current)
    return None
