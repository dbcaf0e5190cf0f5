"""Queue metrics (docs/metrics.md "Queue metrics"): hand-checked events → expected numbers,
a threshold change, and an independent pandas computation on random events."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from pipeline.metric_engine import Period
from pipeline.queue_ingest import ingest_queue_events
from pipeline.queue_metrics import (
    Thresholds,
    agent_kpis,
    agent_pauses,
    queue_calls,
    queue_kpis,
    queue_thresholds,
)
from pipeline.viewer import open_for_viewer
from switchboard.queue_events import QueueEvent
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.queues import CallQueue
from tests.fixtures.queue_events import ACME, T0, spool

TZ = "America/New_York"
DAY = Period(date(2026, 3, 2), date(2026, 3, 2))
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def rows(table: Any) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_hand_checked_queue_numbers(hand_lake: Settings) -> None:
    with open_for_viewer(hand_lake, ACME) as vc:
        (row,) = rows(queue_kpis(vc.conn, DAY, TZ, thresholds={1: Thresholds(20, 5)}))

    assert {k: row[k] for k in (
        "offered", "answered", "abandoned", "short_abandoned", "overflowed", "exit_key", "lost",
        "waiting", "answered_within_t",
    )} == {
        "offered": 7, "answered": 2, "abandoned": 2, "short_abandoned": 1, "overflowed": 1,
        "exit_key": 1, "lost": 1, "waiting": 0, "answered_within_t": 1,
    }  # fmt: skip
    assert row["service_level"] == pytest.approx(1 / 6)  # 1 within 20 s / (7 - 1 short)
    assert row["abandon_rate"] == pytest.approx(2 / 7)
    assert row["asa"] == pytest.approx(20.0)  # (10 + 30) / 2
    assert row["avg_wait"] == pytest.approx((10 + 30 + 3 + 40 + 300 + 15 + 100) / 7)
    assert row["longest_wait"] == 300.0
    assert row["avg_talk"] == 90.0 and row["avg_wrapup"] == 10.0
    assert row["aht"] == pytest.approx(100.0)  # ((60 + 10) + (120 + 10)) / 2
    assert (row["service_level_seconds"], row["short_abandon_seconds"]) == (20, 5)


def test_a_threshold_change_changes_exactly_the_expected_numbers(hand_lake: Settings) -> None:
    with open_for_viewer(hand_lake, ACME) as vc:
        (base,) = rows(queue_kpis(vc.conn, DAY, TZ, thresholds={1: Thresholds(20, 5)}))
        (t30,) = rows(queue_kpis(vc.conn, DAY, TZ, thresholds={1: Thresholds(30, 5)}))
        (short2,) = rows(queue_kpis(vc.conn, DAY, TZ, thresholds={1: Thresholds(20, 2)}))

    changed = {k for k in base if base[k] != t30[k]}
    assert changed == {"answered_within_t", "service_level", "service_level_seconds"}
    assert t30["service_level"] == pytest.approx(2 / 6)
    changed = {k for k in base if base[k] != short2[k]}
    assert changed == {"short_abandoned", "service_level", "short_abandon_seconds"}
    assert short2["service_level"] == pytest.approx(1 / 7)


def test_thresholds_come_from_the_queue_settings(
    hand_lake: Settings, store: ProvisioningStore
) -> None:
    saved = store.save_queue(
        CallQueue(ACME, "Support", service_level_seconds=30, short_abandon_seconds=5)
    )
    found = queue_thresholds(store, ACME)
    assert found[saved.id or 0] == Thresholds(30, 5)
    with open_for_viewer(hand_lake, ACME) as vc:
        (row,) = rows(queue_kpis(vc.conn, DAY, TZ, thresholds={1: found[saved.id or 0]}))
    assert row["answered_within_t"] == 2


def test_hand_checked_agent_numbers(hand_lake: Settings) -> None:
    with open_for_viewer(hand_lake, ACME) as vc:
        agents = {r["agent"]: r for r in rows(agent_kpis(vc.conn, DAY, TZ, now=NOW))}
        pauses = rows(agent_pauses(vc.conn, DAY, TZ, now=NOW))

    bob, sue = agents["102"], agents["103"]
    assert (bob["calls"], bob["talk_seconds"], bob["wrapup_seconds"]) == (1, 60.0, 10.0)
    assert (bob["logged_in_seconds"], bob["paused_seconds"]) == (7200.0, 600.0)
    assert bob["occupancy"] == pytest.approx(70 / 6600)
    assert (sue["calls"], sue["logged_in_seconds"], sue["paused_seconds"]) == (1, 1800.0, 0.0)
    assert sue["occupancy"] == pytest.approx(130 / 1800)
    assert pauses == [{"agent": "102", "reason": "lunch", "paused_seconds": 600.0}]


def test_intervals_are_local_and_drill_down_names_the_calls(hand_lake: Settings) -> None:
    with open_for_viewer(hand_lake, ACME) as vc:
        buckets = rows(queue_kpis(vc.conn, DAY, TZ, bucket_minutes=15))
        abandoned = rows(queue_calls(vc.conn, DAY, TZ, outcome="abandoned"))
    assert [(b["interval_start"], b["offered"]) for b in buckets] == [
        (datetime(2026, 3, 2, 9, 0), 7)
    ]
    assert sorted(r["call_id"] for r in abandoned) == ["C", "D"]
    assert {r["wait_seconds"] for r in abandoned} == {3.0, 40.0}


# -- an independent computation on random events ----------------------------------------------
OUTCOMES = ("answered", "abandoned", "overflowed", "exit_key")


def random_events(seed_: int, n: int) -> tuple[list[QueueEvent], pd.DataFrame]:
    """Random stints in queues 1 and 2 over two days, and the truth as a frame."""
    rnd = random.Random(seed_)
    events: list[QueueEvent] = []
    truth = []
    for i in range(n):
        qid = rnd.choice((1, 2))
        call = f"r{i}"
        entered = T0 - 86_400 + rnd.uniform(0, 2 * 86_400)
        outcome = rnd.choice(OUTCOMES)
        wait = round(rnd.uniform(0, 90), 1)
        talk = round(rnd.uniform(5, 600), 1) if outcome == "answered" else None
        events.append(QueueEvent(entered, "enter", qid, call, "+1", position=1))
        if outcome == "answered":
            events.append(QueueEvent(entered + wait, "connect", qid, call, agent="102", wait=wait))
            events.append(QueueEvent(entered + wait + (talk or 0), "complete", qid, call,
                                     agent="102", wait=wait, talk=talk))  # fmt: skip
        else:
            kind = {"abandoned": "abandon", "overflowed": "overflow", "exit_key": "exit_key"}
            events.append(QueueEvent(entered + wait, kind[outcome], qid, call, wait=wait))  # type: ignore[arg-type]
        truth.append({"queue_id": qid, "entered": entered, "outcome": outcome, "wait": wait,
                      "talk": talk})  # fmt: skip
    rnd.shuffle(events)  # the order of batches must not matter
    return events, pd.DataFrame(truth)


def pandas_kpis(truth: pd.DataFrame, thresholds: dict[int, Thresholds]) -> pd.DataFrame:
    zone = ZoneInfo(TZ)
    start = datetime(2026, 3, 2, tzinfo=zone).timestamp()
    end = datetime(2026, 3, 3, tzinfo=zone).timestamp()
    df = truth[(truth.entered >= start) & (truth.entered < end)].copy()
    local = pd.to_datetime(df.entered, unit="s", utc=True).dt.tz_convert(TZ).dt.tz_localize(None)
    df["interval_start"] = local.dt.floor("30min")
    df["T"] = df.queue_id.map(lambda q: thresholds[q].service_level_seconds)
    df["short"] = df.queue_id.map(lambda q: thresholds[q].short_abandon_seconds)
    out = []
    for (qid, bucket), g in df.groupby(["queue_id", "interval_start"]):
        ans = g[g.outcome == "answered"]
        short = ((g.outcome == "abandoned") & (g.wait < g.short)).sum()
        within = (ans.wait <= ans["T"]).sum()
        denom = len(g) - short
        out.append({
            "queue_id": qid, "interval_start": bucket.to_pydatetime(), "offered": len(g),
            "answered": len(ans), "abandoned": int((g.outcome == "abandoned").sum()),
            "short_abandoned": int(short), "answered_within_t": int(within),
            "service_level": within / denom if denom else None,
            "asa": ans.wait.mean() if len(ans) else None,
            "longest_wait": g.wait.max(), "aht": ans.talk.mean() if len(ans) else None,
        })  # fmt: skip
    return pd.DataFrame(out)


def test_sql_agrees_with_an_independent_pandas_computation(
    settings: Settings, store: ProvisioningStore
) -> None:
    events, truth = random_events(42, 600)
    for n in range(0, len(events), 100):
        spool(settings, events[n : n + 100], [], n)
    ingest_queue_events(settings)
    thresholds = {1: Thresholds(20, 5), 2: Thresholds(45, 10)}

    with open_for_viewer(settings, ACME) as vc:
        sql = queue_kpis(vc.conn, DAY, TZ, bucket_minutes=30, thresholds=thresholds).to_pandas()
    expected = pandas_kpis(truth, thresholds)

    assert len(sql) == len(expected) > 20
    merged = sql.merge(expected, on=["queue_id", "interval_start"], suffixes=("", "_pd"))
    assert len(merged) == len(expected)
    for col in ("offered", "answered", "abandoned", "short_abandoned", "answered_within_t"):
        assert (merged[col] == merged[f"{col}_pd"]).all(), col
    for col in ("service_level", "asa", "longest_wait", "aht"):
        a, b = merged[col].astype(float), merged[f"{col}_pd"].astype(float)
        assert ((a - b).abs().fillna(0) < 1e-9).all() and (a.isna() == b.isna()).all(), col


def test_period_edges_are_local_days(hand_lake: Settings) -> None:
    day_before = Period(date(2026, 3, 1), date(2026, 3, 1))
    with open_for_viewer(hand_lake, ACME) as vc:
        assert rows(queue_kpis(vc.conn, day_before, TZ)) == []
        week = Period(date(2026, 3, 1), date(2026, 3, 1) + timedelta(days=6))
        assert rows(queue_kpis(vc.conn, week, TZ))[0]["offered"] == 7


def test_cli_kpis_queue(monkeypatch: pytest.MonkeyPatch, hand_lake: Settings) -> None:
    import contextlib
    import io

    from cli.main import main
    from tests.fixtures.portal import portal_env

    for key, value in portal_env(hand_lake).items():
        if key.startswith("SWITCHBOARD_"):
            monkeypatch.setenv(key, value)
    argv = ["kpis", "--tenant", ACME, "--from", "2026-03-02", "--to", "2026-03-02", "--queue", "1"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json"]) == 0
    body = json.loads(out.getvalue())
    assert body["rows"][0]["offered"] == 7 and body["rows"][0]["answered"] == 2
    assert {a["agent"] for a in body["agents"]} == {"102", "103"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--interval", "15"]) == 0
    text = out.getvalue()
    assert "Service level" not in text and "service_level" in text and "16.7%" in text


def test_the_queue_drill_down_key_selects_exactly_the_counted_calls(hand_lake: Settings) -> None:
    from pipeline.filters import CallFilter, FilterError
    from tests.fixtures.portal import acc_call, build_lake

    # the callers' own calls (inbound to the queue's number), C and D among them
    rows = [
        acc_call(c, "inbound", f"+1555{c}", "+15550000", f"2026-03-02 09:0{i}:00", ring=1, talk=5)
        for i, c in enumerate("ABCDEFG")
    ]
    rows.append(acc_call("X", "inbound", "+15559999", "+15550000", "2026-03-02 09:30:00", ring=1))
    build_lake(hand_lake, rows)
    with open_for_viewer(hand_lake, ACME) as vc:
        for outcome, expected in (("abandoned", ["C", "D"]), ("answered", ["A", "B"]),
                                  ("offered", list("ABCDEFG")), ("exit_key", ["F"])):  # fmt: skip
            flt = CallFilter.from_query({"queue": f"1:{outcome}"}, TZ)
            where, params = flt.where_named()
            found = vc.conn.execute(
                f"select call_id from calls where {where} order by call_id", params
            ).fetchall()
            assert [r[0] for r in found] == expected, outcome
            assert flt.to_query() == {"queue": f"1:{outcome}"}
    with pytest.raises(FilterError):
        CallFilter.from_query({"queue": "1:lost; drop"}, TZ)


def test_a_prepared_page_computes_its_staging_once_with_the_same_numbers(
    hand_lake: Settings,
) -> None:
    """A page's queries share one stints and one agent-states table; a second page over
    the same files is served from the result cache; either way, the same numbers."""
    from pipeline.metrics_cache import RESULTS
    from pipeline.queue_metrics import prepare, stints

    queries = (
        lambda c: queue_kpis(c, DAY, TZ, bucket_minutes=15).to_pylist(),
        lambda c: queue_kpis(c, DAY, TZ).to_pylist(),
        lambda c: agent_kpis(c, DAY, TZ, now=NOW).to_pylist(),
        lambda c: agent_pauses(c, DAY, TZ, now=NOW).to_pylist(),
    )
    RESULTS.clear()
    with open_for_viewer(hand_lake, ACME) as vc:
        plain = [f(vc.conn) for f in queries]
        n_stints = stints(vc.conn, DAY, TZ).num_rows
    RESULTS.clear()
    with open_for_viewer(hand_lake, ACME) as vc:
        prepare(vc.conn, DAY, TZ)
        assert [f(vc.conn) for f in queries] == plain
        count = "select count(*) from queue_page_stints"
        assert vc.conn.execute(count).fetchall() == [(n_stints,)] == [(7,)]
        assert vc.conn.execute("select count(*) from queue_page_agent_states").fetchall()
    hits = RESULTS.hits
    with open_for_viewer(hand_lake, ACME) as vc:
        assert [f(vc.conn) for f in queries] == plain
    assert RESULTS.hits == hits + len(queries)
