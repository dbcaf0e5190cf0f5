"""One call, its whole path, through the real parts: carrier → menu → key 1 → 102 → the lake.

The scenario is the attendant's end-to-end call (tests/test_attendant_e2e.py: real
Kamailio, the real media server, SIPp on both sides); here the pipeline then ingests
what Kamailio accounted (the caller's leg and the bridged leg, which carries the
caller's Call-ID) and the batch of steps the media server wrote, and the warehouse
must show one call, answered by 102, with its path.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from pipeline import metrics
from pipeline.ingest import ingest_once
from pipeline.steps_ingest import ingest_steps
from pipeline.viewer import open_for_viewer
from tests.fixtures.main_number import ACME, MAIN, MainNumber

pytestmark = [pytest.mark.kamailio, pytest.mark.media]


def test_a_bridged_call_is_one_call_answered_by_102_with_its_path(main_number: MainNumber) -> None:
    result, _, _ = main_number.press_1_for_102()
    assert result.returncode == 0, result.errors
    main_number.steps()  # the media server's batch is in the spool
    settings = main_number.settings
    # Kamailio's writer drains its queue every 100 ms: ingest until both legs are in.
    deadline = time.monotonic() + 10
    rows = 0
    while rows < 2 and time.monotonic() < deadline:
        rows += ingest_once(settings).calls
        time.sleep(0.2)
    assert ingest_steps(settings).batches == 1

    with open_for_viewer(settings, ACME) as viewer:
        conn = viewer.conn
        calls = conn.execute(
            "select call_id, direction, callee, disposition, answered_by, path from call_history"
        ).fetchall()
        legs = conn.execute("select origin_call_id, callee, answered_by from legs").fetchall()
        today = datetime.now(UTC).date()  # the call happened now (routing is pinned to OPEN)
        period = metrics.Period(today - timedelta(days=1), today + timedelta(days=1))
        funnel = metrics.menu_funnel(conn, period, tz="UTC")
    # one call (the carrier's), not two: 102's leg is a leg of it
    assert len(calls) == 1, calls
    call_id, direction, callee_number, disposition, answered_by, path = calls[0]
    assert (direction, callee_number, disposition, answered_by) == (
        "inbound",
        MAIN,
        "answered",
        "102",
    )
    assert path == "Main number → Day → 1 → 102 (answered)"
    assert [(o, c, a) for o, c, a in legs] == [(call_id, "102", "102")]
    counted = {(r["attendant"], r["outcome"], r["key"]): r["calls"] for r in funnel}
    assert counted[("Day", "entered", None)] == 1 and counted[("Day", "key", "1")] == 1
