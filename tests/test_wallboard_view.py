"""The wallboard's pure parts: tiles from a live document and today's numbers, colours."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dash_app.wallboard_view import build_tiles, read_live, render_board, tile_level
from switchboard.queue_events import LiveAgent, LiveCaller, LiveQueue, live_document

NOW = 1_000_000.0


def live(*queues: LiveQueue) -> dict[str, object]:
    return json.loads(json.dumps(live_document("acme.example", NOW, list(queues))))


SUPPORT = LiveQueue(
    1,
    "Support",
    (LiveCaller("c1", "+15550100", NOW - 45), LiveCaller("c2", None, NOW - 5)),
    (
        LiveAgent("101", "available", NOW - 100),
        LiveAgent("102", "on_call", NOW - 30, caller="+15550199"),
        LiveAgent("103", "paused", NOW - 125, reason="lunch"),
        LiveAgent("104", "wrapup", NOW - 3),
        LiveAgent("105", "logged_out", NOW - 999),
    ),
)


def test_tiles_count_callers_agents_and_pauses() -> None:
    today = {1: {"offered": 40, "answered": 35, "abandoned": 3, "service_level": 0.9}}
    (tile,) = build_tiles(live(SUPPORT), today, {1: 60}, NOW)
    assert (tile.name, tile.waiting, tile.longest_wait) == ("Support", 2, 45.0)
    assert tile.agents == {"available": 1, "ringing": 0, "on_call": 1, "wrapup": 1, "paused": 1}
    assert tile.paused == (("103", "lunch", 125.0),)
    assert (tile.offered, tile.answered, tile.abandoned, tile.service_level) == (40, 35, 3, 0.9)
    assert tile.level == "green"


def test_thresholds_turn_a_tile_amber_then_red() -> None:
    assert tile_level(19, 0.95, 20)[0] == "green"
    assert tile_level(20, 0.95, 20) == ("amber", ("a caller has waited over 20 s",))
    assert tile_level(40, 0.95, 20)[0] == "red"
    assert tile_level(0, 0.79, 20)[0] == "amber"
    assert tile_level(0, 0.59, 20)[0] == "red"
    assert tile_level(25, None, 20)[0] == "amber"  # today not known yet: the wait decides
    (tile,) = build_tiles(live(SUPPORT), {}, {1: 20}, NOW)  # 45 s ≥ 2 × 20
    assert tile.level == "red" and tile.offered is None


def flatten(component: Any) -> str:
    """Every id, string and data attribute of a component tree, as one text."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(flatten(c) for c in component)
    if component is None or not hasattr(component, "to_plotly_json"):
        return ""
    props = component.to_plotly_json()["props"]
    parts = [f'"{k}": "{v}"' for k, v in props.items() if isinstance(v, str)]
    return " ".join([*parts, flatten(props.get("children"))])


def test_render_shows_the_figures_by_id() -> None:
    (tile,) = build_tiles(live(SUPPORT), {}, {1: 20}, NOW)
    text = flatten(render_board([tile], tv=True))
    for ident in ("wallboard-q1-waiting", "wallboard-q1-longest", "wallboard-q1-paused-103"):
        assert ident in text
    assert "0:45" in text and "lunch" in text and '"data-level": "red"' in text
    none = flatten(render_board([], live_known=False))
    assert "wallboard-no-live" in none


def test_read_live_tolerates_a_missing_or_bad_file(tmp_path: Path) -> None:
    assert read_live(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{half")
    assert read_live(tmp_path / "bad.json") is None
    (tmp_path / "ok.json").write_text(json.dumps(live_document("a.example", NOW, [SUPPORT])))
    doc = read_live(tmp_path / "ok.json")
    assert doc is not None and doc["queues"] == [json.loads(json.dumps(asdict(SUPPORT)))]
