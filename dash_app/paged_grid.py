"""One paged grid for the portal's long lists: Call History, Recordings and Audit.

Each of those pages is the same machine with different parts: a filter that
lives in the URL (so a view is a link), controls that rewrite the URL without
reloading the page, an AG Grid in the infinite row model that asks the server
for one block of rows at a time, a sentence and a count above it and, for
some, an "Export CSV" link to a guarded route running the same filter
(:mod:`dash_app.paged_grid_downloads`). :class:`PagedGrid` is that machine,
parameterised by the page's id prefix, column spec and noun; the page keeps
its controls, its parser and its query function, and checks the viewer's
role in each callback itself (hiding a control is not access control).

Component ids are ``<prefix>-grid``, ``-filter`` (the clean URL parameters),
``-url``, ``-purged``, ``-title``, ``-scope``, ``-export``, ``-filter-error``,
``-summary`` and ``-count``; the browser tests and the HTTP tests use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.paged_grid_filters import block_bounds, count_label, search_string

# A new filter must drop the rows the grid has cached; only the browser can tell it to.
_PURGE_JS = """
async function (query, ...changes) {
    const api = await dash_ag_grid.getApiAsync("%s");
    if (api.getDisplayedRowCount() > 0) { api.ensureIndexVisible(0, "top"); }
    api.purgeInfiniteCache();
    return window.dash_clientside.no_update;
}
"""


def date_range(
    component_id: str,
    value: list[str | None],
    *,
    w: int,
    label: str = "Date range",
    clearable: bool = True,
) -> Any:
    """A day-range picker; a range picker needs a pair even when empty (null crashes it)."""
    extra: dict[str, Any] = {"placeholder": "Any date", "clearable": True} if clearable else {}
    return dmc.DatePickerInput(
        id=component_id,
        type="range",
        label=label,
        value=value,
        valueFormat="YYYY-MM-DD",
        allowSingleDateInRange=True,
        w=w,
        **extra,
    )


def choice(
    component_id: str,
    label: str,
    placeholder: str,
    data: list[Any],
    value: str | None,
    *,
    w: int,
    **extra: Any,
) -> Any:
    """A clearable select: nothing chosen is no condition."""
    return dmc.Select(
        id=component_id,
        label=label,
        placeholder=placeholder,
        data=data,
        value=value,
        clearable=True,
        w=w,
        **extra,
    )


def text_box(
    component_id: str, label: str, placeholder: str, value: str | None, *, w: int, **extra: Any
) -> Any:
    """A text filter that applies once the typing pauses (not on every key)."""
    return dmc.TextInput(
        id=component_id,
        label=label,
        placeholder=placeholder,
        value=value or "",
        debounce=400,
        w=w,
        **extra,
    )


def labelled(values: Mapping[str, str] | Iterable[str]) -> list[dict[str, str]]:
    """Select options: a mapping gives its labels, plain values are capitalised."""
    if isinstance(values, Mapping):
        return [{"value": k, "label": v} for k, v in values.items()]
    return [{"value": v, "label": v.capitalize()} for v in values]


def filter_alert(message: str, title: str) -> Any:
    return dmc.Alert(message, color="red", variant="light", title=title)


@dataclass(frozen=True)
class PagedGrid:
    """The shared parts of one paged-grid page (see the module docstring for the ids)."""

    prefix: str
    row_id: str  # the row field AG Grid keeps rows by
    noun: tuple[str, str]  # ("call", "calls") for the count
    export: Callable[[Mapping[str, str]], str] | None = None  # filter → CSV link
    block_size: int = 100  # rows the grid asks the server for at a time
    most_rows: int = 1000  # the most rows one request may read
    sortable: bool = False
    max_blocks: int = 20
    style: dict[str, str] = field(
        default_factory=lambda: {"height": "calc(100vh - 330px)", "minHeight": "360px"}
    )

    def id(self, part: str) -> str:
        return f"{self.prefix}-{part}"

    # -- layout ---------------------------------------------------------------------------

    def grid(self, columns: list[dict[str, Any]], row_id: str | None = None) -> Any:
        """The AG Grid in the infinite row model (``row_id`` for a view keyed otherwise)."""
        return dag.AgGrid(
            id=self.id("grid"),
            rowModelType="infinite",
            columnDefs=columns,
            defaultColDef={
                "sortable": self.sortable,
                "resizable": True,
                "suppressHeaderMenuButton": True,
            },
            getRowId=f"params.data.{row_id or self.row_id}",
            dashGridOptions={
                "cacheBlockSize": self.block_size,
                "maxBlocksInCache": self.max_blocks,
                "infiniteInitialRowCount": 1,
                "rowBuffer": 0,
                "animateRows": False,
            },
            style=self.style,
        )

    def page(
        self,
        *,
        title: str,
        scope: str,
        controls: list[Any],
        params: Mapping[str, str],
        summary: str,
        error: str,
        columns: list[dict[str, Any]],
        row_id: str | None = None,
        actions: Iterable[Any] = (),
        before: Iterable[Any] = (),
        after: Iterable[Any] = (),
    ) -> Any:
        """The page: header (``actions`` and the export link at its right), controls, the
        ignored filter's reason, the grid; ``before`` and ``after`` it the page's own parts."""
        heading: Any = dmc.Stack(
            [
                dmc.Title(title, order=2, id=self.id("title")),
                dmc.Text(scope, c="dimmed", size="sm", id=self.id("scope")),
            ],
            gap=0,
        )
        links = list(actions)
        if self.export is not None:
            links.append(
                html.A(
                    [html.Span(className="sb-button-icon sb-button-icon--download"), "Export CSV"],
                    id=self.id("export"),
                    href=self.export(params),
                    className="sb-link-button",
                )
            )
        if links:
            heading = dmc.Group([heading, *links], justify="space-between")
        return dmc.Stack(
            [
                dcc.Location(id=self.id("url"), refresh=False),
                dcc.Store(id=self.id("filter"), data=dict(params)),
                dcc.Store(id=self.id("purged")),
                *before,
                heading,
                dmc.Paper(
                    dmc.Group(controls, align="flex-end", gap="sm"),
                    withBorder=True,
                    p="md",
                    radius="md",
                ),
                html.Div(
                    filter_alert(error, "Filter ignored") if error else None,
                    id=self.id("filter-error"),
                ),
                dmc.Group(
                    [
                        dmc.Text(summary, size="sm", id=self.id("summary")),
                        dmc.Text("", size="sm", c="dimmed", id=self.id("count")),
                    ],
                    justify="space-between",
                ),
                dmc.Paper(
                    self.grid(columns, row_id),
                    withBorder=True,
                    radius="md",
                    className="sb-grid-paper",
                ),
                *after,
            ],
            gap="md",
        )

    # -- the filter: controls → URL, grid, sentence, export link ---------------------------

    def filter_callback(self, controls: Iterable[str]) -> Callable[[Any], Any]:
        """Decorate the page's ``apply_filters(*control values, current)``."""
        outputs = [
            Output(self.id("url"), "search"),
            Output(self.id("filter"), "data"),
            Output(self.id("summary"), "children"),
        ]
        if self.export is not None:
            outputs.append(Output(self.id("export"), "href"))
        outputs.append(Output(self.id("filter-error"), "children"))
        return callback(
            *outputs,
            *[Input(c, "value") for c in controls],
            State(self.id("filter"), "data"),
            prevent_initial_call=True,
        )

    def applied(
        self, params: dict[str, str], current: Mapping[str, str] | None, summary: str
    ) -> tuple[Any, ...]:
        """The filter callback's answer for a valid filter (nothing when it did not change)."""
        if params == dict(current or {}):
            raise PreventUpdate  # e.g. the picker re-sent the same value
        export = (self.export(params),) if self.export is not None else ()
        return (search_string(params), params, summary, *export, None)

    def refused(self, message: str) -> tuple[Any, ...]:
        """The filter callback's answer for a filter that does not parse: only the reason."""
        unchanged = 4 if self.export is not None else 3
        return (*[no_update] * unchanged, filter_alert(message, "Check the filter"))

    def purge_on_change(self, *also: str) -> None:
        """Drop the grid's cached rows when the filter (or a store in ``also``) changes."""
        clientside_callback(
            _PURGE_JS % self.id("grid"),
            Output(self.id("purged"), "data"),
            Input(self.id("filter"), "data"),
            *[Input(store, "data") for store in also],
            prevent_initial_call=True,
        )

    # -- the rows -------------------------------------------------------------------------

    def rows_callback(self) -> Callable[[Any], Any]:
        """Decorate the page's ``load_rows(request, params) -> (response, count)``."""
        return callback(
            Output(self.id("grid"), "getRowsResponse"),
            Output(self.id("count"), "children"),
            Input(self.id("grid"), "getRowsRequest"),
            State(self.id("filter"), "data"),
        )

    def block(self, request: Mapping[str, Any] | None, most: int | None = None) -> tuple[int, int]:
        """(offset, limit) the grid asks for; no request (the grid not yet shown): no update."""
        if not request:
            raise PreventUpdate
        return block_bounds(request, self.block_size, most or self.most_rows)

    def nothing(self) -> tuple[dict[str, Any], str]:
        """The answer for a filter that does not parse: no rows."""
        return {"rowData": [], "rowCount": 0}, f"0 {self.noun[1]}"

    def answer(self, rows: list[dict[str, Any]], total: int) -> tuple[dict[str, Any], str]:
        """One block of rows and the total the filter selects."""
        return {"rowData": rows, "rowCount": total}, count_label(total, *self.noun)

    def answer_open_ended(
        self,
        rows: list[dict[str, Any]],
        start: int,
        limit: int,
        noun: tuple[str, str] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """One block from a read that counts nothing: a short block is the last one.

        The grid learns the row count from that block; until then the count stays blank.
        """
        if len(rows) >= limit:
            return {"rowData": rows[:limit]}, ""
        total = start + len(rows)
        return {"rowData": rows, "rowCount": total}, count_label(total, *(noun or self.noun))
