"""The command shapes every provisioned record kind shares, declared once.

A menu, a queue, an announcement or a hold-music track is added by name,
edited by id with only the options given, and shown or removed by its id
within ``--tenant``. Declaring those commands here keeps their arguments the
same for every kind; each kind still declares its own options in place.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from switchboard.settings import Settings

if TYPE_CHECKING:  # argparse's class is generic to type checkers only
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

# What a command runs: ``fn`` in the parser's defaults (cli.main calls it).
Handler = Callable[[Settings, argparse.Namespace], int]


def add_and_edit(
    group: Subcommands,
    record: str,
    options: Callable[[argparse.ArgumentParser, bool], None],
    add: Handler,
    edit: Handler,
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """``add NAME`` and ``edit ID [--name]`` for ``record`` ("a menu"); ``options(parser, new)``
    declares the rest, with defaults only when new. Both parsers, for options one of them adds."""
    added = group.add_parser("add", help=f"add {record}")
    added.add_argument("name")
    options(added, True)
    added.set_defaults(fn=add)
    edited = group.add_parser("edit", help=f"change {record} (only what is given)")
    edited.add_argument("id", type=int)
    edited.add_argument("--name")
    options(edited, False)
    edited.set_defaults(fn=edit)
    return added, edited


def by_id(group: Subcommands, commands: Iterable[tuple[str, Handler]]) -> None:
    """Commands (``show``, ``remove``, ...) that act on one record: ``ID --tenant T``."""
    for name, fn in commands:
        parser = group.add_parser(name)
        parser.add_argument("id", type=int)
        parser.add_argument("--tenant", required=True)
        parser.set_defaults(fn=fn)
