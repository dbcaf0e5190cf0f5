"""The Call History export: ``/download/calls.csv``, the grid's filter, streamed from DuckDB.

The route (:mod:`dash_app.paged_grid_downloads`) runs the same filter as the
Call History grid, in the same scope (:func:`dash_app.auth.open_calls`), and
streams the CSV as DuckDB reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask

from dash_app.auth import open_calls
from dash_app.paged_grid_downloads import CsvExport, install_csv_export
from dash_app.paged_grid_filters import with_query
from switchboard.store import User

CALLS_CSV_PATH = "/download/calls.csv"


def calls_csv_url(query: Mapping[str, str]) -> str:
    """The export link for a Call History filter (the same URL keys as the page)."""
    return with_query(CALLS_CSV_PATH, query)


def _parse(args: Mapping[str, str], user: User) -> tuple[Any, str]:
    from pipeline.filters import CallFilter, FilterError

    try:
        return CallFilter.from_query(dict(args), user.timezone), ""
    except FilterError as exc:
        return None, str(exc)


def _stream(user: User, flt: Any) -> Iterator[bytes]:
    from pipeline.export import iter_calls_csv

    conn = open_calls(user)  # opened before the response starts: a failure is a plain 500

    def rows() -> Iterator[bytes]:
        try:
            yield from iter_calls_csv(conn, flt, user.timezone)
        finally:
            conn.close()

    return rows()


def install_downloads(server: Flask) -> None:
    """Add the call export route; the auth guard has already refused anonymous callers."""
    install_csv_export(server, CsvExport(CALLS_CSV_PATH, "calls", _parse, _stream))
