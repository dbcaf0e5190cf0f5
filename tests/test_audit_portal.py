"""The audit trail through the portal: voicemail audio served is logged, managers read the trail.

Over HTTP against the shared in-process portal (``client_portal``): the
voicemail audio route logs a play (seeks counted on the same row) and a
download, with the client address; moving a message to the trash logs a
deletion; the Audit page's grid callback and CSV export give a manager their
tenant's trail, filtered, and refuse everyone else.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.store.access_log import AccessQuery
from tests.fixtures.portal import client_session

MID = "vm-" + "cd" * 16  # a message of 102@acme.example
MANAGER, USER, OWNER = "100@acme.example", "101@acme.example", "102@acme.example"


def _state(app: Any) -> Any:
    return app.server.extensions["switchboard_portal"]


@pytest.fixture(scope="module")
def portal_app(client_portal: Any) -> Iterator[Any]:
    """The shared portal with one voicemail message of 102 on disk."""
    state = _state(client_portal)
    audio = state.settings.data_dir / "voicemail" / "acme.example" / "102" / f"{MID}.wav"
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_bytes(b"RIFF" + b"\0" * 2000)
    with state.store_lock:
        state.store.record_voicemail(
            "acme.example",
            "102",
            MID,
            started_at=time.time(),
            duration=2.0,
            audio_path=str(audio.relative_to(state.settings.data_dir)),
        )
    yield client_portal


def _trail(app: Any, **query: Any) -> list[Any]:
    state = _state(app)
    with state.store_lock:
        return list(state.store.access_log("acme.example", AccessQuery(object_id=MID, **query)))


def _grid(client: Any, params: dict[str, str]) -> Any:
    """POST the Audit grid's row callback as the browser does."""
    return client.post(
        "/_dash-update-component",
        json={
            "output": "..audit-grid.getRowsResponse...audit-count.children..",
            "outputs": [
                {"id": "audit-grid", "property": "getRowsResponse"},
                {"id": "audit-count", "property": "children"},
            ],
            "inputs": [
                {
                    "id": "audit-grid",
                    "property": "getRowsRequest",
                    "value": {"startRow": 0, "endRow": 100},
                }
            ],
            "state": [{"id": "audit-filter", "property": "data", "value": params}],
            "changedPropIds": ["audit-grid.getRowsRequest"],
        },
    )


def test_voicemail_audio_served_is_in_the_trail_once_per_listening(portal_app: Any) -> None:
    with client_session(portal_app, OWNER) as owner:
        assert owner.head(f"/voicemail/audio/{MID}").status_code == 200  # serves no bytes
        assert _trail(portal_app) == []
        assert owner.get(f"/voicemail/audio/{MID}").status_code == 200
        seek = owner.get(f"/voicemail/audio/{MID}", headers={"Range": "bytes=1000-"})
        assert seek.status_code == 206
        assert owner.get(f"/voicemail/audio/{MID}?download=1").status_code == 200
    with client_session(portal_app, USER) as stranger:  # refused: nothing served, nothing logged
        assert stranger.get(f"/voicemail/audio/{MID}").status_code == 404

    plays = _trail(portal_app, action="play")
    assert [(r.actor, r.requests, r.object_label, r.client) for r in plays] == [
        (OWNER, 2, "mailbox 102", "127.0.0.1")
    ]
    downloads = _trail(portal_app, action="download")
    assert [(r.actor, r.actor_name) for r in downloads] == [(OWNER, "Bob Builder")]


def test_moving_a_message_to_the_trash_is_a_logged_deletion(portal_app: Any) -> None:
    with client_session(portal_app, MANAGER) as manager:
        deps = manager.get("/_dash-dependencies").get_json()
        dep = next(d for d in deps if "voicemail-action" in json_ids(d["inputs"]))
        trigger = {"type": "voicemail-action", "action": "delete", "message": MID}
        body = {
            "output": dep["output"],
            "outputs": [
                {"id": part.rpartition(".")[0], "property": part.rpartition(".")[2]}
                for part in dep["output"].strip(".").split("...")
            ],
            "inputs": [[{"id": trigger, "property": "n_clicks", "value": 1}]],
            "state": [
                [],  # the forward-to pickers' values and ids
                [],
                {"id": "voicemail-box", "property": "data", "value": "102"},
                {"id": "voicemail-version", "property": "data", "value": 1},
            ],
            "changedPropIds": [f"{_compact(trigger)}.n_clicks"],
        }
        assert manager.post("/_dash-update-component", json=body).status_code == 200
    state = _state(portal_app)
    with state.store_lock:
        assert state.store.voicemail_message("acme.example", "102", MID).folder == "trash"
        state.store.restore_message("acme.example", "102", MID)
    deletions = _trail(portal_app, action="delete")
    assert [(r.actor, r.object_label) for r in deletions] == [(MANAGER, "mailbox 102")]


def json_ids(specs: list[dict[str, Any]]) -> str:
    return " ".join(str(s["id"]) for s in specs)


def _compact(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def test_a_manager_reads_the_trail_filtered_and_nobody_else_does(portal_app: Any) -> None:
    with client_session(portal_app, OWNER) as owner:
        owner.get(f"/voicemail/audio/{MID}?download=1")
    with client_session(portal_app, MANAGER) as manager:
        answer = _grid(manager, {"actor": "102", "action": "download"})
        assert answer.status_code == 200
        rows = answer.get_json()["response"]["audit-grid"]["getRowsResponse"]["rowData"]
        assert rows and all(r["actor_label"] == "Bob Builder (102)" for r in rows)
        assert {r["action_label"] for r in rows} == {"Downloaded"}

        export = manager.get("/download/audit.csv?actor=102&object=" + MID)
        assert export.status_code == 200
        table = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
        assert table and {r["actor"] for r in table} == {OWNER}
        assert {r["object_id"] for r in table} == {MID}

        bad = manager.get("/download/audit.csv?from=yesterday")
        assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_json()["error"]
        assert manager.get("/audit?action=erase").status_code == 400

    for login in (USER, OWNER, "103@acme.example"):  # a plain user, the owner, a supervisor
        with client_session(portal_app, login) as other:
            refused = _grid(other, {})
            assert refused.status_code == 403, login
            assert other.get("/download/audit.csv").status_code == 403, login
    with client_session(portal_app, "100@globex.example") as globex:  # their own tenant's only
        assert MID not in _grid(globex, {}).get_data(as_text=True)
        assert MID not in globex.get(f"/download/audit.csv?object={MID}").get_data(as_text=True)
    with client_session(portal_app, None) as anonymous:
        assert _grid(anonymous, {}).status_code == 401
        assert anonymous.get("/download/audit.csv").status_code == 302
