"""How long each tenant keeps its call recordings (migration 0014).

A manager sets it (portal, CLI); the pipeline worker reads every tenant's
value and removes older recordings (:mod:`pipeline.lake_deletion`). No value:
recordings stay until a manager deletes them.
"""

from __future__ import annotations

import time

from switchboard.store.accounts import AccountsSection
from switchboard.store.connection import ProvisioningError

MAX_KEEP_DAYS = 36500


class RecordingRetentionSection(AccountsSection):
    """Per tenant: keep recordings this many days (or forever)."""

    def set_recording_retention(self, tenant: str, keep_days: int | None) -> None:
        """Keep ``tenant``'s recordings ``keep_days`` days; None keeps them until deleted."""
        if keep_days is not None and (
            isinstance(keep_days, bool)
            or not isinstance(keep_days, int)
            or not 1 <= keep_days <= MAX_KEEP_DAYS
        ):
            raise ProvisioningError(f"keep recordings 1 to {MAX_KEEP_DAYS} days, or forever")
        t = self.tenant(tenant)
        with self._tx() as db:
            if keep_days is None:
                db.execute("delete from recording_retention where tenant_id = ?", (t.id,))
            else:
                db.execute(
                    "insert into recording_retention (tenant_id, keep_days, changed_at)"
                    " values (?, ?, ?) on conflict (tenant_id) do update"
                    " set keep_days = excluded.keep_days, changed_at = excluded.changed_at",
                    (t.id, keep_days, time.time()),
                )

    def recording_retention(self, tenant: str) -> int | None:
        """Days ``tenant`` keeps its recordings (None: until deleted)."""
        row = self._db.execute(
            "select r.keep_days from recording_retention r join tenant t on t.id = r.tenant_id"
            " where t.domain = ?",
            (tenant,),
        ).fetchone()
        return None if row is None else int(row[0])

    def recording_retentions(self) -> dict[str, int]:
        """Every tenant that limits how long it keeps recordings: domain → days."""
        rows = self._db.execute(
            "select t.domain, r.keep_days from recording_retention r"
            " join tenant t on t.id = r.tenant_id order by t.domain"
        )
        return {str(domain): int(days) for domain, days in rows}
