"""One user's share of this portal process: how many of their requests may query the lake
at once, and whose metric results the shared cache keeps.

An audit of resource exhaustion (2026-12) found that one signed-in plain user could load
the portal for everyone: 16 concurrent loops of a year of Analytics took 1.8 of 2 cores,
and another user's Call History went from 0.03 to 3.8 s median.

Slots: every warehouse connection the portal opens passes
:func:`pipeline.warehouse.connect`, which asks :func:`admit` first
(:func:`pipeline.warehouse.set_admission`: one place, not one per page). A request that
opens a connection takes one of its user's slots and keeps it until the request ends;
its further connections (a narrowed Call History, a worklist check) ride on that slot.
A user has ``portal_query_slots`` of them; one more request waits up to
``WAIT_SECONDS`` for one of that user's to come back, then is told busy: a page
(Dash's page-routing callback) shows a "busy, try again" notice in place of the page,
any other callback or route answers 429 with ``Retry-After``. Nobody ever waits for
another user's slots. Per process, like :mod:`dash_app.download_slots`: with
``portal_workers`` workers a user may hold that many in each.

Why 2 slots: measured in headless Chromium (2026-12, a lake of 400,000 calls), no page
load of Home, Call History (grid scrolled through five blocks), Analytics (a year, and
the default month), Recordings, Voicemail or the Wallboard, as a plain user or a
manager, ever had more than one query-running request of its user in flight at once
(the grid asks for its blocks one after another; a page's other callbacks run no
query). A second slot lets a second tab, or a download beside the page, run at once.

Why a short wait: a waiting request holds one of the worker's ``portal_threads``, which
other users' requests also need, so the wait is what another user queues behind. The
audit's flood (one plain user, 16 loops of a year of Analytics, 2 workers of 8 threads,
400,000 calls, a busy 2-core box) against another user's Call History block, median:
8.9 s without slots; with 2 slots 1.6 s waiting 2 s, 0.43 s waiting 0.5 s (1 slot and
0.5 s: 0.15 s). Half a second still absorbs a second tab racing the first, and a flood
gets its refusals paced (~15 a second here) rather than in a tight loop.

Cache owner: the same requests name their user as the owner of the metric results they
cause (:data:`pipeline.metrics_cache.CACHE_OWNER`), so one user's flood evicts mostly
their own results. Per user rather than per tenant: the finding is one user against the
others, colleagues of the same tenant included.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from flask import Flask, Response, g, has_request_context
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests

from dash_app.user_slots import UserSlots
from pipeline.metrics_cache import CACHE_OWNER
from pipeline.warehouse import set_admission

WAIT_SECONDS = 0.5
RETRY_AFTER_SECONDS = 5
BUSY_MESSAGE = (
    "The server is busy with your other requests (other tabs or downloads): try again in a moment."
)
# Dash's page-routing callback: its first output is the page.
_PAGE_OUTPUT = {"id": "_pages_content", "property": "children"}
_HELD_KEY = "query_slot_release"  # in flask.g: this request's slot, once taken


class QueryBusy(Exception):
    """The user has every query slot in use and none came back in time; nothing ran."""


SLOTS = UserSlots(per_user=2)  # per_user from settings.portal_query_slots (install)


def admit() -> None:
    """Before a warehouse connection opens: the signed-in user's slot for this request."""
    if not has_request_context() or not current_user.is_authenticated:
        return  # a background job of the process, or the operator's tools: not a user's
    if g.get(_HELD_KEY) is None:
        user_id = current_user.user.id
        release = SLOTS.take(user_id, WAIT_SECONDS)
        if release is None:
            raise QueryBusy(BUSY_MESSAGE)
        setattr(g, _HELD_KEY, release)
        CACHE_OWNER.set(f"user-{user_id}")


def busy_notice(exc: QueryBusy) -> Any:
    """The notice shown where a refused query's result would be (a page, a Home card)."""
    return dmc.Alert(str(exc), title="Busy", color="yellow", variant="light")


def busy_callback_answer(exc: QueryBusy) -> Any:
    """What a callback refused a slot answers: the busy notice as the page, else 429."""
    if dash.callback_context.outputs_list[:1] == [_PAGE_OUTPUT]:
        return [busy_notice(exc), dash.no_update]
    raise TooManyRequests(str(exc), retry_after=RETRY_AFTER_SECONDS) from exc


def install_query_slots(server: Flask, per_user: int) -> None:
    """Ask for a slot before every warehouse connection of a request; give it back after."""
    SLOTS.per_user = max(1, per_user)
    set_admission(admit)

    @server.teardown_request
    def give_back(_exc: BaseException | None) -> None:
        release = g.pop(_HELD_KEY, None)
        if release is not None:
            release()
        CACHE_OWNER.set("")  # a thread's next request is someone else's

    @server.errorhandler(QueryBusy)
    def busy(exc: QueryBusy) -> Response:
        return Response(str(exc), status=429, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
