"""Erlang C against published values (pipeline/erlang.py)."""

from __future__ import annotations

import math

import pytest

from pipeline.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    offered_load,
    service_level,
    staffing,
)


def erlang_c_by_formula(load: float, agents: int) -> float:
    """The textbook formula with factorials (reference §2.7), for small N."""
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


def test_the_classic_worked_example() -> None:
    # 360 calls in 30 min, AHT 240 s, target 20 s: 48 Erlangs. Published (Call Centre Helper,
    # "Erlang C formula made simple"): with 55 agents P_w = 23.87%, SL = 86.6%, ASA = 8.2 s.
    load = offered_load(360, 1800, 240)
    assert load == pytest.approx(48.0)
    assert erlang_c(load, 55) == pytest.approx(0.2387, abs=1e-4)
    assert service_level(load, 55, 240, 20) == pytest.approx(0.866, abs=1e-3)
    assert average_speed_of_answer(load, 55, 240) == pytest.approx(8.2, abs=0.05)
    # 80% within 20 s: 53 agents give 75.2%, 54 give 81.7%.
    assert service_level(load, 53, 240, 20) < 0.8 < service_level(load, 54, 240, 20)
    assert agents_needed(load, 240, 20, 0.8) == 54


def test_erlang_b_table_values() -> None:
    # Erlang B tables: 1 Erlang on 1 line blocks 50%; 2 Erlangs on 2 lines 40%.
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_b(2.0, 2) == pytest.approx(0.4)


@pytest.mark.parametrize(("load", "agents"), [(1.0, 2), (2.0, 3), (8.5, 10), (20.0, 25)])
def test_recursion_equals_the_factorial_formula(load: float, agents: int) -> None:
    assert erlang_c(load, agents) == pytest.approx(erlang_c_by_formula(load, agents), rel=1e-12)


def test_two_agents_one_erlang() -> None:
    # M/M/2 with A = 1: P_w = 1/3 (closed form A^2 / (2 + A) / ... = 1/3).
    assert erlang_c(1.0, 2) == pytest.approx(1 / 3)


def test_edges() -> None:
    assert erlang_c(5.0, 5) == 1.0 and service_level(5.0, 4, 100, 20) == 0.0
    assert agents_needed(0.0, 100, 20, 0.8) == 0
    assert math.isinf(average_speed_of_answer(3.0, 3, 100))
    with pytest.raises(ValueError):
        agents_needed(1.0, 100, 20, 1.5)
    big = agents_needed(offered_load(10_000, 3600, 300), 300, 20, 0.9)  # 833 Erlangs
    assert 833 < big < 900


def test_more_agents_never_lower_the_service_level() -> None:
    levels = [service_level(48.0, n, 240, 20) for n in range(49, 70)]
    assert levels == sorted(levels)


def test_staffing_what_if() -> None:
    plan = staffing(360, 1800, 240, 20, 0.8, agents=52)
    assert plan.agents_needed == 54
    assert plan.service_level is not None and plan.service_level < 0.8
    assert plan.occupancy == pytest.approx(48 / 52)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ((-1, 1800, 180, 20), "calls must be a number"),
        ((1e308, 1800, 1e308, 20), "calls must be a number"),
        ((10, 1800, 0, 20), "handle time must be above 0"),
        ((10, 1800, math.nan, 20), "handle time must be above 0"),
        ((10, 1800, 180, math.inf), "target seconds must be a number"),
        ((10, 1800, 180, 20, 0.8, 10**30), "agents must be from 0 to 2000"),  # looped for ever
    ],
)
def test_a_what_if_refuses_numbers_it_cannot_mean(args: tuple, refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        staffing(*args)


def test_erlang_b_refuses_more_agents_than_it_would_ever_search() -> None:
    assert erlang_b(10.0, 2000) == pytest.approx(0.0, abs=1e-12)  # the bound itself runs
    with pytest.raises(ValueError, match="at most 2000 agents"):
        erlang_b(10.0, 2001)
