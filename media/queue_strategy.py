"""Ring strategies: which agents of a queue are offered the next call, in which order (pure).

``offer_order(strategy, agents, last_offered)`` takes the agents who can
take a call now (logged in, not paused, not ringing, not on any call, not in
wrap-up: the caller of this function filters) and returns the waves to try,
each wave a tuple of extensions rung together:

- ``ring_all``: one wave, every agent at once (member order);
- ``linear``: by priority (1 first), then extension: always the same order;
- ``round_robin``: member order starting after the agent offered last in
  this queue (``last_offered``), wrapping around;
- ``longest_idle``: the agent whose last queue call ended longest ago first
  (never called since login: idle since their login, ``idle_since``);
- ``fewest_calls``: the agent with the fewest queue calls today first, ties
  by longest idle.

Ties always fall back to priority then extension, so the order is total and
the tests can state it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """An agent who could be offered a call now."""

    extension: str
    priority: int = 1
    idle_since: float = 0.0  # end of their last call (or login), epoch seconds
    calls: int = 0  # queue calls answered today


def _stable(a: Candidate) -> tuple[int, str]:
    return (a.priority, a.extension)


def offer_order(
    strategy: str, agents: Sequence[Candidate], last_offered: str | None = None
) -> list[tuple[str, ...]]:
    """The waves to offer a call in (see the module docstring); [] when nobody can take it."""
    if not agents:
        return []
    by_member = sorted(agents, key=_stable)
    if strategy == "ring_all":
        return [tuple(a.extension for a in by_member)]
    if strategy == "linear":
        ordered = by_member
    elif strategy == "round_robin":
        ring = sorted(agents, key=lambda a: a.extension)
        after = [a for a in ring if last_offered is not None and a.extension > last_offered]
        ordered = after + [a for a in ring if a not in after]
    elif strategy == "longest_idle":
        ordered = sorted(agents, key=lambda a: (a.idle_since, *_stable(a)))
    elif strategy == "fewest_calls":
        ordered = sorted(agents, key=lambda a: (a.calls, a.idle_since, *_stable(a)))
    else:
        raise ValueError(f"unknown ring strategy {strategy!r}")
    return [(a.extension,) for a in ordered]


def estimated_wait(position: int, free_agents: int, agents: int, average_handle: float) -> float:
    """Seconds a caller at ``position`` (1 = next) may wait: callers ahead × AHT ÷ agents.

    A rough promise for the announcement, never a metric: with a free agent
    the next caller waits about nothing; with no agent logged in, it is unknown (-1).
    """
    if agents <= 0:
        return -1.0
    ahead = max(0, position - 1 - free_agents)
    if position <= free_agents:
        return 0.0
    return (ahead + 1) * average_handle / agents
