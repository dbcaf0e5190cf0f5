"""``switchboard recordings list|search``: a tenant's recordings and one search, from the shell."""

from __future__ import annotations

import pytest

from cli import main as cli
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.portal import PORTAL_CALLS, build_lake
from tests.fixtures.recorded_calls import REC_C01, REC_C04, REC_G01, seed_recordings


@pytest.fixture
def env(settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    build_lake(settings, PORTAL_CALLS)
    seed_recordings(settings)
    return settings


def test_list_and_search_a_tenants_recordings(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["recordings", "list", "--tenant", "acme.example"]) == 0
    out = capsys.readouterr().out
    assert REC_C04 in out and REC_C01 in out and REC_G01 not in out
    assert out.index(REC_C04) < out.index(REC_C01)  # newest first
    assert "2025-03-10 09:00:05\t101\t102\t3.0\tyes" in out  # New York time

    assert cli.main(["recordings", "list", "--tenant", "acme.example", "--ext", "103"]) == 0
    assert REC_C01 not in capsys.readouterr().out

    assert cli.main(["recordings", "search", "refund", "--tenant", "acme.example"]) == 0
    found = capsys.readouterr()
    assert f"recording\t2025-03-10 09:00:05\t101\t102\t{REC_C01}" in found.out
    assert "1 recordings and voicemails match 'refund'" in found.err


def test_bad_input_is_exit_2_with_the_reason(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["recordings", "list", "--tenant", "acme.example", "--from", "May"]) == 2
    assert "from must be a date" in capsys.readouterr().err
    assert cli.main(["recordings", "search", "refund"]) == 2  # two tenants: which one?
    assert "--tenant" in capsys.readouterr().err
    assert cli.main(["recordings", "list", "--tenant", "nowhere.example"]) == 2


def test_retention_is_shown_and_set(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["recordings", "retention", "--tenant", "acme.example"]
    assert cli.main(args) == 0
    assert capsys.readouterr().out == "acme.example: kept until deleted\n"
    assert cli.main([*args, "--days", "90"]) == 0
    assert capsys.readouterr().out == "acme.example: kept 90 days\n"
    assert cli.main([*args, "--days", "0"]) == 2
    assert "1 to 36500 days" in capsys.readouterr().err
    assert cli.main([*args, "--forever"]) == 0
    assert capsys.readouterr().out == "acme.example: kept until deleted\n"
