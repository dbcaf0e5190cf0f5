"""The media clock says when it slips: a worker short of CPU stutters every prompt and
ends beeps late, and an operator should read that in the log, once per burst."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from media import leg
from media.leg import MediaClock


class Hog:
    """A subscriber that holds the event loop for 70 ms on the ticks it is told to."""

    def __init__(self, slow: set[int]) -> None:
        self.ticks = 0
        self.slow = slow

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks in self.slow:
            time.sleep(0.07)


async def _run(clock: MediaClock, hog: Hog, seconds: float) -> None:
    clock.start()
    clock.subscribe(hog)
    await asyncio.sleep(seconds)
    await clock.stop()


def test_slips_are_counted_and_reported_once_per_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leg, "SLIP_REPORT_SECONDS", 0.5)
    clock, hog = MediaClock(), Hog({5, 6, 7, 40})  # a burst of three, then one ~0.7 s later
    with caplog.at_level(logging.WARNING, logger="media.leg"):
        asyncio.run(_run(clock, hog, 2.0))  # tick 40 comes at ~1 s, later on a loaded box
    # (a loaded box may slip more: the counts are bounds)
    assert clock.slips >= 4
    reports = [r.getMessage() for r in caplog.records if "media clock slipped" in r.getMessage()]
    # the first slip is reported at once; the burst's others fall in its interval, and the
    # slip after it reports them with itself: one line per 0.5 s at most (2 s: at most 4)
    assert 2 <= len(reports) <= 4
    assert reports[0].startswith("media clock slipped: 1 tick(s)")
    counts = [int(r.split(": ")[1].split(" ")[0]) for r in reports]
    assert max(counts[1:]) >= 2 and sum(counts) <= clock.slips
    assert "1 leg(s) and bridge(s) playing" in reports[0]


def test_a_clock_on_time_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock, hog = MediaClock(), Hog(set())
    with caplog.at_level(logging.WARNING, logger="media.leg"):
        asyncio.run(_run(clock, hog, 0.3))
    assert clock.slips == 0 and hog.ticks >= 10
    assert not caplog.records
