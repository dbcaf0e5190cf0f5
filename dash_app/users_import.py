"""Users page, bulk import: upload a CSV, preview each line's errors, confirm all rows or none.

The page (``dash_app/pages/users.py``) lays out the section
(``users_view.import_section``); these are its callbacks, registered when the
page imports this module. Confirm checks the file again: the browser's copy
of the preview is not trusted, and nothing is written unless every line is good.
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import Input, Output, State, callback, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import portal, provisioning
from dash_app.editing import alert
from dash_app.page_shell import signed_in_manager
from dash_app.push import push_after_edit
from dash_app.uploads import decode_upload
from dash_app.users_view import FEEDBACK, MANAGERS_ONLY, import_preview
from switchboard.csv_rows import utf8_text
from switchboard.store import ProvisioningError
from switchboard.store.user_admin import Credentials


def _csv_text(contents: str | None) -> str:
    """The uploaded file as text (``data:...;base64,``), refused unless UTF-8."""
    data = decode_upload(contents)
    if not data:
        raise ProvisioningError("choose a CSV file")
    return utf8_text(data)


@callback(
    Output("users-import-preview", "children"),
    Output("users-import-data", "data"),
    Output("users-import-confirm", "disabled"),
    Input("users-import-upload", "contents"),
    prevent_initial_call=True,
)
def preview_upload(contents: str | None) -> tuple[Any, ...]:
    """Every line with its error; Confirm only for a file without any."""
    from switchboard.user_csv import preview_import

    manager = signed_in_manager(MANAGERS_ONLY)
    try:
        text = _csv_text(contents)
        with provisioning() as store:
            preview = preview_import(store, manager.tenant_domain, text)
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="users-import-refused"), None, True
    return import_preview(preview), text, not preview.ready


@callback(
    Output(FEEDBACK, "children", allow_duplicate=True),
    Output("users-version", "data", allow_duplicate=True),
    Output("users-import-preview", "children", allow_duplicate=True),
    Output("users-import-confirm", "disabled", allow_duplicate=True),
    Input("users-import-confirm", "n_clicks"),
    State("users-import-data", "data"),
    State("users-version", "data"),
    prevent_initial_call=True,
)
def confirm_import(clicks: int | None, text: str | None, version: int | None) -> tuple[Any, ...]:
    """Check the file again (the browser's copy is not trusted) and add all rows or none."""
    from switchboard.user_csv import preview_import

    if not clicks:
        raise PreventUpdate
    manager = signed_in_manager(MANAGERS_ONLY)
    settings = portal().settings
    try:
        with provisioning() as store:
            preview = preview_import(store, manager.tenant_domain, text or "")
            if not preview.ready:
                refusal = alert(
                    f"nothing imported: {len(preview.errors)} lines still have errors",
                    alert_id="users-import-refused",
                )
                return refusal, no_update, import_preview(preview), True
            creds = store.import_users(
                manager.tenant_domain,
                preview.users,
                one_time_hours=settings.one_time_password_hours,
            )
            added = [store.user(manager.tenant_domain, c.extension) for c in creds]
            push_after_edit(store, added)
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="users-error"), no_update, no_update, True
    return _imported_banner(creds), (version or 0) + 1, None, True


def _imported_banner(creds: list[Credentials]) -> Any:
    """Each new user's passwords, shown once: the manager passes them on."""
    table = dmc.Table(
        [
            html.Thead(
                html.Tr([html.Th(h) for h in ("Ext.", "One-time password", "SIP password")])
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(c.extension),
                            html.Td(html.Code(c.one_time_password)),
                            html.Td(html.Code(c.sip_password)),
                        ]
                    )
                    for c in creds
                ]
            ),
        ]
    )
    return dmc.Alert(
        [dmc.Text(f"Imported {len(creds)} users. Pass each their passwords (shown once)."), table],
        color="green",
        id="users-imported",
    )
