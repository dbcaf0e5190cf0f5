"""The supervisor notebooks run (papermill) on the hand-checked lake and agree with the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main as cli_main
from switchboard.settings import Settings
from tests.fixtures.analytics import ACME, HAND_DAY, hand_acc_rows, write_lake
from tests.fixtures.core import Directory
from tests.fixtures.portal import portal_env

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cli_json(monkeypatch: pytest.MonkeyPatch, settings: Settings, *extra: str) -> Any:
    for key, value in portal_env(settings).items():
        if key.startswith("SWITCHBOARD_"):
            monkeypatch.setenv(key, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(
            ["kpis", "--tenant", ACME, "--from", HAND_DAY, "--to", HAND_DAY, "--json", *extra]
        )
    assert code == 0
    return json.loads(out.getvalue())


def key_numbers(path: Path) -> Any:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    (cell,) = [c for c in notebook.cells if "key-numbers" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("KEY_NUMBERS ")]
    return json.loads(line.removeprefix("KEY_NUMBERS "))


def test_notebooks_execute_and_equal_the_cli(
    settings: Settings, directory: Directory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill

    write_lake(settings, hand_acc_rows())
    params = {
        "tenant": ACME,
        "date_from": HAND_DAY,
        "date_to": HAND_DAY,
        "data_dir": str(settings.data_dir),
    }
    numbers = {}
    for name in ("daily_operations_review", "extension_performance", "missed_call_recovery"):
        out = tmp_path / f"{name}.ipynb"
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"),
            str(out),
            parameters=params,
            cwd=str(NOTEBOOKS.parent),
            kernel_name="python3",
            progress_bar=False,
        )
        numbers[name] = key_numbers(out)

    kpis = cli_json(monkeypatch, settings)["kpis"]
    daily = numbers["daily_operations_review"]
    assert daily == {k: kpis[k] for k in daily}
    assert daily["calls"] == 7 and daily["callbacks_pending"] == 1

    rows = cli_json(monkeypatch, settings, "--group-by", "extension")["rows"]
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
