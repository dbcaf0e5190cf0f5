"""Which calls of a Call History block have a recording: the rows' recording icon.

One query per grid block (``sql/recordings_of_calls.sql``) on the block's own
warehouse connection, so the icon shows exactly what the viewer may hear:
the connection is already bound to their scope.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_SQL = Path(__file__).resolve().parent / "sql" / "recordings_of_calls.sql"


@cache
def _sql() -> str:
    return _SQL.read_text()


def recordings_of_calls(conn: duckdb.DuckDBPyConnection, call_ids: list[str]) -> dict[str, str]:
    """call id → its newest recording's id, for those of ``call_ids`` that were recorded."""
    wanted = [c for c in call_ids if isinstance(c, str) and c]
    if not wanted:
        return {}
    rows = conn.execute(_sql(), {"call_ids": wanted}).fetchall()
    return {str(call_id): str(recording_id) for call_id, recording_id in rows}
