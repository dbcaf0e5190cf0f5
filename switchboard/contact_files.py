"""Contacts as CSV and vCard: pure parsers for import, writers for export.

Import is two steps so nothing is written by accident: ``parse_contacts``
reads a file (CSV or vCard, told apart by its first line) into a preview,
every entry with its contact or its error; confirming adds the good entries
(``ProvisioningStore.import_contacts``, one transaction) and the preview
says which lines were left out and why. Export writes the same CSV columns,
or vCard 3.0; a spreadsheet formula guard is passed in by the front end.
"""

from __future__ import annotations

import csv
import io
import quopri
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from switchboard.csv_rows import csv_rows
from switchboard.store.connection import ProvisioningError
from switchboard.store.contacts import Contact, ContactInput, check_contact

CSV_COLUMNS: tuple[str, ...] = ("name", "company", "email", "phone", "mobile")
# Other headers spreadsheets and phones export, read as ours.
_ALIASES = {
    "full name": "name",
    "display name": "name",
    "organization": "company",
    "organisation": "company",
    "e-mail": "email",
    "number": "phone",
    "telephone": "phone",
    "work phone": "phone",
    "cell": "mobile",
    "mobile phone": "mobile",
}
# What a card collects, in ContactInput's order after the name.
_CARD_FIELDS = ("org", "email", "phone", "mobile")
MAX_IMPORT_ENTRIES = 5000
MAX_FILE_BYTES = 2_000_000


@dataclass(frozen=True)
class ContactLine:
    """One entry of the file: the contact it adds, or why it cannot."""

    line: int  # where the entry starts, as a text editor numbers lines
    label: str  # what the entry says it is (a name, or the raw line)
    contact: ContactInput | None
    error: str = ""


@dataclass
class ContactPreview:
    kind: str  # "csv" or "vcard"
    lines: list[ContactLine] = field(default_factory=list)

    @property
    def errors(self) -> list[ContactLine]:
        return [line for line in self.lines if line.error]

    @property
    def contacts(self) -> list[ContactInput]:
        return [line.contact for line in self.lines if line.contact is not None]


def _checked(line: int, label: str, new: ContactInput) -> ContactLine:
    try:
        return ContactLine(line, label, check_contact(new))
    except ProvisioningError as exc:
        return ContactLine(line, label, None, str(exc))


def parse_contacts(text: str) -> ContactPreview:
    """A CSV or vCard file as a preview (pure); a file that is neither is refused whole."""
    if len(text) > MAX_FILE_BYTES:
        raise ProvisioningError("a contacts file is limited to 2 MB")
    text = text.lstrip("\ufeff")
    if text.lstrip().upper().startswith("BEGIN:VCARD"):
        preview = parse_vcards(text)
    else:
        preview = parse_contacts_csv(text)
    if len(preview.lines) > MAX_IMPORT_ENTRIES:
        raise ProvisioningError(f"import at most {MAX_IMPORT_ENTRIES} contacts at a time")
    if not preview.lines:
        raise ProvisioningError("the file holds no contacts")
    return preview


def parse_contacts_csv(text: str) -> ContactPreview:
    """A CSV with a header line naming at least ``name`` and ``phone`` or ``mobile``."""
    header, rows = csv_rows(text, lambda h: _ALIASES.get(h.strip().lower(), h.strip().lower()))
    if "name" not in header or not {"phone", "mobile"} & set(header):
        raise ProvisioningError(
            f"the file needs a header line with the columns {', '.join(CSV_COLUMNS)}"
            " (name and a phone or mobile at least), or to be a vCard file"
        )
    preview = ContactPreview("csv")
    for row in rows:
        values = {c: row.values.get(c, "").strip() for c in CSV_COLUMNS}
        if not any(values.values()):
            continue
        number, label = row.first_line, values["name"] or f"line {row.first_line}"
        if row.error:  # the rows an open quote swallowed are in this one: said, not lost
            preview.lines.append(ContactLine(number, label[:80], None, row.error))
            continue
        preview.lines.append(_checked(number, label, ContactInput(**values)))
    return preview


def _quoted_printable(name_part: str) -> bool:
    """Whether a vCard 2.1 property's value is quoted-printable (older phones and Outlook)."""
    return "QUOTED-PRINTABLE" in name_part.upper()


def _unfold(text: str) -> list[tuple[int, str]]:
    """vCard lines with folded continuations joined (RFC 6350 3.2; vCard 2.1's
    quoted-printable soft breaks, a value ending in ``=``), with their line numbers."""
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + line[1:])
        elif lines and lines[-1][1].endswith("=") and _quoted_printable(lines[-1][1].split(":")[0]):
            lines[-1] = (lines[-1][0], lines[-1][1][:-1] + line)
        elif line.strip():
            lines.append((number, line))
    return lines


def _decoded(name_part: str, value: str) -> str:
    """A vCard 2.1 value as text: quoted-printable bytes in its CHARSET (UTF-8 if none)."""
    if not _quoted_printable(name_part):
        return value
    params = dict(p.partition("=")[::2] for p in name_part.upper().split(";")[1:])
    charset = params.get("CHARSET", "UTF-8")
    try:
        return quopri.decodestring(value.encode("ascii", "replace")).decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return quopri.decodestring(value.encode("ascii", "replace")).decode("utf-8", "replace")


def _unescape(value: str) -> str:
    out, chars = [], iter(value)
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            out.append("\n" if nxt in "nN" else nxt)
        else:
            out.append(c)
    return "".join(out).strip()


def parse_vcards(text: str) -> ContactPreview:
    """``BEGIN:VCARD`` … ``END:VCARD`` entries; a TEL of type CELL is the mobile."""
    preview = ContactPreview("vcard")
    card: dict[str, str] | None = None
    start = 0
    for number, line in _unfold(text):
        name_part, _, value = line.partition(":")
        value = _decoded(name_part, value)
        params = name_part.split(";")
        prop = params[0].rsplit(".", 1)[-1].upper()  # "item1.TEL" groups
        types = {t.upper() for p in params[1:] for t in p.partition("=")[2].split(",")}
        types |= {p.upper() for p in params[1:] if "=" not in p}
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            card, start = {}, number
        elif card is None:
            continue
        elif prop == "END":
            name = card.get("fn") or card.get("n", "")
            label = name or f"card at line {start}"
            preview.lines.append(
                _checked(
                    start,
                    label,
                    ContactInput(name, *(card.get(k, "") for k in _CARD_FIELDS)),
                )
            )
            card = None
        elif prop == "FN":
            card["fn"] = _unescape(value)
        elif prop == "N":
            family, given = ([*value.split(";"), ""])[:2]
            card["n"] = " ".join(p for p in (_unescape(given), _unescape(family)) if p)
        elif prop == "ORG":
            card.setdefault("org", _unescape(value.split(";")[0]))
        elif prop == "EMAIL":
            card.setdefault("email", _unescape(value))
        elif prop == "TEL":
            number_text = _unescape(value.removeprefix("tel:"))
            slot = "mobile" if "CELL" in types else "phone"
            if slot in card and slot == "phone" and "mobile" not in card:
                slot = "mobile"
            card.setdefault(slot, number_text)
    if card is not None:
        preview.lines.append(ContactLine(start, f"card at line {start}", None, "no END:VCARD"))
    return preview


def contacts_csv(
    contacts: Iterable[Contact], cell: Callable[[object], object] = lambda v: v
) -> str:
    """Contacts as CSV in the import's columns (plus ``shared``).

    ``cell`` guards the free text; numbers are not passed through it: they hold
    only digits, spaces and ``+ ( ) - . /`` (``check_contact``), so a leading
    ``+`` computes nothing, and a guard's quote would break re-import.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "shared"])
    for c in contacts:
        text = [cell(v) for v in (c.name, c.company, c.email)]
        writer.writerow([*text, c.phone, c.mobile, "yes" if c.shared else "no"])
    return out.getvalue()


def _escape(value: str) -> str:
    """A vCard text value: a line break of any kind is ``\\n`` (a bare CR ended the property
    and let a stored name forge a card of its own)."""
    value = "\n".join(value.splitlines())  # CR, VT, FF, NEL, U+2028 … as any reader splits
    return value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def contacts_vcard(contacts: Iterable[Contact]) -> str:
    """Contacts as vCard 3.0, one card each (CRLF line ends, as the RFC wants)."""
    lines: list[str] = []
    for c in contacts:
        lines += ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_escape(c.name)}", f"N:;{_escape(c.name)};;;"]
        if c.company:
            lines.append(f"ORG:{_escape(c.company)}")
        if c.email:
            lines.append(f"EMAIL;TYPE=INTERNET:{_escape(c.email)}")
        if c.phone:
            lines.append(f"TEL;TYPE=WORK,VOICE:{_escape(c.phone)}")
        if c.mobile:
            lines.append(f"TEL;TYPE=CELL:{_escape(c.mobile)}")
        lines.append("END:VCARD")
    return "\r\n".join(lines) + ("\r\n" if lines else "")
