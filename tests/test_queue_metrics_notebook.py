"""The supervisor notebook "queue performance" runs (papermill) and agrees with the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main as cli_main
from switchboard.settings import Settings
from tests.fixtures.portal import portal_env
from tests.test_notebooks import key_numbers
from tests.test_queue_metrics import ACME, hand_lake  # noqa: F401 (a fixture)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "queue_performance.ipynb"
DAY = "2026-03-02"


def cli_queue(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Any:
    for key, value in portal_env(settings).items():
        if key.startswith("SWITCHBOARD_"):
            monkeypatch.setenv(key, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        argv = ["kpis", "--tenant", ACME, "--from", DAY, "--to", DAY, "--queue", "1", "--json"]
        assert cli_main(argv) == 0
    return json.loads(out.getvalue())


def test_queue_notebook_executes_and_equals_the_cli(
    hand_lake: Settings,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import papermill

    out = tmp_path / "queue_performance.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "tenant": ACME,
            "date_from": DAY,
            "date_to": DAY,
            "data_dir": str(hand_lake.data_dir),
        },
        cwd=str(NOTEBOOK.parents[1]),
        kernel_name="python3",
        progress_bar=False,
    )
    numbers = key_numbers(out)
    body = cli_queue(monkeypatch, hand_lake)
    (row,) = body["rows"]
    assert numbers["1"] == {k: row[k] for k in numbers["1"]}
    assert numbers["1"]["offered"] == 7 and numbers["1"]["answered"] == 2
    assert numbers["agents"] == {a["agent"]: a["calls"] for a in body["agents"]}
