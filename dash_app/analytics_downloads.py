"""Downloads of the Analytics tables: ``/download/analytics/<table>.<csv|xlsx|parquet>``.

The route parses the page's URL keys (:class:`AnalyticsQuery`), opens the
warehouse in the viewer's scope (:func:`pipeline.viewer.open_for_viewer`) and runs
the table's loader, the same one the page ran: the file holds the rows the
table shows. The auth guard has already refused anonymous callers.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from dash_app.auth import portal, provisioning, signed_in_user
from dash_app.download_slots import in_slot

ANALYTICS_DOWNLOAD_PATH = "/download/analytics/<table>.<fmt>"


def install_analytics_downloads(server: Flask) -> None:
    """Add the analytics download route to the portal's Flask app."""

    @server.route(ANALYTICS_DOWNLOAD_PATH)
    def analytics_download(table: str, fmt: str) -> Response:
        from dash_app.analytics_tables import TABLES, AnalyticsQuery
        from pipeline.report_files import MEDIA_TYPES, TABLE_FORMATS, table_bytes
        from pipeline.viewer import open_for_viewer

        try:
            user = signed_in_user()
        except PermissionError:
            return Response("sign in first", status=401)
        if table not in TABLES or fmt not in TABLE_FORMATS:
            return Response("no such table", status=404)
        query, error = AnalyticsQuery.from_url(request.args.to_dict(), user.timezone)
        if error:
            response = jsonify(error=error)
            response.status_code = 400
            return response
        spec = TABLES[table]

        def respond() -> Response:
            with open_for_viewer(portal().settings, user, borrow_store=provisioning) as viewer:
                rows = spec.load(viewer.conn, query, viewer.handled)
            body = table_bytes(rows, spec.columns, fmt, query.tz)
            name = f"{table}-{user.tenant_domain}-{query.period.start}-{query.period.end}.{fmt}"
            return Response(
                body,
                mimetype=MEDIA_TYPES[fmt],
                headers={
                    "Content-Disposition": f'attachment; filename="{name}"',
                    "Cache-Control": "no-store",
                    "X-Content-Type-Options": "nosniff",
                },
            )

        return in_slot(user.id, respond)
