"""What the metrics are, apart from how they are computed: names, labels, units, versions.

The one owner of these facts. :mod:`pipeline.metrics` runs the SQL and
re-exports them; the CLI builds its parser and formats its tables from here
without loading DuckDB; the portal and the notebooks read the same
definitions. ``docs/metrics.md`` defines every metric listed here (a test
keeps the two in sync) and names :data:`METRICS_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

METRICS_VERSION = "1.2"  # 1.1: bridged legs folded into their call; the menu funnel
# 1.2: the queue metrics family (pipeline.queue_metrics); the call families are unchanged.
QUEUE_METRICS_VERSION = METRICS_VERSION

GroupBy = Literal["hour", "day", "week", "extension", "did", "rule"]
Interval = Literal["hour", "day", "week"]
GROUP_BYS: tuple[str, ...] = get_args(GroupBy)
INTERVALS: tuple[str, ...] = get_args(Interval)

# The columns of a grouped KPI table (CLI ``kpis --group-by``), in order; each is a metric below.
KPI_COLUMNS: tuple[str, ...] = (
    "calls",
    "offered",
    "answered",
    "missed",
    "abandoned_in_ring",
    "answer_rate",
    "avg_ring_answered",
    "max_ring_answered",
    "avg_talk",
    "total_talk",
    "inbound",
    "outbound",
    "internal",
    "after_hours_calls",
    "after_hours_missed",
)


@dataclass(frozen=True)
class MetricDefinition:
    """One metric as docs/metrics.md defines it (kept in sync by a test)."""

    name: str
    label: str
    family: str
    unit: str
    version: str = METRICS_VERSION


def _d(name: str, label: str, unit: str = "calls", family: str = "kpis") -> MetricDefinition:
    return MetricDefinition(name, label, family, unit)


DEFINITIONS: tuple[MetricDefinition, ...] = (
    _d("calls", "Calls"),
    _d("offered", "Offered"),
    _d("answered", "Answered"),
    _d("missed", "Missed"),
    _d("abandoned_in_ring", "Abandoned in ring"),
    _d("abandoned_short", "Short abandons"),
    _d("to_voicemail", "Sent to voicemail"),
    _d("blocked", "Blocked"),
    _d("answer_rate", "Answer rate", "ratio"),
    _d("avg_ring_answered", "Avg ring before answer", "seconds"),
    _d("max_ring_answered", "Max ring before answer", "seconds"),
    _d("avg_talk", "Avg talk time", "seconds"),
    _d("total_talk", "Total talk time", "seconds"),
    _d("inbound", "Inbound"),
    _d("outbound", "Outbound"),
    _d("internal", "Internal"),
    _d("disposition_answered", "Result: answered"),
    _d("disposition_missed", "Result: missed"),
    _d("disposition_busy", "Result: busy"),
    _d("disposition_cancelled", "Result: cancelled"),
    _d("disposition_failed", "Result: failed"),
    _d("disposition_blocked", "Result: blocked"),
    _d("disposition_voicemail", "Result: voicemail"),
    _d("open_hours_calls", "Open-hours calls"),
    _d("open_hours_missed", "Open-hours missed"),
    _d("after_hours_calls", "After-hours calls"),
    _d("after_hours_missed", "After-hours missed"),
    _d("voicemails_left", "Voicemails left", "messages", "voicemail"),
    _d("peak_concurrent", "Peak active calls", "calls", "concurrency"),
    _d("external_callers", "External callers", "numbers", "repeat"),
    _d("repeat_callers", "Repeat callers", "numbers", "repeat"),
    _d("repeat_caller_rate", "Repeat-caller rate", "ratio", "repeat"),
    _d("answered_external", "Answered external calls", "calls", "repeat"),
    _d("answered_then_repeated", "Answered, then called again", "calls", "repeat"),
    _d("fcr_proxy", "First-contact resolution (proxy)", "ratio", "repeat"),
    _d("callbacks_pending", "Callbacks pending", "numbers", "callback"),
)
# The menu funnel (pipeline.metric_menus): a table per auto attendant, not a figure of the
# summary, so kept apart from DEFINITIONS (the tiles and `switchboard kpis` list those).
MENU_FUNNEL_DEFINITIONS: tuple[MetricDefinition, ...] = (
    _d("menu_entered", "Entered the menu", "callers", "menus"),
    _d("menu_key", "Chose a key", "callers", "menus"),
    _d("menu_timeout", "Timed out", "callers", "menus"),
    _d("menu_invalid", "Pressed an invalid key", "callers", "menus"),
    _d("menu_hangup", "Hung up in the menu", "callers", "menus"),
    _d("menu_share", "Share of the menu's callers", "ratio", "menus"),
)
DEFINITION_BY_NAME: dict[str, MetricDefinition] = {
    d.name: d for d in (*DEFINITIONS, *MENU_FUNNEL_DEFINITIONS)
}
# The queue family (pipeline.queue_metrics, docs/metrics.md "Queue metrics"): per queue and
# interval, then per agent. Kept apart: several names (offered, answered) mean a queue stint
# here, a call in DEFINITIONS.
QUEUE_DEFINITIONS: tuple[MetricDefinition, ...] = (
    _d("offered", "Offered", "calls", "queues"),
    _d("answered", "Answered", "calls", "queues"),
    _d("abandoned", "Abandoned", "calls", "queues"),
    _d("short_abandoned", "Short abandons", "calls", "queues"),
    _d("overflowed", "Overflowed", "calls", "queues"),
    _d("exit_key", "Left by the exit key", "calls", "queues"),
    _d("lost", "Lost in a restart", "calls", "queues"),
    _d("waiting", "Still waiting", "calls", "queues"),
    _d("answered_within_t", "Answered within T", "calls", "queues"),
    _d("service_level", "Service level", "ratio", "queues"),
    _d("abandon_rate", "Abandon rate", "ratio", "queues"),
    _d("asa", "ASA", "seconds", "queues"),
    _d("avg_wait", "Avg wait", "seconds", "queues"),
    _d("longest_wait", "Longest wait", "seconds", "queues"),
    _d("avg_talk", "Avg talk", "seconds", "queues"),
    _d("avg_wrapup", "Avg wrap-up", "seconds", "queues"),
    _d("aht", "AHT (talk + wrap-up)", "seconds", "queues"),
    _d("calls", "Calls", "calls", "queue agents"),
    _d("talk_seconds", "Talk", "seconds", "queue agents"),
    _d("wrapup_seconds", "Wrap-up", "seconds", "queue agents"),
    _d("logged_in_seconds", "Logged in", "seconds", "queue agents"),
    _d("paused_seconds", "Paused", "seconds", "queue agents"),
    _d("occupancy", "Occupancy", "ratio", "queue agents"),
)
QUEUE_DEFINITION_BY_NAME: dict[str, MetricDefinition] = {d.name: d for d in QUEUE_DEFINITIONS}


def format_unit(unit: str, value: Any) -> str:
    """A value for people by its unit: rates in %, durations in m:ss, counts with separators."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{float(value) * 100:.1f}%"
    if unit == "seconds":
        total = round(float(value))
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{int(value):,}"


def format_queue_value(name: str, value: Any) -> str:
    """A queue metric for people (same formats as :func:`format_value`)."""
    definition = QUEUE_DEFINITION_BY_NAME.get(name)
    return format_unit(definition.unit if definition else "calls", value)


def format_value(name: str, value: Any) -> str:
    """A metric value for people (:func:`format_unit` of its unit; unknown names are counts)."""
    definition = DEFINITION_BY_NAME.get(name)
    return format_unit(definition.unit if definition else "calls", value)
