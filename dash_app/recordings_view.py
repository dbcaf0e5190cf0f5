"""The Recordings page as data: URL to filter, grid columns and rows, the transcript lines.

Pure (no warehouse, no request): the page's callbacks read recordings through
:mod:`pipeline.recording_query` in the viewer's scope and hand rows here.
URL keys are the ``RecordingFilter`` keys (``from``, ``to``, ``extension``,
``direction``, ``number``, ``queue``, ``has_transcript``, ``words``) plus
``rec``, the recording open below the grid — which is what a call-history
row's recording icon links to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dash import html

from dash_app.layout import format_duration, format_local, party_label

FILTER_KEYS = ("from", "to", "extension", "direction", "number", "queue", "has_transcript", "words")
AUDIO_ROUTE = "/recordings/audio/<recording_id>"
BLOCK_SIZE = 100  # rows the grid asks for at a time
SPEAKER_LABELS = {"caller": "Caller", "callee": "Callee"}


def audio_url(recording_id: str, *, download: bool = False) -> str:
    return f"/recordings/audio/{recording_id}" + ("?download=1" if download else "")


def page_url(recording_id: str) -> str:
    """The Recordings page opened on one recording (the call-history icon's link)."""
    return f"/recordings?{urlencode({'rec': recording_id})}"


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


def clean_query(query: Mapping[str, Any]) -> dict[str, str]:
    """The filter keys of a URL query (or of the controls), empty ones left out."""
    return {k: _first(query.get(k)) for k in FILTER_KEYS if _first(query.get(k))}


def parse_query(query: Mapping[str, Any], timezone: str) -> tuple[dict[str, str], Any, str]:
    """(clean parameters, ``RecordingFilter``, error); a bad URL filters nothing and says why."""
    from pipeline.recording_query import RecordingFilter, RecordingQueryError

    params = clean_query(query)
    try:
        return params, RecordingFilter.from_query(params, timezone), ""
    except RecordingQueryError as exc:
        return {}, RecordingFilter(timezone=timezone), str(exc)


def describe(params: Mapping[str, str]) -> str:
    """The filter as a sentence, for the line above the grid."""
    parts = ["Recordings"]
    if params.get("direction"):
        parts.append(f"of {params['direction']} calls")
    if params.get("extension"):
        parts.append(f"with extension {params['extension']}")
    if params.get("number"):
        parts.append(f"with a number containing {params['number']}")
    if params.get("queue"):
        parts.append(f"through queue {params['queue']}")
    if params.get("from"):
        parts.append(f"from {params['from']}")
    if params.get("to"):
        parts.append(f"to {params['to']}")
    flag = params.get("has_transcript", "").lower()
    if flag in ("yes", "true", "1"):
        parts.append("with a transcript")
    elif flag in ("no", "false", "0"):
        parts.append("without a transcript")
    if params.get("words"):
        parts.append(f"whose transcript says {params['words']!r}")
    return " ".join(parts)


def grid_columns(timezone: str) -> list[dict[str, Any]]:
    return [
        {
            "field": "started_at",
            "headerName": "Time",
            "headerTooltip": f"Local time ({timezone})",
            "width": 170,
        },
        {"field": "direction", "headerName": "Direction", "width": 105},
        {"field": "caller", "headerName": "Caller (left)", "flex": 1, "minWidth": 150},
        {"field": "callee", "headerName": "Callee (right)", "flex": 1, "minWidth": 150},
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
        "call_id": row.get("call_id"),
        "started_at": format_local(row.get("started_at"), timezone),
        "direction": row.get("direction") or "",
        "caller": party_label(row.get("caller_name"), row.get("caller")),
        "callee": party_label(row.get("callee_name"), row.get("callee")),
        "duration": format_duration(row.get("duration")),
        "talk": talk,
        "transcript": "yes" if row.get("has_transcript") else "",
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
