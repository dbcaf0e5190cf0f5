"""A CSV a person uploaded, read the way both imports (users, contacts) need it.

Spreadsheets write CSV in more ways than ``csv.DictReader`` over the raw text takes, and
each way it failed either raised from inside the reader (a 500) or lost rows without a word:

- old-Mac line ends (a bare CR, Excel's "CSV (Macintosh)"): ``new-line character seen in
  unquoted field`` — the text's line ends are made ``\\n`` first;
- a field over the csv module's 128 KiB limit (one stray quote in a large file): ``field
  larger than field limit`` — any reader error is the user's error, with its line;
- an unclosed quote: the rows after it were read as part of one field and never reported —
  no column of an import holds a line break, so a row that spans several lines is an error
  that names those lines (:attr:`CsvRow.error`), and the caller reports it like a bad value;
- a header naming a column twice: the last copy silently won — refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from switchboard.store.connection import ProvisioningError


def utf8_text(data: bytes) -> str:
    """An uploaded file's text (a UTF-8 BOM dropped), refused with what to do unless UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProvisioningError("the file is not UTF-8 text (save it as CSV UTF-8)") from exc


def file_bytes(path: str | Path) -> bytes:
    """A file named on the command line; one that cannot be read is the user's error."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ProvisioningError(f"cannot read {str(path)[:200]}: {exc.strerror}") from None


@dataclass(frozen=True)
class CsvRow:
    """One record of the file, by the header's (normalised) column names."""

    first_line: int  # as a text editor numbers lines (the header is line 1)
    last_line: int
    values: dict[str, str]

    @property
    def error(self) -> str:
        """Why the row cannot be trusted ("" when it can): it ran over several lines."""
        if self.last_line == self.first_line:
            return ""
        return (
            f"lines {self.first_line} to {self.last_line} were read as one row:"
            ' a quote (") is not closed'
        )


def csv_rows(
    text: str, column: Callable[[str], str] = lambda name: name.strip().lower()
) -> tuple[list[str], list[CsvRow]]:
    """(header, rows) of ``text``, each header name passed through ``column``; a file the
    csv module cannot read is a ``ProvisioningError`` that names the line."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    reader = csv.reader(io.StringIO(lines))
    rows: list[CsvRow] = []
    try:
        header = [column(name or "") for name in next(reader, [])]
        twice = sorted({name for name in header if name and header.count(name) > 1})
        if twice:
            raise ProvisioningError(f"the header names the column {twice[0]!r} twice")
        last = reader.line_num
        for record in reader:
            values = {name: value for name, value in zip(header, record, strict=False) if name}
            rows.append(CsvRow(last + 1, reader.line_num, values))
            last = reader.line_num
    except csv.Error as exc:
        raise ProvisioningError(
            f"the file could not be read as CSV after line {reader.line_num}: {exc}"
        ) from None
    return header, rows
