"""File downloads: a guarded Flask route that streams the call export.

Why not the grid's own CSV export or ``dcc.Download``: the grid only knows
the rows it has loaded, and ``dcc.Download`` holds the whole file in memory.
This route runs the same filter as the Call History grid, in the same scope
(:func:`dash_app.auth.open_calls`), and streams the CSV as DuckDB reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, jsonify, request, stream_with_context

from dash_app.auth import open_calls, signed_in_user

CALLS_CSV_PATH = "/download/calls.csv"


def calls_csv_url(query: dict[str, str]) -> str:
    """The export link for a Call History filter (the same URL keys as the page)."""
    from urllib.parse import urlencode

    return f"{CALLS_CSV_PATH}?{urlencode(query)}" if query else CALLS_CSV_PATH


def install_downloads(server: Flask) -> None:
    """Add the download routes; the auth guard has already refused anonymous callers."""

    @server.route(CALLS_CSV_PATH)
    def calls_csv() -> Response:
        from pipeline.export import iter_calls_csv
        from pipeline.filters import CallFilter, FilterError

        try:
            user = signed_in_user()
        except PermissionError:
            return Response("sign in first", status=401)
        try:
            flt = CallFilter.from_query(request.args.to_dict(), user.timezone)
        except FilterError as exc:
            response = jsonify(error=str(exc))
            response.status_code = 400
            return response
        conn = open_calls(user)

        def stream() -> Iterator[bytes]:
            try:
                yield from iter_calls_csv(conn, flt, user.timezone)
            finally:
                conn.close()

        today = datetime.now(ZoneInfo(user.timezone)).strftime("%Y-%m-%d")
        filename = f"calls-{user.tenant_domain}-{today}.csv"
        return Response(
            stream_with_context(stream()),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
