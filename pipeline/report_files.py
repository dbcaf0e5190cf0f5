"""Analytics tables and call exports as CSV, XLSX or Parquet files.

One writer per format for the small tables the analytics page shows (the
portal's downloads and the scheduled KPI reports use the same function, so a
download equals the table on screen), and a streaming XLSX writer for call
exports (CSV and Parquet call exports are :mod:`pipeline.export`'s).

XLSX cells are written as values, never formulas: SIP display names come from
strangers, and xlsxwriter would otherwise turn "=cmd|…" into a formula. Text
in CSV and XLSX cells also passes :func:`pipeline.export.defuse_formula`, so a
file re-saved or pasted elsewhere still runs nothing.
Times are written in the viewer's zone without an offset (Excel has none),
and the zone is named in the header.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline import queries
from pipeline.export import BATCH_ROWS, defuse_formula, spreadsheet_select, write_calls
from pipeline.filters import CallFilter
from pipeline.history import order_by
from pipeline.schema import EXPORT_COLUMNS

TableFormat = Literal["csv", "xlsx", "parquet"]
TABLE_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
_XLSX_OPTIONS = {
    "constant_memory": True,  # rows go to disk as written: a 1 M-row sheet stays small
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
XLSX_MAX_ROWS = 1_048_575  # the sheet's limit, less the header


def _local(value: Any, timezone: str) -> Any:
    """Aware datetimes as local wall clock text; other values as they are."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(timezone))
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def table_bytes(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, timezone: str = "UTC"
) -> bytes:
    """``rows`` (dicts) restricted to ``columns``, in ``fmt``; times in ``timezone``."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    if fmt == "parquet":
        # Parquet keeps types; aware instants carry the zone in the schema.
        data = {c: [r.get(c) for r in rows] for c in columns}
        table = pa.table(data) if rows else pa.table({c: pa.array([], pa.null()) for c in columns})
        fields = []
        for f in table.schema:
            if pa.types.is_timestamp(f.type) and f.type.tz is not None:
                fields.append(pa.field(f.name, pa.timestamp("us", tz=timezone)))
            else:
                fields.append(f)
        buf = io.BytesIO()
        pq.write_table(table.cast(pa.schema(fields)), buf, compression="zstd")
        return buf.getvalue()
    local_rows = [[defuse_formula(_local(r.get(c), timezone)) for c in columns] for r in rows]
    if fmt == "csv":
        data = {c: [row[i] for row in local_rows] for i, c in enumerate(columns)}
        table = pa.table({c: pa.array(v, pa.string() if not v else None) for c, v in data.items()})
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="needed"))
        return buf.getvalue()
    return _xlsx_bytes(columns, local_rows)


def _xlsx_bytes(columns: Sequence[str], rows: list[list[Any]]) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {**_XLSX_OPTIONS, "constant_memory": False, "in_memory": True})
    sheet = book.add_worksheet("data")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, list(columns), bold)
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, [_cell(v) for v in row])
    book.close()
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def write_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    out: Path,
    timezone: str = "UTC",
) -> int:
    """Write a table file atomically (temp + rename); rows written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(table_bytes(rows, columns, fmt, timezone))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(rows)


def write_calls_file(
    conn: duckdb.DuckDBPyConnection, flt: CallFilter, fmt: str, out: Path, timezone: str
) -> int:
    """The call export in any of the three formats (complete or not at all); rows written."""
    if fmt in ("csv", "parquet"):
        return write_calls(conn, flt, fmt, out, timezone)  # type: ignore[arg-type]
    if fmt != "xlsx":
        raise ValueError(f"format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    import xlsxwriter

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    where_sql, params = flt.where()
    select_list, select_params = spreadsheet_select(timezone)  # the CSV export's columns
    sql = queries.select_calls(select_list, where_sql, order_by(None))
    rows = 0
    try:
        book = xlsxwriter.Workbook(str(tmp), _XLSX_OPTIONS)
        sheet = book.add_worksheet("calls")
        bold = book.add_format({"bold": True})
        header = [f"{c} ({timezone})" if c.endswith("_at") else c for c in EXPORT_COLUMNS]
        sheet.write_row(0, 0, header, bold)
        reader = conn.sql(sql, params=[*select_params, *params]).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            for record in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                rows += 1
                if rows > XLSX_MAX_ROWS:
                    raise ValueError(f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} calls")
                sheet.write_row(rows, 0, record)
        book.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows
