"""The menu funnel: hand-checked counts, its drill-down, scope, and pandas on random steps."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline import metrics
from pipeline.filters import CallFilter, FilterError
from pipeline.history import call_page, name_menus
from pipeline.lake_layout import CALL_STEPS, CALLS, live_paths
from pipeline.metric_catalogue import MENU_FUNNEL_DEFINITIONS
from pipeline.metrics_cache import RESULTS
from pipeline.steps_ingest import ingest_steps
from pipeline.viewer import open_for_viewer
from pipeline.warehouse import connect
from switchboard.call_steps import CallStep, steps_document
from switchboard.settings import Settings
from tests.fixtures.analytics import write_lake
from tests.fixtures.bridged import (
    ACME,
    DAY,
    FUNNEL_EXPECTED,
    MENU_NAMES,
    NY,
    bridged_acc_rows,
    write_bridged_steps,
)
from tests.fixtures.core import Directory

TZ = "America/New_York"
BRIDGED_DAY = metrics.Period(date.fromisoformat(DAY), date.fromisoformat(DAY))


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    RESULTS.clear()


@pytest.fixture
def bridged_lake(settings: Settings, directory: Directory) -> Settings:
    write_lake(settings, bridged_acc_rows())
    write_bridged_steps(settings.spool_dir)
    ingest_steps(settings)
    return settings


def funnel_counts(rows: list[dict[str, Any]]) -> dict[tuple[int, str, str | None], int]:
    return {(r["attendant_id"], r["outcome"], r["key"]): r["calls"] for r in rows}


def test_hand_made_steps_give_the_exact_funnel(bridged_lake: Settings) -> None:
    conn = connect(bridged_lake, ACME)
    try:
        name_menus(conn, MENU_NAMES)
        rows = metrics.menu_funnel(conn, BRIDGED_DAY, tz=TZ)
        assert funnel_counts(rows) == FUNNEL_EXPECTED
        sales = [r for r in rows if r["attendant_id"] == 1]
        assert [(r["outcome"], r["key"]) for r in sales] == [
            ("entered", None),
            ("key", "1"),
            ("key", "2"),
            ("timeout", None),
            ("invalid", None),
            ("hangup", None),
        ]
        assert {r["attendant"] for r in sales} == {"Sales menu"}
        assert [r["share"] for r in sales] == [1.0, 0.25, 0.25, 0.0, 0.25, 0.25]
        # drill-down: each row's `menu` key selects exactly the calls it counted
        for r in rows:
            flt = CallFilter.from_query({"menu": r["menu"]}, TZ)
            _, total = call_page(conn, flt, offset=0, limit=100)
            assert total == r["calls"], r
        hung_up = CallFilter.from_query({"menu": "1:hangup"}, TZ)
        assert [c["call_id"] for c in call_page(conn, hung_up, offset=0, limit=10)[0]] == ["b2"]
        assert hung_up.describe() == "All calls that hung up in menu 1"
        # another day: nobody
        assert metrics.menu_funnel(conn, metrics.Period(date(2025, 6, 4), date(2025, 6, 4))) == []
    finally:
        conn.close()


@pytest.mark.parametrize("bad", ["1", "x:entered", "1:key:1;drop", "1:pressed", "1:hangup:1"])
def test_a_bad_menu_drill_down_is_refused(bad: str) -> None:
    with pytest.raises(FilterError, match="menu must be"):
        CallFilter.from_query({"menu": bad}, TZ)


def test_a_plain_user_s_funnel_counts_only_their_calls(
    bridged_lake: Settings, directory: Directory
) -> None:
    with open_for_viewer(bridged_lake, directory.users[f"102@{ACME}"]) as mine:
        rows = metrics.menu_funnel(mine.conn, BRIDGED_DAY, tz=TZ)
    # 102 sees b1 (answered it) and b4 (its leg rang 102): both in Sales
    assert funnel_counts(rows) == {
        (1, "entered", None): 2,
        (1, "key", "1"): 1,
        (1, "timeout", None): 0,
        (1, "invalid", None): 1,
        (1, "hangup", None): 0,
    }


def test_a_new_batch_changes_the_cached_funnel(bridged_lake: Settings) -> None:
    conn = connect(bridged_lake, ACME)
    first = metrics.menu_funnel(conn, BRIDGED_DAY, tz=TZ)
    conn.close()
    # a late batch for b5: the caller also hung up (another batch of the same call)
    at = datetime.fromisoformat(f"{DAY}T09:40:20").replace(tzinfo=NY).timestamp()
    folder = bridged_lake.spool_dir / "steps" / ACME
    doc = steps_document("st-late", ACME, "b5", [CallStep(at, "menu_hangup", 2)])
    (folder / "st-late.json").write_text(json.dumps(doc))
    ingest_steps(bridged_lake)
    conn = connect(bridged_lake, ACME)
    try:
        again = funnel_counts(metrics.menu_funnel(conn, BRIDGED_DAY, tz=TZ))
    finally:
        conn.close()
    assert funnel_counts(first)[(2, "hangup", None)] == 0
    assert again[(2, "hangup", None)] == 1


def test_every_funnel_metric_is_defined_in_docs() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    assert [d.name for d in MENU_FUNNEL_DEFINITIONS if f"`{d.name}`" not in docs] == []
    assert "## Menu funnel" in docs and f"version {metrics.METRICS_VERSION}" in docs


# -- an independent pandas computation on random steps --------------------------------------


def random_calls_and_steps(
    rng: random.Random, calls: int, first_day: date, days: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accounting rows of inbound calls to menus, and one step batch per call (most calls)."""
    start = datetime.combine(first_day, datetime.min.time(), NY).timestamp()
    rows, batches = [], []
    for i in range(1, calls + 1):
        invite = start + rng.uniform(0, days * 86_400)
        menu = rng.choice([1, 2, 3])
        rows.append(
            {
                "id": i,
                "call_id": f"r{i}",
                "tenant": ACME,
                "direction": "inbound",
                "caller": f"+1555{rng.randrange(10**6, 10**7)}",
                "callee": "+15557770000",
                "answered_by": f"aa-{ACME}-{menu}",
                "invite_at": invite,
                "answer_at": invite + 1,
                "end_at": invite + 60,
                "sip_code": 200,
            }
        )
        if rng.random() < 0.1:
            continue  # a call the media server never wrote steps for
        steps, t = [], invite + 1
        for _ in range(rng.randint(1, 2)):  # one menu, sometimes a second
            steps.append(CallStep(t, "menu_entered", menu))
            for _ in range(rng.randint(0, 4)):
                t += 1
                kind = rng.choice(["menu_key", "menu_timeout", "menu_invalid", "menu_hangup"])
                key = rng.choice(["1", "2", "9", "*", "#"]) if kind != "menu_timeout" else None
                steps.append(CallStep(t, kind, menu, None if kind == "menu_hangup" else key))
            steps.append(CallStep(t + 1, "bridge_attempt", menu, target="extension:102"))
            menu = rng.choice([1, 2, 3])
        batches.append(steps_document(f"st-r{i}", ACME, f"r{i}", steps))
    return rows, batches


def pandas_funnel(settings: Settings, period: metrics.Period, tz: str) -> dict[Any, int]:
    """docs/metrics.md "Menu funnel", read straight from the lake's Parquet files."""
    calls = pd.concat(pd.read_parquet(p) for p in live_paths(settings.lake_dir, CALLS.name))
    steps = pd.concat(pd.read_parquet(p) for p in live_paths(settings.lake_dir, CALL_STEPS.name))
    start = pd.Timestamp(datetime.combine(period.start, datetime.min.time()), tz=tz)
    end = pd.Timestamp(datetime.combine(period.end + timedelta(days=1), datetime.min.time()), tz=tz)
    in_scope = calls[(calls.started_at >= start) & (calls.started_at < end)].call_id
    outcome = {
        "menu_entered": "entered",
        "menu_key": "key",
        "menu_timeout": "timeout",
        "menu_invalid": "invalid",
        "menu_hangup": "hangup",
    }
    menu = steps[steps.kind.isin(list(outcome)) & steps.call_id.isin(set(in_scope))].copy()
    menu["outcome"] = menu.kind.map(outcome)
    menu["k"] = menu.key.where(menu.kind == "menu_key", None)
    got: dict[Any, int] = {}
    for (attendant, out, key), group in menu.groupby(
        ["attendant_id", "outcome", "k"], dropna=False
    ):
        got[(int(attendant), out, None if pd.isna(key) else key)] = group.call_id.nunique()
    for attendant in {a for a, o, _ in got if o == "entered"}:
        for out in ("timeout", "invalid", "hangup"):
            got.setdefault((attendant, out, None), 0)
    return got


def test_sql_agrees_with_pandas_on_random_steps(settings: Settings, directory: Directory) -> None:
    rng = random.Random(11)
    first_day = date(2025, 10, 30)  # the period crosses New York's 25-hour day (Nov 2)
    rows, batches = random_calls_and_steps(rng, 600, first_day, 6)
    write_lake(settings, rows)
    folder = settings.spool_dir / "steps" / ACME
    folder.mkdir(parents=True)
    for doc in batches:
        (folder / f"{doc['batch_id']}.json").write_text(json.dumps(doc))
    assert ingest_steps(settings).batches == len(batches)
    conn = connect(settings, ACME)
    try:
        for period in (
            metrics.Period(first_day, first_day + timedelta(days=5)),
            metrics.Period(date(2025, 11, 2), date(2025, 11, 3)),
        ):
            got = funnel_counts(metrics.menu_funnel(conn, period, tz=TZ))
            assert got == pandas_funnel(settings, period, TZ)
            assert sum(v for (_, o, _), v in got.items() if o == "entered") > 0
    finally:
        conn.close()


# -- the Analytics page's table and its drill-down into Call History ------------------------


def test_the_analytics_menu_table_links_each_row_to_exactly_its_calls(
    bridged_lake: Settings, directory: Directory
) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from dash_app.analytics_grids import grid
    from dash_app.analytics_tables import TABLES, AnalyticsQuery
    from dash_app.calls_grid import parse_query

    q, error = AnalyticsQuery.from_url({"from": DAY, "to": DAY}, TZ)
    assert error == ""
    with open_for_viewer(bridged_lake, ACME) as viewer:
        name_menus(viewer.conn, MENU_NAMES)
        rows = TABLES["menus"].load(viewer.conn, q, viewer.handled)
        assert [(r["menu"], r["outcome"], r["key"], r["callers"]) for r in rows][:3] == [
            ("Sales menu", "entered", "", 4),
            ("Sales menu", "key", "1", 1),
            ("Sales menu", "key", "2", 1),
        ]
        assert set(TABLES["menus"].columns) <= set(rows[0])
        for row in rows:
            if not row["callers"]:
                assert row["calls_link"] == ""
                continue
            url = row["calls_link"].split("](", 1)[1].rstrip(")")
            assert urlsplit(url).path == "/calls"
            flt, problem = parse_query(dict(parse_qsl(urlsplit(url).query)), TZ)
            assert problem == ""
            _, total = call_page(viewer.conn, flt, offset=0, limit=100)
            assert total == row["callers"], row
    section = grid("menus", rows, q)
    assert "analytics-grid-menus" in str(section)


def test_the_daily_review_notebook_shows_the_funnel(
    bridged_lake: Settings, directory: Directory, tmp_path: Path
) -> None:
    import nbformat
    import papermill

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    out = tmp_path / "daily.ipynb"
    papermill.execute_notebook(
        str(notebooks / "daily_operations_review.ipynb"),
        str(out),
        parameters={
            "tenant": ACME,
            "date_from": DAY,
            "date_to": DAY,
            "data_dir": str(bridged_lake.data_dir),
        },
        cwd=str(notebooks.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    notebook = nbformat.read(out, as_version=4)
    (cell,) = [c for c in notebook.cells if "menu-funnel" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("MENU_FUNNEL ")]
    shown = json.loads(line.removeprefix("MENU_FUNNEL "))
    assert shown == {f"{a}:{o}:{k or ''}": n for (a, o, k), n in FUNNEL_EXPECTED.items()}
