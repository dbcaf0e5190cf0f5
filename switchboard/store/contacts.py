"""Contacts: each user's personal ones, the tenant's shared ones, and who may change which.

Who sees what: a user sees the tenant's shared contacts and their own
personal ones, never another user's. Who changes what: a user their own
personal contacts; managers and supervisors (the roles that see the whole
tenant) also the shared ones. The company's extensions are listed beside
contacts by the front ends (from ``users``), read-only: they are not rows here.
Favourites (the star) are per user, also on a shared contact.

Numbers are kept as typed and as digits only (``phone_digits``,
``mobile_digits``): calls are matched on the digits, the way the pipeline's
filters compare numbers, so "+1 (555) 010-0100" names a call from 15550100100.
``contact_names`` is what the warehouse joins to show a name wherever a
number shows (``pipeline.contact_names``).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from switchboard.store.accounts import AccountsSection, User, _check_email, check_name
from switchboard.store.connection import ProvisioningError

Scope = Literal["all", "personal", "shared", "favourites"]
SCOPES: tuple[Scope, ...] = ("all", "personal", "shared", "favourites")
MAX_CONTACTS_PER_IMPORT = 5000
_NUMBER_CHARS = re.compile(r"^\+?[0-9 ().\-/]{2,40}$")


@dataclass(frozen=True)
class ContactInput:
    """What a user types (or a file holds) for a contact; checked by ``check_contact``."""

    name: str
    company: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    company: str
    email: str
    phone: str
    mobile: str
    shared: bool
    owner_extension: str | None  # None: shared
    favourite: bool  # for the user who asked


def digits(number: str) -> str:
    """A number as digits only (what calls are matched on)."""
    return "".join(c for c in number if c in "0123456789")


def _check_number(number: str, what: str) -> str:
    number = number.strip()
    if number and (not _NUMBER_CHARS.match(number) or not 2 <= len(digits(number)) <= 20):
        raise ProvisioningError(
            f"{what} {number!r} is not a phone number (digits, spaces, + ( ) - . / only)"
        )
    return number


def check_contact(new: ContactInput) -> ContactInput:
    """The contact as it would be stored, or ``ProvisioningError`` (pure)."""
    name = check_name(new.name, "a contact's name")
    if new.company.strip():
        check_name(new.company, "a company name")
    phone = _check_number(new.phone, "phone")
    mobile = _check_number(new.mobile, "mobile")
    if not phone and not mobile:
        raise ProvisioningError("a contact needs a phone or a mobile number")
    return ContactInput(name, new.company.strip(), _check_email(new.email), phone, mobile)


class ContactsSection(AccountsSection):
    """Personal and shared contacts, favourites, import, and the names calls are shown with."""

    @staticmethod
    def _contact(row: sqlite3.Row) -> Contact:
        return Contact(
            id=row["id"],
            name=row["name"],
            company=row["company"],
            email=row["email"],
            phone=row["phone"],
            mobile=row["mobile"],
            shared=row["owner_id"] is None,
            owner_extension=row["owner_extension"],
            favourite=bool(row["favourite"]),
        )

    def contacts(self, viewer: User, *, search: str = "", scope: Scope = "all") -> list[Contact]:
        """What ``viewer`` may see (shared + own), narrowed by ``scope`` and ``search``.

        ``search`` matches the name, company or email (case-insensitive) or,
        when it holds digits, the numbers' digits.
        """
        if scope not in SCOPES:
            raise ProvisioningError(f"scope must be one of {', '.join(SCOPES)}")
        where = ["c.tenant_id = ?", "(c.owner_id is null or c.owner_id = ?)"]
        params: list[object] = [viewer.id, viewer.tenant_id, viewer.id]
        if scope == "personal":
            where.append("c.owner_id is not null")
        elif scope == "shared":
            where.append("c.owner_id is null")
        elif scope == "favourites":
            where.append("f.user_id is not null")
        text = search.strip().lower()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            terms = ["lower(c.name || ' ' || c.company || ' ' || c.email) like ? escape '\\'"]
            params.append(like)
            if digits(text):
                terms.append("c.phone_digits like ? or c.mobile_digits like ?")
                params += [f"%{digits(text)}%"] * 2
            where.append("(" + " or ".join(terms) + ")")
        rows = self._db.execute(
            "select c.*, u.extension as owner_extension, f.user_id is not null as favourite"
            " from contact c left join user u on u.id = c.owner_id"
            " left join contact_favourite f on f.contact_id = c.id and f.user_id = ?"
            " where " + " and ".join(where) + " order by favourite desc, lower(c.name), c.id",
            params,
        )
        return [self._contact(r) for r in rows]

    def contact(self, viewer: User, contact_id: int) -> Contact:
        """One contact ``viewer`` may see; another user's personal one is "no such contact"."""
        found = [c for c in self.contacts(viewer) if c.id == contact_id]
        if not found:
            raise ProvisioningError(f"no contact {contact_id}")
        return found[0]

    def _editable(self, viewer: User, contact_id: int) -> Contact:
        contact = self.contact(viewer, contact_id)
        if contact.shared and not viewer.sees_whole_tenant:
            raise ProvisioningError("only a manager or supervisor changes shared contacts")
        return contact

    def _check_share(self, viewer: User, shared: bool) -> None:
        if shared and not viewer.sees_whole_tenant:
            raise ProvisioningError("only a manager or supervisor adds shared contacts")

    @staticmethod
    def _values(c: ContactInput) -> tuple[str, ...]:
        return (
            c.name, c.company, c.email, c.phone, c.mobile, digits(c.phone), digits(c.mobile),
        )  # fmt: skip

    def add_contact(self, viewer: User, new: ContactInput, *, shared: bool = False) -> Contact:
        """Add a personal contact (or, for a manager, a shared one)."""
        self._check_share(viewer, shared)
        new = check_contact(new)
        with self._tx() as db:
            cursor = db.execute(
                "insert into contact (tenant_id, owner_id, name, company, email, phone, mobile,"
                " phone_digits, mobile_digits, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (viewer.tenant_id, None if shared else viewer.id, *self._values(new), time.time()),
            )
        return self.contact(viewer, int(cursor.lastrowid or 0))

    def update_contact(self, viewer: User, contact_id: int, new: ContactInput) -> Contact:
        self._editable(viewer, contact_id)
        new = check_contact(new)
        with self._tx() as db:
            db.execute(
                "update contact set name = ?, company = ?, email = ?, phone = ?, mobile = ?,"
                " phone_digits = ?, mobile_digits = ? where id = ?",
                (*self._values(new), contact_id),
            )
        return self.contact(viewer, contact_id)

    def delete_contact(self, viewer: User, contact_id: int) -> Contact:
        contact = self._editable(viewer, contact_id)
        with self._tx() as db:
            db.execute("delete from contact where id = ?", (contact_id,))
        return contact

    def set_favourite(self, viewer: User, contact_id: int, on: bool) -> Contact:
        """Star (or unstar) a contact for ``viewer`` only."""
        self.contact(viewer, contact_id)
        with self._tx() as db:
            if on:
                db.execute(
                    "insert or ignore into contact_favourite (user_id, contact_id) values (?, ?)",
                    (viewer.id, contact_id),
                )
            else:
                db.execute(
                    "delete from contact_favourite where user_id = ? and contact_id = ?",
                    (viewer.id, contact_id),
                )
        return self.contact(viewer, contact_id)

    def import_contacts(
        self, viewer: User, rows: Iterable[ContactInput], *, shared: bool = False
    ) -> int:
        """Add checked rows in one transaction (all or none); how many were added."""
        self._check_share(viewer, shared)
        checked = [check_contact(r) for r in rows]
        if len(checked) > MAX_CONTACTS_PER_IMPORT:
            raise ProvisioningError(f"import at most {MAX_CONTACTS_PER_IMPORT} contacts at a time")
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "insert into contact (tenant_id, owner_id, name, company, email, phone, mobile,"
                " phone_digits, mobile_digits, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (viewer.tenant_id, None if shared else viewer.id, *self._values(c), now)
                    for c in checked
                ],
            )
        return len(checked)

    def contact_names(self, tenant: str, viewer: User | None = None) -> dict[str, str]:
        """Digits → name of the contacts a viewer's calls are named with.

        The tenant's shared contacts, and ``viewer``'s own (which win over a
        shared one with the same number); without a viewer (the CLI, notebooks:
        the operator's tools) the shared ones only. Another user's personal
        contacts never name anything: a manager seeing every call would
        otherwise read colleagues' private address books.
        """
        t = self.tenant(tenant)
        rows = self._db.execute(
            "select name, phone_digits, mobile_digits from contact"
            " where tenant_id = ? and (owner_id is null or owner_id = ?)"
            " order by owner_id is not null, id",
            (t.id, None if viewer is None else viewer.id),
        )
        names: dict[str, str] = {}
        for name, *numbers in rows:  # shared first: a personal contact overwrites
            for number in numbers:
                if number:
                    names[number] = name
        return names
