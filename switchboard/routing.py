"""What a call to an extension does, as data for Kamailio and as sentences for people.

``compile_decision`` turns the active rule into the one string Kamailio keeps
per extension in an htable, so the SIP path never calls Python.
``explain_route`` tells the same decision step by step (the routing
simulator). Both start from ``active_rule_at``, so they cannot disagree.

The decision format (``DECISION_FIELDS``) is positional: the fields in a fixed
order joined by ``|``, which Kamailio reads with ``{s.select,N,|}`` — a plain
scan for the N-th separator, no regex and no parser (route DECISION_LOAD; its
indexes are checked against ``DECISION_FIELDS`` by tests/test_routing.py).
Every field is escaped (``%`` → ``%25``, ``|`` → ``%7C``), so a separator can
never appear inside a field and no field can shift into the next one whatever
a user names a rule. Kamailio unescapes only the free-text fields (``rule``,
``frame``) with ``{s.unescape.param}``; the others hold numbers, extensions
and codes where neither character is valid, so nothing real is ever escaped.

Why one string per decision (and not one htable entry per field): a call reads
the whole decision with ONE ``$sht`` lookup, copied under the htable slot's
lock into the call's own AVP; ``htable.sets`` replaces one value under that
lock and ``htable.reload`` swaps whole values, so a call sees the old decision
or the new one, never half of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from switchboard.identifiers import EXTENSION_RE, TENANT_RE
from switchboard.rules import (
    ActiveRule,
    AnsweringRule,
    Destination,
    active_rule_at,
    is_blocked,
    readable,
)
from switchboard.store import Did, RoutingInputs, User


def no_rule_behaviour(ring_seconds: int) -> str:
    """What Kamailio does for an extension without an active rule (its default decision).

    ``ring_seconds`` is the system ring timeout (setting ``ring_timeout``).
    """
    return (
        f"Calls ring your phones for {ring_seconds} s, then go to your voicemail "
        "(straight to voicemail when no phone is registered)."
    )


VOICEMAIL_PREFIX = "vm-"


def voicemail_target(tenant: str, extension: str) -> str:
    """The media server's Request-URI user for a mailbox: ``vm-<tenant>-<extension>``.

    Kamailio builds the same string (route DESTINATION) and the media server
    reads it with ``parse_voicemail_target``. It reads one way only because an
    extension is digits (``EXTENSION_RE``) and never holds ``-``: the last
    ``-`` ends the tenant, whatever ``-`` its labels hold (``acme-corp.example``).
    """
    if not (TENANT_RE.match(tenant) and EXTENSION_RE.match(extension)):
        raise ValueError(f"no mailbox target for {extension!r}@{tenant!r}")
    return f"{VOICEMAIL_PREFIX}{tenant}-{extension}"


def parse_voicemail_target(user: str) -> tuple[str, str] | None:
    """(tenant, extension) of a ``vm-<tenant>-<extension>`` user; None when it is not one."""
    if not user.startswith(VOICEMAIL_PREFIX):
        return None
    tenant, sep, extension = user[len(VOICEMAIL_PREFIX) :].rpartition("-")
    if not sep or not TENANT_RE.match(tenant) or not EXTENSION_RE.match(extension):
        return None
    return tenant, extension


def destination_code(dest: Destination | None, owner: str) -> str:
    """``kind:target`` for Kamailio; voicemail without a target is the owner's box."""
    if dest is None:
        return ""
    target = dest.target or (owner if dest.kind == "voicemail" else "")
    return f"{dest.kind}:{target}"


# The order Kamailio reads them in (route DECISION_LOAD: {s.select,N,|} with N
# the index here). Append new fields at the end: indexes must not move.
DECISION_FIELDS: tuple[str, ...] = (
    "rule", "frame", "ring", "sim", "dnd", "fwd_all", "fwd_busy", "fwd_na", "fwd_off",
    "fallback", "block", "block_prefix", "block_anon", "tenant", "until", "caller_id",
)  # fmt: skip
SEPARATOR = "|"


def _escape(value: str) -> str:
    # '%' first, so an escape sequence typed by a user survives the round trip.
    return value.replace("%", "%25").replace(SEPARATOR, "%7C")


def _block_prefixes(block: tuple[str, ...]) -> str:
    prefixes = [entry[:-1] for entry in block if entry.endswith("*")]
    return "*" if "" in prefixes else ",".join(prefixes)


def read_decision(value: str) -> dict[str, str]:
    """The fields of a compiled decision, unescaped: what Kamailio reads from it."""
    parts = value.split(SEPARATOR)
    return {name: unquote(part) for name, part in zip(DECISION_FIELDS, parts, strict=True)}


def _default_rule(ring_seconds: int) -> AnsweringRule:
    # No rule active: ring for the system ring timeout, then the owner's voicemail.
    return AnsweringRule("Default", 0, ring_seconds=ring_seconds, fallback=Destination("voicemail"))


def compile_decision(user: User | Did, active: ActiveRule, *, default_ring_seconds: int) -> str:
    """The htable value for ``<tenant>:<extension>``, or for ``did:<number>``.

    A DID's value also names its ``tenant``: the carrier's INVITE carries only
    the number, and Kamailio needs the tenant to reach extensions and mailboxes.
    Without an active rule the value is the default decision (``rule`` empty):
    ring for ``default_ring_seconds`` (setting ``ring_timeout``), then voicemail.
    The block list is split in two so Kamailio needs no loop: exact numbers for
    ``in_list``, prefixes (``+1900*`` as ``+1900``) for ``in_list_prefix``; a bare
    ``*`` (everyone with a caller id) is kept as ``*``, since ``in_list_prefix``
    ignores an empty prefix.

    ``caller_id`` is the other direction: the main number the user chose to
    show on calls they place to outside numbers ('' : the extension, as
    before). It rides in the same value, not in an htable of its own, because
    that value is already pushed at every edit, at start-up and at every full
    sync, DB first (``kamailio.rules_push``), and is keyed by the user's
    ``<tenant>:<extension>``, which is exactly what route CALLER_ID knows of
    the authenticated caller: a second table would need a second push path
    and a second reload to keep in step, for one field. Route CALLER_ID reads
    it from the *caller's* decision, never from anything the phone sent.
    """
    rule = active.rule or _default_rule(default_ring_seconds)
    owner = user.extension if isinstance(user, User) else user.number
    fields = {
        "rule": rule.name if active.rule else "",
        "frame": active.frame.name if active.frame else "",
        "ring": str(rule.ring_seconds),
        "sim": ",".join(rule.simultaneous),
        "dnd": "1" if rule.dnd else "0",
        "fwd_all": destination_code(rule.forward_always, owner),
        "fwd_busy": destination_code(rule.forward_busy, owner),
        "fwd_na": destination_code(rule.forward_no_answer, owner),
        "fwd_off": destination_code(rule.forward_offline, owner),
        "fallback": destination_code(rule.fallback, owner),
        "block": ",".join(b for b in rule.block if not b.endswith("*")),
        "block_prefix": _block_prefixes(rule.block),
        "block_anon": "1" if rule.block_anonymous else "0",
        "tenant": user.tenant_domain if isinstance(user, Did) else "",
        "until": str(int(active.until.timestamp())) if active.until else "",
        "caller_id": user.caller_id if isinstance(user, User) else "",
    }
    return SEPARATOR.join(_escape(fields[name]) for name in DECISION_FIELDS)


@dataclass(frozen=True)
class Explanation:
    active: ActiveRule
    steps: list[str]
    outcome: str


def explain_route(
    user: User,
    inputs: RoutingInputs,
    caller: str | None,
    at: datetime,
    *,
    default_ring_seconds: int,
) -> Explanation:
    """Where a call from ``caller`` to ``user`` at ``at`` goes, and why, step by step.

    ``default_ring_seconds`` (setting ``ring_timeout``) is the ring time when no
    rule is active, as in ``compile_decision``.
    """
    active = active_rule_at(inputs.rules, inputs.frames, at, inputs.override)
    steps = [f"Call to extension {user.extension} ({user.name}) at {readable(at)}."]
    steps.append(f"Active answering rule: {active.describe(at.tzinfo)}.")
    rule = active.rule
    if rule is None:
        rule = _default_rule(default_ring_seconds)
    if is_blocked(rule, caller):
        steps.append(f"Caller {caller or 'anonymous'} is on the block list: refused.")
        return Explanation(active, steps, "blocked")
    if rule.dnd:
        steps.append("Do not disturb is on: phones do not ring.")
        outcome = rule.fallback.describe()
        steps.append(f"Sent to {outcome}.")
        return Explanation(active, steps, outcome)
    if rule.forward_always is not None:
        outcome = rule.forward_always.describe()
        steps.append(f"Forward always: sent to {outcome}.")
        return Explanation(active, steps, outcome)
    ring = f"Ring registered phones for {rule.ring_seconds} s"
    if rule.simultaneous:
        ring += f", and at the same time {', '.join(rule.simultaneous)}"
    steps.append(ring + ".")
    # Kamailio's order (route EXTENSION): no device → forward-when-offline, else the fallback.
    offline = rule.forward_offline or rule.fallback
    steps.append(f"If no phone is registered: {offline.describe()}.")
    if rule.forward_busy is not None:
        steps.append(f"If busy: {rule.forward_busy.describe()}.")
    no_answer = rule.forward_no_answer or rule.fallback
    steps.append(f"If nobody answers: {no_answer.describe()}.")
    return Explanation(active, steps, f"ring {rule.ring_seconds} s, then {no_answer.describe()}")
