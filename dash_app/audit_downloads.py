"""The audit trail as a CSV file: managers only, the Audit page's filter, streamed.

Read in pages of :data:`PAGE_ROWS` by id (newest first), each under the
store lock for a moment only, so a long export never holds up the portal's
other requests nor repeats or skips a row written meanwhile. Text cells go
through the product's one spreadsheet-formula guard
(:func:`pipeline.export.defuse_formula`): names come from people.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, jsonify, request, stream_with_context

from dash_app.audit_view import AUDIT_CSV_PATH, CSV_COLUMNS, csv_row, parse_query
from dash_app.auth import provisioning, signed_in_user

PAGE_ROWS = 2000


def install_audit_downloads(server: Flask) -> None:
    """Add ``/download/audit.csv``; the auth guard has already refused anonymous callers."""

    @server.route(AUDIT_CSV_PATH)
    def audit_csv() -> Response:
        from pipeline.export import defuse_formula

        try:
            user = signed_in_user()
        except PermissionError:
            return Response("sign in first", status=401)
        if user.role != "manager":
            return Response("only managers can read the audit trail", status=403)
        tenant, zone = user.tenant_domain, user.timezone
        _params, query, error = parse_query(request.args.to_dict(), tenant, zone)
        if error:
            response = jsonify(error=error)
            response.status_code = 400
            return response

        def stream() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            before: int | None = None
            while True:
                with provisioning() as store:
                    page = store.access_log(tenant, query, limit=PAGE_ROWS, before_id=before)
                for entry in page:
                    writer.writerow([defuse_formula(v) for v in csv_row(entry, zone)])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if len(page) < PAGE_ROWS:
                    return
                before = page[-1].id

        today = datetime.now(ZoneInfo(zone)).strftime("%Y-%m-%d")
        return Response(
            stream_with_context(stream()),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="audit-{tenant}-{today}.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
