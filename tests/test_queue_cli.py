"""Queues and agents from the command line (parity with the Queues page and the agent bar).

A manager adds the Support queue with two members, shows and edits it,
logs an agent in and pauses them; refusals come back as the store's
sentences with exit code 2.
"""

from __future__ import annotations

import json

import pytest

from cli import main as cli
from switchboard.settings import Settings
from tests.fixtures.core import Directory

SB = ["--tenant", "acme.example"]


@pytest.fixture
def env(env: Settings, directory: Directory) -> Directory:
    """The command line's environment over the seeded directory."""
    return directory


def test_a_manager_runs_a_queue_from_the_cli(
    env: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["queue", "add", "Support", *SB, "--extension", "600", "--strategy", "linear",
           "--member", "101", "--member", "102:2", "--overflow", "voicemail:100",
           "--exit-key", "1", "--exit", "voicemail:100", "--max-wait", "120"]  # fmt: skip
    assert cli.main(add) == 0
    assert "queue 1 'Support' added (route calls to queue:1)" in capsys.readouterr().out
    assert cli.main(["queue", "edit", "1", *SB, "--ring", "20", "--pause-on-no-answer"]) == 0
    assert cli.main(["queue", "show", "1", *SB]) == 0
    shown = capsys.readouterr().out
    assert "strategy: linear, ring 20 s per agent" in shown
    assert "102 (priority 2, logged out)" in shown and "exit key: 1 → " in shown
    assert cli.main(["queue", "member", "add", "1", "103", *SB, "--priority", "3"]) == 0
    assert cli.main(["queue", "member", "remove", "1", "101", *SB]) == 0
    assert cli.main(["agent", "login", "102", *SB]) == 0
    assert "102 logged in to 1 queue(s)" in capsys.readouterr().out.splitlines()[-1]
    assert cli.main(["agent", "pause", "102", *SB, "--reason", "lunch"]) == 0
    assert env.store.agent_pause("acme.example", "102").reason == "lunch"
    assert cli.main(["agent", "unpause", "102", *SB]) == 0
    capsys.readouterr()
    assert cli.main(["queue", "list", *SB, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["extension"], m["logged_in"]) for m in listed[0]["members"]] == [
        ("102", True), ("103", False),
    ]  # fmt: skip


def test_refusals_are_sentences(env: Directory, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["queue", "add", "Q", *SB, "--ring", "1"]) == 2
    assert "ring time per agent must be 5 to 120 seconds" in capsys.readouterr().err
    assert cli.main(["queue", "add", "Q", *SB, "--overflow", "queue:9"]) == 2
    assert "overflow: queue 9 does not exist" in capsys.readouterr().err
    assert cli.main(["agent", "login", "101", *SB]) == 2
    assert "101 is not a member of any queue" in capsys.readouterr().err
