"""Who gets recorded: the recording policy per tenant (default), user and queue.

Migration 0012. A mode is ``always``, ``never`` or ``on_demand``; a user or
queue without one follows the tenant's default, a tenant without one is
``never``. Kamailio enforces the policy at call set-up from the htable
``recpol`` (the view ``recording_policy_htable``): a call is recorded from its
first SDP when :func:`resolve_recording_mode` says ``always``. ``on_demand``
calls are relayed but not recorded until someone starts recording (portal
Record button, ``relay.ng.NGClient.start_recording``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from switchboard.store.accounts import AccountsSection
from switchboard.store.connection import ProvisioningError

RecordingMode = Literal["always", "never", "on_demand"]
RecordingScope = Literal["tenant", "user", "queue"]
RECORDING_MODES: tuple[str, ...] = get_args(RecordingMode)
RECORDING_SCOPES: tuple[str, ...] = get_args(RecordingScope)
# Among the explicit policies of one call's parties, the one that records most wins:
# a queue set to 'always' is recorded whoever answers (kamailio.cfg RECORDING_POLICY).
_PRECEDENCE = {"always": 2, "on_demand": 1, "never": 0}
_MODES_BY_NAME: dict[str, RecordingMode] = {
    "always": "always",
    "on_demand": "on_demand",
    "never": "never",
}


@dataclass(frozen=True)
class RecordingPolicy:
    """One explicit policy: ``scope`` ``target`` of ``tenant`` records in ``mode``."""

    tenant: str
    scope: RecordingScope
    target: str
    mode: RecordingMode


def resolve_recording_mode(default: str | None, explicit: Iterable[str | None]) -> RecordingMode:
    """The mode of a call: the parties' explicit modes (most recording wins), else the default.

    Kamailio's route RECORDING_POLICY computes the same from the htable.
    """
    wanted = set(explicit)
    chosen = [mode for name, mode in _MODES_BY_NAME.items() if name in wanted]
    if chosen:
        return max(chosen, key=_PRECEDENCE.__getitem__)
    return _MODES_BY_NAME.get(default or "", "never")


class RecordingPolicySection(AccountsSection):
    """Recording policy rows; Kamailio reads them through ``recording_policy_htable``."""

    def _policy_target(self, tenant: str, scope: str, target: str | int | None) -> str:
        if scope not in RECORDING_SCOPES:
            raise ProvisioningError(
                f"unknown recording scope {scope!r}: use {', '.join(RECORDING_SCOPES)}"
            )
        tenant_id = self.tenant(tenant).id
        if scope == "tenant":
            return ""
        text = str(target or "").strip()
        if scope == "user":
            self.user(tenant, text)  # refuses an unknown extension
        else:
            found = self._db.execute(
                "select 1 from call_queue where tenant_id = ? and id = ?",
                (tenant_id, int(text) if text.isdigit() else -1),
            ).fetchone()
            if found is None:
                raise ProvisioningError(f"no queue {text or '(none)'} in {tenant}")
        return text

    def set_recording_policy(
        self, tenant: str, scope: str, mode: str | None, target: str | int | None = None
    ) -> None:
        """Set the mode of ``scope`` (``target``: extension or queue id); None: inherit."""
        if mode is not None and mode not in RECORDING_MODES:
            raise ProvisioningError(
                f"unknown recording mode {mode!r}: use {', '.join(RECORDING_MODES)}"
            )
        key = self._policy_target(tenant, scope, target)
        tenant_id = self.tenant(tenant).id
        with self._tx() as db:
            if mode is None:
                db.execute(
                    "delete from recording_policy where tenant_id = ? and scope = ? and target = ?",
                    (tenant_id, scope, key),
                )
            else:
                db.execute(
                    "insert into recording_policy (tenant_id, scope, target, mode, changed_at)"
                    " values (?, ?, ?, ?, ?) on conflict (tenant_id, scope, target)"
                    " do update set mode = excluded.mode, changed_at = excluded.changed_at",
                    (tenant_id, scope, key, mode, time.time()),
                )

    def recording_policies(self, tenant: str) -> list[RecordingPolicy]:
        """The tenant's explicit policies (default first, then users, then queues)."""
        rows = self._db.execute(
            "select p.scope, p.target, p.mode from recording_policy as p"
            " join tenant as t on t.id = p.tenant_id where t.domain = ?"
            " order by case p.scope when 'tenant' then 0 when 'user' then 1 else 2 end, p.target",
            (tenant,),
        )
        return [RecordingPolicy(tenant, r["scope"], r["target"], r["mode"]) for r in rows]

    def recording_mode(
        self,
        tenant: str,
        *,
        caller: str | None = None,
        callee: str | None = None,
        queue: int | None = None,
    ) -> RecordingMode:
        """The mode a call between these parties gets (as Kamailio decides it)."""
        modes = {(p.scope, p.target): p.mode for p in self.recording_policies(tenant)}
        explicit = [modes.get(("user", caller or "")), modes.get(("user", callee or ""))]
        if queue is not None:
            explicit.append(modes.get(("queue", str(queue))))
        return resolve_recording_mode(modes.get(("tenant", "")), explicit)
