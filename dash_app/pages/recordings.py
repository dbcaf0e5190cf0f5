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
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import open_calls, optional_user, provisioning, signed_in_user
from dash_app.layout import format_local
from dash_app.recordings_panel import delete_dialog, recording_panel, retention_control
from dash_app.recordings_view import (
    BLOCK_SIZE,
    clean_query,
    describe,
    grid_columns,
    grid_row,
    page_url,
    parse_query,
)
from dash_app.voicemail_view import may_open
from pipeline.schema import DIRECTIONS

dash.register_page(
    __name__,
    path="/recordings",
    name="Recordings",
    title="Recordings · Switchboard",
    order=1,
)


def layout(**query: Any) -> Any:
    """The recordings the viewer may hear, for the filter in the URL."""
    user = optional_user()
    if user is None:
        return html.Div()
    params, _flt, error = parse_query(query, user.timezone)
    opened = str(query.get("rec") or "")
    scope = (
        f"Recorded calls of {user.tenant_domain}"
        if user.sees_whole_tenant
        else f"Recorded calls of extension {user.extension}"
    ) + f" · times in {user.timezone} · caller on the left channel, callee on the right"
    flag = params.get("has_transcript", "").lower()
    with provisioning() as store:
        queues = [{"value": str(q.id), "label": q.name} for q in store.queues(user.tenant_domain)]
    controls = dmc.Group(
        [
            dmc.DatePickerInput(
                id="recordings-dates",
                type="range",
                label="Date range",
                placeholder="Any date",
                value=[params.get("from"), params.get("to")],
                valueFormat="YYYY-MM-DD",
                clearable=True,
                allowSingleDateInRange=True,
                w=240,
            ),
            dmc.Select(
                id="recordings-direction",
                label="Direction",
                placeholder="Any direction",
                data=[{"value": d, "label": d.capitalize()} for d in DIRECTIONS],
                value=params.get("direction"),
                clearable=True,
                w=150,
            ),
            dmc.TextInput(
                id="recordings-extension",
                label="Extension",
                placeholder="e.g. 102",
                value=params.get("extension", ""),
                debounce=400,
                w=110,
            ),
            dmc.TextInput(
                id="recordings-number",
                label="Number",
                placeholder="+1 555…",
                value=params.get("number", ""),
                debounce=400,
                w=140,
            ),
            dmc.Select(
                id="recordings-queue",
                label="Queue",
                placeholder="Any queue",
                data=queues,
                value=params.get("queue"),
                clearable=True,
                w=170,
            ),
            dmc.Select(
                id="recordings-has-transcript",
                label="Transcript",
                placeholder="Any",
                data=[{"value": "yes", "label": "With"}, {"value": "no", "label": "Without"}],
                value="yes" if flag in ("yes", "true", "1") else "no" if flag else None,
                clearable=True,
                w=120,
            ),
            dmc.TextInput(
                id="recordings-words",
                label="Words said",
                placeholder="refund",
                value=params.get("words", ""),
                debounce=400,
                w=180,
            ),
        ],
        align="flex-end",
        gap="sm",
    )
    grid = dag.AgGrid(
        id="recordings-grid",
        rowModelType="infinite",
        columnDefs=grid_columns(user.timezone),
        defaultColDef={"sortable": False, "resizable": True, "suppressHeaderMenuButton": True},
        getRowId="params.data.recording_id",
        dashGridOptions={
            "cacheBlockSize": BLOCK_SIZE,
            "maxBlocksInCache": 10,
            "infiniteInitialRowCount": 1,
            "rowBuffer": 0,
            "animateRows": False,
        },
        style={"height": "320px"},
    )
    search = dmc.Group(
        [
            dmc.TextInput(
                id="recordings-search",
                placeholder="Words said in any recording or voicemail",
                debounce=400,
                style={"flex": 1},
            ),
        ]
    )
    return dmc.Stack(
        [
            dcc.Location(id="recordings-url", refresh=False),
            dcc.Store(id="recordings-filter", data=params),
            dcc.Store(id="recordings-purged"),
            dcc.Store(id="recordings-version", data=0),  # bumped by a deletion
            delete_dialog(),
            dmc.Stack(
                [
                    dmc.Title("Recordings", order=2, id="recordings-title"),
                    dmc.Text(scope, c="dimmed", size="sm", id="recordings-scope"),
                ],
                gap=0,
            ),
            dmc.Paper(controls, withBorder=True, p="md", radius="md"),
            html.Div(
                dmc.Alert(error, color="red", variant="light", title="Filter ignored")
                if error
                else None,
                id="recordings-filter-error",
            ),
            dmc.Group(
                [
                    dmc.Text(describe(params), size="sm", id="recordings-summary"),
                    dmc.Text("", size="sm", c="dimmed", id="recordings-count"),
                ],
                justify="space-between",
            ),
            dmc.Paper(grid, withBorder=True, radius="md", className="sb-grid-paper"),
            html.Div(recording_panel(opened) if opened else None, id="recordings-detail"),
            dmc.Paper(
                [
                    dmc.Title("Search recordings and voicemail", order=4, mb="sm"),
                    search,
                    html.Div(id="recordings-search-results", style={"marginTop": 12}),
                ],
                withBorder=True,
                p="lg",
                radius="md",
            ),
            retention_control(user),
        ],
        gap="md",
    )


@callback(
    Output("recordings-url", "search"),
    Output("recordings-filter", "data"),
    Output("recordings-summary", "children"),
    Output("recordings-filter-error", "children"),
    Input("recordings-dates", "value"),
    Input("recordings-direction", "value"),
    Input("recordings-extension", "value"),
    Input("recordings-number", "value"),
    Input("recordings-queue", "value"),
    Input("recordings-has-transcript", "value"),
    Input("recordings-words", "value"),
    State("recordings-filter", "data"),
    prevent_initial_call=True,
)
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
    """Controls → filter → URL, grid filter and sentence."""
    from urllib.parse import urlencode

    user = signed_in_user()
    date_from, date_to = ((dates or []) + [None, None])[:2]
    raw = {
        "from": (date_from or "")[:10],
        "to": (date_to or "")[:10],
        "direction": direction,
        "extension": extension,
        "number": number,
        "queue": queue,
        "has_transcript": has_transcript,
        "words": words,
    }
    params, _flt, error = parse_query(clean_query(raw), user.timezone)
    if error:
        alert = dmc.Alert(error, color="red", variant="light", title="Check the filter")
        return no_update, no_update, no_update, alert
    if params == (current or {}):
        raise PreventUpdate
    return (f"?{urlencode(params)}" if params else ""), params, describe(params), None


# A new filter must drop the rows the grid has cached; only the browser can tell it to.
clientside_callback(
    """
    async function (query, version) {
        const api = await dash_ag_grid.getApiAsync("recordings-grid");
        if (api.getDisplayedRowCount() > 0) { api.ensureIndexVisible(0, "top"); }
        api.purgeInfiniteCache();
        return window.dash_clientside.no_update;
    }
    """,
    Output("recordings-purged", "data"),
    Input("recordings-filter", "data"),
    Input("recordings-version", "data"),
    prevent_initial_call=True,
)


@callback(
    Output("recordings-grid", "getRowsResponse"),
    Output("recordings-count", "children"),
    Input("recordings-grid", "getRowsRequest"),
    State("recordings-filter", "data"),
)
def load_rows(request: dict[str, Any] | None, params: dict[str, str] | None) -> tuple[Any, str]:
    """One block of recordings in the viewer's scope.

    The read API pages without a total: a block shorter than asked for is the last,
    and the grid learns the row count from it.
    """
    from pipeline.recording_query import list_recordings

    if not request:
        raise PreventUpdate
    user = signed_in_user()
    _clean, flt, error = parse_query(params or {}, user.timezone)
    if error:
        return {"rowData": [], "rowCount": 0}, "0 recordings"
    start = max(0, int(request.get("startRow") or 0))
    end = int(request.get("endRow") or start + BLOCK_SIZE)
    limit = max(1, min(end - start, 500))
    conn = open_calls(user)
    try:
        rows = list_recordings(conn, flt, limit=limit, offset=start)
    finally:
        conn.close()
    done = len(rows) < limit
    total = start + len(rows)
    label = ("1 recording" if total == 1 else f"{total:,} recordings") if done else ""
    response = {"rowData": [grid_row(r, user.timezone) for r in rows]}
    if done:
        response["rowCount"] = total  # type: ignore[assignment]
    return response, label


@callback(
    Output("recordings-detail", "children"),
    Output("recordings-url", "search", allow_duplicate=True),
    Input("recordings-grid", "cellClicked"),
    State("recordings-filter", "data"),
    prevent_initial_call=True,
)
def open_recording(clicked: dict[str, Any] | None, params: dict[str, str] | None) -> Any:
    """The clicked row's recording under the grid (looked up again in the viewer's scope)."""
    from urllib.parse import urlencode

    recording_id = str((clicked or {}).get("rowId") or "")
    if not recording_id:
        raise PreventUpdate
    panel = recording_panel(recording_id)
    return panel, "?" + urlencode({**(params or {}), "rec": recording_id})


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
