"""The queue engine's edges without SIP: feature codes, store changes become agent events,
queue targets parse, spool batches and the live file follow the contract."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from media.feature_codes import apply_feature, feature_action
from media.queue import QueueEngine, parse_queue_target
from media.queue_spool import QueueLog
from switchboard.queue_events import AgentEvent, QueueEvent
from switchboard.settings import Settings
from switchboard.store.queues import CallQueue, QueueMember
from tests.fixtures.core import Directory

ACME = "acme.example"


@dataclass
class Host:
    settings: Settings
    menus: None = None
    dialer: None = None


def _events(settings: Settings) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for path in sorted((settings.spool_dir / "queue_events" / ACME).glob("qe-*.json")):
        rows += json.loads(path.read_text())["agent_events"]
    return rows


@pytest.mark.parametrize(
    ("code", "action"),
    [(45, ("login", None)), (46, ("logout", None)), (47, ("pause", "break")),
     (472, ("pause", "lunch")), (48, ("unpause", None)), (479, None), (44, None)],
)  # fmt: skip
def test_feature_codes(code: int, action: tuple[str, str | None] | None) -> None:
    assert feature_action(code) == action


def test_phone_and_cli_changes_become_agent_events(
    settings: Settings, directory: Directory
) -> None:
    store = directory.store
    q = store.save_queue(CallQueue(ACME, "Support", members=(QueueMember("101"),)))
    engine = QueueEngine(Host(settings), store)  # type: ignore[arg-type]
    engine._logins, engine._pauses = engine._agent_snapshot()
    assert apply_feature(engine, ACME, "101", 45) == "You are logged in to 1 queue."
    assert apply_feature(engine, ACME, "101", 472) == "You are paused for lunch."
    assert apply_feature(engine, ACME, "102", 45) == "You are not an agent of any queue."
    store.set_agent_pause(ACME, "101", None)  # the CLI or the portal, behind the engine's back
    store.set_agent_login(ACME, "101", False)
    engine.sync_agents()
    engine.sync_agents()  # nothing new: no event
    engine.log.flush()
    got = [(e["kind"], e["agent"], e["queue_id"], e["reason"]) for e in _events(settings)]
    assert got == [
        ("login", "101", q.id, None), ("pause", "101", None, "lunch"),
        ("logout", "101", q.id, None), ("unpause", "101", None, "lunch"),
    ]  # fmt: skip
    live = json.loads((settings.data_dir / "live" / "queues" / f"{ACME}.json").read_text())
    assert live["queues"][0]["agents"][0]["state"] == "logged_out"


def test_queue_targets_name_tenant_and_queue() -> None:
    # which agents Kamailio's dialogs name busy: tests/test_queue_busy_probe.py
    assert parse_queue_target("q-acme.example-7") == (ACME, 7)
    assert parse_queue_target("aa-acme.example-7") is None


def test_spool_batches_follow_the_contract(tmp_path: Path) -> None:
    log = QueueLog(tmp_path / "spool", tmp_path / "data")
    log.queue_event(ACME, QueueEvent(1.0, "enter", 1, "c1", "+1555", position=1))
    log.agent_event(ACME, AgentEvent(2.0, "login", "101", 1))
    log.queue_event("not a tenant", QueueEvent(1.0, "enter", 1, "c2"))
    [path] = log.flush()
    doc = json.loads(path.read_text())
    assert path.name == f"{doc['batch_id']}.json" and doc["tenant"] == ACME
    assert doc["queue_events"][0]["position"] == 1 and doc["agent_events"][0]["agent"] == "101"
    assert log.flush() == []
