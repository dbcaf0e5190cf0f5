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
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask

from dash_app.audit_view import AUDIT_CSV_PATH, CSV_COLUMNS, MANAGERS_ONLY, csv_row, parse_query
from dash_app.auth import provisioning
from dash_app.paged_grid_downloads import CsvExport, install_csv_export
from switchboard.store import User

PAGE_ROWS = 2000


def _parse(args: Mapping[str, str], user: User) -> tuple[Any, str]:
    _params, query, error = parse_query(args, user.tenant_domain, user.timezone)
    return query, error


def _stream(user: User, query: Any) -> Iterator[str]:
    from pipeline.export import defuse_formula

    tenant, zone = user.tenant_domain, user.timezone
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


def _refusal(user: User) -> str:
    return "" if user.role == "manager" else MANAGERS_ONLY


def install_audit_downloads(server: Flask) -> None:
    """Add ``/download/audit.csv``; the auth guard has already refused anonymous callers."""
    install_csv_export(server, CsvExport(AUDIT_CSV_PATH, "audit", _parse, _stream, _refusal))
