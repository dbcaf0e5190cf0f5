"""``switchboard kpis`` and ``switchboard schedule``: the metric layer's numbers, per tenant."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from datetime import date

import pytest

from cli.main import main
from pipeline import metrics
from pipeline.metric_catalogue import GROUP_BYS, KPI_COLUMNS
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.analytics import (
    ACME,
    GLOBEX,
    HAND_DAY,
    HAND_EXPECTED,
    hand_acc_rows,
    write_lake,
)
from tests.fixtures.core import Directory
from tests.fixtures.portal import portal_env


def run(monkeypatch: pytest.MonkeyPatch, settings: Settings, *argv: str) -> tuple[int, str]:
    for key, value in portal_env(settings).items():
        if key.startswith("SWITCHBOARD_"):
            monkeypatch.setenv(key, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_kpis_json_text_and_groups(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, directory: Directory
) -> None:
    write_lake(settings, hand_acc_rows())
    period = ["--from", HAND_DAY, "--to", HAND_DAY]
    code, out = run(monkeypatch, settings, "kpis", "--tenant", ACME, *period, "--json")
    body = json.loads(out)
    assert code == 0 and body["metrics_version"] == metrics.METRICS_VERSION
    assert {k: body["kpis"][k] for k in ("calls", "offered", "callbacks_pending")} == {
        k: HAND_EXPECTED[k] for k in ("calls", "offered", "callbacks_pending")
    }
    conn = connect(settings, ACME)
    try:
        day = metrics.Period(date.fromisoformat(HAND_DAY), date.fromisoformat(HAND_DAY))
        (row,) = metrics.kpis(conn, day, tz="America/New_York")
    finally:
        conn.close()
    assert body["kpis"]["answer_rate"] == row["answer_rate"]
    code, out = run(monkeypatch, settings, "kpis", "--tenant", ACME, *period)
    assert "Answer rate" in out and "33.3%" in out
    code, out = run(
        monkeypatch, settings, "kpis", "--tenant", ACME, *period, "--group-by", "rule", "--json"
    )
    assert {r["grp"]: r["calls"] for r in json.loads(out)["rows"]} == {
        "Open": 2,
        "Closed": 2,
        None: 3,
    }
    code, out = run(monkeypatch, settings, "kpis", "--tenant", GLOBEX, *period, "--json")
    assert json.loads(out)["kpis"]["calls"] == 1  # only globex's own call


def test_the_cli_reads_the_metric_catalogue_without_duckdb() -> None:
    """The parser's choices and the table's columns come from the catalogue, not a copy."""
    code = (
        "import sys; from cli.main import build_parser; build_parser();"
        " print('duckdb' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    assert set(KPI_COLUMNS) <= {d.name for d in metrics.DEFINITIONS if d.family == "kpis"}
    assert metrics.GROUP_BYS == GROUP_BYS


def test_schedule_add_list_run_due(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, directory: Directory
) -> None:
    code, out = run(
        monkeypatch, settings, "schedule", "add", "--tenant", ACME, "--name", "Daily",
        "--cron", "0 7 * * *", "--format", "xlsx",
    )  # fmt: skip
    assert code == 0 and "Daily" in out
    code, out = run(monkeypatch, settings, "schedule", "list", "--tenant", ACME)
    assert "Daily" in out and "kpis/xlsx" in out
    code, out = run(monkeypatch, settings, "schedule", "run-due")
    assert code == 0  # nothing due yet
