"""Call exports (CSV and Parquet): the grid's query, streamed.

Exports run ``queries.select_calls`` with the grid's ``where`` and default
order, so an export holds exactly the rows the grid pages through. Rows are
streamed in Arrow batches: a million-row export never sits in memory.

Parquet is written with pyarrow, not DuckDB's COPY: warehouse connections are
locked out of the file system (see ``pipeline.warehouse``).

This module owns the spreadsheet formula guard (:func:`defuse_formula` and
its SQL twin): every CSV and XLSX the product writes, call exports, analytics
downloads and scheduled reports alike, passes its text through it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline import queries
from pipeline.filters import CallFilter
from pipeline.history import menu_names, name_menus, order_by
from pipeline.schema import CALLS_SCHEMA, EXPORT_COLUMNS
from pipeline.warehouse import connect
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

BATCH_ROWS = 50_000
_TIMESTAMPS = frozenset(f.name for f in CALLS_SCHEMA if pa.types.is_timestamp(f.type))
# ``path`` (pipeline/sql/warehouse/call_history.sql) holds menu names: text, guarded too.
_TEXT = frozenset(f.name for f in CALLS_SCHEMA if pa.types.is_string(f.type)) | {"path"}
# The one spreadsheet formula guard of every CSV and XLSX the product writes.
# A spreadsheet runs a cell starting with one of these as a formula; SIP display
# names and rule names come from strangers, so such text gets a leading
# apostrophe (OWASP). Plain numbers (+4930…, -12.5, "-") are left alone: digits,
# spaces, brackets, dots and dashes cannot call anything. Python's ``re`` and
# DuckDB's RE2 read both patterns alike, so the SQL and the Python guard agree.
_FORMULA_START = r"[=+\-@\t\r]"
_PLAIN_NUMBER = r"[+\-]?[0-9 ().\-]*"


def defuse_formula(value: object) -> object:
    """``value``, with a leading apostrophe when it is text a spreadsheet would run."""
    if (
        isinstance(value, str)
        and re.match(_FORMULA_START, value)
        and not re.fullmatch(_PLAIN_NUMBER, value)
    ):
        return "'" + value
    return value


def defuse_formula_sql(column: str) -> str:
    """:func:`defuse_formula` as a DuckDB expression over the text column ``column``."""
    return (
        f"case when regexp_matches({column}, '^{_FORMULA_START}')"
        f" and not regexp_full_match({column}, '{_PLAIN_NUMBER}')"
        f" then '''' || {column} else {column} end"
    )


def spreadsheet_select(timezone: str) -> tuple[str, list[object]]:
    """Export columns for CSV and XLSX: local wall-clock times, guarded text."""
    exprs: list[str] = []
    params: list[object] = []
    for c in EXPORT_COLUMNS:
        if c in _TIMESTAMPS:
            exprs.append(f"strftime(timezone(?, {c}), '%Y-%m-%d %H:%M:%S') as {c}")
            params.append(timezone)
        elif c in _TEXT:
            exprs.append(f"{defuse_formula_sql(c)} as {c}")
        else:
            exprs.append(c)
    return ",\n    ".join(exprs), params


def _stream(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, select_list: str, select_params: list[object]
) -> pa.RecordBatchReader:
    where_sql, params = flt.where()
    sql = queries.select_calls(select_list, where_sql, order_by(None))
    return conn.sql(sql, params=[*select_params, *params]).to_arrow_reader(BATCH_ROWS)


def _csv_chunks(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, timezone: str
) -> Iterator[tuple[bytes, int]]:
    """(CSV bytes, rows in them); the first chunk carries the header."""
    select_list, select_params = spreadsheet_select(timezone)
    reader = _stream(conn, flt, select_list, select_params)
    header = True
    for batch in reader:
        buf = io.BytesIO()
        pacsv.write_csv(
            batch, buf, pacsv.WriteOptions(include_header=header, quoting_style="needed")
        )
        header = False
        yield buf.getvalue(), batch.num_rows
    if header:  # no rows: still a header, so the file says what it would hold
        yield (",".join(f'"{c}"' for c in EXPORT_COLUMNS) + "\n").encode(), 0


def iter_calls_csv(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, timezone: str
) -> Iterator[bytes]:
    """CSV bytes: a header in ``EXPORT_COLUMNS`` order, then one line per call."""
    for chunk, _rows in _csv_chunks(conn, flt, timezone):
        yield chunk


def _write_parquet(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, tmp: Path, timezone: str
) -> int:
    reader = _stream(conn, flt, ", ".join(EXPORT_COLUMNS), [])
    # Same instants; the zone in the metadata makes pandas & co. show local time.
    schema = pa.schema(
        [
            pa.field(f.name, pa.timestamp("us", tz=timezone)) if f.name in _TIMESTAMPS else f
            for f in reader.schema
        ]
    )
    rows = 0
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch.cast(schema))
            rows += batch.num_rows
    return rows


def write_calls(
    conn: duckdb.DuckDBPyConnection,
    flt: CallFilter,
    fmt: Literal["csv", "parquet"],
    out: Path,
    timezone: str,
) -> int:
    """Write the filtered calls to ``out`` (complete or not at all); rows written."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            rows = _write_parquet(conn, flt, tmp, timezone)
        else:
            rows = 0
            with tmp.open("wb") as fh:
                for chunk, n in _csv_chunks(conn, flt, timezone):
                    fh.write(chunk)
                    rows += n
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


def export_calls(
    settings: Settings,
    tenant: str,
    flt: CallFilter,
    fmt: Literal["csv", "parquet"],
    out: Path,
) -> int:
    """The CLI's export: one tenant's calls matching ``flt``, times in ``flt.timezone``."""
    conn = connect(settings, tenant)
    try:
        store = ProvisioningStore(settings.provisioning_db)
        try:
            name_menus(conn, menu_names(store, tenant))
        finally:
            store.close()
        return write_calls(conn, flt, fmt, out, flt.timezone)
    finally:
        conn.close()
