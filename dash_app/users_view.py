"""What the Users page shows: the list, the user editor, the removal dialog, the import preview.

Rendering only (no callbacks, no store writes): the page module wires these
to its callbacks. Each removal states its consequences in the words of
``switchboard.store.user_admin`` so the manager knows what stays and what goes.
"""

from __future__ import annotations

from typing import Any

import dash_mantine_components as dmc
from dash import dcc, html

from dash_app.describe import data_attrs
from dash_app.editing import dialog_actions
from dash_app.upload_limits import SPLIT_ADVICE, sized_upload
from switchboard.settings import Settings
from switchboard.store import ROLES, User
from switchboard.user_csv import EXPORT_COLUMNS, IMPORT_COLUMNS, ImportPreview
from switchboard.zones import picked_zones

ROLE_LABELS = {"manager": "Manager", "supervisor": "Supervisor", "agent": "Agent", "user": "User"}
COMPANY_ZONE = "__company__"  # the time-zone select's value for "the company's zone"
DEFAULT_CALLER_ID = "__default__"  # the caller-ID select's value for "the extension's own"
MANAGERS_ONLY = "only managers can see and change users"
FEEDBACK = "users-feedback"  # the Users page's banner, shared by its callbacks' modules


def zone_options(company_zone: str) -> list[dict[str, str]]:
    first = {"value": COMPANY_ZONE, "label": f"Company's zone ({company_zone})"}
    return [first] + [{"value": z, "label": z} for z in picked_zones()]


def caller_id_options(numbers: list[tuple[str, str]], default: str) -> list[dict[str, str]]:
    """The caller-ID select: the default first, then ``(number, name)`` main numbers."""
    first = {"value": DEFAULT_CALLER_ID, "label": default}
    return [first] + [{"value": n, "label": f"{n} ({name})"} for n, name in numbers]


def matches(user: User, search: str | None) -> bool:
    """The list's search: part of an extension, name, email or role."""
    needle = (search or "").strip().lower()
    return not needle or needle in f"{user.extension} {user.name} {user.email} {user.role}".lower()


def _action(label: str, kind: str, ext: str, **props: Any) -> dmc.Button:
    return dmc.Button(
        label,
        id={"type": f"users-{kind}", "ext": ext},
        size="compact-xs",
        variant="light",
        **props,
    )


def user_table(users: list[User], viewer: User) -> Any:
    """One row per user, with what a manager can do to each."""
    if not users:
        return dmc.Text("No users match.", c="dimmed", id="users-empty")
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Ext.", "Name", "Email", "Role", "Time zone", "", "")])
    )
    rows = []
    for u in users:
        status = dmc.Badge("disabled", color="gray") if u.disabled else None
        actions = dmc.Group(
            [
                _action("Edit", "edit", u.extension),
                _action(
                    "Enable" if u.disabled else "Disable",
                    "toggle",
                    u.extension,
                    color="green" if u.disabled else "orange",
                ),
                _action("Reset password", "reset", u.extension),
                _action("SIP password", "sip", u.extension),
                _action("Remove", "remove", u.extension, color="red"),
            ],
            gap=4,
        )
        rows.append(
            html.Tr(
                [
                    html.Td(u.extension),
                    html.Td(u.name + (" (you)" if u.id == viewer.id else "")),
                    html.Td(u.email or "—"),
                    html.Td(ROLE_LABELS.get(u.role, u.role)),
                    html.Td(u.timezone),
                    html.Td(status),
                    html.Td(actions),
                ],
                id=f"users-row-{u.extension}",
                **data_attrs(disabled="1" if u.disabled else "0"),
            )
        )
    return dmc.Table([head, html.Tbody(rows)], striped=True, highlightOnHover=True)


def user_editor() -> dmc.Modal:
    """Add or edit a user; the extension is fixed once the user exists."""
    return dmc.Modal(
        dmc.Stack(
            [
                html.Div(id="users-editor-alert"),
                dmc.TextInput(
                    id="users-ext",
                    label="Extension",
                    placeholder="105",
                    inputProps={"maxLength": 8},
                ),
                dmc.TextInput(id="users-name", label="Name", inputProps={"maxLength": 80}),
                dmc.TextInput(
                    id="users-email",
                    label="Email",
                    description="Where their voicemail is mailed (optional)",
                    inputProps={"maxLength": 254},
                ),
                dmc.Select(
                    id="users-role",
                    label="Role",
                    data=[{"value": r, "label": ROLE_LABELS[r]} for r in ROLES],
                    value="user",
                    allowDeselect=False,
                ),
                dmc.Select(
                    id="users-timezone", label="Time zone", searchable=True, allowDeselect=False
                ),
                dmc.MultiSelect(
                    id="users-callerids",
                    label="Caller IDs they may use",
                    description="Main numbers shown to people they call",
                    placeholder="Choose main numbers",
                    data=[],
                ),
                dmc.Select(
                    id="users-callerid",
                    label="Caller ID when they call out",
                    description="One of the numbers above; they can change it on their Profile",
                    data=[],
                    allowDeselect=False,
                ),
                dialog_actions("users-cancel", dmc.Button("Save", id="users-save")),
            ],
            gap="sm",
        ),
        id="users-editor",
        title="User",
        size="lg",
    )


def removal_dialog() -> dmc.Modal:
    """Removing a user, with what happens to their mailbox, rules and history."""
    return dmc.Modal(
        dmc.Stack(
            [
                html.Div(id="users-remove-text"),
                dmc.Select(
                    id="users-remove-heir",
                    label="Their voicemail",
                    data=[],
                    allowDeselect=False,
                ),
                html.Div(id="users-remove-alert"),
                dialog_actions(
                    "users-remove-cancel",
                    dmc.Button("Remove user", id="users-remove-confirm", color="red"),
                ),
            ],
            gap="sm",
        ),
        id="users-remove-modal",
        title="Remove user",
    )


KEEP = "__keep__"  # the heir select's value for "keep the mailbox N days"


def removal_text(user: User, keep_days: float) -> tuple[Any, list[dict[str, str]]]:
    """The consequences of removing ``user``, and the choices for their mailbox."""
    text = dmc.Stack(
        [
            dmc.Text(f"Remove {user.name} (extension {user.extension})?", fw=600),
            html.Ul(
                [
                    html.Li("They can no longer sign in, and their phones are refused."),
                    html.Li("Their answering rules, override and own time frames are deleted."),
                    html.Li("Their call history stays in reports and exports."),
                    html.Li(
                        f"Their voicemail is kept {keep_days:g} days (then deleted), or moved"
                        " to a colleague's mailbox now."
                    ),
                ],
                id="users-remove-consequences",
            ),
        ],
        gap=4,
    )
    return text, [{"value": KEEP, "label": f"Keep for {keep_days:g} days"}]


def reset_email_note(settings: Settings, user: User, code: str, hours: float) -> str:
    """Email a reset's one-time password to the user when SMTP is set; what to tell the manager."""
    from pipeline.password_email import ResetEmailError, email_one_time_password  # lazy: smtplib

    try:
        sent_to = email_one_time_password(settings, user, code, hours=hours)
    except ResetEmailError as exc:
        return f"Not emailed: {exc}. Pass it on yourself."
    if sent_to is None:
        return "" if not settings.smtp_host else f"{user.name} has no email address: pass it on."
    return f"Also emailed to {sent_to}."


def credentials_notice(
    ext: str, one_time: str | None, sip: str | None, *, alert_id: str, note: str = ""
) -> Any:
    """Secrets shown once: the manager passes them on; they are stored hashed only.

    ``note`` says whether the one-time password was emailed too (``reset_email_note``).
    """
    lines = []
    if one_time:
        lines.append(dmc.Text(["One-time password: ", html.Code(one_time, id=f"{alert_id}-code")]))
    if sip:
        lines.append(dmc.Text(["SIP password: ", html.Code(sip, id=f"{alert_id}-sip")]))
    shown = "Shown once. The user chooses their own password at their first sign-in."
    if not one_time:
        shown = "Shown once: enter it in the phone now."
    if note:
        lines.append(dmc.Text(note, size="sm", id=f"{alert_id}-email"))
    return dmc.Alert(
        [*lines, dmc.Text(shown, size="sm", c="dimmed")],
        title=f"Extension {ext}",
        color="green",
        id=alert_id,
    )


def import_section() -> Any:
    """Upload → preview with errors → Confirm (refused while errors remain)."""
    return dmc.Stack(
        [
            dmc.Text(
                f"A CSV with the columns {', '.join(IMPORT_COLUMNS)} (extension and name"
                " required; an optional status column, enabled or disabled, as the export"
                " writes). Nothing is added until you confirm, then all rows or none.",
                size="sm",
                c="dimmed",
            ),
            sized_upload(
                "users-import-upload",
                dmc.Button("Choose a CSV file", variant="light", id="users-import-choose"),
                2 * 2**20,
                SPLIT_ADVICE,
                accept=".csv,text/csv",
            ),
            html.Div(id="users-import-preview"),
            dmc.Button("Confirm import", id="users-import-confirm", disabled=True, w=180),
            dcc.Store(id="users-import-data", data=None),
        ],
        gap="sm",
    )


def import_preview(preview: ImportPreview) -> Any:
    """Every line of the file, errors first in red, so the manager can fix the file."""
    rows = []
    for line in preview.lines:
        cells = [html.Td(str(line.line))]
        cells += [html.Td(line.values.get(c, "")) for c in EXPORT_COLUMNS]
        colour = "#c92a2a" if line.error else "#2b8a3e"
        cells.append(html.Td(line.error or "ok", style={"color": colour}))
        rows.append(html.Tr(cells, className="users-import-error" if line.error else ""))
    head = html.Thead(html.Tr([html.Th(h) for h in ("Line", *EXPORT_COLUMNS, "Check")]))
    errors = len(preview.errors)
    summary = (
        f"{errors} of {len(preview.lines)} lines have errors: fix the file and upload it again."
        if errors
        else f"{len(preview.lines)} users ready to add."
    )
    return dmc.Stack(
        [
            dmc.Text(
                summary,
                c="red" if errors else "green",
                id="users-import-summary",
                **data_attrs(errors=str(errors)),
            ),
            dmc.Table([head, html.Tbody(rows)], id="users-import-table"),
        ],
        gap="xs",
    )
