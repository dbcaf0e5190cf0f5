"""The Queues page's form and the agent bar's sentence, called directly (pure parts)."""

from __future__ import annotations

import pytest

from dash_app.agent_bar import status_text
from dash_app.queues_form import FormError, members_from_text, members_to_text, queue_from_form
from switchboard.attendants import MenuDestination
from switchboard.store.queues import QueueMember

FORM = {
    "name": " Support ", "extension": "600", "strategy": "linear", "ring": 15, "wrapup": 10,
    "max-wait": 300, "max-callers": 10, "announce": 30, "sl": 20, "short-abandon": 5,
    "overflow-kind": "voicemail", "overflow-target": "100", "join-empty": True,
    "hold-music": "off", "exit-key": "1", "exit-kind": "voicemail", "exit-target": "100",
    "pause-no-answer": False, "members": "101, 102:2",
}  # fmt: skip


def test_the_form_becomes_a_queue() -> None:
    q = queue_from_form("acme.example", 3, FORM)
    assert (q.id, q.strategy, q.extension, q.exit_key) == (3, "linear", "600", "1")
    assert q.overflow == MenuDestination("voicemail", "100") and q.hold_music_id is None
    assert q.members == (QueueMember("101", 1), QueueMember("102", 2))
    assert members_to_text(q) == "101, 102:2"
    assert members_from_text("") == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"members": "101:x"}, "members: '101:x' is not EXT or EXT:PRIORITY"),
        ({"ring": "soon"}, "Ring each agent \\(s\\): enter a whole number"),
        ({"overflow-target": ""}, "overflow: enter the voicemail box"),
    ],
)
def test_the_form_says_what_is_wrong(change: dict[str, object], message: str) -> None:
    with pytest.raises(FormError, match=message):
        queue_from_form("acme.example", None, FORM | change)


def test_agent_bar_sentence() -> None:
    live = {"queues": [{"agents": [
        {"extension": "101", "state": "on_call", "since": 100.0, "caller": "+15551234567"},
        {"extension": "102", "state": "available", "since": 0.0},
    ]}]}  # fmt: skip
    assert status_text(live, "101", 1, None, 165.0) == "On a queue call with +15551234567 · 1:05"
    ringing = {"queues": [{
        "waiting": [{"call_id": "c", "caller": "+15550000001", "since": 100.0}],
        "agents": [{"extension": "101", "state": "ringing", "since": 160.0,
                    "caller": "+15550000001"}],
    }]}  # fmt: skip
    assert status_text(ringing, "101", 1, None, 142.0) == "Ringing: +15550000001 waited 0:42"
    assert status_text(live, "102", 2, None, 165.0) == "Available · 2 queues"
    assert status_text(None, "102", 1, "lunch", 0.0) == "Paused (lunch) · 1 queue"
    assert status_text(None, "102", 0, None, 0.0) == "Logged out of your queues"
