"""How CLI commands print: JSON for scripts, tab-separated rows for ``cut``, refusals on stderr.

Lists print one tab-separated row a line on stdout (a header first where the
columns are not obvious) and their count on stderr, so a pipe sees only rows.
A refusal (bad input, unknown tenant) is ``error: <reason>`` on stderr and
exit status 2, the argparse convention for "you asked for something wrong".

What is printed comes in part from outsiders (a caller's display name from a
SIP header, a transcript of what they said, a contact file someone imported),
so nothing reaches the terminal as it is. Two layers, one rule
(``switchboard.identifiers.printable_text``):

- each value of a row or field goes through :func:`printable`, which writes its
  tabs and newlines as ``\\t``/``\\n`` too (a transcript cannot forge a row);
- while a command runs, :func:`guarded_output` puts a :class:`TerminalGuard`
  in front of stdout and stderr, which escapes every control character but the
  tab and newline the command wrote itself (ESC, BEL, CR, C1, bidi overrides):
  a ``print`` that forgot :func:`printable`, or a refusal quoting a name, still
  cannot drive the terminal.

JSON needs neither: ``json.dumps`` writes every control character and, with its
default ``ensure_ascii``, every non-ASCII one (U+202E too) as a ``\\u`` escape.
Data written to stdout on purpose (``user export`` without ``-o``) goes out
as it is into a pipe or a file, and through the guard on a terminal
(:func:`write_data`).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from switchboard.identifiers import printable_text

REFUSED = 2  # exit status of a refused command (argparse's for bad usage)
STRUCTURE = "\t\n"  # what a command writes between cells and rows; inside a cell it is escaped


def printable(value: object) -> str:
    """One value of a row or a field as the terminal shows it: no control character acts."""
    return printable_text(str(value))


def row(*cells: object) -> str:
    """Cells joined by tabs, each :func:`printable` (a tab inside one cannot shift columns)."""
    return "\t".join(printable(c) for c in cells)


class TerminalGuard(io.TextIOBase):
    """A text stream in front of ``inner`` that escapes what a terminal would obey (see the
    module docstring); tabs and newlines pass, being the table's own structure."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(printable_text(text, keep=STRUCTURE))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")


def unguarded(stream: TextIO) -> TextIO:
    """The stream behind a guard: for what the CLI itself draws (a progress bar's ``\\r``)."""
    return stream.inner if isinstance(stream, TerminalGuard) else stream


@contextmanager
def guarded_output() -> Iterator[None]:
    """stdout and stderr behind a :class:`TerminalGuard` while a command runs."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalGuard(out), TerminalGuard(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err


def write_data(text: str) -> None:
    """A file's text (a CSV) on stdout: as it is into a pipe or a file, where it is data;
    through the guard on a terminal, where someone reads it."""
    stream = sys.stdout
    (stream if stream.isatty() else unguarded(stream)).write(text)


def print_json(value: Any) -> None:
    """``value`` as indented JSON with sorted keys (dates and paths as their text)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_rows(header: str, rows: Iterable[Sequence[object]], count_noun: str) -> None:
    """A header and one tab-separated :func:`row` a line on stdout, then ``<count>
    <count_noun>`` on stderr."""
    print(header)
    count = 0
    for cells in rows:
        print(row(*cells))
        count += 1
    print(f"{count} {count_noun}", file=sys.stderr)


def refuse(exc: Exception) -> int:
    """Say why a command was refused on stderr; its exit status."""
    print(f"error: {exc}", file=sys.stderr)
    return REFUSED
