"""How a query's result leaves DuckDB: bound once, run once.

Why not ``conn.sql(query).to_arrow_table()``: with DuckDB 2.0's relation layer,
``sql()`` binds the statement to learn its schema and running it binds it
again. Over the warehouse's views (calls, legs and paths folded together)
binding is a third of a Call History page's CPU; measured on a year of
calls, 100 rows of ``call_history``: 51 ms of CPU through a relation, 32 ms
through ``execute``. DuckDB warns that Arrow from an ``execute`` result copies
the rows once more: for the page-sized results here the copy is far cheaper
than the second bind. Large results (exports) stream through a relation's
reader instead, where one bind per export does not matter.

Both fetch everything: DuckDB refuses the next query on a connection while a
result is half read.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

Params = Sequence[Any] | Mapping[str, Any] | None

# The copy it warns about is the price of binding once (module docstring).
warnings.filterwarnings(
    "ignore", message="Arrow output on a DB-API result makes an extra copy", category=UserWarning
)


def fetch_table(conn: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> pa.Table:
    """The result as an Arrow table (what the metric cache keeps): the same types as a
    relation's ``to_arrow_table`` (timestamptz aware, HUGEINT a decimal)."""
    return conn.execute(sql, params).to_arrow_table()


def fetch_rows(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Params = None
) -> list[dict[str, Any]]:
    """The rows as dicts, converted as :func:`fetch_table` converts them, in the query's order."""
    return fetch_table(conn, sql, params).to_pylist()  # type: ignore[no-any-return]
