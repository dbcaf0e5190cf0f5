"""Each ring strategy's promised order, stated as literal tables (media.queue_strategy, pure)."""

from __future__ import annotations

import pytest

from media.queue_strategy import Candidate, estimated_wait, offer_order

AGENTS = (
    Candidate("103", priority=2, idle_since=100.0, calls=1),
    Candidate("101", priority=1, idle_since=300.0, calls=4),
    Candidate("102", priority=1, idle_since=200.0, calls=1),
    Candidate("104", priority=3, idle_since=50.0, calls=9),
)


@pytest.mark.parametrize(
    ("strategy", "last", "waves"),
    [
        ("ring_all", None, [("101", "102", "103", "104")]),
        ("linear", None, [("101",), ("102",), ("103",), ("104",)]),
        ("linear", "101", [("101",), ("102",), ("103",), ("104",)]),  # always the same
        ("round_robin", None, [("101",), ("102",), ("103",), ("104",)]),
        ("round_robin", "102", [("103",), ("104",), ("101",), ("102",)]),
        ("round_robin", "104", [("101",), ("102",), ("103",), ("104",)]),
        ("round_robin", "1025", [("103",), ("104",), ("101",), ("102",)]),  # left the queue
        ("longest_idle", None, [("104",), ("103",), ("102",), ("101",)]),
        ("fewest_calls", None, [("103",), ("102",), ("101",), ("104",)]),  # 1 call: 103 idle longer
    ],
)
def test_strategy_order(strategy: str, last: str | None, waves: list[tuple[str, ...]]) -> None:
    assert offer_order(strategy, AGENTS, last) == waves


def test_ties_fall_back_to_priority_then_extension() -> None:
    same = [Candidate("202", 2), Candidate("201", 2), Candidate("200", 1)]
    assert offer_order("longest_idle", same) == [("200",), ("201",), ("202",)]
    assert offer_order("fewest_calls", same) == [("200",), ("201",), ("202",)]


def test_nobody_free_and_unknown_strategy() -> None:
    assert offer_order("ring_all", []) == []
    with pytest.raises(ValueError, match="unknown ring strategy"):
        offer_order("random", AGENTS)


def test_estimated_wait() -> None:
    assert estimated_wait(1, free_agents=1, agents=2, average_handle=60) == 0.0
    assert estimated_wait(3, free_agents=0, agents=2, average_handle=60) == 90.0
    assert estimated_wait(1, free_agents=0, agents=0, average_handle=60) == -1.0
