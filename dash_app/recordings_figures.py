"""Analytics: conversation figures per agent from the recorded calls, drilling down to them.

Per agent (who answered the recorded call, or whom its bridged queue leg
reached): recorded calls, mean talk share, longest silence and overtalk —
:func:`pipeline.recording_query.agent_figures` over the page's period, on
the page's own warehouse connection (so in the viewer's scope). Each row
links to the Recordings page filtered on that agent and period: the calls
behind the figures. No recording in the period: no section.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash_ag_grid as dag
import dash_mantine_components as dmc

from dash_app.layout import format_duration, section

COLUMNS = (
    ("agent", "Agent"),
    ("recorded_calls", "Recorded calls"),
    ("recorded", "Recorded time"),
    ("talk_share", "Agent talk share"),
    ("longest_silence", "Longest silence (mean)"),
    ("overtalk", "Overtalk (mean)"),
    ("recordings_link", "Recordings"),
)


def load_conversation_figures(conn: Any, q: Any) -> list[dict[str, Any]]:
    """The per-agent figures of the page's period (``q``: the page's ``AnalyticsQuery``)."""
    from pipeline.recording_query import RecordingFilter, agent_figures

    flt = RecordingFilter(date_from=q.period.start, date_to=q.period.end, timezone=q.tz)
    return agent_figures(conn, flt)


def figure_row(row: dict[str, Any], q: Any) -> dict[str, Any]:
    """One agent's figures as the grid shows them, with the link to their recordings."""
    query = {"extension": row["agent"], "from": str(q.period.start), "to": str(q.period.end)}
    share = row.get("talk_share")
    return {
        "agent": row["agent"],
        "recorded_calls": row["recorded_calls"],
        "recorded": format_duration(row.get("recorded_seconds")),
        "talk_share": "" if share is None else f"{100 * float(share):.0f} %",
        "longest_silence": f"{float(row.get('longest_silence_seconds') or 0):.1f} s",
        "overtalk": f"{float(row.get('overtalk_seconds') or 0):.1f} s",
        "recordings_link": f"[{row['recorded_calls']} recordings](/recordings?{urlencode(query)})",
    }


def conversation_section(rows: list[dict[str, Any]], q: Any) -> Any:
    """The section, or None when nothing was recorded in the period."""
    if not rows:
        return None
    grid = dag.AgGrid(
        id="analytics-grid-conversations",
        rowData=[figure_row(r, q) for r in rows],
        columnDefs=[
            {"field": f, "headerName": h, **({"cellRenderer": "markdown"} if "link" in f else {})}
            for f, h in COLUMNS
        ],
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 90},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"domLayout": "autoHeight"},
    )
    note = dmc.Text(
        "From the two channels of each recorded call: the agent's share of the speech,"
        " the longest silence and the time both spoke at once.",
        size="sm",
        c="dimmed",
        mb="xs",
    )
    return section(
        "Conversations (recorded calls)", [note, grid], id_prefix="analytics-conversations"
    )
