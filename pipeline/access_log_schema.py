"""Parquet schema of the ``access_log`` lake table: the audit trail, one file per tenant-day.

The rows of ``switchboard.store.access_log`` (who played, downloaded or
deleted which recording or voicemail, when, from where) as
:mod:`pipeline.access_log_export` copies them, once a day is closed.
``at``/``last_at`` are the first and the last request of one access.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schema import TIMESTAMP_UTC

ACCESS_LOG_SCHEMA = pa.schema(
    [
        pa.field("access_id", pa.int64(), nullable=False),  # the store's id: unique, ordered
        pa.field("at", TIMESTAMP_UTC, nullable=False),
        pa.field("last_at", TIMESTAMP_UTC, nullable=False),
        pa.field("actor", pa.string(), nullable=False),  # a login, or system:<what>
        pa.field("actor_name", pa.string()),
        pa.field("actor_role", pa.string()),
        pa.field("object_kind", pa.string(), nullable=False),  # recording / voicemail
        pa.field("object_id", pa.string(), nullable=False),
        pa.field("object_label", pa.string()),
        pa.field("action", pa.string(), nullable=False),  # play / download / delete
        pa.field("client", pa.string()),
        pa.field("requests", pa.int64(), nullable=False),
    ]
)
