"""What the Contacts page shows: contacts and company extensions in one list, and import previews.

Company extensions come from the store's users and are read-only (no edit,
delete or star buttons); contacts carry their buttons only where the viewer
may use them (``ContactsSection`` refuses the rest anyway).
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import html

from switchboard.contact_files import ContactPreview
from switchboard.store import User
from switchboard.store.contacts import Contact


def _button(label: str, kind: str, contact_id: int, **style: Any) -> Any:
    return dmc.Button(
        label,
        id={"type": f"contacts-{kind}", "id": contact_id},
        variant="subtle",
        size="xs",
        **style,
    )


def contact_rows(
    contacts: list[Contact], colleagues: list[User], viewer: User, *, search: str = ""
) -> Any:
    """The list: contacts first (favourites on top), then matching company extensions."""
    text = search.strip().lower()
    company = [
        u
        for u in colleagues
        if not text or text in u.name.lower() or text in u.extension or text in u.email.lower()
    ]
    if not contacts and not company:
        return dmc.Text("No contacts match.", size="sm", c="dimmed", id="contacts-none")
    rows = []
    for c in contacts:
        editable = not c.shared or viewer.sees_whole_tenant
        star = html.Span(
            "★" if c.favourite else "☆",
            className="sb-star sb-star--on" if c.favourite else "sb-star",
        )
        rows.append(
            dmc.TableTr(
                [
                    dmc.TableTd(
                        dmc.Button(
                            star,
                            id={"type": "contacts-star", "id": c.id},
                            variant="subtle",
                            size="xs",
                            **{"aria-label": "Favourite"},
                        )
                    ),
                    dmc.TableTd(c.name),
                    dmc.TableTd(c.company),
                    dmc.TableTd(c.phone),
                    dmc.TableTd(c.mobile),
                    dmc.TableTd(c.email),
                    dmc.TableTd(dmc.Badge("shared" if c.shared else "personal", variant="light")),
                    dmc.TableTd(
                        dmc.Group(
                            [
                                _button("Edit", "edit", c.id),
                                _button("Delete", "delete", c.id, color="red"),
                            ],
                            gap=4,
                        )
                        if editable
                        else None
                    ),
                ],
                className="sb-contact-row",
            )
        )
    for u in company:
        rows.append(
            dmc.TableTr(
                [
                    dmc.TableTd(""),
                    dmc.TableTd(u.name),
                    dmc.TableTd("Company"),
                    dmc.TableTd(f"Ext. {u.extension}"),
                    dmc.TableTd(""),
                    dmc.TableTd(u.email),
                    dmc.TableTd(dmc.Badge("extension", color="gray", variant="light")),
                    dmc.TableTd(None),
                ],
                className="sb-contact-row sb-contact-row--extension",
            )
        )
    head = dmc.TableThead(
        dmc.TableTr(
            [
                dmc.TableTh(h)
                for h in ("", "Name", "Company", "Phone", "Mobile", "Email", "Kind", "")
            ]
        )
    )
    return dmc.Table([head, dmc.TableTbody(rows)], id="contacts-table", highlightOnHover=True)


def preview_box(preview: ContactPreview) -> Any:
    """What an import would add, and each entry it leaves out with why."""
    good = len(preview.contacts)
    where = "Line" if preview.kind == "csv" else "Card at line"
    errors = [html.Li(f"{where} {e.line} ({e.label}): {e.error}") for e in preview.errors]
    return dmc.Alert(
        [
            dmc.Text(
                f"{good} contact{'s' if good != 1 else ''} ready to import"
                + (f"; {len(errors)} left out:" if errors else "."),
                size="sm",
            ),
            html.Ul(errors, id="contacts-import-errors") if errors else None,
        ],
        title=f"Import preview ({'vCard' if preview.kind == 'vcard' else 'CSV'})",
        color="yellow" if errors else "blue",
        variant="light",
        id="contacts-import-preview",
    )
