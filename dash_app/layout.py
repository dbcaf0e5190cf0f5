"""The app shell (header, navigation, user menu) and what pages show alike.

The shell is a function so that Dash renders it per request, for the user of
that request. The call helpers here are shared by Home and Call History so a
call looks the same (icon, colour, local time) wherever it appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import dcc, html

from dash_app.agent_bar import agent_bar
from dash_app.auth import csrf_token, optional_user
from switchboard.store import User

# How a call looks to the person viewing it, like a desk phone's history.
CallView = Literal["incoming", "outgoing", "missed", "internal"]
VIEW_LABELS: dict[str, str] = {
    "incoming": "Incoming",
    "outgoing": "Outgoing",
    "missed": "Missed",
    "internal": "Internal",
}

# Sections that are not built yet; listed so nobody wonders where they went.
_COMING_LATER: tuple[str, ...] = ()

_ROLE_LABELS = {"manager": "Manager", "supervisor": "Supervisor", "agent": "Agent", "user": "User"}


def call_view(row: Mapping[str, Any], viewer_extension: str | None) -> CallView:
    """Incoming, outgoing or missed, seen from ``viewer_extension``.

    The viewer as caller placed the call (outgoing); as callee or answerer
    they received it (incoming), and a received call nobody answered is
    missed. Calls the viewer took no part in (a manager's tenant-wide view)
    are judged from the tenant's side: inbound and internal calls that were
    not answered are missed.
    """
    answered = row.get("disposition") == "answered"
    direction = row.get("direction")
    if viewer_extension:
        if row.get("caller") == viewer_extension and direction != "inbound":
            return "outgoing"
        if viewer_extension in (row.get("callee"), row.get("answered_by")):
            return "incoming" if answered else "missed"
    if direction == "outbound":
        return "outgoing"
    if not answered:
        return "missed"
    return "incoming" if direction == "inbound" else "internal"


def call_icon(view: str, *, size: str = "md") -> html.Span:
    """The coloured arrow of a call; the colour lives in ``assets/portal.css``."""
    aria: dict[str, Any] = {"aria-label": VIEW_LABELS.get(view, view)}
    return html.Span(
        className=f"sb-call-icon sb-call-icon--{view} sb-call-icon--{size}",
        title=VIEW_LABELS.get(view, view),
        role="img",
        **aria,
    )


def to_local(value: Any, timezone: str) -> datetime | None:
    """A lake timestamp (aware, naive UTC or ISO text) in the viewer's time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(timezone))


def format_local(value: Any, timezone: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in the viewer's zone, empty when there is no time."""
    local = to_local(value, timezone)
    return "" if local is None else local.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: Any) -> str:
    """Talk time as ``m:ss`` (or ``h:mm:ss``), the way phones show it."""
    if seconds is None:
        return ""
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def party_label(name: Any, number: Any) -> str:
    """``Name (number)``, or whichever of the two is known."""
    name = (name or "").strip() if isinstance(name, str) else ""
    number = "" if number is None else str(number)
    if name and number and name != number:
        return f"{name} ({number})"
    return name or number or "unknown"


def section(title: str, children: Any, *, id_prefix: str, extra: Any = None) -> dmc.Paper:
    """A titled card, the building block of every page."""
    header = dmc.Group(
        [dmc.Title(title, order=4, className="sb-section-title"), extra],
        justify="space-between",
        mb="sm",
    )
    return dmc.Paper(
        [header, children],
        id=f"{id_prefix}-section",
        withBorder=True,
        radius="md",
        p="lg",
        className="sb-section",
    )


def _user_menu(user: User) -> dmc.Menu:
    return dmc.Menu(
        [
            dmc.MenuTarget(
                dmc.UnstyledButton(
                    dmc.Group(
                        [
                            dmc.Avatar(_initials(user.name), radius="xl", color="indigo"),
                            html.Div(
                                [
                                    dmc.Text(user.name, size="sm", fw=600),
                                    dmc.Text(f"Ext. {user.extension}", size="xs", c="dimmed"),
                                ],
                                className="sb-user-text",
                            ),
                        ],
                        gap="xs",
                    ),
                    id="shell-user-button",
                )
            ),
            dmc.MenuDropdown(
                [
                    dmc.MenuLabel(user.login),
                    html.Div(
                        [
                            dmc.Badge(
                                _ROLE_LABELS.get(user.role, user.role),
                                variant="light",
                                style={"flex": "none"},
                            ),
                            dmc.Text(user.timezone, size="xs", c="dimmed"),
                        ],
                        className="sb-menu-meta",
                    ),
                    dmc.MenuItem("Profile", href="/profile", id="shell-profile"),
                    dmc.MenuDivider(),
                    # A real form POST: logout must carry the CSRF token, and a
                    # plain link could be triggered by any page the user visits.
                    html.Form(
                        [
                            dcc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                            html.Button(
                                "Log out", id="shell-logout", type="submit", className="sb-logout"
                            ),
                        ],
                        action="/logout",
                        method="POST",
                    ),
                ]
            ),
        ],
        position="bottom-end",
        width=260,
        shadow="md",
    )


def _initials(name: str) -> str:
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def _nav(user: User | None) -> list[Any]:
    links: list[Any] = []
    for page in dash.page_registry.values():
        # A page may name the roles it is for (``register_page(..., roles=…)``); the page
        # itself still refuses everyone else: a hidden link is not access control.
        roles = page.get("roles")
        if roles and (user is None or user.role not in roles):
            continue
        short = page["module"].rsplit(".", 1)[-1]
        links.append(
            dmc.NavLink(
                label=page["name"],
                href=page["relative_path"],
                active="exact",
                leftSection=html.Span(className=f"sb-nav-icon sb-nav-icon--{short}"),
                id=f"shell-nav-{short}",
            )
        )
    if _COMING_LATER:
        links.append(dmc.Divider(my="sm", label="Coming later", labelPosition="left"))
    links.extend(
        dmc.NavLink(label=name, disabled=True, description="Not available yet")
        for name in _COMING_LATER
    )
    return links


def shell() -> Any:
    """The whole page frame around ``dash.page_container``."""
    user = optional_user()
    header_right = _user_menu(user) if user else None
    tenant = user.tenant_domain if user else ""
    return dmc.MantineProvider(
        dmc.AppShell(
            [
                dmc.AppShellHeader(
                    dmc.Group(
                        [
                            dmc.Group(
                                [
                                    html.Span(className="sb-logo"),
                                    dmc.Text("Switchboard", fw=700, size="lg"),
                                    dmc.Badge(tenant, variant="outline", color="gray")
                                    if tenant
                                    else None,
                                ],
                                gap="xs",
                            ),
                            dmc.Group([agent_bar(user), header_right], gap="md"),
                        ],
                        justify="space-between",
                        h="100%",
                        px="md",
                    )
                ),
                dmc.AppShellNavbar(_nav(user), p="sm", id="shell-navbar"),
                dmc.AppShellMain(dash.page_container, className="sb-main"),
            ],
            header={"height": 60},
            navbar={"width": 200, "breakpoint": "sm"},
            padding="lg",
        ),
        theme={
            "primaryColor": "indigo",
            "fontFamily": "Inter, 'Segoe UI', system-ui, -apple-system, sans-serif",
            "defaultRadius": "md",
        },
    )
