"""Exports: the grid's rows, in the grid's order, times in the viewer's zone."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline import export
from pipeline.calls import Directory
from pipeline.export import export_calls, iter_calls_csv, write_calls
from pipeline.filters import CallFilter
from pipeline.history import call_page
from pipeline.ingest import ingest_rows
from pipeline.lake import Lake
from pipeline.schema import EXPORT_COLUMNS
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.sample_lake import sample_rows, ts, write_sample_lake

NY = "America/New_York"


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def as_csv_cell(value: Any, timezone: str) -> str:
    """What the grid row's value looks like in the CSV."""
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def test_csv_header_and_times_in_the_viewers_zone(acme: duckdb.DuckDBPyConnection) -> None:
    data = b"".join(iter_calls_csv(acme, CallFilter(direction="inbound"), NY))
    assert data.splitlines()[0].decode() == ",".join(f'"{c}"' for c in EXPORT_COLUMNS)
    rows = read_csv(data)
    ny_late = next(r for r in rows if r["call_id"] == "ny-late")
    assert ny_late == {
        "started_at": "2024-03-01 22:00:00",  # 03:00 UTC on the 2nd
        "direction": "inbound",
        "disposition": "answered",
        "caller": "+15550100",
        "caller_name": "ACME Supplies",
        "callee": "101",
        "callee_name": "Front Desk",
        "answered_by": "101",
        "path": "",  # no menu on the way (pipeline/sql/warehouse/call_history.sql)
        "ring_seconds": "5",
        "talk_seconds": "60",
        "answered_at": "2024-03-01 22:00:05",
        "ended_at": "2024-03-01 22:01:05",
        "sip_code": "200",
        "call_id": "ny-late",
    }
    utc = read_csv(b"".join(iter_calls_csv(acme, CallFilter(direction="inbound"), "UTC")))
    assert next(r for r in utc if r["call_id"] == "ny-late")["started_at"] == "2024-03-02 03:00:00"


@pytest.mark.parametrize(
    "flt",
    [
        CallFilter(timezone=NY),
        CallFilter(date_from=date(2024, 3, 1), date_to=date(2024, 3, 2), timezone=NY),
        CallFilter(search="bob", disposition="cancelled"),
        CallFilter(extension="102"),
    ],
)
def test_csv_rows_are_the_grids_rows(acme: duckdb.DuckDBPyConnection, flt: CallFilter) -> None:
    page, total = call_page(acme, flt, offset=0, limit=1000)
    exported = read_csv(b"".join(iter_calls_csv(acme, flt, flt.timezone)))
    expected = [{c: as_csv_cell(r[c], flt.timezone) for c in EXPORT_COLUMNS} for r in page]
    assert exported == expected
    assert len(exported) == total


def test_parquet_holds_the_same_rows(acme: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    flt = CallFilter(date_from=date(2024, 3, 1), timezone=NY)
    out = tmp_path / "calls.parquet"
    assert write_calls(acme, flt, "parquet", out, NY) == 6
    table = pq.read_table(out)
    assert table.schema.names == list(EXPORT_COLUMNS)
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=America/New_York]"
    page, _ = call_page(acme, flt, offset=0, limit=1000)
    assert table.to_pylist() == [{c: r[c] for c in EXPORT_COLUMNS} for r in page]


def test_write_csv_counts_rows_and_leaves_no_temp_file(
    acme: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "calls.csv"
    assert write_calls(acme, CallFilter(disposition="cancelled"), "csv", out, "UTC") == 2
    assert [r["call_id"] for r in read_csv(out.read_bytes())] == ["underscore", "half-price"]
    assert [p.name for p in out.parent.iterdir()] == ["calls.csv"]


def test_nothing_matches_is_a_header_only_file(acme: duckdb.DuckDBPyConnection) -> None:
    data = b"".join(iter_calls_csv(acme, CallFilter(search="nobody"), "UTC"))
    assert data.decode() == ",".join(f'"{c}"' for c in EXPORT_COLUMNS) + "\n"


def test_big_exports_stream_in_chunks_with_one_header(
    acme: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH_ROWS", 2)
    chunks = list(iter_calls_csv(acme, CallFilter(), "UTC"))
    assert len(chunks) == 3
    assert b"".join(chunks).count(b'"call_id"') == 1
    assert len(read_csv(b"".join(chunks))) == 6


def test_formula_looking_names_are_defused_but_numbers_kept(settings: Settings) -> None:
    row = dict(sample_rows()[0], id=1, caller_name='=HYPERLINK("http://x","click")')
    row2 = dict(sample_rows()[0], id=2, call_id="minus", caller="-", caller_name="-")
    directory = Directory(frozenset({"acme.example"}))
    ingest_rows(Lake(settings.lake_dir, durable=False), [row, row2], directory, after=0)
    with connect(settings, "acme.example") as conn:
        rows = read_csv(b"".join(iter_calls_csv(conn, CallFilter(), "UTC")))
    by_id = {r["call_id"]: r for r in rows}
    assert by_id["ny-late"]["caller_name"] == '\'=HYPERLINK("http://x","click")'
    assert by_id["ny-late"]["caller"] == "+15550100"
    assert by_id["minus"]["caller"] == "-"


def test_export_calls_for_the_cli(settings: Settings, tmp_path: Path) -> None:
    write_sample_lake(settings)
    flt = CallFilter.from_query({"from": "2024-03-01", "to": "2024-03-01"}, NY)
    out = tmp_path / "march-1.csv"
    assert export_calls(settings, "acme.example", flt, "csv", out) == 2
    rows = read_csv(out.read_bytes())
    assert [(r["call_id"], r["started_at"]) for r in rows] == [
        ("ny-late", "2024-03-01 22:00:00"),
        ("morning", "2024-03-01 09:00:00"),
    ]
    assert ts("2024-03-01T14:00") == 1_709_301_600  # 09:00 in New York (EST)


# -- formula injection: every CSV and XLSX the product writes -----------------------------------
# Text a spreadsheet would run, as a stranger could name a SIP caller or a manager a rule.
FORMULAS = ('=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-1+1", "@SUM(A1)")
# Text that looks like arithmetic but calls nothing, and stays as it is.
PLAIN = ("+15550100", "-", "-12.5", "Jane Customer", "")


def xlsx_texts(data: bytes) -> list[str]:
    """Every text of an XLSX workbook (shared and inline strings); fails on any formula cell."""
    import zipfile
    from xml.etree import ElementTree

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        for name in book.namelist():
            if not (name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"):
                continue
            if not name.endswith(".xml"):
                continue
            root = ElementTree.fromstring(book.read(name))
            assert root.find(f".//{ns}f") is None, f"a formula cell in {name}"
            texts += [t.text or "" for t in root.iter(f"{ns}t")]
    return texts


@pytest.mark.parametrize("text", [*FORMULAS, *PLAIN])
def test_one_guard_in_python_and_sql(text: str) -> None:
    from pipeline.export import defuse_formula, defuse_formula_sql

    expected = "'" + text if text in FORMULAS else text
    assert defuse_formula(text) == expected
    sql = defuse_formula_sql("name")
    with duckdb.connect() as conn:
        row = conn.execute(f"select {sql} from (select ? as name)", [text]).fetchone()
    assert row == (expected,)


def _formula_calls(settings: Settings) -> None:
    base = sample_rows()[0]
    rows = [
        dict(base, id=i, call_id=f"f{i}", caller_name=name) for i, name in enumerate(FORMULAS, 1)
    ]
    directory = Directory(frozenset({"acme.example"}))
    ingest_rows(Lake(settings.lake_dir, durable=False), rows, directory, after=0)


def test_call_exports_defuse_formulas_in_csv_and_xlsx(settings: Settings, tmp_path: Path) -> None:
    from pipeline.report_files import write_calls_file

    _formula_calls(settings)
    with connect(settings, "acme.example") as conn:
        csv_rows = read_csv(b"".join(iter_calls_csv(conn, CallFilter(), "UTC")))
        write_calls_file(conn, CallFilter(), "xlsx", tmp_path / "calls.xlsx", "UTC")
    assert sorted(r["caller_name"] for r in csv_rows) == sorted("'" + f for f in FORMULAS)
    assert {r["caller"] for r in csv_rows} == {"+15550100"}
    texts = xlsx_texts((tmp_path / "calls.xlsx").read_bytes())
    assert all("'" + f in texts for f in FORMULAS)
    assert not any(t in texts for t in FORMULAS)
    assert "+15550100" in texts


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_analytics_tables_and_reports_defuse_formulas(fmt: str, tmp_path: Path) -> None:
    from pipeline.report_files import table_bytes, write_table

    rows = [{"rule": name, "caller_name": name, "calls": 3} for name in (*FORMULAS, *PLAIN)]
    columns = ["rule", "caller_name", "calls"]
    write_table(rows, columns, fmt, tmp_path / f"report.{fmt}")  # scheduled reports
    for data in (table_bytes(rows, columns, fmt), (tmp_path / f"report.{fmt}").read_bytes()):
        if fmt == "csv":
            cells = [v for r in read_csv(data) for v in (r["rule"], r["caller_name"])]
        else:
            cells = xlsx_texts(data)
        for name in FORMULAS:
            assert "'" + name in cells
            assert name not in cells
        assert "+15550100" in cells and "Jane Customer" in cells
