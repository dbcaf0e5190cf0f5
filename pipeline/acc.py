"""Reading Kamailio's accounting spool (``kamailio-acc.sqlite``) by watermark.

The spool belongs to Kamailio: this module opens it read-only, in autocommit,
and never writes it. Rows are read strictly after a watermark in id order;
ids are AUTOINCREMENT and follow commit order (see DESIGN.md), so
``id > watermark`` never skips a committed row.

Values are returned as SQLite stored them, without coercion: a corrupt row
(text in a time column, say) must reach ``pipeline.calls`` as-is so that it is
quarantined with a reason instead of being silently "fixed" here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The column list is the spool's contract, shared with Kamailio: the core owns it.
from switchboard.acc_spool import ACC_COLUMNS, ACC_TABLE

__all__ = ["ACC_COLUMNS", "AccRow", "open_acc", "read_acc_rows", "spool_has_table"]

# One spool row by column name, as SQLite stored it (``pipeline.calls`` interprets it).
AccRow = Mapping[str, Any]

# selected by name, so that a column added to the spool later does not shift anything
_SELECT = f"select {', '.join(ACC_COLUMNS)} from {ACC_TABLE} where id > ?"


def open_acc(path: Path) -> sqlite3.Connection | None:
    """Open the spool read-only; None when Kamailio has not created it yet."""
    if not path.is_file():
        return None
    # mode=ro: a bug here can never modify Kamailio's file. Autocommit so that
    # each read sees the latest committed rows and holds no read transaction.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    # Kamailio copies header values as it got them: a Latin-1 User-Agent is not UTF-8, and
    # the default decoder raised on that row for ever (the watermark never moved again).
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")
    db.execute("pragma busy_timeout=5000")
    return db


def read_acc_rows(
    db: sqlite3.Connection, after_id: int, limit: int, *, up_to_id: int | None = None
) -> list[AccRow]:
    """Rows with ``after_id < id [<= up_to_id]`` in id order, at most ``limit``.

    ``up_to_id`` re-reads exactly the range of an interrupted batch, so that
    the batch is rebuilt with the same rows and therefore the same file names.
    """
    if up_to_id is None:
        cur = db.execute(_SELECT + " order by id limit ?", (after_id, limit))
    else:
        cur = db.execute(_SELECT + " and id <= ? order by id limit ?", (after_id, up_to_id, limit))
    return [dict(zip(ACC_COLUMNS, row, strict=True)) for row in cur]


def spool_has_table(db: sqlite3.Connection) -> bool:
    """True once Kamailio has created the ``cdr`` table."""
    row = db.execute("select 1 from sqlite_master where type = 'table' and name = ?", (ACC_TABLE,))
    return row.fetchone() is not None
