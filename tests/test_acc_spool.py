"""The accounting spool's column list has one owner; the SQL schema and the config follow it."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

from kamailio.launcher import config_text, render_local_cfg
from switchboard.acc_spool import ACC_COLUMNS, ACC_TABLE, WRITTEN_COLUMNS
from tests.fixtures.core import make_settings


def test_schema_sql_declares_the_columns_in_order() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(resources.files("kamailio").joinpath("acc_schema.sql").read_text())
    declared = tuple(row[1] for row in db.execute(f"pragma table_info({ACC_TABLE})"))
    assert declared == ACC_COLUMNS


def test_local_cfg_renders_the_insert_columns(tmp_path: Path) -> None:
    rendered = render_local_cfg(make_settings(tmp_path))
    assert f'#!substdef "/SB_ACC_COLUMNS/{", ".join(WRITTEN_COLUMNS)}/"' in rendered
    assert "insert into cdr (SB_ACC_COLUMNS) values" in config_text()


def test_cdr_row_values_follow_the_column_order() -> None:
    """The VALUES tuple CDR_ENQUEUE builds lines up with the rendered column list."""
    cfg = config_text()
    block = cfg[cfg.index("route[CDR_ENQUEUE]") :]
    row = block[block.index('$var(row) = "(";') : block.index('$var(row) = $var(row) + ")";')]
    # each value: a dialog variable through SQL_TEXT, the time, or the SIP code as a number
    values = re.findall(
        r'\$avp\(sql_in\) = (?:\$dlg_var\((\w+)\)|"" \+ \$(TV)\(Sn\))'
        r"|\$\(dlg_var\((sip_code)\)\{s\.int\}\)",
        row,
    )
    # end_at is the time the row is built: the end of the dialog
    names = tuple(var or code or "end_at" for var, _, code in values)
    assert names == WRITTEN_COLUMNS
