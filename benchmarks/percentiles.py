"""Percentiles of timing samples, as every benchmark here reports them."""

from __future__ import annotations

import statistics
from typing import Any


def pct(values: list[float], p: float) -> float:
    """The ``p`` quantile (0..1) of ``values``: the nearest sample by rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, Any]:
    """How many samples (seconds), and their p50, p95 and max in milliseconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(1000 * statistics.median(values)),
        "p95_ms": round(1000 * pct(values, 0.95)),
        "max_ms": round(1000 * max(values)),
    }
