"""Who gets recorded: the recording policy per tenant (default), user and queue.

Migration 0012. A mode is ``always``, ``never`` or ``on_demand``; a user or
queue without one follows the tenant's default, a tenant without one is
``never``. Kamailio enforces the policy at call set-up from the htable
``recpol`` (the view ``recording_policy_htable``): a call is recorded from its
first SDP when :func:`resolve_recording_mode` says ``always``. ``on_demand``
calls are relayed but not recorded until someone starts recording (portal
Record button, ``relay.ng.NGClient.start_recording``).

The recording notice (migration 0015, one row per tenant that has it on): an
inbound call from the carrier whose mode is ``always`` or ``on_demand`` plays
"This call may be recorded." to the caller once answered (kamailio-media.cfg
MEDIA_ANSWER, htable key ``announce:<tenant>``).

A user's own choice (Profile): under a tenant default of ``on_demand`` a
user may have their own calls recorded ``always`` (a ``user`` row) or go back
to ``on_demand`` (no row). ``never`` is not offered: no tenant setting lets
people opt out of on-demand recording (docs/users.md). The row is the same a
manager writes (CLI ``user edit --recording``), so the user's
``preferences_json`` key ``own_recording`` says the row is theirs: a row
without that mark is a manager's and is read-only on Profile. A manager's
write clears the mark, and a tenant default moved away from ``on_demand``
drops users' own rows, so no one's choice outlives the policy that allowed it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from switchboard.store.accounts import AccountsSection, User
from switchboard.store.connection import ProvisioningError

RecordingMode = Literal["always", "never", "on_demand"]
RecordingScope = Literal["tenant", "user", "queue"]
RECORDING_MODES: tuple[str, ...] = get_args(RecordingMode)
RECORDING_SCOPES: tuple[str, ...] = get_args(RecordingScope)
# Among the explicit policies of one call's parties, the one that records most wins:
# a queue set to 'always' is recorded whoever answers (kamailio-media.cfg RECORDING_POLICY).
_PRECEDENCE = {"always": 2, "on_demand": 1, "never": 0}
_MODES_BY_NAME: dict[str, RecordingMode] = {
    "always": "always",
    "on_demand": "on_demand",
    "never": "never",
}
OWN_RECORDING_KEY = "own_recording"  # preferences_json: the user row the user chose themselves
OWN_RECORDING_CHOICES: tuple[RecordingMode, ...] = ("always", "on_demand")
_COMPANY_REASON = {
    "always": "your company records every call",
    "never": "your company records no calls",
}


@dataclass(frozen=True)
class RecordingPolicy:
    """One explicit policy: ``scope`` ``target`` of ``tenant`` records in ``mode``."""

    tenant: str
    scope: RecordingScope
    target: str
    mode: RecordingMode


@dataclass(frozen=True)
class OwnRecording:
    """A user's calls: the mode that applies, what they may choose instead, and why."""

    mode: RecordingMode
    company: RecordingMode  # the tenant's default
    choices: tuple[RecordingMode, ...]  # empty: read-only (set by the company or a manager)
    reason: str


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
            if scope == "user":  # a manager's row: no longer the user's own choice
                self._mark_own_choice(db, self.user(tenant, key).id, None)
            elif scope == "tenant" and mode != "on_demand":
                self._drop_own_choices(db, tenant_id)
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

    def set_recording_announcement(self, tenant: str, on: bool) -> None:
        """Whether inbound carrier calls that may be recorded hear the notice (migration 0015)."""
        tenant_id = self.tenant(tenant).id
        with self._tx() as db:
            if on:
                db.execute(
                    "insert into recording_announcement (tenant_id, changed_at) values (?, ?)"
                    " on conflict (tenant_id) do update set changed_at = excluded.changed_at",
                    (tenant_id, time.time()),
                )
            else:
                db.execute("delete from recording_announcement where tenant_id = ?", (tenant_id,))

    def recording_announcement(self, tenant: str) -> bool:
        """True when the tenant's inbound callers hear "This call may be recorded."."""
        row = self._db.execute(
            "select 1 from recording_announcement where tenant_id = ?", (self.tenant(tenant).id,)
        ).fetchone()
        return row is not None

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

    # -- a user's own choice (Profile) -------------------------------------------------
    def own_recording(self, user: User) -> OwnRecording:
        """What applies to ``user``'s calls and whether they may change it (and why not)."""
        modes = {(p.scope, p.target): p.mode for p in self.recording_policies(user.tenant_domain)}
        company = resolve_recording_mode(modes.get(("tenant", "")), [])
        explicit = modes.get(("user", user.extension))
        if explicit is not None and explicit != self._own_choice(self._db, user.id):
            reason = "a manager set how your calls are recorded"
            return OwnRecording(explicit, company, (), reason)
        if company != "on_demand":
            return OwnRecording(company, company, (), _COMPANY_REASON[company])
        reason = "your company records on demand: you may have all your calls recorded"
        return OwnRecording(explicit or "on_demand", company, OWN_RECORDING_CHOICES, reason)

    def set_own_recording(self, user: User, mode: str) -> OwnRecording:
        """``user``'s own choice, where the policy allows one (``OWN_RECORDING_CHOICES``)."""
        current = self.own_recording(user)
        if not current.choices:
            raise ProvisioningError(
                f"you cannot change how your calls are recorded: {current.reason}"
            )
        if mode not in current.choices:
            raise ProvisioningError(
                f"recording {mode!r} is not a choice here: use {', '.join(current.choices)}"
            )
        with self._tx() as db:
            # on_demand is the company's default: no row, so the user follows its changes
            db.execute(
                "delete from recording_policy"
                " where tenant_id = ? and scope = 'user' and target = ?",
                (user.tenant_id, user.extension),
            )
            if mode != "on_demand":
                db.execute(
                    "insert into recording_policy (tenant_id, scope, target, mode, changed_at)"
                    " values (?, 'user', ?, ?, ?)",
                    (user.tenant_id, user.extension, mode, time.time()),
                )
            self._mark_own_choice(db, user.id, None if mode == "on_demand" else mode)
        return self.own_recording(user)

    @staticmethod
    def _own_choice(db: sqlite3.Connection, user_id: int) -> str | None:
        row = db.execute("select preferences_json from user where id = ?", (user_id,)).fetchone()
        chosen = json.loads(row[0]).get(OWN_RECORDING_KEY) if row else None
        return str(chosen) if chosen else None

    @staticmethod
    def _mark_own_choice(db: sqlite3.Connection, user_id: int, mode: str | None) -> None:
        row = db.execute("select preferences_json from user where id = ?", (user_id,)).fetchone()
        prefs = json.loads(row[0]) if row else {}
        if prefs.get(OWN_RECORDING_KEY) == mode:
            return
        prefs.pop(OWN_RECORDING_KEY, None)
        if mode is not None:
            prefs[OWN_RECORDING_KEY] = mode
        db.execute(
            "update user set preferences_json = ? where id = ?", (json.dumps(prefs), user_id)
        )

    def _drop_own_choices(self, db: sqlite3.Connection, tenant_id: int) -> None:
        """The tenant no longer records on demand: users' own rows go (managers' stay)."""
        rows = db.execute(
            "select u.id, u.extension, p.mode from user as u join recording_policy as p"
            " on p.tenant_id = u.tenant_id and p.scope = 'user' and p.target = u.extension"
            " where u.tenant_id = ?",
            (tenant_id,),
        ).fetchall()
        for user_id, extension, mode in rows:
            if self._own_choice(db, user_id) == mode:
                db.execute(
                    "delete from recording_policy"
                    " where tenant_id = ? and scope = 'user' and target = ?",
                    (tenant_id, extension),
                )
                self._mark_own_choice(db, user_id, None)
