"""The Analytics page's Queues section: queue and agent tables, drill-down, staffing what-if.

The tables are rows of :data:`dash_app.analytics_tables.TABLES` (registered
there from :data:`QUEUE_TABLE_SPECS`), so they download as CSV/XLSX/Parquet
through the same route and loader as every other table. Numbers come from
:mod:`pipeline.queue_metrics` (docs/metrics.md "Queue metrics") with each
queue's thresholds from the provisioning store; each queue row drills into
Call History by the ``queue`` key (the callers' Call-IDs). The what-if runs
Erlang C (:mod:`pipeline.erlang`) on the busiest interval's measured arrivals
and AHT, in the browser's round trip only: no lake query.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import dash_mantine_components as dmc
import duckdb
from dash import Input, Output, State, callback, dcc, html

from dash_app.auth import provisioning, signed_in_user
from dash_app.layout import section

if TYPE_CHECKING:
    from pipeline.metrics import Period


class AnalyticsQuery(Protocol):
    """What this section reads of ``dash_app.analytics_tables.AnalyticsQuery`` (which
    registers the section's tables, so it cannot be imported from here)."""

    @property
    def period(self) -> Period: ...
    @property
    def tz(self) -> str: ...

    def drill(self, **keys: Any) -> str: ...


# The interval of the per-interval table and of the what-if (docs/metrics.md: 15/30/60).
INTERVAL_MINUTES = 30
QUEUE_COLUMNS = (
    "queue", "queue_id", "offered", "answered", "abandoned", "short_abandoned", "overflowed",
    "exit_key", "lost", "service_level", "service_level_seconds", "asa", "avg_wait",
    "longest_wait", "aht", "abandon_rate",
)  # fmt: skip
INTERVAL_COLUMNS = (
    "queue", "interval", "offered", "answered", "abandoned", "service_level", "asa", "aht",
)  # fmt: skip
AGENT_COLUMNS = (
    "agent", "calls", "talk_seconds", "wrapup_seconds", "logged_in_seconds", "paused_seconds",
    "occupancy",
)  # fmt: skip
PAUSE_COLUMNS = ("agent", "reason", "paused_seconds")


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _context(
    conn: duckdb.DuckDBPyConnection, q: AnalyticsQuery
) -> tuple[dict[int, Any], dict[int, str]]:
    """The tenant's queue thresholds and names (the store's); the period's events read once."""
    from pipeline.queue_metrics import prepare, queue_names, queue_thresholds
    from pipeline.warehouse import scope_of

    prepare(conn, q.period, q.tz)  # the four tables read the lake once
    scope = scope_of(conn)
    if scope is None:
        return {}, {}
    with provisioning() as store:
        return queue_thresholds(store, scope.tenant), queue_names(store, scope.tenant)


def _pick(row: Mapping[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """The table's columns of one metric row, floats rounded for display and download."""
    return {c: _round(row.get(c)) for c in columns if c in row}


def _named_queue_rows(
    conn: duckdb.DuckDBPyConnection, q: AnalyticsQuery, limit: int | None, bucket_minutes: int = 0
) -> list[tuple[dict[str, Any], str]]:
    """Each queue's KPI row (per interval when bucketed) with the queue's name from the store."""
    from pipeline.queue_metrics import queue_kpis

    thresholds, names = _context(conn, q)
    rows = queue_kpis(
        conn, q.period, q.tz, bucket_minutes=bucket_minutes, thresholds=thresholds
    ).to_pylist()
    return [(r, names.get(r["queue_id"], f"queue {r['queue_id']}")) for r in rows[: limit or None]]


def _queues(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    out = []
    for r, name in _named_queue_rows(conn, q, limit):
        link = q.drill(queue=f"{r['queue_id']}:offered")
        out.append(
            {
                **_pick(r, QUEUE_COLUMNS),
                "queue": name,
                "calls_link": f"[{r['offered']} calls]({link})",
            }
        )
    return out


def _intervals(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            **_pick(r, INTERVAL_COLUMNS),
            "queue": name,
            "queue_id": r["queue_id"],
            "interval": r["interval_start"].strftime("%Y-%m-%d %H:%M"),
            "calls_link": "",
        }
        for r, name in _named_queue_rows(conn, q, limit, bucket_minutes=INTERVAL_MINUTES)
    ]


def _agents(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    from pipeline.queue_metrics import agent_kpis

    thresholds, _names = _context(conn, q)
    rows = agent_kpis(conn, q.period, q.tz, thresholds=thresholds).to_pylist()
    out = [{**_pick(r, AGENT_COLUMNS), "calls_link": ""} for r in rows[: limit or None]]
    for row in out:
        if row["calls"]:
            link = q.drill(handled_by=row["agent"])
            row["calls_link"] = f"[{row['agent']}'s calls]({link})"
    return out


def _pauses(
    conn: duckdb.DuckDBPyConnection,
    q: AnalyticsQuery,
    marks: Mapping[str, datetime],
    limit: int | None = None,
) -> list[dict[str, Any]]:
    from pipeline.queue_metrics import agent_pauses

    _context(conn, q)
    rows = agent_pauses(conn, q.period, q.tz).to_pylist()
    return [{**_pick(r, PAUSE_COLUMNS), "calls_link": ""} for r in rows[: limit or None]]


# name → (title, loader, columns): analytics_tables.TABLES registers these as Tables.
QUEUE_TABLE_SPECS: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    "queues": ("Queues", _queues, QUEUE_COLUMNS),
    "queue_intervals": (f"Queues per {INTERVAL_MINUTES} minutes", _intervals, INTERVAL_COLUMNS),
    "queue_agents": ("Queue agents", _agents, AGENT_COLUMNS),
    "queue_pauses": ("Agent pauses by reason", _pauses, PAUSE_COLUMNS),
}


def busiest_intervals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per queue, its busiest interval's arrivals, AHT and T: the what-if's inputs."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = str(r["queue_id"])
        if r["offered"] and (key not in best or r["offered"] > best[key]["calls"]):
            best[key] = {
                "queue": r["queue"],
                "interval": r["interval"],
                "calls": r["offered"],
                "aht": r["aht"] or 180.0,
            }
    return best


def staffing_text(
    inputs: Mapping[str, Any] | None, target_level: float | None, agents: int | None, t: int | None
) -> str:
    """The what-if's answer for one queue's busiest interval (pure: the callback's core)."""
    from pipeline.erlang import staffing

    if not inputs:
        return "No queue calls in this period."
    target = (target_level or 80) / 100
    if not 0 < target < 1:
        return "The target service level is a percentage between 0 and 100."
    plan = staffing(
        inputs["calls"], INTERVAL_MINUTES * 60.0, float(inputs["aht"]), float(t or 20), target,
        agents if agents and agents > 0 else None,
    )  # fmt: skip
    text = (
        f"{inputs['queue']}, {inputs['interval']}: {inputs['calls']} calls in"
        f" {INTERVAL_MINUTES} min, AHT {inputs['aht']:.0f} s → {plan.load:.1f} Erlangs."
        f" Agents needed for {target:.0%} within {t or 20} s: {plan.agents_needed}."
    )
    if plan.agents is not None and plan.service_level is not None:
        text += (
            f" With {plan.agents} agents: service level {plan.service_level:.1%},"
            f" ASA {plan.asa:.0f} s, occupancy {plan.occupancy:.0%}."
            if plan.agents > plan.load
            else f" With {plan.agents} agents the queue grows without end."
        )
    return text


def staffing_panel(intervals: list[dict[str, Any]], queues: list[dict[str, Any]]) -> Any:
    """The staffing what-if: queue, target level, agents → Erlang C's answer."""
    inputs = busiest_intervals(intervals)
    for row in queues:
        if str(row["queue_id"]) in inputs:
            inputs[str(row["queue_id"])]["t"] = row.get("service_level_seconds") or 20
    options = [{"value": k, "label": v["queue"]} for k, v in inputs.items()]
    first = options[0]["value"] if options else None
    return section(
        "Staffing what-if (Erlang C, busiest interval)",
        dmc.Stack(
            [
                dcc.Store(id="analytics-staffing-inputs", data=inputs),
                dmc.Group(
                    [
                        dmc.Select(
                            id="analytics-staffing-queue",
                            label="Queue",
                            data=options,
                            value=first,
                            w=200,
                        ),
                        dmc.NumberInput(
                            id="analytics-staffing-target",
                            label="Target SL %",
                            value=80,
                            min=1,
                            max=99,
                            w=120,
                        ),
                        dmc.NumberInput(
                            id="analytics-staffing-agents",
                            label="Agents (what if)",
                            value=None,
                            min=1,
                            max=2000,
                            w=150,
                        ),
                    ],
                    align="flex-end",
                ),
                dmc.Text(id="analytics-staffing-result", size="sm"),
            ]
        ),
        id_prefix="analytics-staffing",
    )


@callback(
    Output("analytics-staffing-result", "children"),
    Input("analytics-staffing-queue", "value"),
    Input("analytics-staffing-target", "value"),
    Input("analytics-staffing-agents", "value"),
    State("analytics-staffing-inputs", "data"),
)
def what_if(queue: str | None, target: Any, agents: Any, inputs: dict[str, Any] | None) -> str:
    """Erlang C for the chosen queue (pure arithmetic on the page's own numbers)."""
    signed_in_user()
    chosen = (inputs or {}).get(queue or "")
    try:
        n = int(agents) if agents not in (None, "") else None
        level = float(target) if target not in (None, "") else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        return "Numbers only."
    try:
        return staffing_text(chosen, level, n, chosen.get("t") if chosen else None)
    except ValueError as exc:  # an input out of range (pipeline.erlang.staffing says which)
        return f"{str(exc).capitalize()}."


def queue_section(grid: Any, tables: Mapping[str, list[dict[str, Any]]], q: AnalyticsQuery) -> Any:
    """The Queues section (``grid``: the page's table renderer); None without queue calls."""
    if not tables.get("queues"):
        return None
    return html.Div(
        [
            dmc.Title("Queues", order=3, mb="sm"),
            dmc.Stack(
                [
                    grid("queues", tables["queues"], q),
                    staffing_panel(tables["queue_intervals"], tables["queues"]),
                    grid("queue_intervals", tables["queue_intervals"], q),
                    dmc.SimpleGrid(
                        [
                            grid("queue_agents", tables["queue_agents"], q),
                            grid("queue_pauses", tables["queue_pauses"], q),
                        ],
                        cols={"base": 1, "lg": 2},
                    ),
                ],
                gap="md",
            ),
        ],
        id="analytics-queues",
    )
