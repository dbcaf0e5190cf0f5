"""The supervisor notebooks run (papermill) on the hand-checked lake and agree with the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from switchboard.settings import Settings
from tests.fixtures.analytics import ACME, HAND_DAY, hand_acc_rows, write_lake
from tests.fixtures.core import Directory
from tests.fixtures.notebooks import NOTEBOOKS, cli_json, execute


def hand_day_kpis(monkeypatch: pytest.MonkeyPatch, settings: Settings, *extra: str) -> Any:
    """``switchboard kpis`` of the hand-checked day."""
    argv = ["kpis", "--tenant", ACME, "--from", HAND_DAY, "--to", HAND_DAY, *extra]
    return cli_json(monkeypatch, settings, *argv)


def test_notebooks_execute_and_equal_the_cli(
    settings: Settings, directory: Directory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_lake(settings, hand_acc_rows())
    params = {
        "tenant": ACME,
        "date_from": HAND_DAY,
        "date_to": HAND_DAY,
        "data_dir": str(settings.data_dir),
    }
    numbers = {}
    for name in ("daily_operations_review", "extension_performance", "missed_call_recovery"):
        numbers[name] = execute(name, tmp_path / f"{name}.ipynb", params)

    kpis = hand_day_kpis(monkeypatch, settings)["kpis"]
    daily = numbers["daily_operations_review"]
    assert daily == {k: kpis[k] for k in daily}
    assert daily["calls"] == 7 and daily["callbacks_pending"] == 1

    rows = hand_day_kpis(monkeypatch, settings, "--group-by", "extension")["rows"]
    by_ext = {
        ("(none)" if r["grp"] is None else r["grp"]): {
            "calls": r["calls"],
            "answered": r["answered"],
        }
        for r in rows
    }
    assert numbers["extension_performance"] == by_ext

    recovery = numbers["missed_call_recovery"]
    assert recovery == {k: kpis[k] for k in recovery}


def test_notebooks_are_stored_without_outputs() -> None:
    for path in NOTEBOOKS.glob("*.ipynb"):
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
