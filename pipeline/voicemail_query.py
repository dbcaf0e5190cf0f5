"""Reading voicemail: a mailbox's messages with their state, and transcript search.

The SQL lives in ``pipeline/sql/voicemail/*.sql`` and runs on a connection from
:func:`pipeline.warehouse.connect`, which is already bound to one tenant (and,
for a plain user, to one mailbox). Message state (folder, read, trash) lives in
the provisioning store, which DuckDB cannot read: the caller hands it over as
``VoicemailMessage`` records and they are joined as an in-memory Arrow table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.fetch import fetch_rows
from pipeline.queries import sql_file
from switchboard.settings import Settings
from switchboard.voicemail import VoicemailMessage

MAX_SEARCH_ROWS = 200


class SearchError(ValueError):
    """A search the user has to fix; the message is for the user."""


def search_words(text: str | None) -> list[str]:
    """The lower-case words of a search box; every one must appear in the transcript."""
    return [w for w in (text or "").lower().split() if w][:10]


def open_mailbox(
    settings: Settings,
    tenant: str,
    mailbox: str | None,
    messages: Sequence[VoicemailMessage],
    contact_names: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A warehouse connection for one mailbox (``None``: the whole tenant, for managers).

    The originals of copies forwarded into the mailbox are let through the scope;
    ``contact_names`` name the callers (:mod:`pipeline.contacts`).
    """
    from pipeline.warehouse import connect

    forwarded = sorted({m.source_id for m in messages if m.source_id != m.message_id})
    return connect(
        settings,
        tenant,
        extension=mailbox,
        forwarded_message_ids=forwarded,
        contact_names=contact_names,
    )


def _state_table(messages: Sequence[VoicemailMessage]) -> pa.Table:
    return pa.table(
        {
            "position": pa.array(range(len(messages)), pa.int64()),
            "message_id": pa.array([m.message_id for m in messages], pa.string()),
            "source_id": pa.array([m.source_id for m in messages], pa.string()),
            "folder": pa.array([m.folder for m in messages], pa.string()),
            "is_read": pa.array([m.is_read for m in messages], pa.bool_()),
            "forwarded_by": pa.array([m.forwarded_by for m in messages], pa.string()),
            "deleted_at": pa.array([m.deleted_at for m in messages], pa.float64()),
            "started_at": pa.array([m.started_at for m in messages], pa.float64()),
            "duration": pa.array([m.duration for m in messages], pa.float64()),
        }
    )


def mailbox_messages(
    conn: duckdb.DuckDBPyConnection,
    messages: Sequence[VoicemailMessage],
    search: str | None = None,
) -> list[dict[str, Any]]:
    """``messages`` (in their order) with caller, times and transcript from the lake."""
    if not messages:
        return []
    conn.register("message_state", _state_table(messages))
    try:
        return fetch_rows(
            conn, sql_file("voicemail/mailbox_messages"), {"words": search_words(search)}
        )
    finally:
        conn.unregister("message_state")


def search_transcripts(
    conn: duckdb.DuckDBPyConnection,
    text: str,
    *,
    mailbox: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Messages whose transcript holds every word of ``text``, newest first."""
    words = search_words(text)
    if not words:
        raise SearchError("type a word to search for")
    if not 1 <= limit <= MAX_SEARCH_ROWS:
        raise SearchError(f"ask for 1 to {MAX_SEARCH_ROWS} results")
    return fetch_rows(
        conn,
        sql_file("voicemail/search_transcripts"),
        {"words": words, "mailbox": mailbox, "limit": limit},
    )


def message_facts(
    conn: duckdb.DuckDBPyConnection, message_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Lake facts and transcript text of the given (original) messages, by id."""
    if not message_ids:
        return {}
    rows = fetch_rows(conn, sql_file("voicemail/message_facts"), {"ids": list(message_ids)})
    return {r["message_id"]: r for r in rows}
