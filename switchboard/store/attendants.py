"""Auto attendants (menus), announcements and the hold-music library of each tenant.

Every destination a menu or an announcement names is checked when it is
saved: an extension or a mailbox must be a user of the tenant, a menu or an
announcement must be the tenant's own, a number must look like a phone
number, and a queue must be the tenant's own (``QueuesSection``). A chain of menus
and announcements that comes back to where it started (A → B → A, through
keys, no-input/invalid outcomes or an announcement's ``then``) is refused,
naming the chain.

Deleting a menu or an announcement that something still points to (another
menu, an announcement, a main-number route, an answering rule or an
override) is refused with what points to it: a caller must never reach a
menu that is gone. Extensions the menus name are checked again when a menu
is read for editing (``attendant_problems``), and the media server sends a
caller whose destination cannot be reached to the menu's invalid outcome.

Audio files are paths relative to the data dir, made by
``media.audio_library`` before the row is saved; the store never converts.
A path is saved only when it is the tenant's own library file of the right
kind (``switchboard.library_paths``): the media server plays any audio file it
is given, so a path to another company's voicemail or a call recording would
let a manager hear it by calling their own menu.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable

from switchboard.attendants import (
    MENU_KEYS,
    Announcement,
    Attendant,
    HoldMusic,
    MenuDestination,
    destination_from_dict,
    destination_to_dict,
    menu_loop,
    options_from_json,
    options_to_json,
)
from switchboard.library_paths import LibraryKind, is_library_path
from switchboard.rules import AnsweringRule
from switchboard.store.accounts import User, check_name
from switchboard.store.connection import ProvisioningError
from switchboard.store.routing import Did, RoutingSection

_NUMBER_RE = re.compile(r"^\+?[0-9]{3,15}$")
MAX_TIMEOUT_SECONDS = 60
MAX_REPEATS = 5
# Rule destination kinds (switchboard.rules) that name a menu or an announcement.
_RULE_KIND_OF = {"attendant": "auto_attendant", "announcement": "announcement", "queue": "queue"}


def _dest_json(dest: MenuDestination | None) -> str | None:
    return None if dest is None else json.dumps(destination_to_dict(dest))


def _dest_from(text: str | None) -> MenuDestination | None:
    return None if not text else destination_from_dict(json.loads(text))


def _check_library_audio(tenant: str, kind: LibraryKind, relpath: str, what: str) -> None:
    """Refuse an audio path that is not ``tenant``'s own library file of ``kind``."""
    if not is_library_path(tenant, kind, relpath):
        raise ProvisioningError(
            f"{what} is not a recording of your company's audio library; upload it again"
        )


class AttendantsSection(RoutingSection):
    """Menus, announcements and hold music; the checks that keep callers off dead ends."""

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _attendant(row: sqlite3.Row, tenant: str) -> Attendant:
        return Attendant(
            tenant=tenant,
            name=row["name"],
            options=options_from_json(row["options_json"]),
            greeting_text=row["greeting_text"],
            greeting_file=row["greeting_file"],
            timeout_seconds=row["timeout_seconds"],
            max_repeats=row["max_repeats"],
            no_input=_dest_from(row["no_input_json"]) or MenuDestination("hangup"),
            invalid=_dest_from(row["invalid_json"]) or MenuDestination("hangup"),
            id=row["id"],
        )

    def attendants(self, tenant: str) -> list[Attendant]:
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select * from attendant where tenant_id = ? order by name", (t.id,)
        )
        return [self._attendant(r, tenant) for r in rows]

    def attendant(self, tenant: str, attendant_id: int) -> Attendant:
        """The tenant's menu ``attendant_id``; another tenant's id is "no such menu"."""
        t = self.tenant(tenant)
        row = self._db.execute(
            "select * from attendant where id = ? and tenant_id = ?", (attendant_id, t.id)
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no such auto attendant {attendant_id}")
        return self._attendant(row, tenant)

    @staticmethod
    def _announcement(row: sqlite3.Row, tenant: str) -> Announcement:
        return Announcement(
            tenant, row["name"], row["text"], row["audio_file"], _dest_from(row["then_json"]),
            row["id"],
        )  # fmt: skip

    def announcements(self, tenant: str) -> list[Announcement]:
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select * from announcement where tenant_id = ? order by name", (t.id,)
        )
        return [self._announcement(r, tenant) for r in rows]

    def announcement(self, tenant: str, announcement_id: int) -> Announcement:
        t = self.tenant(tenant)
        row = self._db.execute(
            "select * from announcement where id = ? and tenant_id = ?", (announcement_id, t.id)
        ).fetchone()
        if row is None:
            raise ProvisioningError(f"no such announcement {announcement_id}")
        return self._announcement(row, tenant)

    # -- checks ---------------------------------------------------------------------------------
    def _destination_problem(self, tenant: str, dest: MenuDestination) -> str | None:
        """Why ``dest`` cannot take a caller of ``tenant`` now; None when it can."""
        target = dest.target.strip()
        if dest.kind in ("extension", "voicemail"):
            extensions = {u.extension for u in self.users(tenant)}
            if target not in extensions:
                return f"extension {target or '(none)'} does not exist"
        elif dest.kind == "attendant":
            if not target.isdigit() or not self._owned("attendant", tenant, int(target)):
                return f"auto attendant {target or '(none)'} does not exist"
        elif dest.kind == "announcement":
            if not target.isdigit() or not self._owned("announcement", tenant, int(target)):
                return f"announcement {target or '(none)'} does not exist"
        elif dest.kind == "number" and not _NUMBER_RE.match(target):
            return f"{target!r} is not a phone number (digits, optional +)"
        return None

    def _owned(self, table: str, tenant: str, object_id: int) -> bool:
        sql = {
            "attendant": "select 1 from attendant a join tenant t on t.id = a.tenant_id"
            " where a.id = ? and t.domain = ?",
            "announcement": "select 1 from announcement a join tenant t on t.id = a.tenant_id"
            " where a.id = ? and t.domain = ?",
        }[table]
        return self._db.execute(sql, (object_id, tenant)).fetchone() is not None

    def _check_destinations(
        self, tenant: str, labelled: Iterable[tuple[str, MenuDestination | None]]
    ) -> None:
        for label, dest in labelled:
            if dest is None:
                continue
            problem = self._destination_problem(tenant, dest)
            if problem is not None:
                raise ProvisioningError(f"{label}: {problem}")

    def attendant_problems(self, attendant: Attendant) -> list[str]:
        """What a saved menu points to that can no longer take a caller (shown in the editor)."""
        problems = []
        for label, dest in labelled_destinations(attendant):
            problem = self._destination_problem(attendant.tenant, dest)
            if problem is not None:
                problems.append(f"{label}: {problem}")
        return problems

    def _refuse_loop(
        self, tenant: str, attendant: Attendant | None = None, ann: Announcement | None = None
    ) -> None:
        menus = {a.id: a for a in self.attendants(tenant) if a.id is not None}
        anns = {a.id: a for a in self.announcements(tenant) if a.id is not None}
        # The object being saved, under a stand-in id when new (ids start at 1).
        if attendant is not None:
            menus[attendant.id or 0] = attendant
        if ann is not None:
            anns[ann.id or 0] = ann
        loop = menu_loop(menus, anns)
        if loop is not None:
            raise ProvisioningError("menu loop: " + " → ".join(loop))

    # -- answering rules and main-number routes that name a menu or an announcement -------------
    # They are saved by RoutingSection; a menu or an announcement they name must be the
    # tenant's own, so a caller is never sent to one that does not exist.
    def save_rule(self, user: User, rule: AnsweringRule) -> AnsweringRule:
        self._check_rule_targets(user.tenant_domain, rule)
        return super().save_rule(user, rule)

    def save_did_rule(self, did: Did, rule: AnsweringRule) -> AnsweringRule:
        self._check_rule_targets(did.tenant_domain, rule)
        return super().save_did_rule(did, rule)

    def _check_rule_targets(self, tenant: str, rule: AnsweringRule) -> None:
        menu_kind_of = {v: k for k, v in _RULE_KIND_OF.items()}
        for dest in (
            rule.forward_always,
            rule.forward_busy,
            rule.forward_no_answer,
            rule.forward_offline,
            rule.fallback,
        ):
            if dest is not None and dest.kind in menu_kind_of:
                menu_dest = MenuDestination(menu_kind_of[dest.kind], dest.target)  # type: ignore[arg-type]
                problem = self._destination_problem(tenant, menu_dest)
                if problem is not None:
                    raise ProvisioningError(f"{rule.name!r}: {problem}")

    # -- attendants -----------------------------------------------------------------------------
    def save_attendant(self, attendant: Attendant) -> Attendant:
        """Create or replace (by id) a menu after checking every destination and for loops."""
        tenant = attendant.tenant
        t = self.tenant(tenant)
        if not attendant.name.strip():
            raise ProvisioningError("an auto attendant needs a name")
        check_name(attendant.name, "a menu's name")
        if not 1 <= attendant.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ProvisioningError(f"wait for a key 1 to {MAX_TIMEOUT_SECONDS} seconds")
        if not 0 <= attendant.max_repeats <= MAX_REPEATS:
            raise ProvisioningError(f"repeat the menu 0 to {MAX_REPEATS} times")
        unknown = sorted(set(attendant.options) - set(MENU_KEYS))
        if unknown:
            raise ProvisioningError(f"no key {unknown[0]!r} on a phone (use 0-9, * and #)")
        if not attendant.greeting_text.strip() and not attendant.greeting_file:
            raise ProvisioningError("the menu needs a greeting (text or an uploaded recording)")
        if attendant.greeting_file:
            _check_library_audio(tenant, "greeting", attendant.greeting_file, "the menu's greeting")
        for label, dest in labelled_destinations(attendant):
            if dest.kind == "attendant" and dest.target == str(attendant.id):
                raise ProvisioningError(f"{label}: use 'play the menu again' for this menu")
        self._check_destinations(tenant, labelled_destinations(attendant))
        self._refuse_loop(tenant, attendant=attendant)
        values = (
            attendant.name.strip(),
            attendant.greeting_text,
            attendant.greeting_file,
            attendant.timeout_seconds,
            attendant.max_repeats,
            options_to_json(attendant.options),
            _dest_json(attendant.no_input),
            _dest_json(attendant.invalid),
        )
        conflict = f"an auto attendant named {attendant.name.strip()!r} already exists"
        with self._tx(conflict) as db:
            if attendant.id is None:
                cur = db.execute(
                    "insert into attendant (name, greeting_text, greeting_file, timeout_seconds,"
                    " max_repeats, options_json, no_input_json, invalid_json, tenant_id)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, t.id),
                )
                attendant_id = int(cur.lastrowid or 0)
            else:
                cur = db.execute(
                    "update attendant set name = ?, greeting_text = ?, greeting_file = ?,"
                    " timeout_seconds = ?, max_repeats = ?, options_json = ?,"
                    " no_input_json = ?, invalid_json = ? where id = ? and tenant_id = ?",
                    (*values, attendant.id, t.id),
                )
                if cur.rowcount == 0:
                    raise ProvisioningError(f"no such auto attendant {attendant.id}")
                attendant_id = attendant.id
        return self.attendant(tenant, attendant_id)

    def delete_attendant(self, tenant: str, attendant_id: int) -> None:
        """Delete a menu nothing points to; else refuse, naming what does."""
        self.attendant(tenant, attendant_id)  # another tenant's id: "no such"
        users = self.pointing_to(tenant, "attendant", attendant_id)
        if users:
            raise ProvisioningError(
                "the auto attendant is still used by " + ", ".join(users) + "; change those first"
            )
        t = self.tenant(tenant)
        with self._tx() as db:
            db.execute("delete from attendant where id = ? and tenant_id = ?", (attendant_id, t.id))

    def pointing_to(self, tenant: str, kind: str, object_id: int) -> list[str]:
        """What sends callers to the menu/announcement ``object_id``, in words."""
        target = str(object_id)
        found: list[str] = []
        for menu in self.attendants(tenant):
            if any(d.kind == kind and d.target == target for _, d in labelled_destinations(menu)):
                found.append(f'auto attendant "{menu.name}"')
        for ann in self.announcements(tenant):
            then = ann.then
            if then is not None and then.kind == kind and then.target == target:
                found.append(f'announcement "{ann.name}"')
        rule_kind = _RULE_KIND_OF[kind]
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select 'main number ' || d.number || ' route', r.name, r.actions_json"
            " from did_rule r join did d on d.id = r.did_id where d.tenant_id = ?"
            " union all select 'rule of ' || u.extension, r.name, r.actions_json"
            " from answering_rule r join user u on u.id = r.user_id where u.tenant_id = ?"
            " union all select 'override of ' || u.extension, '', o.actions_json"
            " from rule_override o join user u on u.id = o.user_id where u.tenant_id = ?",
            (t.id, t.id, t.id),
        )
        for owner, name, actions_json in rows:
            actions = json.loads(actions_json)
            for value in actions.values():
                if (
                    isinstance(value, dict)
                    and value.get("kind") == rule_kind
                    and str(value.get("target", "")) == target
                ):
                    found.append(f"{owner} {name!r}" if name else owner)
                    break
        return found

    # -- announcements --------------------------------------------------------------------------
    def save_announcement(self, ann: Announcement) -> Announcement:
        """Create or replace (by id) an announcement after checking its ``then`` and for loops."""
        t = self.tenant(ann.tenant)
        if not ann.name.strip():
            raise ProvisioningError("an announcement needs a name")
        check_name(ann.name, "an announcement's name")
        if not ann.text.strip() and not ann.audio_file:
            raise ProvisioningError("the announcement needs text or an uploaded recording")
        if ann.audio_file:
            _check_library_audio(ann.tenant, "announcement", ann.audio_file, "the announcement")
        if ann.then is not None and ann.then.kind in ("repeat", "dial_by_extension"):
            raise ProvisioningError("after an announcement: choose a destination or hang up")
        if ann.then is not None and ann.then.kind == "hangup":
            ann = Announcement(ann.tenant, ann.name, ann.text, ann.audio_file, None, ann.id)
        self._check_destinations(ann.tenant, [("after the announcement", ann.then)])
        self._refuse_loop(ann.tenant, ann=ann)
        values = (ann.name.strip(), ann.text, ann.audio_file, _dest_json(ann.then))
        with self._tx(f"an announcement named {ann.name.strip()!r} already exists") as db:
            if ann.id is None:
                cur = db.execute(
                    "insert into announcement (name, text, audio_file, then_json, tenant_id)"
                    " values (?, ?, ?, ?, ?)",
                    (*values, t.id),
                )
                ann_id = int(cur.lastrowid or 0)
            else:
                cur = db.execute(
                    "update announcement set name = ?, text = ?, audio_file = ?, then_json = ?"
                    " where id = ? and tenant_id = ?",
                    (*values, ann.id, t.id),
                )
                if cur.rowcount == 0:
                    raise ProvisioningError(f"no such announcement {ann.id}")
                ann_id = ann.id
        return self.announcement(ann.tenant, ann_id)

    def delete_announcement(self, tenant: str, announcement_id: int) -> None:
        """Delete an announcement nothing points to; else refuse, naming what does."""
        self.announcement(tenant, announcement_id)
        users = self.pointing_to(tenant, "announcement", announcement_id)
        if users:
            raise ProvisioningError(
                "the announcement is still used by " + ", ".join(users) + "; change those first"
            )
        t = self.tenant(tenant)
        with self._tx() as db:
            db.execute(
                "delete from announcement where id = ? and tenant_id = ?", (announcement_id, t.id)
            )

    # -- hold music -----------------------------------------------------------------------------
    @staticmethod
    def _track(row: sqlite3.Row, tenant: str) -> HoldMusic:
        return HoldMusic(tenant, row["name"], row["audio_file"], bool(row["is_default"]), row["id"])

    def hold_music(self, tenant: str) -> list[HoldMusic]:
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select * from hold_music where tenant_id = ? order by name", (t.id,)
        )
        return [self._track(r, tenant) for r in rows]

    def default_hold_music(self, tenant: str) -> HoldMusic | None:
        """The tenant's default track (None: callers on hold hear the built-in music)."""
        return next((m for m in self.hold_music(tenant) if m.is_default), None)

    def add_hold_music(
        self, tenant: str, name: str, audio_file: str, *, default: bool = False
    ) -> HoldMusic:
        """Add a converted track; the tenant's first track becomes its default."""
        t = self.tenant(tenant)
        if not name.strip():
            raise ProvisioningError("a hold-music track needs a name")
        check_name(name, "a track's name")
        _check_library_audio(tenant, "hold", audio_file, "the hold-music track")
        with self._tx(f"a hold-music track named {name.strip()!r} already exists") as db:
            first = db.execute(
                "select count(*) from hold_music where tenant_id = ?", (t.id,)
            ).fetchone()[0]
            if default or first == 0:
                db.execute("update hold_music set is_default = 0 where tenant_id = ?", (t.id,))
            cur = db.execute(
                "insert into hold_music (tenant_id, name, audio_file, is_default)"
                " values (?, ?, ?, ?)",
                (t.id, name.strip(), audio_file, int(default or first == 0)),
            )
            track_id = int(cur.lastrowid or 0)
        return next(m for m in self.hold_music(tenant) if m.id == track_id)

    def set_default_hold_music(self, tenant: str, track_id: int) -> HoldMusic:
        t = self.tenant(tenant)
        with self._tx() as db:
            if not db.execute(
                "select 1 from hold_music where id = ? and tenant_id = ?", (track_id, t.id)
            ).fetchone():
                raise ProvisioningError(f"no such hold-music track {track_id}")
            db.execute("update hold_music set is_default = 0 where tenant_id = ?", (t.id,))
            db.execute("update hold_music set is_default = 1 where id = ?", (track_id,))
        return next(m for m in self.hold_music(tenant) if m.id == track_id)

    def delete_hold_music(self, tenant: str, track_id: int) -> HoldMusic:
        """Delete a track (the default too: callers then hear another track, or the built-in)."""
        t = self.tenant(tenant)
        with self._tx() as db:
            row = db.execute(
                "select * from hold_music where id = ? and tenant_id = ?", (track_id, t.id)
            ).fetchone()
            if row is None:
                raise ProvisioningError(f"no such hold-music track {track_id}")
            db.execute("delete from hold_music where id = ?", (track_id,))
            if row["is_default"]:
                # the oldest remaining track takes over: a tenant with music keeps a default
                db.execute(
                    "update hold_music set is_default = 1 where id = (select min(id)"
                    " from hold_music where tenant_id = ?)",
                    (t.id,),
                )
        return self._track(row, tenant)


def labelled_destinations(menu: Attendant) -> list[tuple[str, MenuDestination]]:
    """A menu's destinations with the label a user reads in an error."""
    out = [(f"key {key}", dest) for key, dest in menu.options.items()]
    return [*out, ("no input", menu.no_input), ("invalid key", menu.invalid)]
