"""How CLI commands print: JSON for scripts, tab-separated rows for ``cut``, refusals on stderr.

Lists print one tab-separated row a line on stdout (a header first where the
columns are not obvious) and their count on stderr, so a pipe sees only rows.
A refusal (bad input, unknown tenant) is ``error: <reason>`` on stderr and
exit status 2, the argparse convention for "you asked for something wrong".
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

REFUSED = 2  # exit status of a refused command (argparse's for bad usage)


def print_json(value: Any) -> None:
    """``value`` as indented JSON with sorted keys (dates and paths as their text)."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_rows(header: str, lines: Iterable[str], count_noun: str) -> None:
    """A header and one line a row on stdout, then ``<count> <count_noun>`` on stderr."""
    print(header)
    count = 0
    for line in lines:
        print(line)
        count += 1
    print(f"{count} {count_noun}", file=sys.stderr)


def refuse(exc: Exception) -> int:
    """Say why a command was refused on stderr; its exit status."""
    print(f"error: {exc}", file=sys.stderr)
    return REFUSED
