"""The wallboard's data and rendering, kept beside ``dash_app/pages/wallboard.py`` (pure).

Two sources, never the lake every second:

- **now** — the live file ``live/queues/<tenant>.json`` the media server replaces at every
  change (``switchboard.queue_events.live_document``): callers waiting with when they
  entered, agents' state and since when. The page reads it every second (one small file).
- **today** — offered, answered, abandoned and service level since local midnight, from
  the queue metrics (:mod:`pipeline.queue_metrics`), cached per tenant for
  :data:`TODAY_TTL_SECONDS`.

A tile turns amber or red by the queue's own service-level threshold T (its settings):
the longest wait now at or past T is amber, at or past 2·T red; today's service level
below :data:`SL_AMBER` is amber, below :data:`SL_RED` red. The worse of the two wins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash_mantine_components as dmc
from dash import html

TODAY_TTL_SECONDS = 30.0
SL_AMBER = 0.8  # the common 80/20 target
SL_RED = 0.6
LEVELS = ("green", "amber", "red")
_COLOURS = {"green": "#2f9e44", "amber": "#f59f00", "red": "#e03131"}
AGENT_STATES_SHOWN = ("available", "ringing", "on_call", "wrapup", "paused")


def read_live(path: Path) -> dict[str, Any] | None:
    """The live document, or None when the media server has not written one (or it is bad)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Tile:
    """One queue on the wallboard: now, today, and its colour."""

    queue_id: int
    name: str
    waiting: int
    longest_wait: float  # seconds, now
    agents: dict[str, int]  # state → how many (logged-out agents are not shown)
    paused: tuple[tuple[str, str, float], ...]  # (extension, reason, seconds paused)
    offered: int | None = None  # today, from the lake (None: not known yet)
    answered: int | None = None
    abandoned: int | None = None
    service_level: float | None = None
    threshold: int = 20  # the queue's T
    level: str = "green"
    reasons: tuple[str, ...] = field(default_factory=tuple)  # why amber/red


def tile_level(
    longest_wait: float, service_level: float | None, threshold: int
) -> tuple[str, tuple[str, ...]]:
    """(green | amber | red, why) by the module docstring's rule."""
    level, why = 0, []
    if longest_wait >= threshold:
        level = 2 if longest_wait >= 2 * threshold else 1
        why.append(f"a caller has waited over {level * threshold} s")
    if service_level is not None and service_level < SL_RED:
        level = 2
        why.append(f"service level below {SL_RED:.0%}")
    elif service_level is not None and service_level < SL_AMBER:
        level = max(level, 1)
        why.append(f"service level below {SL_AMBER:.0%}")
    return LEVELS[level], tuple(why)


def build_tiles(
    live: Mapping[str, Any] | None,
    today: Mapping[int, Mapping[str, Any]],
    thresholds: Mapping[int, int],
    now: float,
) -> list[Tile]:
    """The tiles of every queue in the live document (pure: the render tests call this)."""
    tiles = []
    for q in (live or {}).get("queues", []):
        qid = int(q.get("queue_id", 0))
        waiting = q.get("waiting") or []
        longest = max((now - float(c["since"]) for c in waiting), default=0.0)
        counts = dict.fromkeys(AGENT_STATES_SHOWN, 0)
        paused = []
        for a in q.get("agents") or []:
            state = a.get("state")
            if state in counts:
                counts[state] += 1
            if state == "paused":
                since = max(0.0, now - float(a.get("since") or now))
                paused.append((str(a.get("extension")), a.get("reason") or "paused", since))
        stats = today.get(qid, {})
        t = thresholds.get(qid, 20)
        level, why = tile_level(max(0.0, longest), stats.get("service_level"), t)
        tiles.append(
            Tile(
                qid,
                str(q.get("name") or f"queue {qid}"),
                len(waiting),
                max(0.0, longest),
                counts,
                tuple(sorted(paused)),
                stats.get("offered"),
                stats.get("answered"),
                stats.get("abandoned"),
                stats.get("service_level"),
                t,
                level,
                why,
            )
        )
    return tiles


def _clock(seconds: float) -> str:
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _figure(label: str, value: str, ident: str, big: bool) -> Any:
    return html.Div(
        [
            html.Div(
                value,
                id=ident,
                style={
                    "fontSize": "3rem" if big else "1.8rem",
                    "fontWeight": 700,
                    "lineHeight": 1.1,
                },
            ),
            html.Div(label, style={"fontSize": "0.85rem", "opacity": 0.75}),
        ],
        style={"minWidth": "6rem"},
    )


def render_tile(tile: Tile, *, tv: bool = False) -> Any:
    """One queue's card; ids are ``wallboard-q<id>-<figure>`` for tests and TV scrapers."""
    ident = f"wallboard-q{tile.queue_id}"
    today = "–" if tile.offered is None else None
    sl = "–" if tile.service_level is None else f"{tile.service_level:.0%}"
    agents = [
        dmc.Badge(
            f"{state.replace('_', ' ')} {count}",
            variant="light",
            size="lg",
            id=f"{ident}-agents-{state}",
        )
        for state, count in tile.agents.items()
    ]
    paused = [
        html.Div(f"{ext} · {reason} · {_clock(secs)}", id=f"{ident}-paused-{ext}")
        for ext, reason, secs in tile.paused
    ]
    return dmc.Paper(
        [
            dmc.Group(
                [
                    dmc.Title(tile.name, order=2 if tv else 3),
                    dmc.Badge(
                        tile.level,
                        color={"amber": "yellow"}.get(tile.level, tile.level),
                        id=f"{ident}-level",
                    ),
                ],
                justify="space-between",
            ),
            dmc.Group(
                [
                    _figure("waiting now", str(tile.waiting), f"{ident}-waiting", tv),
                    _figure("longest wait", _clock(tile.longest_wait), f"{ident}-longest", tv),
                    _figure("offered today", today or f"{tile.offered}", f"{ident}-offered", tv),
                    _figure("answered", today or f"{tile.answered}", f"{ident}-answered", tv),
                    _figure("abandoned", today or f"{tile.abandoned}", f"{ident}-abandoned", tv),
                    _figure(f"SL today ({tile.threshold} s)", sl, f"{ident}-sl", tv),
                ],
                gap="xl",
                mt="sm",
            ),
            dmc.Group(agents, gap="xs", mt="md"),
            html.Div(paused, style={"marginTop": "0.5rem"}),
            html.Div(
                "; ".join(tile.reasons), style={"fontSize": "0.85rem", "marginTop": "0.25rem"}
            ),
        ],
        id=ident,
        withBorder=True,
        radius="md",
        p="lg",
        style={"borderLeft": f"0.6rem solid {_COLOURS[tile.level]}"},
        **{"data-level": tile.level},
    )


def render_board(tiles: list[Tile], *, tv: bool = False, live_known: bool = True) -> Any:
    """Every tile, or why there is none."""
    if not live_known:
        return dmc.Alert("The media server has not published queue state yet.",
                         color="gray", id="wallboard-no-live")  # fmt: skip
    if not tiles:
        return dmc.Alert("No queues.", color="gray", id="wallboard-no-queues")
    return dmc.SimpleGrid(
        [render_tile(t, tv=tv) for t in tiles], cols={"base": 1, "lg": 2}, spacing="md"
    )
