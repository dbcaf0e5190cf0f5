"""Recordings: the calls recorded, filtered like Call History, played with a transcript per speaker.

The filter lives in the URL (keys in :mod:`dash_app.recordings_view`), so a
view is a link; ``?rec=<id>`` opens one recording under the grid, which is
where a call-history row's recording icon points. The open recording plays
in an ``<audio>`` element from the guarded, audited route of
:mod:`dash_app.recordings_routes` (seeking is range requests); its
transcript lists each side's lines in time order, and a click on a line
plays from there (``assets/recordings.js``). One search box finds words in
recording and voicemail transcripts alike.

Scope is the warehouse's (:func:`dash_app.auth.open_calls`): a plain user
sees the recordings of their own calls, supervisors and managers their
tenant's. Ids coming back from the browser are looked up again in that scope,
so a crafted id opens nothing.

Managers and supervisors also get "Missing" (``?show=missing``): the calls the
recording policy said to record that have no recording because rtpengine was
down at call time (:func:`pipeline.recording_query.list_missing_recordings`),
each marked "Missing"; the row callback refuses that list to anyone else.
The grid machinery (URL filter, paging, purge) is :mod:`dash_app.paged_grid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app.auth import open_calls, optional_user, provisioning, signed_in_user
from dash_app.editing import NotAllowed
from dash_app.layout import format_local
from dash_app.paged_grid import PagedGrid, choice, date_range, labelled, text_box
from dash_app.paged_grid_filters import controls_query, search_string, with_query
from dash_app.recordings_panel import delete_dialog, recording_panel, retention_control
from dash_app.recordings_view import (
    NOT_FOR_MISSING,
    SHOW_MISSING,
    clean_query,
    describe,
    grid_columns,
    grid_row,
    missing_columns,
    missing_row,
    page_url,
    parse_query,
    showing_missing,
)
from dash_app.voicemail_view import may_open
from pipeline.schema import DIRECTIONS
from switchboard.store import User

dash.register_page(
    __name__,
    path="/recordings",
    name="Recordings",
    title="Recordings · Switchboard",
    order=1,
)

GRID = PagedGrid(
    "recordings",
    row_id="recording_id",
    noun=("recording", "recordings"),
    most_rows=500,
    max_blocks=10,
    style={"height": "320px"},
)
_CONTROLS = (
    "recordings-dates",
    "recordings-direction",
    "recordings-extension",
    "recordings-number",
    "recordings-queue",
    "recordings-has-transcript",
    "recordings-words",
)
MISSING_IS_FOR = "only managers and supervisors see the calls whose recording is missing"


def may_see_missing(user: User) -> bool:
    """Missing recordings are the tenant's operations (the relay was down), not a user's calls."""
    return user.sees_whole_tenant


# The list not shown is an outlined button, the one shown a filled one (and the current page).
_OTHER_LIST = {"background": "#fff", "color": "var(--sb-brand)", "border": "1px solid"}


def _current(active: bool) -> dict[str, Any]:
    return {"aria-current": "page"} if active else {"style": _OTHER_LIST}


def _view_links(params: Mapping[str, str]) -> tuple[str, str]:
    """The "Recorded" and "Missing" links for a filter: the same days, extension, number."""
    recorded = {k: v for k, v in clean_query(params).items() if k != "show"}
    missing = {k: v for k, v in recorded.items() if k not in NOT_FOR_MISSING}
    return (
        with_query("/recordings", recorded),
        with_query("/recordings", {**missing, "show": SHOW_MISSING}),
    )


def _views(params: dict[str, str], missing: bool) -> Any:
    """The two lists as links: a page load, so the grid gets that list's own columns."""
    hrefs = _view_links(params)
    return dmc.Group(
        [
            html.A(
                label,
                href=href,
                className="sb-link-button",
                id=f"recordings-show-{label.lower()}",
                **_current(active),
            )
            for label, href, active in zip(
                ("Recorded", "Missing"), hrefs, (not missing, missing), strict=True
            )
        ],
        gap="xs",
        id="recordings-show",
    )


@callback(
    Output("recordings-show-recorded", "href"),
    Output("recordings-show-missing", "href"),
    Input("recordings-filter", "data"),
    prevent_initial_call=True,
)
def follow_filter(params: dict[str, str] | None) -> tuple[str, str]:
    """The two links keep the filter the controls set (only the shown list's columns change)."""
    return _view_links(params or {})


def layout(**query: Any) -> Any:
    """The recordings the viewer may hear (or the calls missing theirs), for the URL's filter."""
    user = optional_user()
    if user is None:
        return html.Div()
    params, _flt, error = parse_query(query, user.timezone)
    if showing_missing(params) and not may_see_missing(user):
        params = {k: v for k, v in params.items() if k != "show"}
        error = MISSING_IS_FOR
    missing = showing_missing(params)
    # The missing list cannot filter on these: with nothing recorded there is nothing to match.
    unusable = {"disabled": True} if missing else {}
    opened = "" if missing else str(query.get("rec") or "")
    whose = user.tenant_domain if user.sees_whole_tenant else f"extension {user.extension}"
    scope = (
        f"Calls of {whose} the recording policy said to record, with no recording: the media"
        f" relay was unavailable and the call went on unrecorded · times in {user.timezone}"
        if missing
        else f"Recorded calls of {whose} · times in {user.timezone}"
        " · caller on the left channel, callee on the right"
    )
    flag = params.get("has_transcript", "").lower()
    with provisioning() as store:
        queues = [{"value": str(q.id), "label": q.name} for q in store.queues(user.tenant_domain)]
    with_or_without = [{"value": "yes", "label": "With"}, {"value": "no", "label": "Without"}]
    controls = [
        date_range("recordings-dates", [params.get("from"), params.get("to")], w=240),
        choice(
            "recordings-direction",
            "Direction",
            "Any direction",
            labelled(DIRECTIONS),
            params.get("direction"),
            w=150,
        ),
        text_box("recordings-extension", "Extension", "e.g. 102", params.get("extension"), w=110),
        text_box("recordings-number", "Number", "+1 555…", params.get("number"), w=140),
        choice(
            "recordings-queue", "Queue", "Any queue", queues, params.get("queue"), w=170, **unusable
        ),
        choice(
            "recordings-has-transcript",
            "Transcript",
            "Any",
            with_or_without,
            "yes" if flag in ("yes", "true", "1") else "no" if flag else None,
            w=120,
            **unusable,
        ),
        text_box(
            "recordings-words", "Words said", "refund", params.get("words"), w=180, **unusable
        ),
    ]
    search = dmc.Paper(
        [
            dmc.Title("Search recordings and voicemail", order=4, mb="sm"),
            dmc.Group(
                dmc.TextInput(
                    id="recordings-search",
                    placeholder="Words said in any recording or voicemail",
                    debounce=400,
                    style={"flex": 1},
                ),
            ),
            html.Div(id="recordings-search-results", style={"marginTop": 12}),
        ],
        withBorder=True,
        p="lg",
        radius="md",
    )
    return GRID.page(
        title="Recordings",
        scope=scope,
        controls=controls,
        params=params,
        summary=describe(params),
        error=error,
        columns=missing_columns(user.timezone) if missing else grid_columns(user.timezone),
        row_id="call_id" if missing else None,
        actions=[_views(params, missing)] if may_see_missing(user) else [],
        before=[dcc.Store(id="recordings-version", data=0), delete_dialog()],  # bumped on delete
        after=[
            html.Div(recording_panel(opened) if opened else None, id="recordings-detail"),
            search,
            retention_control(user),
        ],
    )


@GRID.filter_callback(_CONTROLS)
def apply_filters(
    dates: list[str | None] | None,
    direction: str | None,
    extension: str | None,
    number: str | None,
    queue: str | None,
    has_transcript: str | None,
    words: str | None,
    current: dict[str, str] | None,
) -> tuple[Any, ...]:
    """Controls → filter → URL, grid filter and sentence (the list shown stays the same)."""
    user = signed_in_user()
    values = {
        "direction": direction,
        "extension": extension,
        "number": number,
        "queue": queue,
        "has_transcript": has_transcript,
        "words": words,
        "show": (current or {}).get("show"),
    }
    params, _flt, error = parse_query(clean_query(controls_query(dates, values)), user.timezone)
    if error:
        return GRID.refused(error)
    return GRID.applied(params, current, describe(params))


GRID.purge_on_change("recordings-version")


@GRID.rows_callback()
def load_rows(request: dict[str, Any] | None, params: dict[str, str] | None) -> tuple[Any, str]:
    """One block of recordings (or of calls missing theirs) in the viewer's scope.

    The read API pages without a total: a block shorter than asked for is the last,
    and the grid learns the row count from it.
    """
    from pipeline.recording_query import MAX_ROWS, list_missing_recordings, list_recordings

    start, limit = GRID.block(request)
    user = signed_in_user()
    clean, flt, error = parse_query(params or {}, user.timezone)
    if error:
        return GRID.nothing()
    if not showing_missing(clean):
        conn = open_calls(user)
        try:
            rows = list_recordings(conn, flt, limit=limit, offset=start)
        finally:
            conn.close()
        return GRID.answer_open_ended([grid_row(r, user.timezone) for r in rows], start, limit)
    if not may_see_missing(user):
        raise NotAllowed(MISSING_IS_FOR)
    if start >= MAX_ROWS:  # the newest MAX_ROWS only: this list has no offset
        return GRID.answer_open_ended([], start, limit, noun=("call", "calls"))
    conn = open_calls(user)
    try:
        rows = list_missing_recordings(conn, flt, limit=min(start + limit, MAX_ROWS))[start:]
    finally:
        conn.close()
    data = [missing_row(r, user.timezone) for r in rows]
    return GRID.answer_open_ended(data, start, limit, noun=("call", "calls"))


@callback(
    Output("recordings-detail", "children"),
    Output("recordings-url", "search", allow_duplicate=True),
    Input("recordings-grid", "cellClicked"),
    State("recordings-filter", "data"),
    prevent_initial_call=True,
)
def open_recording(clicked: dict[str, Any] | None, params: dict[str, str] | None) -> Any:
    """The clicked row's recording under the grid (looked up again in the viewer's scope).

    A row of the missing list is a call with nothing to open.
    """
    recording_id = str((clicked or {}).get("rowId") or "")
    if not recording_id or showing_missing(params or {}):
        raise PreventUpdate
    panel = recording_panel(recording_id)
    return panel, search_string({**(params or {}), "rec": recording_id})


@callback(
    Output("recordings-search-results", "children"),
    Input("recordings-search", "value"),
    prevent_initial_call=True,
)
def search_everything(text: str | None) -> Any:
    """Recordings and voicemails whose transcript says every word, in the viewer's scope."""
    from urllib.parse import urlencode

    from pipeline.recording_query import RecordingQueryError
    from pipeline.recording_query import search_everything as search

    if not (text or "").strip():
        return None
    user = signed_in_user()
    conn = open_calls(user)
    try:
        hits = search(conn, text or "", limit=50)
    except RecordingQueryError as exc:
        return dmc.Text(str(exc), c="red", size="sm", id="recordings-search-error")
    finally:
        conn.close()
    # The warehouse already binds voicemails to the viewer's mailbox (the store's rule);
    # checked again here because a search hit opens the message itself.
    hits = [
        h
        for h in hits
        if h["kind"] != "voicemail" or may_open(user, user.tenant_domain, str(h.get("callee")))
    ]
    if not hits:
        return dmc.Text("Nothing said matches.", size="sm", c="dimmed", id="recordings-search-none")
    items = []
    for hit in hits:
        when = format_local(hit.get("started_at"), user.timezone)
        if hit["kind"] == "recording":
            href, what = page_url(str(hit["item_id"])), "Recording"
        else:
            query = {"q": (text or "").strip()}
            if hit.get("callee") and hit["callee"] != user.extension:
                query["box"] = str(hit["callee"])  # a manager's search reaches other mailboxes
            href, what = f"/voicemail?{urlencode(query)}", "Voicemail"
        items.append(
            html.Li(
                [
                    dcc.Link(
                        f"{what} · {when} · {hit.get('caller') or '?'} → {hit['callee']}", href=href
                    ),
                    dmc.Text(str(hit.get("transcript") or "")[:240], size="xs", c="dimmed"),
                ],
                **{"data-kind": hit["kind"], "data-item": str(hit["item_id"])},
            )
        )
    return html.Ul(items, id="recordings-search-list", className="sb-rec-hits")
