"""Where the queues write what happened and what is true now (``switchboard.queue_events``).

``QueueLog`` collects queue and agent events per tenant and writes each
tenant's pending events as one spool batch
``spool/queue_events/<tenant>/qe-<hex>.json`` (temp file + fsync + rename):
``flush`` runs every ``FLUSH_SECONDS`` and at shutdown, so a batch holds at
most a second of events and a crash loses at most that second. The live
state ``live/queues/<tenant>.json`` is replaced (temp + rename) by
``write_live`` at every change; readers poll that one small file.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

from switchboard.identifiers import TENANT_RE
from switchboard.queue_events import (
    AgentEvent,
    LiveQueue,
    QueueEvent,
    events_document,
    live_document,
)

FLUSH_SECONDS = 1.0


def _atomic_json(folder: Path, name: str, doc: object, *, durable: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    final = folder / name
    os.replace(tmp, final)
    return final


def live_path(data_dir: Path, tenant: str) -> Path:
    """``live/queues/<tenant>.json`` under the data dir (the wallboard and agent bar read it)."""
    return data_dir / "live" / "queues" / f"{tenant}.json"


class QueueLog:
    """Pending events by tenant, their spool batches and the live state files."""

    def __init__(self, spool_dir: Path, data_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.data_dir = data_dir
        self._queue: dict[str, list[QueueEvent]] = {}
        self._agent: dict[str, list[AgentEvent]] = {}

    def queue_event(self, tenant: str, event: QueueEvent) -> None:
        self._queue.setdefault(tenant, []).append(event)

    def agent_event(self, tenant: str, event: AgentEvent) -> None:
        self._agent.setdefault(tenant, []).append(event)

    def flush(self) -> list[Path]:
        """Write every tenant's pending events as one batch each; the files written."""
        written = []
        for tenant in sorted(set(self._queue) | set(self._agent)):
            queue, agent = self._queue.pop(tenant, []), self._agent.pop(tenant, [])
            if not (queue or agent) or not TENANT_RE.match(tenant):
                continue
            batch_id = f"qe-{uuid.uuid4().hex}"
            doc = events_document(batch_id, tenant, queue, agent)
            folder = self.spool_dir / "queue_events" / tenant
            written.append(_atomic_json(folder, f"{batch_id}.json", doc, durable=True))
        return written

    def write_live(self, tenant: str, at: float, queues: list[LiveQueue]) -> Path | None:
        """Replace the tenant's live state (not history: no fsync)."""
        if not TENANT_RE.match(tenant):
            return None
        path = live_path(self.data_dir, tenant)
        return _atomic_json(
            path.parent, path.name, live_document(tenant, at, queues), durable=False
        )
