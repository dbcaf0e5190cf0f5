"""Contacts: the user's own and the tenant's shared contacts, with the company's extensions.

A user sees shared contacts and their own, never a colleague's; they change
their own, and managers and supervisors the shared ones too
(``switchboard.store.contacts`` decides, every callback asks it with the
signed-in user: ids in buttons come from the browser). Import reads CSV or
vCard into a preview (each left-out entry with why) and writes only on
confirm; export writes what the list shows, as CSV or vCard. Contact names
show wherever a number does through the warehouse (``pipeline.contacts``),
not through this page.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dash_app.auth import optional_user, provisioning, signed_in_user
from dash_app.contacts_table import contact_rows, preview_box
from dash_app.editing import alert, require_click
from dash_app.layout import section
from dash_app.upload_limits import SPLIT_ADVICE, sized_upload
from dash_app.uploads import decode_upload
from switchboard.contact_files import contacts_csv, contacts_vcard, parse_contacts
from switchboard.store import ProvisioningError, User
from switchboard.store.contacts import SCOPES, ContactInput

dash.register_page(
    __name__, path="/contacts", name="Contacts", title="Contacts · Switchboard", order=3
)

_FIELDS = ("name", "company", "email", "phone", "mobile")
_SCOPE_LABELS = {"all": "All", "personal": "Mine", "shared": "Shared", "favourites": "Favourites"}


def layout(**query: str) -> Any:
    user = optional_user()
    if user is None:
        return html.Div()
    form = dmc.Stack(
        [
            dmc.SimpleGrid(
                [
                    dmc.TextInput(id=f"contacts-form-{f}", label=f.capitalize(), value="")
                    for f in _FIELDS
                ],
                cols={"base": 1, "sm": 3},
            ),
            dmc.Group(
                [
                    dmc.Checkbox(
                        id="contacts-form-shared",
                        label="Shared with the whole company",
                        disabled=not user.sees_whole_tenant,
                    ),
                    dmc.Button("Save contact", id="contacts-save"),
                    dmc.Button("New", id="contacts-new", variant="default"),
                ]
            ),
        ]
    )
    importer = dmc.Stack(
        [
            sized_upload(
                "contacts-upload",
                dmc.Button("Choose a CSV or vCard file", variant="light"),
                2_000_000,
                SPLIT_ADVICE,
            ),
            html.Div(id="contacts-import-preview-box"),
            dmc.Group(
                [
                    dmc.Checkbox(
                        id="contacts-import-shared",
                        label="Import as shared contacts",
                        disabled=not user.sees_whole_tenant,
                    ),
                    dmc.Button("Import", id="contacts-import-confirm", disabled=True),
                    dmc.Button("Export CSV", id="contacts-export-csv", variant="default"),
                    dmc.Button("Export vCard", id="contacts-export-vcard", variant="default"),
                ]
            ),
            dcc.Download(id="contacts-download"),
        ]
    )
    return dmc.Stack(
        [
            dmc.Title("Contacts", order=2),
            html.Div(id="contacts-feedback"),
            section(
                "Contacts",
                dmc.Stack(
                    [
                        dmc.Group(
                            [
                                dmc.TextInput(
                                    id="contacts-search",
                                    placeholder="Search name, company, email or number",
                                    value=query.get("q", ""),
                                    debounce=300,
                                    style={"flex": 1},
                                ),
                                dmc.SegmentedControl(
                                    id="contacts-scope",
                                    data=[{"value": s, "label": _SCOPE_LABELS[s]} for s in SCOPES],
                                    value="all",
                                ),
                            ]
                        ),
                        html.Div(id="contacts-list"),
                    ]
                ),
                id_prefix="contacts-list",
            ),
            section("Add or edit a contact", form, id_prefix="contacts-form"),
            section("Import and export", importer, id_prefix="contacts-import"),
            dcc.Store(id="contacts-editing", data=None),
            dcc.Store(id="contacts-changed", data=0),
        ]
    )


def _visible(user: User, search: str, scope: str) -> tuple[list[Any], list[User]]:
    with provisioning() as store:
        contacts = store.contacts(user, search=search, scope=scope)  # type: ignore[arg-type]
        colleagues = store.users(user.tenant_domain) if scope == "all" else []
    return contacts, [u for u in colleagues if not u.disabled]


@callback(
    Output("contacts-list", "children"),
    Input("contacts-search", "value"),
    Input("contacts-scope", "value"),
    Input("contacts-changed", "data"),
)
def refresh_list(search: str | None, scope: str | None, _changed: int | None) -> Any:
    user = signed_in_user()
    try:
        contacts, colleagues = _visible(user, search or "", scope or "all")
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="contacts-list-refused")
    return contact_rows(contacts, colleagues, user, search=search or "")


_FORM_OUTPUTS = [Output(f"contacts-form-{f}", "value", allow_duplicate=True) for f in _FIELDS]


@callback(
    Output("contacts-feedback", "children", allow_duplicate=True),
    Output("contacts-changed", "data", allow_duplicate=True),
    Output("contacts-editing", "data", allow_duplicate=True),
    *_FORM_OUTPUTS,
    Input("contacts-save", "n_clicks"),
    State("contacts-editing", "data"),
    *(State(f"contacts-form-{f}", "value") for f in _FIELDS),
    State("contacts-form-shared", "checked"),
    State("contacts-changed", "data"),
    prevent_initial_call=True,
)
def save_contact(_clicks: int | None, editing: int | None, *values: Any) -> Any:
    """Add a contact, or save the one being edited."""
    require_click()
    *fields, shared, changed = values
    user = signed_in_user()
    new = ContactInput(*(str(v or "") for v in fields))
    try:
        with provisioning() as store:
            if editing:
                saved = store.update_contact(user, int(editing), new)
            else:
                saved = store.add_contact(user, new, shared=bool(shared))
    except (ProvisioningError, ValueError) as exc:
        return alert(str(exc), alert_id="contacts-refused"), *([no_update] * (2 + len(_FIELDS)))
    done = alert(f"saved {saved.name}", alert_id="contacts-saved", color="green")
    return done, (changed or 0) + 1, None, *([""] * len(_FIELDS))


@callback(
    Output("contacts-editing", "data", allow_duplicate=True),
    *_FORM_OUTPUTS,
    Output("contacts-form-shared", "checked"),
    Input({"type": "contacts-edit", "id": ALL}, "n_clicks"),
    Input("contacts-new", "n_clicks"),
    prevent_initial_call=True,
)
def start_edit(_clicks: list[int | None], _new: int | None) -> Any:
    """Fill the form with a contact the viewer may see (or empty it for a new one)."""
    require_click()
    if ctx.triggered_id == "contacts-new":
        return None, *([""] * len(_FIELDS)), False
    user = signed_in_user()
    try:
        with provisioning() as store:
            c = store.contact(user, int((ctx.triggered_id or {}).get("id", 0)))
    except (ProvisioningError, ValueError):
        return (no_update,) * (len(_FIELDS) + 2)
    return c.id, c.name, c.company, c.email, c.phone, c.mobile, c.shared


@callback(
    Output("contacts-feedback", "children", allow_duplicate=True),
    Output("contacts-changed", "data", allow_duplicate=True),
    Input({"type": "contacts-delete", "id": ALL}, "n_clicks"),
    Input({"type": "contacts-star", "id": ALL}, "n_clicks"),
    State("contacts-changed", "data"),
    prevent_initial_call=True,
)
def delete_or_star(_d: list[int | None], _s: list[int | None], changed: int | None) -> Any:
    require_click()
    user = signed_in_user()
    target = ctx.triggered_id or {}
    try:
        contact_id = int(target.get("id", 0))
        with provisioning() as store:
            if target.get("type") == "contacts-delete":
                gone = store.delete_contact(user, contact_id)
                message = alert(f"deleted {gone.name}", alert_id="contacts-deleted", color="green")
            else:
                c = store.contact(user, contact_id)
                store.set_favourite(user, contact_id, not c.favourite)
                message = no_update
    except (ProvisioningError, ValueError) as exc:
        return alert(str(exc), alert_id="contacts-refused"), no_update
    return message, (changed or 0) + 1


def _file_text(contents: str | None) -> str:
    return decode_upload(contents).decode("utf-8", errors="replace")


@callback(
    Output("contacts-import-preview-box", "children"),
    Output("contacts-import-confirm", "disabled"),
    Input("contacts-upload", "contents"),
    prevent_initial_call=True,
)
def preview_import(contents: str | None) -> Any:
    """Parse the file (nothing is written): what would be added, and what is left out."""
    signed_in_user()
    try:
        preview = parse_contacts(_file_text(contents))
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="contacts-import-refused"), True
    return preview_box(preview), not preview.contacts


@callback(
    Output("contacts-feedback", "children", allow_duplicate=True),
    Output("contacts-changed", "data", allow_duplicate=True),
    Output("contacts-import-confirm", "disabled", allow_duplicate=True),
    Input("contacts-import-confirm", "n_clicks"),
    State("contacts-upload", "contents"),
    State("contacts-import-shared", "checked"),
    State("contacts-changed", "data"),
    prevent_initial_call=True,
)
def confirm_import(
    _clicks: int | None, contents: str | None, shared: bool | None, changed: int | None
) -> Any:
    """Add the file's good entries (one transaction); the preview said which are left out."""
    require_click()
    user = signed_in_user()
    try:
        preview = parse_contacts(_file_text(contents))
        with provisioning() as store:
            added = store.import_contacts(user, preview.contacts, shared=bool(shared))
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="contacts-import-refused"), no_update, no_update
    left = len(preview.errors)
    text = f"imported {added} contacts" + (f", {left} left out" if left else "")
    return alert(text, alert_id="contacts-imported", color="green"), (changed or 0) + 1, True


@callback(
    Output("contacts-download", "data"),
    Input("contacts-export-csv", "n_clicks"),
    Input("contacts-export-vcard", "n_clicks"),
    State("contacts-search", "value"),
    State("contacts-scope", "value"),
    prevent_initial_call=True,
)
def export(_csv: int | None, _vcf: int | None, search: str | None, scope: str | None) -> Any:
    """What the list shows (contacts only, not extensions), as CSV or vCard."""
    from pipeline.export import defuse_formula  # the one formula guard

    require_click()
    user = signed_in_user()
    try:
        with provisioning() as store:
            contacts = store.contacts(user, search=search or "", scope=scope or "all")  # type: ignore[arg-type]
    except ProvisioningError:
        return no_update
    if ctx.triggered_id == "contacts-export-vcard":
        return dict(content=contacts_vcard(contacts), filename="contacts.vcf")
    return dict(content=contacts_csv(contacts, defuse_formula), filename="contacts.csv")
