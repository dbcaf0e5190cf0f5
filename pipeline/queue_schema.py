"""Parquet schemas of the queue tables (issue 12), declared once beside :mod:`pipeline.schema`.

Both tables come from the media server's queue spool batches
(``switchboard.queue_events``: the vocabulary and the batch format), one row
per event; ``batch_id`` + ``seq`` is unique (``seq``: the event's place in its
batch, queue events first, then agent events). ``date`` (partition) is the
UTC date of the event. The queue metrics (docs/metrics.md, ``pipeline/sql/queue_*.sql``)
read these tables only.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.schema import TIMESTAMP_UTC

QUEUE_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("at", TIMESTAMP_UTC, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("queue_id", pa.int64(), nullable=False),
        pa.field("call_id", pa.string(), nullable=False),  # the caller's Call-ID ("" for restart)
        pa.field("caller", pa.string()),
        pa.field("agent", pa.string()),
        pa.field("position", pa.int32()),
        pa.field("wait", pa.float64()),
        pa.field("talk", pa.float64()),
        pa.field("key", pa.string()),
        pa.field("target", pa.string()),
        pa.field("outcome", pa.string()),
    ]
)

AGENT_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("seq", pa.int32(), nullable=False),
        pa.field("at", TIMESTAMP_UTC, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("agent", pa.string(), nullable=False),
        pa.field("queue_id", pa.int64()),  # null: about every queue (pause, unpause)
        pa.field("reason", pa.string()),
    ]
)
