"""Time frames, answering rules, overrides, main numbers (DIDs) and what Kamailio loads.

A user's rules and a main number's routes share one row shape (``_RULE_OWNER``
names the owning column); both refer to frames by name, so a frame name is
unique across a tenant's frames and the frames a user sees. The compiled
decisions (``rule_decision``) are Kamailio's htable; only the rules compiler
writes them, through ``write_decisions``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime

from switchboard.rules import AnsweringRule, Override, RuleError, forward_chain_loop, validate_rule
from switchboard.rules_codec import (
    actions_to_json,
    frame_from_row,
    periods_to_json,
    rule_from_row,
)
from switchboard.store.accounts import AccountsSection, User
from switchboard.store.connection import ProvisioningError
from switchboard.timeframes import TimeFrame, TimeFrameError, validate

# Rule tables and the column naming their owner; identifiers cannot be bound
# parameters, so they come from this fixed map only.
_RULE_OWNER: dict[str, str] = {"answering_rule": "user_id", "did_rule": "did_id"}


def _check_number(number: str) -> None:
    """A main number is digits with an optional +, as the carrier sends it."""
    if not re.fullmatch(r"\+?[0-9]{3,15}", number):
        raise ProvisioningError(f"{number!r} is not a phone number (digits, optional +)")


@dataclass(frozen=True)
class Did:
    """A main number of a tenant; routed by its own time-frame rules."""

    id: int
    tenant_domain: str
    number: str
    name: str


@dataclass(frozen=True)
class RoutingInputs:
    """Everything ``active_rule_at`` needs for one user, read in one go."""

    rules: list[AnsweringRule]
    frames: dict[str, TimeFrame]
    override: Override | None


class RoutingSection(AccountsSection):
    """Frames, rules and overrides of users; main numbers and their routes; decisions."""

    # -- time frames and answering rules -----------------------------------
    def save_frame(self, tenant: str, frame: TimeFrame, user_id: int | None = None) -> TimeFrame:
        """Create or replace (by id) a frame; tenant-wide when ``user_id`` is None."""
        t = self.tenant(tenant)
        try:
            validate(frame)
        except TimeFrameError as exc:
            raise ProvisioningError(str(exc)) from exc
        with self._tx() as db:
            # Rules refer to frames by name: a tenant frame must not share its name
            # with anyone's personal frame, nor a personal frame with a tenant one.
            clash = db.execute(
                "select id from time_frame where tenant_id = ? and name = ? and id is not ?"
                " and (? is null or user_id is null or user_id is ?)",
                (t.id, frame.name, frame.id, user_id, user_id),
            ).fetchone()
            if clash:
                raise ProvisioningError(f"a time frame named {frame.name!r} already exists")
            values = (frame.name, frame.timezone, periods_to_json(frame.periods))
            if frame.id is None:
                cur = db.execute(
                    "insert into time_frame (tenant_id, user_id, name, timezone, periods_json)"
                    " values (?, ?, ?, ?, ?)",
                    (t.id, user_id, *values),
                )
                frame_id = cur.lastrowid
            else:
                cur = db.execute(
                    "update time_frame set name = ?, timezone = ?, periods_json = ?"
                    " where id = ? and tenant_id = ? and user_id is ?",
                    (*values, frame.id, t.id, user_id),
                )
                if cur.rowcount == 0:
                    raise ProvisioningError("no such time frame (or it is not yours to edit)")
                frame_id = frame.id
        return TimeFrame(frame.name, frame.timezone, frame.periods, frame_id)

    def frames(self, tenant: str, user_id: int | None = None) -> dict[str, TimeFrame]:
        """Tenant-wide frames plus the user's own."""
        rows = self._db.execute(
            "select f.* from time_frame f join tenant t on t.id = f.tenant_id"
            " where t.domain = ? and (f.user_id is null or f.user_id is ?) order by f.name",
            (tenant, user_id),
        )
        return {
            r["name"]: frame_from_row(r["name"], r["timezone"], r["periods_json"], r["id"])
            for r in rows
        }

    def delete_frame(self, tenant: str, frame_id: int) -> None:
        t = self.tenant(tenant)
        with self._tx() as db:
            used = db.execute(
                "select 'rule', name from answering_rule where frame_id = ?"
                " union all select 'main number route', name from did_rule where frame_id = ?",
                (frame_id, frame_id),
            ).fetchone()
            if used:
                raise ProvisioningError(f"time frame is used by {used[0]} {used[1]!r}")
            db.execute("delete from time_frame where id = ? and tenant_id = ?", (frame_id, t.id))

    def routing_inputs(self, user: User) -> RoutingInputs:
        frames = self.frames(user.tenant_domain, user.id)
        rules = self._read_rules("answering_rule", user.id, frames)
        o = self._db.execute("select * from rule_override where user_id = ?", (user.id,)).fetchone()
        override = None
        if o is not None:
            rule = rule_from_row("Manual override", 0, None, True, o["actions_json"], None)
            override = Override(rule, datetime.fromisoformat(o["until_utc"]))
        return RoutingInputs(rules, frames, override)

    def save_rule(self, user: User, rule: AnsweringRule) -> AnsweringRule:
        """Create or replace (by id) one of the user's rules, after validating it."""
        inputs = self._valid_rule_inputs(user, rule)
        self._refuse_forward_loop(user, rule)
        rule_id = self._write_rule("answering_rule", user.id, rule, inputs.frames, "rule")
        return next(r for r in self.routing_inputs(user).rules if r.id == rule_id)

    def _write_rule(
        self, table: str, owner_id: int, rule: AnsweringRule, frames: dict[str, TimeFrame],
        noun: str,
    ) -> int:  # fmt: skip
        """Insert or update (by id) a validated rule row; refuse a duplicate name."""
        owner = _RULE_OWNER[table]
        frame_id = frames[rule.frame].id if rule.frame else None
        values = (rule.name, rule.priority, frame_id, int(rule.enabled), actions_to_json(rule))
        with self._tx() as db:
            clash = db.execute(
                f"select 1 from {table} where {owner} = ? and name = ? and id is not ?",
                (owner_id, rule.name, rule.id),
            ).fetchone()
            if clash:
                raise ProvisioningError(f"a {noun} named {rule.name!r} already exists")
            if rule.id is None:
                cur = db.execute(
                    f"insert into {table} (name, priority, frame_id, enabled, actions_json,"
                    f" {owner}) values (?, ?, ?, ?, ?, ?)",
                    (*values, owner_id),
                )
                return int(cur.lastrowid or 0)
            db.execute(
                f"update {table} set name = ?, priority = ?, frame_id = ?, enabled = ?,"
                f" actions_json = ? where id = ? and {owner} = ?",
                (*values, rule.id, owner_id),
            )
            return rule.id

    def _read_rules(
        self, table: str, owner_id: int, frames: dict[str, TimeFrame]
    ) -> list[AnsweringRule]:
        owner = _RULE_OWNER[table]
        by_id = {f.id: name for name, f in frames.items()}
        rows = self._db.execute(
            f"select * from {table} where {owner} = ? order by priority, name", (owner_id,)
        )
        return [
            rule_from_row(
                r["name"],
                r["priority"],
                by_id.get(r["frame_id"]),
                bool(r["enabled"]),
                r["actions_json"],
                r["id"],
            )
            for r in rows
        ]

    def delete_rule(self, user: User, rule_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "delete from answering_rule where id = ? and user_id = ?", (rule_id, user.id)
            )

    def set_override(self, user: User, rule: AnsweringRule | None, until: datetime) -> None:
        """Switch a manual override on until ``until`` (UTC), or off with ``rule=None``."""
        if rule is not None:
            self._valid_rule_inputs(user, rule)
            fwd = rule.forward_always
            if fwd is not None and fwd.kind == "extension" and fwd.target == user.extension:
                raise ProvisioningError("an override cannot forward calls to yourself")
            self._refuse_forward_loop(user, rule)
        with self._tx() as db:
            db.execute("delete from rule_override where user_id = ?", (user.id,))
            if rule is not None:
                db.execute(
                    "insert into rule_override (user_id, actions_json, until_utc) values (?, ?, ?)",
                    (user.id, actions_to_json(rule), until.isoformat()),
                )

    def _valid_rule_inputs(self, user: User, rule: AnsweringRule) -> RoutingInputs:
        """The user's routing inputs, once ``rule`` checks out against their time frames and
        the tenant's extensions (a ``ProvisioningError`` saying why not)."""
        inputs = self.routing_inputs(user)
        extensions = {u.extension for u in self.users(user.tenant_domain)}
        try:
            validate_rule(rule, inputs.frames, extensions)
        except RuleError as exc:
            raise ProvisioningError(str(exc)) from exc
        return inputs

    def _refuse_forward_loop(self, user: User, rule: AnsweringRule) -> None:
        """Refuse a forward-always chain that comes back to where it started."""
        if rule.forward_always is None or rule.forward_always.kind != "extension":
            return
        forward_of: dict[str, str | None] = {user.extension: rule.forward_always.target}
        rows = self._db.execute(
            "select u.extension, r.actions_json, r.name, r.priority, r.enabled"
            " from answering_rule r join user u on u.id = r.user_id"
            " where u.tenant_id = ? and u.id != ? order by r.priority",
            (user.tenant_id, user.id),
        )
        for r in rows:
            if r["extension"] in forward_of or not r["enabled"]:
                continue
            other = rule_from_row(r["name"], r["priority"], None, True, r["actions_json"], None)
            fwd = other.forward_always
            if fwd is not None and fwd.kind == "extension":
                forward_of[r["extension"]] = fwd.target
        loop = forward_chain_loop(user.extension, forward_of)
        if loop is not None:
            raise ProvisioningError("forwarding loop: " + " → ".join(loop))

    # -- main numbers (DIDs) --------------------------------------------------
    # The operator allocates numbers to tenants; a tenant's main numbers are drawn
    # from its allocation. The operator's ``add_did`` allocates as it adds; a
    # manager's (``allocated_only``) must find the number allocated to them.
    def allocate_did(self, tenant: str, number: str) -> None:
        """Allocate ``number`` to ``tenant`` (twice: no change); refused if another has it."""
        t = self.tenant(tenant)
        _check_number(number)
        with self._tx() as db:
            self._allocate(db, t.id, number)

    @staticmethod
    def _allocate(db: sqlite3.Connection, tenant_id: int, number: str) -> None:
        row = db.execute(
            "select tenant_id from did_allocation where number = ?", (number,)
        ).fetchone()
        if row is not None and row[0] != tenant_id:
            raise ProvisioningError(f"number {number} is allocated to another tenant")
        if row is None:
            db.execute(
                "insert into did_allocation (number, tenant_id, allocated_at) values (?, ?, ?)",
                (number, tenant_id, time.time()),
            )

    def allocated_numbers(self, tenant: str) -> list[str]:
        """Numbers allocated to ``tenant`` that are not yet among its main numbers."""
        rows = self._db.execute(
            "select a.number from did_allocation a join tenant t on t.id = a.tenant_id"
            " where t.domain = ? and a.number not in (select number from did) order by a.number",
            (tenant,),
        )
        return [r[0] for r in rows]

    def add_did(self, tenant: str, number: str, name: str, *, allocated_only: bool = False) -> Did:
        """Add a main number to ``tenant``; with ``allocated_only`` only one allocated to it."""
        t = self.tenant(tenant)
        _check_number(number)
        with self._tx() as db:
            if db.execute("select 1 from did where number = ?", (number,)).fetchone():
                raise ProvisioningError(f"number {number} is already in use")
            allocated = db.execute(
                "select tenant_id from did_allocation where number = ?", (number,)
            ).fetchone()
            if allocated_only and (allocated is None or allocated[0] != t.id):
                raise ProvisioningError(
                    f"number {number} is not allocated to your company; ask your operator"
                )
            self._allocate(db, t.id, number)
            db.execute(
                "insert into did (tenant_id, number, name) values (?, ?, ?)", (t.id, number, name)
            )
        return self.did(number)

    def did(self, number: str) -> Did:
        row = self._db.execute(
            "select d.*, t.domain from did d join tenant t on t.id = d.tenant_id"
            " where d.number = ?",
            (number,),
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no main number {number}")
        return Did(row["id"], row["domain"], row["number"], row["name"])

    def dids(self, tenant: str) -> list[Did]:
        rows = self._db.execute(
            "select d.*, t.domain from did d join tenant t on t.id = d.tenant_id"
            " where t.domain = ? order by d.number",
            (tenant,),
        )
        return [Did(r["id"], r["domain"], r["number"], r["name"]) for r in rows]

    def did_routing_inputs(self, did: Did) -> RoutingInputs:
        frames = self.frames(did.tenant_domain)
        rules = self._read_rules("did_rule", did.id, frames)
        return RoutingInputs(rules, frames, None)

    def save_did_rule(self, did: Did, rule: AnsweringRule) -> AnsweringRule:
        """A DID route: during ``rule.frame``, send calls to ``rule.forward_always``."""
        inputs = self.did_routing_inputs(did)
        extensions = {u.extension for u in self.users(did.tenant_domain)}
        if rule.forward_always is None:
            raise ProvisioningError(f"route {rule.name!r}: choose where the calls go")
        try:
            validate_rule(rule, inputs.frames, extensions)
        except RuleError as exc:
            raise ProvisioningError(str(exc)) from exc
        rule_id = self._write_rule("did_rule", did.id, rule, inputs.frames, "route")
        return next(r for r in self.did_routing_inputs(did).rules if r.id == rule_id)

    def delete_did_rule(self, did: Did, rule_id: int) -> None:
        """Delete one route of ``did``; a route of another number is left alone."""
        with self._tx() as db:
            db.execute("delete from did_rule where id = ? and did_id = ?", (rule_id, did.id))

    # -- what Kamailio loads ---------------------------------------------------
    def write_decisions(self, decisions: dict[str, str]) -> None:
        """Upsert compiled decisions into Kamailio's htable table (before pushing them)."""
        with self._tx() as db:
            db.executemany(
                "insert into rule_decision (key_name, key_value) values (?, ?)"
                " on conflict (key_name) do update set key_value = excluded.key_value",
                list(decisions.items()),
            )

    def decisions(self) -> dict[str, str]:
        rows = self._db.execute("select key_name, key_value from rule_decision")
        return {r[0]: r[1] for r in rows}
