"""The Audit page as data: its URL to an ``AccessQuery``, a sentence, the grid's columns and rows.

Pure (no store, no request): the page's callbacks and the CSV export read the
trail and hand rows here, so both show the same filter the same way. URL keys:
``from``/``to`` (days in the viewer's zone, both included), ``actor`` (an
extension of the tenant), ``kind`` (recording, voicemail), ``action`` (play,
download, delete) and ``object`` (a recording or message id).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dash_app import paged_grid_filters
from dash_app.layout import format_local
from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.identifiers import EXTENSION_RE
from switchboard.store.access_log import (
    ACCESS_ACTIONS,
    ACCESS_KINDS,
    SYSTEM_ACTOR_PREFIX,
    AccessEntry,
    AccessQuery,
)

QUERY_KEYS = ("from", "to", "actor", "kind", "action", "object")
AUDIT_CSV_PATH = "/download/audit.csv"
BLOCK_SIZE = 100  # rows the grid asks for at a time
_OBJECT_RE = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
KIND_LABELS = {"recording": "Call recording", "voicemail": "Voicemail"}
ACTION_LABELS = {"play": "Played", "download": "Downloaded", "delete": "Deleted"}
# The rest of the sentence above the grid, key by key, in this order.
_PHRASES = (
    ("actor", "by extension {}"),
    ("object", "(only {})"),
    ("from", "from {}"),
    ("to", "to {}"),
)
MANAGERS_ONLY = "only managers can read the audit trail"
# The CSV's columns, in order: what a row of the grid says, times in the viewer's zone.
CSV_COLUMNS = (
    "first_at",
    "last_at",
    "actor",
    "actor_name",
    "actor_role",
    "action",
    "kind",
    "object_id",
    "object",
    "client",
    "requests",
)


class AuditFilterError(ValueError):
    """A URL parameter of the Audit page makes no sense; the message says which."""


def _day(key: str, text: str) -> date:
    try:
        return parse_day(text)
    except ValueError:
        raise AuditFilterError(
            f"{key!r} must be a date (YYYY-MM-DD) between {FIRST_DAY} and {LAST_DAY},"
            f" not {text[:40]!r}"
        ) from None


def clean_query(query: Mapping[str, Any]) -> dict[str, str]:
    """The Audit keys of a URL query (or the controls), empty ones left out."""
    return paged_grid_filters.clean_query(query, QUERY_KEYS)


def access_query(params: Mapping[str, str], tenant: str, timezone: str) -> AccessQuery:
    """The store query for cleaned URL parameters; ``AuditFilterError`` says what is wrong."""
    zone = ZoneInfo(timezone)
    since = until = None
    if params.get("from"):
        since = datetime.combine(_day("from", params["from"]), time(), zone).timestamp()
    if params.get("to"):
        end = _day("to", params["to"]) + timedelta(days=1)
        until = datetime.combine(end, time(), zone).timestamp()
    if since is not None and until is not None and until <= since:
        raise AuditFilterError("'from' must not be after 'to'")
    actor = params.get("actor", "")
    if actor and not EXTENSION_RE.match(actor):
        raise AuditFilterError(f"'actor' must be an extension (2 to 8 digits), not {actor[:40]!r}")
    kind, action, obj = params.get("kind", ""), params.get("action", ""), params.get("object", "")
    if kind and kind not in ACCESS_KINDS:
        raise AuditFilterError(f"'kind' must be one of {', '.join(ACCESS_KINDS)}")
    if action and action not in ACCESS_ACTIONS:
        raise AuditFilterError(f"'action' must be one of {', '.join(ACCESS_ACTIONS)}")
    if obj and not _OBJECT_RE.match(obj):
        raise AuditFilterError(f"'object' is not an id: {obj[:40]!r}")
    return AccessQuery(
        since=since,
        until=until,
        actor=f"{actor}@{tenant}" if actor else "",
        kind=kind,
        action=action,
        object_id=obj,
    )


def parse_query(
    query: Mapping[str, Any], tenant: str, timezone: str
) -> tuple[dict[str, str], AccessQuery, str]:
    """(clean parameters, store query, error); a bad URL reads everything and says why."""
    params = clean_query(query)
    try:
        return params, access_query(params, tenant, timezone), ""
    except AuditFilterError as exc:
        return {}, AccessQuery(), str(exc)


def describe(params: Mapping[str, str]) -> str:
    """The filter as a sentence: "Voicemail played by extension 102 from 2026-12-01"."""
    what = KIND_LABELS.get(params.get("kind", ""), "Recordings and voicemail")
    did = ACTION_LABELS[params["action"]].lower() if params.get("action") else None
    return paged_grid_filters.sentence(
        f"{what} {did or 'played, downloaded or deleted'}", params, _PHRASES
    )


def csv_url(params: Mapping[str, str]) -> str:
    """The export link for an Audit filter (the same URL keys as the page)."""
    return paged_grid_filters.with_query(AUDIT_CSV_PATH, params)


def grid_columns(timezone: str) -> list[dict[str, Any]]:
    return [
        paged_grid_filters.time_column(timezone, width=170, field="first_at", header="When"),
        {"field": "actor_label", "headerName": "Who", "flex": 1, "minWidth": 170},
        {"field": "action_label", "headerName": "Did", "width": 120},
        {"field": "kind_label", "headerName": "What", "width": 140},
        {"field": "object", "headerName": "Object", "flex": 1, "minWidth": 170},
        {"field": "client", "headerName": "From address", "width": 140},
        {
            "field": "requests",
            "headerName": "Requests",
            "headerTooltip": "Requests of one listening (seeking asks again), until the last time",
            "width": 100,
            "type": "rightAligned",
        },
        {"field": "last_at", "headerName": "Last request", "width": 170},
        {"field": "id", "hide": True},
    ]


def actor_label(entry: AccessEntry) -> str:
    if entry.actor.startswith(SYSTEM_ACTOR_PREFIX):
        return f"{entry.actor_name or entry.actor} (automatic)"
    extension = entry.actor.partition("@")[0]
    return f"{entry.actor_name} ({extension})" if entry.actor_name else extension


def grid_row(entry: AccessEntry, timezone: str) -> dict[str, Any]:
    """One trail row as the grid shows it, times in the viewer's zone."""
    return {
        "id": entry.id,
        "first_at": format_local(datetime.fromtimestamp(entry.at).astimezone(), timezone),
        "last_at": format_local(datetime.fromtimestamp(entry.last_at).astimezone(), timezone),
        "actor_label": actor_label(entry),
        "action_label": ACTION_LABELS.get(entry.action, entry.action),
        "kind_label": KIND_LABELS.get(entry.kind, entry.kind),
        "object": f"{entry.object_label} · {entry.object_id}"
        if entry.object_label
        else entry.object_id,
        "client": entry.client,
        "requests": entry.requests,
    }


def csv_row(entry: AccessEntry, timezone: str) -> list[Any]:
    """One trail row for the CSV export, in :data:`CSV_COLUMNS` order."""
    return [
        format_local(datetime.fromtimestamp(entry.at).astimezone(), timezone),
        format_local(datetime.fromtimestamp(entry.last_at).astimezone(), timezone),
        entry.actor,
        entry.actor_name,
        entry.actor_role,
        entry.action,
        entry.kind,
        entry.object_id,
        entry.object_label,
        entry.client,
        entry.requests,
    ]
