"""Home's lists: recent calls, registered phones, colleagues and new voicemail.

Pure rendering of rows the page's callbacks read (lake, Kamailio, store): each
function gets plain rows and the viewer, so a slow or failed source is the
callback's business and each list can be tested without one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash_mantine_components as dmc
from dash import html

from dash_app.describe import data_attrs
from dash_app.layout import (
    call_icon,
    call_view,
    format_duration,
    format_local,
    party_label,
    to_local,
)
from switchboard.store import User

NEWEST_TRANSCRIPTS = 3  # unheard messages whose transcript Home shows


def _list_item(
    icon: Any, title: str, subtitle: str, meta: tuple[str, str], class_name: str, **attrs: Any
) -> html.Li:
    """One row of Home's desk-phone lists: icon, who and a detail, then two lines of meta."""
    return html.Li(
        [
            icon,
            html.Div(
                [
                    html.Div(title, className="sb-party-name"),
                    dmc.Text(subtitle, size="xs", c="dimmed"),
                ],
                className="sb-recent-party",
            ),
            html.Div([html.Div(meta[0]), html.Div(meta[1])], className="sb-recent-meta"),
        ],
        className=class_name,
        **attrs,
    )


def recent_call_items(rows: list[dict[str, Any]], viewer: User) -> Any:
    """The desk-phone list: icon, the other party, when, and how long."""
    if not rows:
        return dmc.Text("No calls yet.", size="sm", c="dimmed", id="home-recent-empty")
    zone = ZoneInfo(viewer.timezone)
    today = datetime.now(zone).date()
    items = []
    for row in rows:
        view = call_view(row, viewer.extension)
        if view == "outgoing":
            other = party_label(row.get("callee_name"), row.get("callee"))
        else:
            other = party_label(row.get("caller_name"), row.get("caller"))
        started = to_local(row.get("started_at"), viewer.timezone)
        when = ""
        if started is not None:
            day = "Today" if started.date() == today else started.strftime("%b %d, %Y")
            when = f"{day} {started.strftime('%H:%M')}"
        if row.get("disposition") == "answered":
            detail = format_duration(row.get("talk_seconds"))
        else:  # busy, cancelled…: say what happened rather than "0:00"
            detail = str(row.get("disposition") or "missed").capitalize()
        items.append(
            _list_item(
                call_icon(view),
                other,
                f"{view.capitalize()} · {row.get('direction', '')}",
                (when, detail),
                f"sb-recent-item sb-recent-item--{view}",
                **data_attrs(call_id=str(row.get("call_id", "")), view=view),
            )
        )
    return html.Ul(items, className="sb-recent-list", id="home-recent-list")


def phone_items(registrations: list[Any] | None) -> Any:
    """Registered devices, or why none are shown (``None``: Kamailio is unreachable)."""
    if registrations is None:
        return dmc.Alert(
            "Phone status unavailable: the phone server cannot be reached.",
            color="gray",
            variant="light",
            id="home-phones-unavailable",
        )
    if not registrations:
        return dmc.Text(
            "No phone is registered to your extension.",
            size="sm",
            c="dimmed",
            id="home-phones-none",
        )
    rows = []
    for reg in registrations:
        expires = "permanent" if reg.expires_in < 0 else f"expires in {reg.expires_in} s"
        rows.append(
            _list_item(
                html.Span(className="sb-device-icon"),
                reg.user_agent or "Unknown device",
                reg.contact,
                (reg.received or "", expires),
                "sb-recent-item sb-phone-item",
            )
        )
    return html.Ul(rows, className="sb-recent-list", id="home-phones-list")


def colleague_rows(users: list[User], viewer: User) -> Any:
    """Everyone else in the tenant with their status message."""
    others = [u for u in users if u.id != viewer.id]
    if not others:
        return dmc.Text("You are the only user of this tenant.", size="sm", c="dimmed")
    body = [
        html.Tr(
            [
                html.Td(u.name),
                html.Td(u.extension),
                html.Td(u.status_message or "—", className="sb-colleague-status"),
            ],
            **data_attrs(extension=u.extension),
        )
        for u in others
    ]
    return dmc.Table(
        [
            html.Thead(
                html.Tr([html.Th("Name"), html.Th("Ext."), html.Th("Status")]),
                className="sb-table-head",
            ),
            html.Tbody(body),
        ],
        id="home-colleagues-table",
        highlightOnHover=True,
        verticalSpacing="xs",
    )


def new_message_items(rows: list[dict[str, Any]], viewer: User) -> Any:
    """How many unheard messages wait in the New folder, and the newest transcripts."""
    unheard = [r for r in rows if not r["is_read"]]
    if not rows:
        return dmc.Text("No new voicemail.", size="sm", c="dimmed", id="home-messages-none")
    count = len(unheard)
    headline = f"{count} new message{'s' if count != 1 else ''}" if count else "No unheard messages"
    items = [
        html.Li(
            [
                html.Div(
                    [
                        html.Span(
                            r.get("caller_label") or "Unknown caller", className="sb-party-name"
                        ),
                        dmc.Text(
                            format_local(r.get("started_at"), viewer.timezone),
                            size="xs",
                            c="dimmed",
                        ),
                    ],
                    className="sb-recent-party",
                ),
                dmc.Text(
                    r.get("transcript") or "Transcript not available yet.",
                    size="sm",
                    className="sb-vm-transcript",
                ),
            ],
            className="sb-vm-home-item",
            **data_attrs(message_id=str(r["message_id"])),
        )
        for r in (unheard or rows)[:NEWEST_TRANSCRIPTS]
    ]
    return html.Div(
        [
            dmc.Text(headline, fw=600, id="home-messages-count", **data_attrs(count=str(count))),
            html.Ul(items, className="sb-recent-list", id="home-messages-list"),
        ]
    )
