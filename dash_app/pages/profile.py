"""Profile (every user): my name, email, time zone, password, caller ID, recording, Home sections.

Every callback changes the signed-in user and nobody else: the only id a
browser sends is the recording card's owner, which must be the signed-in
user's own extension (anything else is a 403), so there is no other profile
to reach. The
password change needs the current password and signs me out everywhere
else (this browser stays signed in, re-stamped); the caller ID is one of the
main numbers a manager allowed (Users page), which Kamailio shows to the
carrier on my calls to outside numbers once pushed; the Home sections are a portal
preference Home reads (``switchboard.store.user_admin.HOME_SECTIONS``). Call
recording is a choice only where the company records on demand
(``RecordingPolicySection.own_recording``); elsewhere the card says what
applies and why, read-only. A change reloads Kamailio's ``recpol`` at once, as
``switchboard user edit --recording`` does.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from dash import Input, Output, State, callback, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.auth import optional_user, portal, provisioning, signed_in_user, stamp_session
from dash_app.describe import data_attrs
from dash_app.editing import NotAllowed, alert, sentence
from dash_app.layout import section
from dash_app.push import PHONES_WILL_FOLLOW, push_after_edit, saved_banner
from dash_app.users_view import COMPANY_ZONE, DEFAULT_CALLER_ID, caller_id_options, zone_options
from switchboard.store import ProvisioningError
from switchboard.store.recording_policy import OwnRecording
from switchboard.store.user_admin import HOME_SECTIONS

dash.register_page(
    __name__, path="/profile", name="Profile", title="Profile · Switchboard", order=20
)

HOME_SECTION_LABELS = {
    "recent": "Recent Call History",
    "phones": "Active Phones",
    "status": "Status Message",
    "colleagues": "Colleagues",
    "messages": "New Messages",
    "rule": "Active Answering Rule",
}
RECORDING_LABELS = {
    "always": "Always: every call of mine is recorded",
    "on_demand": "On demand: recorded only when someone presses Record",
    "never": "Never recorded",
}
NOT_YOURS = "you can change only your own recording preference"


def recording_policy_text(own: OwnRecording) -> Any:
    """What applies to my calls now, and why I may (or may not) change it."""
    return dmc.Text(
        f"{RECORDING_LABELS[own.mode]}. {sentence(own.reason)}.",
        id="profile-recording-policy",
        **data_attrs(mode=own.mode, editable="1" if own.choices else "0"),
    )


def recording_card(extension: str, own: OwnRecording) -> Any:
    """The policy in words; a choice and Save only where the policy allows one."""
    rows: list[Any] = [html.Div(recording_policy_text(own), id="profile-recording-now")]
    if own.choices:
        rows += [
            dmc.RadioGroup(
                dmc.Stack([dmc.Radio(label=RECORDING_LABELS[m], value=m) for m in own.choices],
                          gap=6),
                id="profile-recording", value=own.mode, label="Record my calls",
            ),
            dmc.Button("Save", id="profile-recording-save", w=120),
        ]  # fmt: skip
    rows += [
        dcc.Store(id="profile-recording-owner", data=extension),
        html.Div(id="profile-recording-feedback"),
    ]
    return dmc.Stack(rows, gap="sm")


def layout(**query: str) -> Any:
    """The signed-in user's own settings, in three cards."""
    user = optional_user()
    if user is None:
        return html.Div()
    with provisioning() as store:
        tenant = store.tenant(user.tenant_domain)
        own_zone = store.own_timezone(user)
        allowed = store.allowed_caller_ids(user)
        shown = store.home_sections(user.id)
        recording = store.own_recording(user)
    caller_ids = caller_id_options(
        [(d.number, d.name) for d in allowed], "Default (my extension's)"
    )
    details = dmc.Stack(
        [
            dmc.TextInput(id="profile-name", label="Name", value=user.name,
                          inputProps={"maxLength": 80}),
            dmc.TextInput(
                id="profile-email", label="Email", value=user.email,
                description="Where your voicemail is mailed", inputProps={"maxLength": 254},
            ),
            dmc.Select(
                id="profile-timezone", label="Time zone", searchable=True, allowDeselect=False,
                data=zone_options(tenant.timezone), value=own_zone or COMPANY_ZONE,
                description="Your rules' time frames and the times you see use it",
            ),
            dmc.Select(
                id="profile-callerid", label="Caller ID when I call out", allowDeselect=False,
                data=caller_ids, value=user.caller_id or DEFAULT_CALLER_ID,
                description="Main numbers your manager lets you show",
            ),
            dmc.Button("Save", id="profile-save", w=120),
            html.Div(id="profile-feedback"),
        ],
        gap="sm",
    )  # fmt: skip
    password = dmc.Stack(
        [
            dmc.PasswordInput(id="profile-current", label="Current password"),
            dmc.PasswordInput(id="profile-new", label="New password",
                              description="At least 8 characters"),
            dmc.PasswordInput(id="profile-repeat", label="Repeat the new password"),
            dmc.Button("Change password", id="profile-password-save", w=180),
            html.Div(id="profile-password-feedback"),
        ],
        gap="sm",
    )  # fmt: skip
    home = dmc.Stack(
        [
            dmc.CheckboxGroup(
                dmc.Stack([dmc.Checkbox(label=HOME_SECTION_LABELS[s], value=s)
                           for s in HOME_SECTIONS], gap=6),
                id="profile-home-sections", value=shown, label="Sections shown on Home",
            ),
            dmc.Button("Save", id="profile-prefs-save", w=120),
            html.Div(id="profile-prefs-feedback"),
        ],
        gap="sm",
    )  # fmt: skip
    return dmc.Stack(
        [
            html.Div(
                [
                    dmc.Title("Profile", order=2, id="profile-title"),
                    dmc.Text(f"{user.login} · {user.role}", c="dimmed"),
                ]
            ),
            dmc.Grid(
                [
                    dmc.GridCol(section("My details", details, id_prefix="profile-details"),
                                span={"base": 12, "lg": 6}),
                    dmc.GridCol(
                        dmc.Stack([
                            section("Password", password, id_prefix="profile-password"),
                            section("Call recording", recording_card(user.extension, recording),
                                    id_prefix="profile-recording"),
                            section("Portal", home, id_prefix="profile-prefs"),
                        ]),
                        span={"base": 12, "lg": 6},
                    ),
                ],
                gutter="lg",
            ),
        ],
        gap="lg",
    )  # fmt: skip


@callback(
    Output("profile-feedback", "children"),
    Input("profile-save", "n_clicks"),
    State("profile-name", "value"),
    State("profile-email", "value"),
    State("profile-timezone", "value"),
    State("profile-callerid", "value"),
    prevent_initial_call=True,
)
def save_profile(
    clicks: int | None, name: str | None, email: str | None, zone: str | None,
    caller_id: str | None,
) -> Any:  # fmt: skip
    """Save my name, email, zone and caller ID (the store checks each); push my routing."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    timezone = "" if not zone or zone == COMPANY_ZONE else zone
    number = "" if not caller_id or caller_id == DEFAULT_CALLER_ID else caller_id
    try:
        with provisioning() as store:
            me = store.update_user(
                user.tenant_domain, user.extension, name=name or "", email=email or "",
                timezone=timezone,
            )  # fmt: skip
            me = store.set_caller_id(me, number)
            # Kamailio reads both from my decision: the zone my rules run in, and the
            # caller ID the carrier sees (switchboard/routing.py, field caller_id)
            moved = (me.timezone, me.caller_id) != (user.timezone, user.caller_id)
            caveat = push_after_edit(store, [me]) if moved else ""
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="profile-error")
    return saved_banner("Saved", caveat, alert_id="profile-saved")


@callback(
    Output("profile-password-feedback", "children"),
    Output("profile-current", "value"),
    Output("profile-new", "value"),
    Output("profile-repeat", "value"),
    Input("profile-password-save", "n_clicks"),
    State("profile-current", "value"),
    State("profile-new", "value"),
    State("profile-repeat", "value"),
    prevent_initial_call=True,
)
def change_password(
    clicks: int | None, current: str | None, new: str | None, repeat: str | None
) -> tuple[Any, ...]:
    """My password, with the current one (Argon2id); my other sessions end, this one stays."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    if (new or "") != (repeat or ""):
        return alert("the two new passwords differ", alert_id="profile-password-error"), "", "", ""
    try:
        with provisioning() as store:
            version = store.change_password(user.id, current or "", new or "")
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="profile-password-error"), "", "", ""
    stamp_session(version)  # the response's cookie carries it
    done = alert("Password changed.", color="green", alert_id="profile-password-changed")
    return done, "", "", ""


@callback(
    Output("profile-prefs-feedback", "children"),
    Input("profile-prefs-save", "n_clicks"),
    State("profile-home-sections", "value"),
    prevent_initial_call=True,
)
def save_preferences(clicks: int | None, shown: list[str] | None) -> Any:
    """Which sections my Home shows."""
    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    try:
        with provisioning() as store:
            store.set_home_sections(user.id, [str(s) for s in shown or []])
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="profile-prefs-error")
    return alert("Saved. Home shows these sections.", color="green", alert_id="profile-prefs-saved")


@callback(
    Output("profile-recording-feedback", "children"),
    Output("profile-recording-now", "children"),
    Input("profile-recording-save", "n_clicks"),
    State("profile-recording", "value"),
    State("profile-recording-owner", "data"),
    prevent_initial_call=True,
)
def save_recording(clicks: int | None, mode: str | None, owner: str | None) -> tuple[Any, ...]:
    """My own calls' recording, where the policy allows; Kamailio reloads ``recpol`` at once."""
    from kamailio.recording_push import push_recording_policy  # lazy: only this save needs it

    if not clicks:
        raise PreventUpdate
    user = signed_in_user()
    if str(owner or "") != user.extension:  # a crafted POST naming a colleague
        raise NotAllowed(NOT_YOURS)
    try:
        with provisioning() as store:
            own = store.set_own_recording(user, str(mode or ""))
    except ProvisioningError as exc:
        return alert(str(exc), alert_id="profile-recording-error"), no_update
    # after the commit, as the CLI's `user edit --recording`: Kamailio reads the DB rows
    caveat = "" if push_recording_policy(portal().settings) else PHONES_WILL_FOLLOW
    return saved_banner("Saved", caveat, alert_id="profile-recording-saved"), recording_policy_text(
        own
    )
