"""Metric correctness: a hand-checked day, a seeded random lake against pandas, DST days.

The pandas side reads the lake's Parquet files directly and follows
docs/metrics.md line by line; it shares no code with pipeline/sql/metrics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from pipeline import metrics
from pipeline.filters import CallFilter
from pipeline.ingest import ingest_rows
from pipeline.lake import Lake
from pipeline.metric_engine import compile_metric
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.analytics import (
    ACME,
    DIRECTORY,
    GLOBEX,
    HAND_BY_DID,
    HAND_BY_EXTENSION,
    HAND_BY_RULE,
    HAND_DAY,
    HAND_EXPECTED,
    NY,
    REASONS,
    hand_acc_rows,
    random_acc_rows,
    write_lake,
)
from tests.fixtures.core import make_settings

TZ = "America/New_York"
DAY = metrics.Period(date.fromisoformat(HAND_DAY), date.fromisoformat(HAND_DAY))


@pytest.fixture
def hand(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    write_lake(settings, hand_acc_rows())
    conn = connect(settings, ACME)
    yield conn
    conn.close()


def close(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b))
        )
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


# -- the hand-checked day -------------------------------------------------------------


def test_hand_checked_day(hand: duckdb.DuckDBPyConnection) -> None:
    got = metrics.summary(hand, DAY, tz=TZ)
    wrong = {k: (got[k], v) for k, v in HAND_EXPECTED.items() if not close(got[k], v)}
    assert wrong == {}


def test_hand_checked_groups_and_their_drill_down(hand: duckdb.DuckDBPyConnection) -> None:
    expected = {"extension": HAND_BY_EXTENSION, "rule": HAND_BY_RULE, "did": HAND_BY_DID}
    keys = {"extension": "handled_by", "rule": "rule", "did": "callee"}
    for group_by, counts in expected.items():
        rows = metrics.kpis(hand, DAY, group_by=group_by, tz=TZ)
        assert {r["grp"]: r["calls"] for r in rows} == counts
        for r in rows:
            if r["grp"] is None:
                continue
            # The drill-down filter of a row selects exactly the calls it counted.
            flt = metrics.scope_filter(DAY, TZ, CallFilter(**{keys[group_by]: r["grp"]}))
            where_sql, params = flt.where()
            ((n,),) = hand.execute(
                f"select count(*) from calls where {where_sql}", params
            ).fetchall()
            assert n == r["calls"], (group_by, r["grp"])


def test_callback_worklist_and_mark_handled(hand: duckdb.DuckDBPyConnection) -> None:
    rows = metrics.callback_worklist(hand, DAY, tz=TZ)
    assert [(r["number"], r["missed_calls"], r["last_disposition"]) for r in rows] == [
        ("15550001111", 1, "cancelled")
    ]
    handled_at = rows[0]["last_missed_at"] + timedelta(minutes=5)
    assert metrics.callback_worklist(hand, DAY, tz=TZ, handled={"15550001111": handled_at}) == []
    # A mark older than the last missed call does not hide it.
    older = rows[0]["last_missed_at"] - timedelta(minutes=5)
    assert len(metrics.callback_worklist(hand, DAY, tz=TZ, handled={"15550001111": older})) == 1


def test_previous_period_comparison(hand: duckdb.DuckDBPyConnection) -> None:
    next_day = metrics.Period(DAY.start + timedelta(days=1), DAY.end + timedelta(days=1))
    assert next_day.previous() == DAY
    compared = metrics.compare(hand, next_day, tz=TZ)
    assert compared["calls"] == {"current": 0, "previous": 7, "change": -7}
    assert compared["answer_rate"]["current"] is None


def test_open_frames_are_a_parameter(hand: duckdb.DuckDBPyConnection) -> None:
    params = metrics.MetricParams(open_frames=("Nothing",))
    (row,) = metrics.kpis(hand, DAY, tz=TZ, params=params)
    assert (row["open_hours_calls"], row["after_hours_calls"]) == (0, 4)


def test_extension_scope_and_tenant_isolation(settings: Settings) -> None:
    write_lake(settings, hand_acc_rows())
    mine = connect(settings, ACME, extension="101")
    try:
        (row,) = metrics.kpis(mine, DAY, tz=TZ)
        assert row["calls"] == 3  # a1 (answered), a5 (placed), a7 (rung)
    finally:
        mine.close()
    globex = connect(settings, GLOBEX)
    try:
        got = metrics.summary(globex, DAY, tz=TZ)
        assert (got["calls"], got["external_callers"], got["callbacks_pending"]) == (1, 1, 1)
        # The same number called acme too; globex must not see acme's callback.
        with pytest.raises(duckdb.Error):
            globex.execute(f"select * from read_parquet('{settings.lake_dir}/calls/*/*/*.parquet')")
    finally:
        globex.close()


def test_empty_lake_gives_zeros(settings: Settings) -> None:
    conn = connect(settings, ACME)
    try:
        got = metrics.summary(conn, DAY, tz=TZ)
    finally:
        conn.close()
    assert got["calls"] == 0 and got["answer_rate"] is None and got["peak_concurrent"] == 0


# -- the result cache -------------------------------------------------------------------


def _page(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the Analytics page asks for one day (prepared, compared)."""
    metrics.prepare(conn, DAY, tz=TZ)
    return {
        "compare": metrics.compare(conn, DAY, tz=TZ),
        "volume": metrics.volume(conn, DAY, interval="hour", tz=TZ),
        "heatmap": metrics.heatmap(conn, DAY, tz=TZ),
        "peaks": metrics.concurrency(conn, DAY, tz=TZ),
        "extensions": metrics.kpis(conn, DAY, group_by="extension", tz=TZ),
        "repeat": metrics.repeat_callers(conn, DAY, tz=TZ),
        "worklist": metrics.callback_worklist(conn, DAY, tz=TZ),
    }


def test_a_cached_page_equals_the_computed_one(settings: Settings) -> None:
    write_lake(settings, hand_acc_rows())
    RESULTS.clear()
    first = connect(settings, ACME)
    try:
        computed = _page(first)
    finally:
        first.close()
    misses = RESULTS.misses
    second = connect(settings, ACME)
    try:
        cached = _page(second)
        # Every result came from the cache, so the page's tables were never built.
        assert RESULTS.misses == misses and RESULTS.hits > 0
        assert not second.execute(
            "select * from duckdb_tables() where table_name = 'page_calls'"
        ).fetchall()
    finally:
        second.close()
    assert cached == computed
    assert cached["compare"]["calls"]["current"] == HAND_EXPECTED["calls"]


def test_a_new_call_in_the_lake_changes_the_cached_result(settings: Settings) -> None:
    rows = hand_acc_rows()
    write_lake(settings, rows)
    RESULTS.clear()
    conn = connect(settings, ACME)
    try:
        assert metrics.summary(conn, DAY, tz=TZ)["calls"] == 7
        assert metrics.summary(conn, DAY, tz=TZ)["calls"] == 7  # cached
        # A later batch: one more missed call from a new number (a new Parquet file).
        extra = {**rows[0], "id": len(rows) + 1, "call_id": "a8", "caller": "+15550003333"}
        extra.update(answered_by=None, answer_at=None, sip_code=480, sip_reason=REASONS[480])
        ingest_rows(Lake(settings.lake_dir, durable=False), [extra], DIRECTORY, after=len(rows))
        # A connection reads the files that were the lake when it opened (a snapshot) ...
        assert metrics.summary(conn, DAY, tz=TZ)["calls"] == 7
    finally:
        conn.close()
    conn = connect(settings, ACME)  # ... the next one sees the new batch.
    try:
        got = metrics.summary(conn, DAY, tz=TZ)
    finally:
        conn.close()
    assert (got["calls"], got["missed"], got["callbacks_pending"]) == (8, 5, 2)


def test_a_page_whose_previous_period_is_cached_reads_only_its_own_rows(
    settings: Settings,
) -> None:
    rows = hand_acc_rows()
    day_before = {**rows[0], "id": len(rows) + 1, "call_id": "p1"}
    for key in ("invite_at", "answer_at", "end_at"):
        day_before[key] -= 86_400
    write_lake(settings, [*rows, day_before])
    RESULTS.clear()
    conn = connect(settings, ACME)
    try:
        computed = _page(conn)  # caches both periods' results
    finally:
        conn.close()
    # A live office: a new call lands today; the previous day's files are unchanged.
    extra = {**rows[0], "id": len(rows) + 2, "call_id": "a8", "caller": "+15550003333"}
    extra.update(answered_by=None, answer_at=None, sip_code=480, sip_reason=REASONS[480])
    ingest_rows(Lake(settings.lake_dir, durable=False), [extra], DIRECTORY, after=len(rows) + 1)
    conn = connect(settings, ACME)
    try:
        page = _page(conn)
        # The previous day's results came from the cache: its rows were never read.
        day_start = datetime.fromisoformat(HAND_DAY).replace(tzinfo=ZoneInfo(TZ))
        ((held, first),) = conn.execute(
            "select count(*), min(started_at) from page_calls"
        ).fetchall()
        assert (held, first >= day_start) == (8, True)
        calls = page["compare"]["calls"]
        assert (calls["current"], calls["previous"]) == (
            8,
            computed["compare"]["calls"]["previous"],
        )
        # A query of the previous day not cached yet adds its rows (once), and counts right.
        by_hour = metrics.kpis(conn, DAY.previous(), group_by="hour", tz=TZ)
        assert sum(r["calls"] for r in by_hour) == 1
        assert conn.execute("select count(*) from page_calls").fetchall() == [(9,)]
    finally:
        conn.close()


def test_the_cache_never_shows_a_manager_s_numbers_to_a_plain_user(settings: Settings) -> None:
    write_lake(settings, hand_acc_rows())
    RESULTS.clear()
    # (calls, total talk): 101 sees a1 a5 a7, 102 sees a5 a6 a7.
    seen = ((None, (7, 210)), ("101", (3, 150)), (None, (7, 210)), ("102", (3, 110)))
    for extension, expected in (*seen, ("101", (3, 150))):
        conn = connect(settings, ACME, extension=extension)
        try:
            metrics.prepare(conn, DAY, tz=TZ)
            (row,) = metrics.kpis(conn, DAY, tz=TZ)
            assert (row["calls"], row["total_talk"]) == expected, extension
        finally:
            conn.close()
    # And across tenants: the same query on globex is its own entry.
    conn = connect(settings, GLOBEX)
    try:
        assert metrics.summary(conn, DAY, tz=TZ)["calls"] == 1
    finally:
        conn.close()


def test_a_plain_user_cannot_change_the_scope_their_results_are_cached_under(
    settings: Settings,
) -> None:
    write_lake(settings, hand_acc_rows())
    RESULTS.clear()
    conn = connect(settings, ACME, extension="102")
    try:
        assert metrics.kpis(conn, DAY, tz=TZ)[0]["total_talk"] == 110
        # The extension is a literal of the views, not a session variable: setting
        # the variable the scope once used changes nothing, fresh or cached.
        conn.execute("set variable sb_extension = '101'")
        RESULTS.clear()
        assert metrics.kpis(conn, DAY, tz=TZ)[0]["total_talk"] == 110
    finally:
        conn.close()


# -- DST: 23- and 25-hour days --------------------------------------------------------


def test_dst_days_bucket_in_the_tenant_zone(settings: Settings) -> None:
    """A call every 30 min: 46 on the 23-hour day, 50 on the 25-hour day."""
    rows = []
    for day in ("2025-03-09", "2025-11-02"):
        start = datetime.fromisoformat(day).replace(tzinfo=NY).astimezone(UTC)
        end = (datetime.fromisoformat(day) + timedelta(days=1)).replace(tzinfo=NY).astimezone(UTC)
        t = start
        while t < end:
            rows.append(
                {
                    "id": len(rows) + 1,
                    "call_id": f"d{len(rows)}",
                    "tenant": ACME,
                    "direction": "internal",
                    "caller": "101",
                    "callee": "102",
                    "invite_at": t.timestamp(),
                    "end_at": t.timestamp() + 10,
                    "sip_code": 480,
                }
            )
            t += timedelta(minutes=30)
    write_lake(settings, rows)
    conn = connect(settings, ACME)
    try:
        for day, hours in (("2025-03-09", 23), ("2025-11-02", 25)):
            period = metrics.Period(date.fromisoformat(day), date.fromisoformat(day))
            (by_day,) = metrics.kpis(conn, period, group_by="day", tz=TZ)
            assert (by_day["grp"], by_day["calls"]) == (period.start, hours * 2)
            by_hour = metrics.kpis(conn, period, group_by="hour", tz=TZ)
            assert len(by_hour) == hours and {r["calls"] for r in by_hour} == {2}
            local_hours = [r["grp"].astimezone(NY).hour for r in by_hour]
            heat = {r["hour"]: r["calls"] for r in metrics.heatmap(conn, period, tz=TZ)}
            if hours == 23:
                assert 2 not in local_hours and 2 not in heat
            else:
                assert local_hours.count(1) == 2 and heat[1] == 4  # 01:00 EDT and 01:00 EST
            volume = metrics.volume(conn, period, interval="hour", tz=TZ)
            assert len({r["bucket"] for r in volume}) == hours
    finally:
        conn.close()


def test_peaks_at_shared_instants_and_bucket_starts(settings: Settings) -> None:
    """Calls that end as another starts do not overlap; on a bucket's first instant
    only the level after it counts (three calls end at midnight as one starts)."""
    spans = [
        ("2025-06-02T22:00", "2025-06-03T00:00"),
        ("2025-06-02T23:00", "2025-06-03T00:00"),
        ("2025-06-02T23:30", "2025-06-03T00:00"),
        ("2025-06-03T00:00", "2025-06-03T00:10"),
        ("2025-06-03T00:10", "2025-06-03T00:20"),  # starts as the one before ends
    ]
    rows = [
        {
            "id": i + 1,
            "call_id": f"p{i}",
            "tenant": ACME,
            "direction": "internal",
            "caller": "101",
            "callee": "102",
            "invite_at": datetime.fromisoformat(f"{a}+00:00").timestamp(),
            "end_at": datetime.fromisoformat(f"{b}+00:00").timestamp(),
            "sip_code": 480,
        }
        for i, (a, b) in enumerate(spans)
    ]
    write_lake(settings, rows)
    period = metrics.Period(date(2025, 6, 2), date(2025, 6, 3))
    conn = connect(settings, ACME)
    try:
        by_day = metrics.concurrency(conn, period, interval="day", tz="UTC")
        assert [(r["bucket"], r["peak_active"]) for r in by_day] == [
            (date(2025, 6, 2), 3),
            (date(2025, 6, 3), 1),
        ]
        (whole,) = metrics.concurrency(conn, period, interval=None, tz="UTC")
        assert whole["peak_active"] == 3
        assert metrics.peak_concurrent(conn, period, tz="UTC") == 3
        day_two = metrics.Period(date(2025, 6, 3), date(2025, 6, 3))
        assert metrics.peak_concurrent(conn, day_two, tz="UTC") == 1
    finally:
        conn.close()


def test_a_dst_change_inside_a_utc_hour_buckets_by_the_wall_clock(settings: Settings) -> None:
    """Adelaide (+9:30) moves to +10:30 at 02:00 local, 16:30 UTC: mid-hour."""
    zone = "Australia/Adelaide"
    first = datetime(2025, 10, 4, 12, 0, tzinfo=UTC)
    instants = [first + timedelta(minutes=10 * i) for i in range(48)]  # 12:00–19:50 UTC
    rows = [
        {
            "id": i + 1,
            "call_id": f"lh{i}",
            "tenant": ACME,
            "direction": "internal",
            "caller": "101",
            "callee": "102",
            "invite_at": t.timestamp(),
            "end_at": t.timestamp() + 10,
            "sip_code": 480,
        }
        for i, t in enumerate(instants)
    ]
    write_lake(settings, rows)
    expected: dict[tuple[int, int], int] = {}
    for t in instants:
        local = t.astimezone(ZoneInfo(zone))
        key = (local.isoweekday(), local.hour)
        expected[key] = expected.get(key, 0) + 1
    period = metrics.Period(date(2025, 10, 4), date(2025, 10, 5))
    conn = connect(settings, ACME)
    try:
        for prepared in (False, True):
            if prepared:
                metrics.prepare(conn, period, tz=zone)
            heat = metrics.heatmap(conn, period, tz=zone)
            assert {(r["weekday"], r["hour"]): r["calls"] for r in heat} == expected
    finally:
        conn.close()


# -- the random lake against pandas ---------------------------------------------------


@pytest.fixture(scope="module")
def random_lake(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(tmp_path_factory.mktemp("random") / "data")
    write_lake(settings, random_acc_rows())
    return settings


def lake_frame(settings: Settings, tenant: str) -> pd.DataFrame:
    frame = pd.read_parquet(settings.lake_dir / "calls" / f"tenant={tenant}")
    frame["local"] = frame["started_at"].dt.tz_convert(TZ)
    return frame


def scope(frame: pd.DataFrame, period: metrics.Period) -> pd.DataFrame:
    local_date = frame["local"].dt.date
    out = frame[(local_date >= period.start) & (local_date <= period.end)].copy()
    out["offered"] = out["direction"].isin(["inbound", "internal"]) & (
        out["disposition"] != "blocked"
    )
    out["ans"] = out["disposition"] == "answered"
    out["digits"] = out["caller"].fillna("").map(lambda s: re.sub(r"[^0-9]", "", s))
    out["external"] = (out["direction"] == "inbound") & (out["digits"] != "")

    def extension(r: pd.Series) -> Any:
        if r["direction"] == "outbound":
            return r["caller"]
        if r["answered_by"] is not None and not pd.isna(r["answered_by"]):
            return r["answered_by"]
        return r["callee"] if r["direction"] == "internal" else None

    out["extension"] = out.apply(extension, axis=1) if len(out) else []
    out["did"] = out["callee"].where(out["direction"] == "inbound", None)
    inbound_ruled = (out["direction"] == "inbound") & out["rule"].notna()
    is_open = out["frame"].isin(["Open Hours"])
    out["hours"] = "unclassified"
    out.loc[inbound_ruled & is_open, "hours"] = "open"
    out.loc[inbound_ruled & ~is_open, "hours"] = "after"
    return out


def pandas_kpis(g: pd.DataFrame) -> dict[str, Any]:
    offered = g[g["offered"]]
    answered_offered = offered[offered["ans"]]
    mean = lambda s: None if s.empty else float(s.mean())  # noqa: E731
    out = {
        "calls": len(g),
        "offered": len(offered),
        "answered": len(answered_offered),
        "missed": int((~offered["ans"]).sum()),
        "abandoned_in_ring": int((offered["disposition"] == "cancelled").sum()),
        "abandoned_short": int(
            ((offered["disposition"] == "cancelled") & (offered["ring_seconds"] < 5)).sum()
        ),
        "blocked": int((g["disposition"] == "blocked").sum()),
        "answer_rate": len(answered_offered) / len(offered) if len(offered) else None,
        "avg_ring_answered": mean(answered_offered["ring_seconds"]),
        "max_ring_answered": None
        if answered_offered.empty
        else float(answered_offered["ring_seconds"].max()),
        "avg_talk": mean(g[g["ans"]]["talk_seconds"]),
        "total_talk": float(g["talk_seconds"].sum()),
        "open_hours_calls": int((g["hours"] == "open").sum()),
        "open_hours_missed": int(((g["hours"] == "open") & g["offered"] & ~g["ans"]).sum()),
        "after_hours_calls": int((g["hours"] == "after").sum()),
        "after_hours_missed": int(((g["hours"] == "after") & g["offered"] & ~g["ans"]).sum()),
    }
    for d in ("inbound", "outbound", "internal"):
        out[d] = int((g["direction"] == d).sum())
    for d in ("answered", "missed", "busy", "cancelled", "failed", "blocked", "voicemail"):
        out[f"disposition_{d}"] = int((g["disposition"] == d).sum())
    return out


def pandas_peak(g: pd.DataFrame) -> dict[Any, int]:
    """Brute force per local hour that has a start or an end: the most calls active
    at the hour's first instant or at any start inside it ([start, end) intervals)."""
    live = g[g["ended_at"] > g["started_at"]]
    starts, ends = live["started_at"].to_numpy(), live["ended_at"].to_numpy()
    hours = {
        at.astimezone(NY).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        for at in [*live["started_at"], *live["ended_at"]]
    }
    out: dict[Any, int] = {}
    for first in hours:
        last = first + timedelta(hours=1)
        candidates = [first, *(s for s in live["started_at"] if first <= s < last)]
        out[first] = max(int(((starts <= c) & (ends > c)).sum()) for c in candidates)
    return out


def pandas_repeat(g: pd.DataFrame, window_hours: float = 24.0) -> dict[str, Any]:
    ext = g[g["external"]].sort_values(["digits", "started_at", "acc_id"])
    nxt = ext.groupby("digits")["started_at"].shift(-1)
    followed = nxt.notna() & (nxt <= ext["started_at"] + pd.Timedelta(hours=window_hours))
    callers = ext["digits"].nunique()
    repeaters = ext[followed]["digits"].nunique()
    answered = int(ext["ans"].sum())
    again = int((ext["ans"] & followed).sum())
    return {
        "external_callers": callers,
        "repeat_callers": repeaters,
        "repeat_caller_rate": repeaters / callers if callers else None,
        "answered_external": answered,
        "answered_then_repeated": again,
        "fcr_proxy": 1 - again / answered if answered else None,
    }


def pandas_worklist(g: pd.DataFrame, everything: pd.DataFrame) -> set[str]:
    missed = g[g["external"] & g["offered"] & ~g["ans"]]
    last = missed.groupby("digits")["started_at"].max()
    digits = lambda s: re.sub(r"[^0-9]", "", s or "")  # noqa: E731
    pending = set()
    for number, at in last.items():
        later = everything[everything["started_at"] > at]
        called_back = later[
            (later["direction"] == "outbound") & (later["callee"].map(digits) == number)
        ]
        reached = later[
            (later["direction"] == "inbound")
            & (later["disposition"] == "answered")
            & (later["caller"].map(digits) == number)
        ]
        if called_back.empty and reached.empty:
            pending.add(number)
    return pending


PERIODS = [
    metrics.Period(date(2025, 10, 20), date(2025, 11, 9)),  # everything
    metrics.Period(date(2025, 11, 2), date(2025, 11, 2)),  # the 25-hour day
    metrics.Period(date(2025, 10, 27), date(2025, 11, 2)),  # a week
]


@pytest.mark.parametrize("prepared", [False, True], ids=["from-lake", "prepared-page"])
@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p.start}..{p.end}")
def test_sql_agrees_with_pandas_on_every_metric(
    random_lake: Settings, period: Any, prepared: bool
) -> None:
    """Every metric equals pandas, read from the lake and from a page's prepared base rows."""
    frame = lake_frame(random_lake, ACME)
    g = scope(frame, period)
    conn = connect(random_lake, ACME)
    try:
        if prepared:
            # The page prepares the period and the previous one; a later period is
            # not covered and must fall back to the lake (checked below).
            metrics.prepare(conn, period, tz=TZ, compare=True)
            later = metrics.Period(period.end, period.end + timedelta(days=1))
            for p, reads_page in ((period, True), (period.previous(), True), (later, False)):
                flt = metrics.scope_filter(p, TZ)
                sql, _ = compile_metric(
                    "kpi_cells", flt, metrics.DEFAULT_PARAMS, conn, cell_keys="1"
                )
                assert ("from page_calls" in sql) == reads_page
                assert ("from calls" in sql) != reads_page
        (sql_row,) = metrics.kpis(conn, period, tz=TZ)
        expected = pandas_kpis(g)
        assert {k: (sql_row[k], v) for k, v in expected.items() if not close(sql_row[k], v)} == {}

        groupers = {
            "day": g["local"].dt.date,
            "week": g["local"].dt.date.map(lambda d: d - timedelta(days=d.weekday())),
            "extension": g["extension"],
            "did": g["did"],
            "rule": g["rule"],
            "hour": g["started_at"]
            - pd.to_timedelta(g["local"].dt.minute, unit="m")
            - pd.to_timedelta(g["local"].dt.second, unit="s")
            - pd.to_timedelta(g["local"].dt.microsecond, unit="us"),
        }
        for group_by, key in groupers.items():
            rows = metrics.kpis(conn, period, group_by=group_by, tz=TZ)
            keyed = g.assign(_k=key.astype(object).where(key.notna(), None))
            want = {
                k: pandas_kpis(part) for k, part in keyed.groupby("_k", dropna=False, sort=False)
            }
            want = {
                (None if isinstance(k, float) and math.isnan(k) else k): v for k, v in want.items()
            }
            got = {r["grp"]: r for r in rows}
            assert set(got) == set(want), group_by
            for k, w in want.items():
                bad = {m: (got[k][m], v) for m, v in w.items() if not close(got[k][m], v)}
                assert bad == {}, (group_by, k)

        heat = {(r["weekday"], r["hour"]): r["calls"] for r in metrics.heatmap(conn, period, tz=TZ)}
        want_heat = g.groupby([g["local"].dt.day_of_week + 1, g["local"].dt.hour]).size().to_dict()
        assert heat == want_heat

        volume = metrics.volume(conn, period, interval="day", tz=TZ)
        want_volume = g.groupby([g["local"].dt.date, "direction", "disposition"]).size().to_dict()
        assert {(r["bucket"], r["direction"], r["disposition"]): r["calls"] for r in volume} == (
            want_volume
        )

        peaks = {r["bucket"]: r["peak_active"] for r in metrics.concurrency(conn, period, tz=TZ)}
        assert peaks == pandas_peak(g)
        assert metrics.peak_concurrent(conn, period, tz=TZ) == max(peaks.values())

        summary = metrics.repeat_summary(conn, period, tz=TZ)
        for name, value in pandas_repeat(g).items():
            assert close(summary[name], value), name
        hours_48 = metrics.MetricParams(repeat_window_hours=48)
        summary = metrics.repeat_summary(conn, period, tz=TZ, params=hours_48)
        assert close(summary["repeat_callers"], pandas_repeat(g, 48)["repeat_callers"])

        worklist = {r["number"] for r in metrics.callback_worklist(conn, period, tz=TZ)}
        assert worklist == pandas_worklist(g, frame)
        if period == PERIODS[0]:
            assert worklist  # the fixture has pending callbacks to check
        # The previous period's: its contacts are in its rows, the period's and the lake's.
        before = period.previous()
        worklist = {r["number"] for r in metrics.callback_worklist(conn, before, tz=TZ)}
        assert worklist == pandas_worklist(scope(frame, before), frame)
        if period == PERIODS[2]:  # some were called back only in the period (page_calls)
            until_period = frame[frame["local"].dt.date < period.start]
            assert pandas_worklist(scope(frame, before), until_period) - worklist
    finally:
        conn.close()


def test_a_filtered_page_looks_for_callbacks_beyond_its_own_rows(random_lake: Settings) -> None:
    """A page's contacts come from its rows only when they are every call of the scope.

    Filtered to inbound calls, the page's rows hold no outbound call, so a callback
    (an outbound call to the number) must still be looked for in the lake.
    """
    frame = lake_frame(random_lake, ACME)
    period = PERIODS[0]
    inbound = CallFilter(direction="inbound", timezone=TZ)
    g = scope(frame, period)
    want = pandas_worklist(g[g["direction"] == "inbound"], frame)
    called_back = pandas_worklist(g, frame.iloc[0:0])  # without any later contact
    assert want and called_back - want  # some pending callers were called back outbound
    conn = connect(random_lake, ACME)
    try:
        metrics.prepare(conn, period, tz=TZ, filters=inbound)
        rows = metrics.callback_worklist(conn, period, tz=TZ, filters=inbound)
        assert {r["number"] for r in rows} == want
    finally:
        conn.close()


def test_every_metric_is_defined_in_docs() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    missing = [
        d.name
        for d in metrics.DEFINITIONS
        if f"`{d.name}`" not in docs and not d.name.startswith("disposition_")
    ]
    assert missing == [] and "`disposition_<d>`" in docs
    assert f"version {metrics.METRICS_VERSION}" in docs


# -- bridged calls (issue 11): a call through an attendant is one call -----------------------


@pytest.mark.parametrize("legs_first", [True, False])
def test_a_bridged_call_counts_once_with_its_final_outcome(
    settings: Settings, legs_first: bool
) -> None:
    from tests.fixtures.bridged import BRIDGED_EXPECTED, bridged_acc_rows
    from tests.fixtures.bridged import DAY as BRIDGED_DAY

    hand = hand_acc_rows()
    bridged = bridged_acc_rows(first_id=len(hand) + 1)
    legs = [r for r in bridged if r["origin_call_id"]]
    callers = [r for r in bridged if not r["origin_call_id"]]
    # The lake only appends: a leg's row may be ingested before or after its caller's.
    ordered = legs + callers if legs_first else callers + legs
    for i, row in enumerate(ordered):
        row["id"] = len(hand) + 1 + i
    write_lake(settings, hand)
    lake = Lake(settings.lake_dir, durable=False)
    ingest_rows(lake, ordered[:4], DIRECTORY, after=len(hand))
    ingest_rows(lake, ordered[4:], DIRECTORY, after=len(hand) + 4)
    day = metrics.Period(date.fromisoformat(BRIDGED_DAY), date.fromisoformat(BRIDGED_DAY))
    conn = connect(settings, ACME)
    try:
        got = conn.execute(
            "select call_id, disposition, answered_by, ring_seconds, talk_seconds"
            " from calls where call_id like 'b%' order by call_id"
        ).fetchall()
        assert got == [(c, *v[:4]) for c, v in sorted(BRIDGED_EXPECTED.items())]
        summary = metrics.summary(conn, day, tz=TZ)
        # six calls, not eleven accounting rows; b1 b2 b5 b6 answered, b3 busy, b4 voicemail
        assert (summary["calls"], summary["offered"], summary["answered"]) == (6, 6, 4)
        assert (summary["missed"], summary["to_voicemail"], summary["disposition_busy"]) == (
            2,
            1,
            1,
        )
        assert close(summary["avg_ring_answered"], (10 + 1 + 1 + 7) / 4)
        assert close(summary["total_talk"], 110 + 7 + 0 + 30 + 15 + 60)
        rows = metrics.kpis(conn, day, group_by="extension", tz=TZ)
        by_extension = {r["grp"]: r["calls"] for r in rows}
        assert by_extension["102"] == 1 and by_extension["101"] == 1  # the legs' answerers
        assert sum(by_extension.values()) == 6
        # the hand-checked day beside it is untouched
        hand_day = metrics.summary(conn, DAY, tz=TZ)
        assert {k: hand_day[k] for k in HAND_EXPECTED} == pytest.approx(HAND_EXPECTED)
    finally:
        conn.close()
    # 103 was rung by b3's leg (busy): the call shows in 103's own view, once.
    mine = connect(settings, ACME, extension="103")
    try:
        (row,) = metrics.kpis(mine, day, tz=TZ)
        assert row["calls"] == 1
        assert mine.execute("select origin_call_id from legs").fetchall() == [("b3",)]
    finally:
        mine.close()
