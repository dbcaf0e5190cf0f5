"""The user list as CSV: the one column layout that bulk import reads and export writes.

Import is two steps so nothing is written by accident: ``preview_import``
(a pure parse of the file, then the store's checks — extension taken, mailbox
still kept) gives every line with its error or its user; only a preview
without errors may go to ``ProvisioningStore.import_users``, which adds all
rows in one transaction or none. Export writes the same columns plus
``status`` (``enabled`` / ``disabled``), which import reads back: an exported
list imported again keeps who was disabled (an empty status is enabled). A
spreadsheet formula guard is passed in by the front end (the pipeline owns it;
the core imports nothing above it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from switchboard.csv_rows import csv_rows
from switchboard.store import ProvisioningError, ProvisioningStore, User
from switchboard.store.accounts import NewUser, check_new_user

IMPORT_COLUMNS: tuple[str, ...] = ("extension", "name", "email", "role", "timezone")
REQUIRED_COLUMNS: tuple[str, ...] = ("extension", "name")
EXPORT_COLUMNS: tuple[str, ...] = (*IMPORT_COLUMNS, "status")
STATUS_OF: dict[bool, str] = {False: "enabled", True: "disabled"}  # disabled → the word
STATUSES: dict[str, bool] = {"": False, **{word: off for off, word in STATUS_OF.items()}}
MAX_IMPORT_ROWS = 2000


@dataclass(frozen=True)
class ImportLine:
    """One data line of the file: the user it adds, or why it cannot."""

    line: int  # as a text editor numbers it (the header is line 1)
    values: dict[str, str]
    user: NewUser | None
    error: str = ""


@dataclass
class ImportPreview:
    lines: list[ImportLine] = field(default_factory=list)

    @property
    def errors(self) -> list[ImportLine]:
        return [line for line in self.lines if line.error]

    @property
    def users(self) -> list[NewUser]:
        return [line.user for line in self.lines if line.user is not None and not line.error]

    @property
    def ready(self) -> bool:
        """True when confirming would add every line (and there is at least one)."""
        return bool(self.lines) and not self.errors


def parse_users_csv(text: str) -> ImportPreview:
    """Parse and check a user CSV without looking at any store (pure).

    A file without the required columns, with unknown columns or with too
    many rows is refused as a whole (``ProvisioningError``); a bad row gets
    its error in the preview.
    """
    header, rows = csv_rows(text)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ProvisioningError(
            f"the file needs a header line with the columns {', '.join(IMPORT_COLUMNS)}"
            f" ({', '.join(missing)} missing)"
        )
    unknown = [h for h in header if h not in EXPORT_COLUMNS]
    if unknown:
        raise ProvisioningError(f"unknown column {unknown[0]!r} (use {', '.join(EXPORT_COLUMNS)})")
    preview = ImportPreview()
    seen: dict[str, int] = {}
    for row in rows:
        if len(preview.lines) >= MAX_IMPORT_ROWS:
            raise ProvisioningError(f"import at most {MAX_IMPORT_ROWS} users at a time")
        number = row.first_line
        values = {c: row.values.get(c, "").strip() for c in EXPORT_COLUMNS}
        if not any(values.values()):
            continue  # blank lines are not users
        status = values["status"].lower()
        new = NewUser(
            values["extension"],
            values["name"],
            values["email"],
            values["role"].lower() or "user",
            values["timezone"],
            disabled=STATUSES.get(status, False),
        )
        error = row.error
        try:
            check_new_user(new)
        except ProvisioningError as exc:
            error = error or str(exc)
        if not error and status not in STATUSES:
            error = f"status {values['status']!r} must be enabled or disabled"
        if not error and new.extension in seen:
            error = f"extension {new.extension} is also on line {seen[new.extension]}"
        seen.setdefault(new.extension, number)
        preview.lines.append(ImportLine(number, values, None if error else new, error))
    return preview


def preview_import(store: ProvisioningStore, tenant: str, text: str) -> ImportPreview:
    """``parse_users_csv`` plus what only the store knows (extensions already taken)."""
    preview = parse_users_csv(text)
    valid = [line for line in preview.lines if line.user is not None]
    problems = store.import_problems(tenant, [line.user for line in valid if line.user])
    by_line = {valid[i].line: message for i, message in problems.items()}
    preview.lines = [
        ImportLine(line.line, line.values, None, by_line[line.line])
        if line.line in by_line
        else line
        for line in preview.lines
    ]
    return preview


def users_csv(users: Iterable[User], cell: Callable[[object], object] = lambda v: v) -> str:
    """The user list as CSV (``cell`` guards text a spreadsheet would run as a formula)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for u in users:
        values = (u.extension, u.name, u.email, u.role, u.timezone)
        writer.writerow([cell(v) for v in values] + [STATUS_OF[u.disabled]])
    return out.getvalue()
