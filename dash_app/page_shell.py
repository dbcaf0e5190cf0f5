"""What every page of the portal opens with: who may see it, and its title.

Manager pages (Main Numbers, Auto Attendants, Users…) and the supervisors'
(Queues, Wallboard) gate twice: the layout shows anyone else a notice (id ``<page>-denied``,
which the browser tests look for) and every callback asks again with
:func:`signed_in_manager`, because a callback's inputs come from browsers and
hiding a link is not access control. A layout also renders nothing for an
anonymous call (Dash may ask for a layout outside a session).
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import html

from dash_app.auth import optional_user, signed_in_user
from dash_app.editing import NotAllowed
from switchboard.store import User


def require_manager(user: User, refusal: str) -> User:
    """``user``, if a manager; raises ``NotAllowed(refusal)`` otherwise."""
    if user.role != "manager":
        raise NotAllowed(refusal)
    return user


def signed_in_manager(refusal: str) -> User:
    """The signed-in manager of a callback; ``NotAllowed(refusal)`` for anyone else."""
    return require_manager(signed_in_user(), refusal)


SUPERVISORS = ("manager", "supervisor")  # who runs the queues and watches the wallboard


def _page_viewer(page: str, roles: tuple[str, ...], notice: str, title: str) -> User | Any:
    """The signed-in user if their role is one of ``roles``, else what the layout shows instead."""
    user = optional_user()
    if user is None:
        return html.Div()
    if user.role not in roles:
        return dmc.Alert(notice, title=title, color="gray", id=f"{page}-denied")
    return user


def manager_page_viewer(page: str, managed: str) -> User | Any:
    """The manager viewing a manager page, or what the layout shows instead of the page.

    Anonymous: an empty Div. Anyone else: "``managed`` are managed by your
    company's managers." in a notice with id ``<page>-denied``.
    """
    return managers_only_viewer(page, f"{managed} are managed by your company's managers.")


def managers_only_viewer(page: str, notice: str) -> User | Any:
    """The manager viewing a manager page; anyone else gets ``notice`` under "Managers only"."""
    return _page_viewer(page, ("manager",), notice, "Managers only")


def supervisor_page_viewer(page: str, notice: str) -> User | Any:
    """The manager or supervisor viewing a queue page; anyone else gets ``notice`` instead."""
    return _page_viewer(page, SUPERVISORS, notice, "Managers and supervisors only")


def page_header(page: str, title: str, subtitle: Any = None) -> html.Div:
    """The page's title (id ``<page>-title``) over a dimmed line (id ``<page>-subtitle``)."""
    return html.Div(
        [
            dmc.Title(title, order=2, id=f"{page}-title"),
            dmc.Text(subtitle, c="dimmed", id=f"{page}-subtitle"),
        ]
    )
