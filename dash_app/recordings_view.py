"""The Recordings page as data: URL to filter, grid columns and rows, the transcript lines.

Pure (no warehouse, no request): the page's callbacks read recordings through
:mod:`pipeline.recording_query` in the viewer's scope and hand rows here.
URL keys are the ``RecordingFilter`` keys (``from``, ``to``, ``extension``,
``direction``, ``number``, ``queue``, ``has_transcript``, ``words``) plus
``rec``, the recording open below the grid — which is what a call-history
row's recording icon links to — and ``show=missing``: instead of recordings,
the calls the policy said to record that have none (rtpengine was down), each
marked "Missing".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dash import html

from dash_app import paged_grid_filters
from dash_app.layout import format_duration, format_local, party_label

FILTER_KEYS = (
    "from",
    "to",
    "extension",
    "direction",
    "number",
    "queue",
    "has_transcript",
    "words",
    "show",
)
# ``show=missing``: the calls the policy said to record that have no recording
# (rtpengine was down); managers and supervisors only. These keys cannot apply there.
SHOW_MISSING = "missing"
NOT_FOR_MISSING = ("queue", "has_transcript", "words")
# The sentence above the grid, key by key, in this order.
_PHRASES = (
    ("direction", "of {} calls"),
    ("extension", "with extension {}"),
    ("number", "with a number containing {}"),
    ("queue", "through queue {}"),
    ("from", "from {}"),
    ("to", "to {}"),
    ("has_transcript", "{} a transcript"),
    ("words", "whose transcript says {!r}"),
)
_TRANSCRIPT_WORDS = dict.fromkeys(("yes", "true", "1"), "with") | dict.fromkeys(
    ("no", "false", "0"), "without"
)
MISSING_MARK = "Missing"
AUDIO_ROUTE = "/recordings/audio/<recording_id>"
SPEAKER_LABELS = {"caller": "Caller", "callee": "Callee"}


def audio_url(recording_id: str, *, download: bool = False) -> str:
    return f"/recordings/audio/{recording_id}" + ("?download=1" if download else "")


def page_url(recording_id: str) -> str:
    """The Recordings page opened on one recording (the call-history icon's link)."""
    return f"/recordings?{urlencode({'rec': recording_id})}"


def clean_query(query: Mapping[str, Any]) -> dict[str, str]:
    """The filter keys of a URL query (or of the controls), empty ones left out."""
    return paged_grid_filters.clean_query(query, FILTER_KEYS)


def showing_missing(params: Mapping[str, str]) -> bool:
    """Whether a filter lists the calls whose recording is missing, not recordings."""
    return params.get("show") == SHOW_MISSING


def parse_query(query: Mapping[str, Any], timezone: str) -> tuple[dict[str, str], Any, str]:
    """(clean parameters, ``RecordingFilter``, error); a bad URL filters nothing and says why."""
    from pipeline.recording_query import RecordingFilter, RecordingQueryError

    params = clean_query(query)
    try:
        if params.get("show", SHOW_MISSING) != SHOW_MISSING:
            raise RecordingQueryError(f"'show' can only be {SHOW_MISSING!r}")
        if showing_missing(params) and any(k in params for k in NOT_FOR_MISSING):
            raise RecordingQueryError("a missing recording has no transcript, words or queue")
        return params, RecordingFilter.from_query(params, timezone), ""
    except RecordingQueryError as exc:
        return {}, RecordingFilter(timezone=timezone), str(exc)


def describe(params: Mapping[str, str]) -> str:
    """The filter as a sentence, for the line above the grid."""
    flag = params.get("has_transcript", "").lower()
    shown = {**params, "has_transcript": _TRANSCRIPT_WORDS.get(flag, "")}
    head = "Calls whose recording is missing" if showing_missing(params) else "Recordings"
    return paged_grid_filters.sentence(head, shown, _PHRASES)


def _call_columns(timezone: str, caller: str, callee: str) -> list[dict[str, Any]]:
    """When, which way and who: the first columns of both lists."""
    return [
        paged_grid_filters.time_column(timezone, width=170),
        {"field": "direction", "headerName": "Direction", "width": 105},
        {"field": "caller", "headerName": caller, "flex": 1, "minWidth": 150},
        {"field": "callee", "headerName": callee, "flex": 1, "minWidth": 150},
    ]


def _call_cells(row: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """The cells of :func:`_call_columns`: local time, names with numbers."""
    return {
        "call_id": row.get("call_id"),
        "started_at": format_local(row.get("started_at"), timezone),
        "direction": row.get("direction") or "",
        "caller": party_label(row.get("caller_name"), row.get("caller")),
        "callee": party_label(row.get("callee_name"), row.get("callee")),
    }


def grid_columns(timezone: str) -> list[dict[str, Any]]:
    return [
        *_call_columns(timezone, "Caller (left)", "Callee (right)"),
        {"field": "duration", "headerName": "Length", "width": 90, "type": "rightAligned"},
        {
            "field": "talk",
            "headerName": "Talk caller / callee",
            "headerTooltip": "Seconds of speech on each side",
            "width": 160,
        },
        {"field": "transcript", "headerName": "Transcript", "width": 110},
        {"field": "recording_id", "hide": True},
        {"field": "call_id", "hide": True},
    ]


def grid_row(row: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """One recording as the grid shows it: local time, names with numbers, m:ss."""
    caller_talk = row.get("caller_speech_seconds")
    callee_talk = row.get("callee_speech_seconds")
    talk = (
        f"{float(caller_talk):.0f} s / {float(callee_talk):.0f} s"
        if caller_talk is not None and callee_talk is not None
        else ""
    )
    return {
        "recording_id": row.get("recording_id"),
        **_call_cells(row, timezone),
        "duration": format_duration(row.get("duration")),
        "talk": talk,
        "transcript": "yes" if row.get("has_transcript") else "",
    }


def missing_columns(timezone: str) -> list[dict[str, Any]]:
    """The columns of the calls whose recording is missing; the last one marks them."""
    return [
        *_call_columns(timezone, "Caller", "Callee"),
        {"field": "answered_by", "headerName": "Answered by", "width": 120},
        {"field": "talk", "headerName": "Talk", "width": 90, "type": "rightAligned"},
        {
            "field": "recording",
            "headerName": "Recording",
            "headerTooltip": "The policy said to record this call, but the media relay"
            " (rtpengine) was unavailable: the call went on, unrecorded",
            "width": 120,
            "cellClass": "sb-rec-missing-mark",
            "cellStyle": {"color": "var(--mantine-color-red-7)", "fontWeight": 600},
        },
        {"field": "call_id", "hide": True},
    ]


def missing_row(row: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """One call whose recording is missing, as the grid shows it, with its mark."""
    return {
        **_call_cells(row, timezone),
        "answered_by": row.get("answered_by") or "",
        "talk": format_duration(row.get("talk_seconds")),
        "recording": MISSING_MARK,
    }


def clock(seconds: float) -> str:
    """``m:ss`` of a point in the recording."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def transcript_lines(lines: Any) -> Any:
    """The transcript, one line per segment with its speaker; a click seeks the player.

    ``data-start`` is read by ``assets/recordings.js`` (one delegated listener),
    so seeking needs no round trip to the server.
    """
    if not lines:
        return html.P("No transcript yet.", className="sb-rec-none", id="recordings-no-transcript")
    return html.Ol(
        [
            html.Li(
                [
                    html.Span(clock(line.start), className="sb-rec-line-time"),
                    html.Span(
                        SPEAKER_LABELS.get(line.speaker, line.speaker),
                        className="sb-rec-line-speaker",
                    ),
                    html.Span(line.text, className="sb-rec-line-text"),
                ],
                className=f"sb-rec-line sb-rec-line--{line.speaker}",
                title=f"Play from {clock(line.start)}",
                role="button",
                tabIndex="0",
                **_data_start(line.start),
            )
            for line in lines
        ],
        className="sb-rec-lines",
        id="recordings-lines",
    )


def _data_start(seconds: float) -> dict[str, Any]:
    return {"data-start": f"{seconds:.2f}"}


def call_label(facts: Mapping[str, Any]) -> str:
    """What the audit trail calls a recording: ``call 101 to 102``."""
    return f"call {facts.get('caller') or '?'} to {facts.get('callee') or '?'}"
