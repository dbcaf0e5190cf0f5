"""The user list as CSV for managers: a guarded download of the Users page's list.

Managers only (a plain user gets 403, an anonymous visitor the login form
from the auth guard); the tenant is the manager's own, never a parameter.
Text goes through the product's one spreadsheet formula guard
(``pipeline.export.defuse_formula``): names come from people and CSV files.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response

from dash_app.auth import provisioning, signed_in_user

USERS_CSV_PATH = "/download/users.csv"


def install_users_downloads(server: Flask) -> None:
    """Add ``/download/users.csv``; the auth guard has already refused anonymous callers."""

    @server.route(USERS_CSV_PATH)
    def users_csv_download() -> Response:
        from pipeline.export import defuse_formula
        from switchboard.user_csv import users_csv

        try:
            user = signed_in_user()
        except PermissionError:
            return Response("sign in first", status=401)
        if user.role != "manager":
            return Response("only managers can export the user list", status=403)
        with provisioning() as store:
            text = users_csv(store.users(user.tenant_domain), defuse_formula)
        today = datetime.now(ZoneInfo(user.timezone)).strftime("%Y-%m-%d")
        filename = f"users-{user.tenant_domain}-{today}.csv"
        return Response(
            text,
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
