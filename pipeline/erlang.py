"""Erlang C: how many agents a queue needs, and what service level N agents give (pure).

Reference: ``../shared/reference/call-center-metrics.md`` §2.7. Offered load
``A = λ × AHT`` (Erlangs), ``N`` agents (``A < N`` or the queue grows without
end), probability of waiting ``P_w`` (Erlang C), service level
``SL(T) = 1 − P_w · e^{−(N−A)·T/AHT}``, ``ASA = P_w · AHT / (N − A)``. No
abandonment (Erlang A), no shrinkage: add those on top.

``P_w`` is computed through the Erlang B recursion, which stays exact for
hundreds of agents where factorials overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGENTS = 2000
# The largest calls per interval, handle time or target (seconds) a what-if takes: far past
# any queue, far below where the arithmetic overflows.
MAX_INPUT = 1e6


def offered_load(calls: float, interval_seconds: float, aht_seconds: float) -> float:
    """Erlangs: arrival rate (calls per second) × average handle time."""
    if interval_seconds <= 0:
        raise ValueError("the interval must be longer than zero")
    return calls / interval_seconds * aht_seconds


def erlang_b(load: float, agents: int) -> float:
    """Blocking probability of ``agents`` servers under ``load`` Erlangs (no queue).

    The recursion runs once per agent: past :data:`MAX_AGENTS` it is refused, since a what-if
    of ``1e30`` agents (a crafted page input) would loop for ever.
    """
    if agents < 0 or load < 0:
        raise ValueError("agents and load cannot be negative")
    if agents > MAX_AGENTS:
        raise ValueError(f"at most {MAX_AGENTS} agents")
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(load: float, agents: int) -> float:
    """Probability a caller waits (P_w); 1.0 when ``agents <= load`` (the queue never drains)."""
    if agents <= load:
        return 1.0
    b = erlang_b(load, agents)
    return agents * b / (agents - load * (1 - b))


def service_level(load: float, agents: int, aht_seconds: float, target_seconds: float) -> float:
    """Share of callers answered within ``target_seconds``."""
    if agents <= load:
        return 0.0
    pw = erlang_c(load, agents)
    return 1.0 - pw * math.exp(-(agents - load) * target_seconds / aht_seconds)


def average_speed_of_answer(load: float, agents: int, aht_seconds: float) -> float:
    """ASA in seconds (infinite when ``agents <= load``)."""
    if agents <= load:
        return math.inf
    return erlang_c(load, agents) * aht_seconds / (agents - load)


def agents_needed(
    load: float, aht_seconds: float, target_seconds: float, target_level: float
) -> int:
    """The fewest agents whose service level within ``target_seconds`` reaches ``target_level``."""
    if not 0 < target_level < 1:
        raise ValueError("the target service level is a share between 0 and 1")
    if load <= 0:
        return 0
    agents = max(1, math.floor(load) + 1)
    while service_level(load, agents, aht_seconds, target_seconds) < target_level:
        agents += 1
        if agents > MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS} agents: check the inputs")
    return agents


@dataclass(frozen=True)
class Staffing:
    """What-if for one queue and interval: the inputs and what Erlang C says."""

    calls: float
    interval_seconds: float
    aht_seconds: float
    load: float
    target_seconds: float
    target_level: float
    agents_needed: int
    agents: int | None = None  # the what-if: with this many agents ...
    service_level: float | None = None  # ... this service level
    asa: float | None = None  # ... and this ASA
    occupancy: float | None = None  # load / agents


def staffing(
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_seconds: float,
    target_level: float = 0.8,
    agents: int | None = None,
) -> Staffing:
    """Agents needed for ``target_level`` within ``target_seconds``, and the SL of ``agents``.

    The inputs may come from a page (a crafted one too): each is checked here, so a bad value
    is a ``ValueError`` that says which, never a division by zero or an overflow.
    """
    for name, value in (("calls", calls), ("target seconds", target_seconds)):
        if not (math.isfinite(value) and 0 <= value <= MAX_INPUT):
            raise ValueError(f"{name} must be a number from 0 to {MAX_INPUT:g}")
    if not (math.isfinite(aht_seconds) and 0 < aht_seconds <= MAX_INPUT):
        raise ValueError(f"the handle time must be above 0 and at most {MAX_INPUT:g} seconds")
    if agents is not None and not 0 <= agents <= MAX_AGENTS:
        raise ValueError(f"agents must be from 0 to {MAX_AGENTS}")
    load = offered_load(calls, interval_seconds, aht_seconds)
    needed = agents_needed(load, aht_seconds, target_seconds, target_level)
    if agents is None:
        return Staffing(calls, interval_seconds, aht_seconds, load, target_seconds,
                        target_level, needed)  # fmt: skip
    return Staffing(
        calls, interval_seconds, aht_seconds, load, target_seconds, target_level, needed,
        agents, service_level(load, agents, aht_seconds, target_seconds),
        average_speed_of_answer(load, agents, aht_seconds),
        load / agents if agents else None,
    )  # fmt: skip
