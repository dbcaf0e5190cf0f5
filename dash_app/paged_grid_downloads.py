"""The CSV export of a paged grid: a guarded Flask route that streams the filtered rows.

Why not the grid's own CSV export or ``dcc.Download``: the grid only knows the
rows it has loaded, and ``dcc.Download`` holds the whole file in memory. An
export route runs the page's own parser on the same URL keys as the page,
in the viewer's scope, and streams the file as it is read. Refusals: 401
without a session, 403 for a role the page is not for, 400 with the reason
for a filter that does not parse (never a 500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, jsonify, request, stream_with_context

from dash_app.auth import signed_in_user
from dash_app.download_slots import in_slot
from switchboard.store import User


@dataclass(frozen=True)
class CsvExport:
    """One export: where it is served, who may have it, how the URL parses, what it streams."""

    path: str
    name: str  # the file is "<name>-<tenant>-<local day>.csv"
    parse: Callable[[Mapping[str, str], User], tuple[Any, str]]  # → (query, error)
    stream: Callable[[User, Any], Iterator[str] | Iterator[bytes]]
    refusal: Callable[[User], str] = lambda _user: ""  # why this user may not, "" if they may


def csv_attachment(chunks: Iterator[Any], filename: str) -> Response:
    """A streamed CSV download that no cache keeps and no browser sniffs into HTML."""
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def install_csv_export(server: Flask, export: CsvExport) -> None:
    """Add ``export.path``; the auth guard has already refused anonymous callers."""

    def serve_export() -> Response:
        try:
            user = signed_in_user()
        except PermissionError:
            return Response("sign in first", status=401)
        refusal = export.refusal(user)
        if refusal:
            return Response(refusal, status=403)
        query, error = export.parse(request.args.to_dict(), user)
        if error:
            response = jsonify(error=error)
            response.status_code = 400
            return response
        today = datetime.now(ZoneInfo(user.timezone)).strftime("%Y-%m-%d")
        filename = f"{export.name}-{user.tenant_domain}-{today}.csv"
        return in_slot(user.id, lambda: csv_attachment(export.stream(user, query), filename))

    server.add_url_rule(export.path, endpoint=f"{export.name}_csv", view_func=serve_export)
