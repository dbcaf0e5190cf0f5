"""Call History as data: the URL to a ``CallFilter``, the grid's columns, rows and sort.

Pure: the page's callbacks read the warehouse and hand rows here. The URL keys
are the ``pipeline.filters.CallFilter`` keys plus the Analytics drill-down
keys, so a link from a chart opens the grid on exactly the calls it counted;
only columns in :data:`SORTABLE` ever reach the warehouse's ORDER BY.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash_app.layout import VIEW_LABELS, call_view, format_duration, format_local, party_label
from dash_app.paged_grid_filters import clean_query, time_column
from pipeline.schema import DISPOSITIONS
from switchboard.store import User

# Grid column id → lake column it sorts by; anything else in a sort model is ignored.
SORTABLE: frozenset[str] = frozenset(
    {
        "started_at",
        "direction",
        "disposition",
        "caller",
        "callee",
        "answered_by",
        "path",
        "ring_seconds",
        "talk_seconds",
        "sip_code",
    }
)
# The analytics drill-down keys come after the controls' own: a link from the
# Analytics page opens this grid on exactly the calls a metric counted.
_QUERY_KEYS = (
    "from",
    "to",
    "direction",
    "disposition",
    "extension",
    "q",
    "caller",
    "callee",
    "handled_by",
    "rule",
    "frame",
    "hour",
    "weekday",
    "menu",
)


def parse_query(query: Mapping[str, Any], timezone: str) -> tuple[Any, str]:
    """(CallFilter, error message) for URL parameters; a bad URL gives an empty filter."""
    from pipeline.filters import CallFilter, FilterError

    params = clean_query(query, _QUERY_KEYS, strip=False)
    try:
        return CallFilter.from_query(params, timezone), ""
    except FilterError as exc:
        return CallFilter.from_query({}, timezone), str(exc)


def grid_columns(timezone: str) -> list[dict[str, Any]]:
    """The grid's columns; the time column says which zone its times are in."""
    view_rules = {
        f"sb-view sb-view--{view}": f"params.value == '{label}'"
        for view, label in VIEW_LABELS.items()
    }
    disposition_rules = {
        f"sb-cell-disposition sb-disposition--{d}": f"params.value == '{d}'" for d in DISPOSITIONS
    }
    return [
        {
            "field": "view",
            "headerName": "",
            "width": 125,
            "sortable": False,
            "cellClassRules": view_rules,
        },
        time_column(timezone, width=165),
        {"field": "direction", "headerName": "Direction", "width": 100},
        {
            "field": "disposition",
            "headerName": "Result",
            "width": 105,
            "cellClassRules": disposition_rules,
        },
        {"field": "caller", "headerName": "From", "flex": 1, "minWidth": 130},
        {"field": "callee", "headerName": "To", "flex": 1, "minWidth": 130},
        {"field": "answered_by", "headerName": "Answered by", "width": 125},
        {
            "field": "path",
            "headerName": "Path",
            "headerTooltip": "The call's way through menus and transfers",
            "flex": 2,
            "minWidth": 220,
            "tooltipField": "path",
        },
        {"field": "ring_seconds", "headerName": "Ring", "width": 70, "type": "rightAligned"},
        {"field": "talk_seconds", "headerName": "Talk", "width": 75, "type": "rightAligned"},
        {"field": "sip_code", "headerName": "SIP", "width": 65, "type": "rightAligned"},
        {
            "field": "recording",
            "headerName": "",
            "headerTooltip": "Recorded: opens the recording",
            "width": 50,
            "sortable": False,
            "cellRenderer": "RecordingLink",  # assets/recordings.js
        },
        {"field": "call_id", "headerName": "Call ID", "hide": True},
    ]


def grid_row(row: Mapping[str, Any], viewer: User, recording: str | None = None) -> dict[str, Any]:
    """One lake row as the grid shows it: local time, names with numbers, m:ss.

    ``recording``: the id of the call's recording, if the viewer may hear one.
    """
    view = call_view(row, viewer.extension)
    ring = row.get("ring_seconds")
    return {
        "call_id": row.get("call_id"),
        "view": VIEW_LABELS[view],
        "started_at": format_local(row.get("started_at"), viewer.timezone),
        "direction": row.get("direction"),
        "disposition": row.get("disposition"),
        "caller": party_label(row.get("caller_name"), row.get("caller")),
        "callee": party_label(row.get("callee_name"), row.get("callee")),
        "answered_by": row.get("answered_by") or "",
        # Main number → Sales menu → 1 → 102 (answered); empty for a call without menus
        "path": row.get("path") or "",
        "ring_seconds": "" if ring is None else f"{float(ring):.0f} s",
        "talk_seconds": format_duration(row.get("talk_seconds")),
        "sip_code": row.get("sip_code"),
        "recording": recording or "",
    }


def sort_from_model(sort_model: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    """The grid's sort model as warehouse sort keys, newest first by default."""
    sort = [
        (item["colId"], "desc" if item.get("sort") == "desc" else "asc")
        for item in sort_model or []
        if item.get("colId") in SORTABLE
    ]
    return sort or [("started_at", "desc")]
