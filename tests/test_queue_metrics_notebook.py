"""The supervisor notebook "queue performance" runs (papermill) and agrees with the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.settings import Settings
from tests.fixtures.notebooks import cli_json, execute
from tests.fixtures.queue_events import ACME

DAY = "2026-03-02"


def test_queue_notebook_executes_and_equals_the_cli(
    hand_lake: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = execute(
        "queue_performance",
        tmp_path / "queue_performance.ipynb",
        {"tenant": ACME, "date_from": DAY, "date_to": DAY, "data_dir": str(hand_lake.data_dir)},
    )
    argv = ["kpis", "--tenant", ACME, "--from", DAY, "--to", DAY, "--queue", "1"]
    body = cli_json(monkeypatch, hand_lake, *argv)
    (row,) = body["rows"]
    assert numbers["1"] == {k: row[k] for k in numbers["1"]}
    assert numbers["1"]["offered"] == 7 and numbers["1"]["answered"] == 2
    assert numbers["agents"] == {a["agent"]: a["calls"] for a in body["agents"]}
