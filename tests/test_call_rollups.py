"""The calls' rollups (pipeline.call_rollups): the same numbers from compaction's files as
from the calls.

Peak concurrency from quarter-hours: the same peaks as from the calls (and as a brute
force), in zones whose bucket edges fall on the hour, the half-hour and the quarter-hour,
across a DST day, calls over midnight and periods' edges, and a late call for a rolled-up
day. The KPIs from daily cells: every grouping (those by time from the calls), in zones
whose local days start on the hour and on the half-hour, at another short-abandon
threshold, and after a late call."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline import metrics
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import CALL_CELLS_ROLLUP, CALL_QUARTERS_ROLLUP, tenant_folder
from pipeline.metric_engine import compile_metric, scope_filter
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.analytics import ACME, REASONS, random_acc_rows, write_lake

FIRST = datetime(2025, 10, 25, tzinfo=UTC)
TODAY = date(2025, 11, 12)  # 10-25 .. 11-10 are closed and roll up; 11-11 is not
ZONES = ("America/New_York", "UTC", "Asia/Kolkata", "Asia/Kathmandu")
PERIODS = (
    metrics.Period(date(2025, 10, 27), date(2025, 11, 9)),  # the DST day inside
    metrics.Period(date(2025, 11, 2), date(2025, 11, 2)),  # New York's 25-hour day
    metrics.Period(date(2025, 10, 29), date(2025, 11, 11)),  # up to the open days
)


def long_calls(seed: int, n: int) -> list[dict[str, Any]]:
    """Calls of up to 11 h over 10-25 .. 11-11 (many cross midnight, UTC and local, and
    periods' edges), some zero-length, some starting or ending on a quarter-hour."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        invite = FIRST.timestamp() + rng.random() * 17 * 86_400
        if rng.random() < 0.1:  # on a quarter-hour, where only the level after counts
            invite = invite // 900 * 900
        ring = round(rng.uniform(0.5, 30), 3)
        talk = min(round(rng.expovariate(1 / 7200), 3), 11 * 3600.0)
        answered = rng.random() < 0.8
        end = invite + ring + (talk if answered else 0.0)
        if rng.random() < 0.05:
            end = (end // 900 + 1) * 900  # ends exactly as a quarter-hour starts
        if rng.random() < 0.03:
            end = invite  # zero-length: never active
        rows.append(
            {
                "id": i,
                "call_id": f"q{i}",
                "tenant": ACME,
                "direction": "inbound",
                "caller": f"+1555{rng.randrange(10**6, 10**7)}",
                "callee": "+15557770000",
                "answered_by": "101" if answered else None,
                "invite_at": invite,
                "answer_at": min(invite + ring, end) if answered else None,
                "end_at": end,
                "sip_code": 200 if answered else 487,
                "sip_reason": REASONS[200 if answered else 487],
                "disposition_hint": None,
                "rule": None,
                "frame": None,
            }
        )
    return rows


def brute_force(rows: list[dict[str, Any]], period: metrics.Period, tz: str) -> dict[Any, int]:
    """Per local day with a start or end of a call in scope: the most calls active at the
    day's first instant or at any start inside it (docs/metrics.md)."""
    zone = ZoneInfo(tz)
    start, end = period.utc_bounds(tz)
    live = [
        (datetime.fromtimestamp(r["invite_at"], UTC), datetime.fromtimestamp(r["end_at"], UTC))
        for r in rows
        if start.timestamp() <= r["invite_at"] < end.timestamp() and r["end_at"] > r["invite_at"]
    ]
    days = {at.astimezone(zone).date() for s, e in live for at in (s, e)}
    out = {}
    for day in days:
        first = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        last = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        candidates = [first, *(s for s, _ in live if first <= s < last)]
        out[day] = max(sum(1 for s, e in live if s <= c < e) for c in candidates)
    return out


def peaks(settings: Settings, period: metrics.Period, tz: str, interval: str | None) -> Any:
    RESULTS.clear()
    conn = connect(settings, ACME)
    try:
        rows = metrics.concurrency(conn, period, interval=interval, tz=tz)
        sql, _ = compile_metric(
            "concurrency", scope_filter(period, tz), metrics.DEFAULT_PARAMS, conn,
            bucket_at="'all'", bucket_start="bucket",
        )  # fmt: skip
    finally:
        conn.close()
    return {r["bucket"]: r["peak_active"] for r in rows}, f"/{CALL_QUARTERS_ROLLUP}/" in sql


@pytest.fixture
def lake(settings: Settings) -> tuple[Settings, list[dict[str, Any]]]:
    rows = long_calls(7, 2500)
    write_lake(settings, rows)
    return settings, rows


def test_rolled_up_days_give_the_peaks_the_calls_give(
    lake: tuple[Settings, list[dict[str, Any]]],
) -> None:
    settings, rows = lake
    cases = [(p, tz, i) for p in PERIODS for tz in ZONES for i in ("hour", "day", "week", None)]
    before = {case: peaks(settings, *case) for case in cases}
    assert not any(rolled for _, rolled in before.values())
    for period in PERIODS:
        for tz in ZONES:
            assert before[(period, tz, "day")][0] == brute_force(rows, period, tz), (period, tz)
    assert max(before[(PERIODS[0], "UTC", None)][0].values()) >= 20  # levels worth checking

    report = compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=TODAY)

    base = tenant_folder(settings.lake_dir, CALL_QUARTERS_ROLLUP, ACME)
    rolled_days = sorted(p.parent.name for p in base.glob("date=*/quarters-*.parquet"))
    assert rolled_days == [f"date={FIRST.date() + timedelta(d)}" for d in range(17)]
    assert report.rollups >= 17
    after = {case: peaks(settings, *case) for case in cases}
    assert {c: r[0] for c, r in after.items()} == {c: r[0] for c, r in before.items()}
    # Every case read the rollups but the 24-hour days, no longer than a call's reach
    # (New York's 11-02 has 25 hours: its last hour is rolled up).
    assert {c for c, r in after.items() if not r[1]} == {
        c for c in cases if c[0] == PERIODS[1] and c[1] != "America/New_York"
    }


def test_a_late_call_for_a_rolled_up_day_counts_at_once(
    lake: tuple[Settings, list[dict[str, Any]]],
) -> None:
    settings, rows = lake
    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=TODAY)
    period, tz = PERIODS[0], "America/New_York"
    # Forty calls from 11-04 14:00 UTC to 15:00: a peak no other hour has.
    late = [
        {**rows[0], "id": 10_000 + i, "call_id": f"late{i}",
         "invite_at": datetime(2025, 11, 4, 14, tzinfo=UTC).timestamp() + i,
         "answer_at": None, "answered_by": None, "sip_code": 487, "sip_reason": REASONS[487],
         "end_at": datetime(2025, 11, 4, 15, tzinfo=UTC).timestamp()}
        for i in range(40)
    ]  # fmt: skip
    write_lake(settings, late)
    got, rolled = peaks(settings, period, tz, "day")
    assert rolled  # the other days still come from their rollups
    assert got == brute_force([*rows, *late], period, tz)
    assert got[date(2025, 11, 4)] >= 40


# -- KPI cells ----------------------------------------------------------------------------

KPI_TODAY = date(2025, 11, 10)  # the random lake's 10-20 .. 11-08 (UTC) roll up
KPI_PERIODS = (
    metrics.Period(date(2025, 10, 20), date(2025, 11, 9)),  # up to the open days
    metrics.Period(date(2025, 11, 2), date(2025, 11, 2)),  # New York's 25-hour day
)
GROUPINGS = (None, "extension", "did", "rule", "hour", "day", "week")


def kpi_tables(
    settings: Settings, params: metrics.MetricParams = metrics.DEFAULT_PARAMS
) -> dict[Any, Any]:
    """Every grouping's KPIs of each period and zone, and whether the cells read the
    rollups."""
    out: dict[Any, Any] = {}
    for period in KPI_PERIODS:
        for tz in ZONES[:3]:
            RESULTS.clear()
            conn = connect(settings, ACME)
            try:
                for group_by in GROUPINGS:
                    rows = metrics.kpis(conn, period, group_by=group_by, tz=tz, params=params)
                    out[(period, tz, group_by)] = sorted(rows, key=lambda r: str(r["grp"]))
                sql, _ = compile_metric(
                    "kpi_cells", scope_filter(period, tz), params, conn,
                    cell_keys="1",
                )  # fmt: skip
                out[(period, tz, "rolled")] = f"/{CALL_CELLS_ROLLUP}/" in sql
            finally:
                conn.close()
    return out


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Equal rows, floats to 1e-9 relative: the cells' sums add in another order."""

    def equal(x: Any, y: Any) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9)
        return bool(x == y)

    return len(a) == len(b) and all(
        r.keys() == q.keys() and all(equal(r[k], q[k]) for k in r)
        for r, q in zip(a, b, strict=True)
    )


def test_the_kpis_are_the_same_from_daily_cells(settings: Settings) -> None:
    write_lake(settings, random_acc_rows())
    before = kpi_tables(settings)
    assert not any(v for k, v in before.items() if k[2] == "rolled")

    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=KPI_TODAY)

    base = tenant_folder(settings.lake_dir, CALL_CELLS_ROLLUP, ACME)
    assert len(list(base.glob("date=*/cells5s-*.parquet"))) == 20  # 10-20 .. 11-08 (UTC)
    after = kpi_tables(settings)
    rolled = {k[:2] for k, v in after.items() if k[2] == "rolled" and v}
    # Every case but the one-day period in New York and Kolkata, which holds no whole UTC day.
    assert rolled == {(p, tz) for p in KPI_PERIODS for tz in ZONES[:3]} - {
        (KPI_PERIODS[1], "America/New_York"),
        (KPI_PERIODS[1], "Asia/Kolkata"),
    }
    assert set(after) == set(before)
    for key, rows in before.items():
        if key[2] != "rolled":
            assert same(after[key], rows), key
    # Another short-abandon threshold than the rollup's: computed, and different.
    ten = metrics.MetricParams(short_abandon_seconds=10)
    other = kpi_tables(settings, ten)
    assert not any(v for k, v in other.items() if k[2] == "rolled")
    whole = (KPI_PERIODS[0], "UTC", None)
    assert other[whole][0]["abandoned_short"] > after[whole][0]["abandoned_short"]


def test_a_late_call_for_a_day_of_daily_cells_counts_at_once(settings: Settings) -> None:
    rows = random_acc_rows()
    write_lake(settings, rows)
    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=KPI_TODAY)
    period, tz = KPI_PERIODS[0], "UTC"
    RESULTS.clear()
    with_rollups = kpi_tables(settings)[(period, tz, None)][0]
    at = datetime(2025, 10, 28, 12, tzinfo=UTC).timestamp()
    late = {**rows[0], "id": 90_000, "call_id": "late", "tenant": ACME, "direction": "inbound",
            "invite_at": at, "answer_at": None, "answered_by": None, "end_at": at + 3,
            "sip_code": 487, "sip_reason": REASONS[487], "disposition_hint": None}  # fmt: skip
    write_lake(settings, [late])
    got = kpi_tables(settings)
    assert got[(period, tz, "rolled")]  # the other days still come from their rollups
    now = got[(period, tz, None)][0]
    assert now["calls"] == with_rollups["calls"] + 1
    assert now["abandoned_short"] == with_rollups["abandoned_short"] + 1


def test_a_day_without_calls_where_a_call_of_the_day_before_ends_is_computed(
    settings: Settings,
) -> None:
    # 10-31 .. 11-04 (UTC): no call starts on 11-02, but one of 11-01 talks into it.
    day = 86_400.0
    rows = long_calls(3, 400)
    first, gap = datetime(2025, 10, 31, tzinfo=UTC).timestamp(), date(2025, 11, 2)
    kept = [r for r in rows if first <= r["invite_at"] < first + 5 * day]
    kept = [r for r in kept if datetime.fromtimestamp(r["invite_at"], UTC).date() != gap]
    start = datetime(2025, 11, 1, 22, tzinfo=UTC).timestamp()
    kept.append({**kept[0], "id": 90_001, "call_id": "overnight", "invite_at": start,
                 "answer_at": start + 5, "end_at": start + 5 * 3600})  # fmt: skip
    write_lake(settings, kept)
    period = metrics.Period(date(2025, 10, 31), date(2025, 11, 4))
    before, _ = peaks(settings, period, "UTC", "day")
    assert before[gap] >= 1

    compact_lake(settings.lake_dir, CompactionPolicy(grace_seconds=0), today=TODAY)

    after, rolled = peaks(settings, period, "UTC", "day")
    assert rolled  # 11-01 from its file; from 11-02 on computed
    assert after == before == brute_force(kept, period, "UTC")
