"""The recording policy in the store: modes, scopes, precedence, and what Kamailio loads."""

from __future__ import annotations

import sqlite3

import pytest

from cli import main as cli
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.queues import CallQueue
from switchboard.store.recording_policy import resolve_recording_mode
from tests.fixtures.core import Directory

TENANT = "acme.example"


@pytest.mark.parametrize(
    ("default", "explicit", "mode"),
    [
        (None, [], "never"),
        ("always", [None, None], "always"),
        ("always", ["never"], "never"),  # a party's own mode beats the default
        ("never", ["never", "always"], "always"),  # the most recording party wins
        ("never", ["on_demand", None], "on_demand"),
        ("on_demand", ["bogus"], "on_demand"),
    ],
)
def test_resolve_recording_mode(default: str | None, explicit: list[str | None], mode: str) -> None:
    assert resolve_recording_mode(default, explicit) == mode


def test_policies_are_stored_checked_and_loaded_as_kamailio_keys(directory: Directory) -> None:
    store = directory.store
    store.set_recording_policy(TENANT, "tenant", "on_demand")
    store.set_recording_policy(TENANT, "user", "always", "102")
    store.set_recording_policy(TENANT, "user", "never", "101")
    store.set_recording_policy(TENANT, "user", None, "101")  # back to the default
    assert store.recording_mode(TENANT, caller="101", callee="103") == "on_demand"
    assert store.recording_mode(TENANT, caller="101", callee="102") == "always"
    assert store.recording_mode("globex.example", caller="101") == "never"
    db = sqlite3.connect(store.path)
    rows = db.execute("select key_name, key_value from recording_policy_htable order by 1")
    assert rows.fetchall() == [
        ("tenant:acme.example", "on_demand"),
        ("user:acme.example:102", "always"),
    ]
    db.close()
    for bad, message in [
        (("tenant", "sometimes"), "unknown recording mode"),
        (("user", "always", "999"), "no extension 999"),
        (("queue", "always", "7"), "no queue 7"),
        (("desk", "always"), "unknown recording scope"),
    ]:
        with pytest.raises(ProvisioningError, match=message):
            store.set_recording_policy(TENANT, *bad)  # type: ignore[arg-type]


def test_cli_sets_tenant_user_and_queue_policy(
    env: Settings, directory: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = directory.store.save_queue(CallQueue(TENANT, "Sales"))
    assert cli.main(["tenant", "edit", TENANT, "--recording", "on_demand"]) == 0
    assert cli.main(["user", "edit", "102", "--tenant", TENANT, "--recording", "always"]) == 0
    assert (
        cli.main(["queue", "edit", str(queue.id), "--tenant", TENANT, "--recording", "never"]) == 0
    )
    assert cli.main(["user", "edit", "102", "--tenant", TENANT, "--recording", "default"]) == 0
    store = ProvisioningStore(env.provisioning_db)
    assert [(p.scope, p.target, p.mode) for p in store.recording_policies(TENANT)] == [
        ("tenant", "", "on_demand"),
        ("queue", str(queue.id), "never"),
    ]
    store.close()
    assert "recording policy of user 102: always" in capsys.readouterr().out
