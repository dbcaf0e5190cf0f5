"""The audit trail into the lake: one ``access_log`` file per tenant and closed day, once.

The trail is written to the provisioning DB as accesses happen
(:mod:`switchboard.store.access_log`: the Audit page reads it there, live).
For notebooks and exports it also becomes the lake table ``access_log``: the
pipeline worker copies each tenant's rows of a UTC day into
``access_log/tenant=<t>/date=<d>/day.parquet`` once that day is closed.

Closed: the day ended more than :data:`SETTLE_SECONDS` ago. A row's ``at``
is the time it was inserted, so no row of a closed day is added later; only
its count and ``last_at`` move while the same listening goes on
(``REPEAT_WINDOW_SECONDS``), which the settle time outlasts.

Exactly once: a day's file is written whole (temp + rename, its commit) and
a day that already has a file is never written again, so a kill -9 anywhere
leaves either no file (the next pass writes it) or the whole one. Days are
looked at from the tenant's oldest row not yet in the lake, at most
:data:`MAX_DAYS_PER_PASS` per pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from pipeline.files import write_parquet_atomic
from pipeline.lake_layout import (
    ACCESS_LOG,
    partition_dir,
    partitions,
    read_partition,
    tenant_folder,
)
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.access_log import REPEAT_WINDOW_SECONDS, AccessEntry, AccessQuery

log = logging.getLogger(__name__)

DAY_FILE = "day.parquet"
SETTLE_SECONDS = REPEAT_WINDOW_SECONDS + 1800.0
MAX_DAYS_PER_PASS = 31
_PAGE = 5000


def _day_start(day: date) -> float:
    return datetime.combine(day, time(), UTC).timestamp()


def _rows(store: ProvisioningStore, tenant: str, day: date) -> Iterator[AccessEntry]:
    """Every row of the tenant's trail that started on ``day`` (UTC), newest first."""
    query = AccessQuery(since=_day_start(day), until=_day_start(day + timedelta(days=1)))
    before: int | None = None
    while True:
        page = store.access_log(tenant, query, limit=_PAGE, before_id=before)
        yield from page
        if len(page) < _PAGE:
            return
        before = page[-1].id


def _instant(value: float, fallback: datetime) -> datetime:
    """``value`` (epoch seconds) as an instant, or ``fallback`` for one no clock made (a
    damaged row's ``last_at`` of 1e20 stopped every later tenant's export)."""
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return fallback


def _table(entries: list[AccessEntry]) -> pa.Table:
    rows = [
        {
            "access_id": e.id,
            "at": (at := datetime.fromtimestamp(e.at, UTC)),
            "last_at": _instant(e.last_at, at),
            "actor": e.actor,
            "actor_name": e.actor_name,
            "actor_role": e.actor_role,
            "object_kind": e.kind,
            "object_id": e.object_id,
            "object_label": e.object_label,
            "action": e.action,
            "client": e.client,
            "requests": e.requests,
        }
        for e in sorted(entries, key=lambda e: (e.at, e.id))
    ]
    return pa.Table.from_pylist(rows, schema=ACCESS_LOG.schema)


def _first_open_day(settings: Settings, store: ProvisioningStore, tenant: str) -> date | None:
    """The first day after the tenant's last exported one that has rows, else None."""
    done = partitions(tenant_folder(settings.lake_dir, ACCESS_LOG.name, tenant))
    after = date.fromisoformat(done[-1].removeprefix("date=")) if done else None
    since = None if after is None else _day_start(after + timedelta(days=1))
    query = AccessQuery(since=since)
    count = store.access_log_count(tenant, query)
    if not count:
        return None
    oldest = store.access_log(tenant, query, limit=1, offset=count - 1)  # newest first
    return datetime.fromtimestamp(oldest[0].at, UTC).date()


def export_access_log(
    settings: Settings, store: ProvisioningStore, now: datetime | None = None
) -> int:
    """Write every closed tenant-day of the trail not yet in the lake; rows written."""
    now = now or datetime.now(UTC)
    written = 0
    for tenant in (t.domain for t in store.tenants()):
        try:
            written += _export_tenant(settings, store, tenant, now)
        except Exception:  # one tenant's damaged trail must not stop the others'
            log.exception("exporting the access log of %s failed", tenant)
    return written


def _export_tenant(settings: Settings, store: ProvisioningStore, tenant: str, now: datetime) -> int:
    """Export ``tenant``'s closed days not yet in the lake (at most a month a pass); rows."""
    written = 0
    day = _first_open_day(settings, store, tenant)
    for _ in range(MAX_DAYS_PER_PASS):
        if day is None or _day_start(day + timedelta(days=1)) + SETTLE_SECONDS > now.timestamp():
            break
        folder = partition_dir(settings.lake_dir, ACCESS_LOG.name, tenant, day)
        entries = list(_rows(store, tenant, day))
        if entries and not read_partition(folder).live:
            write_parquet_atomic(folder / DAY_FILE, _table(entries))
            written += len(entries)
        day += timedelta(days=1)
    return written
