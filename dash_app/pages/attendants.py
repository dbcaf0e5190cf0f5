"""Auto Attendants (managers only): menus, announcements, hold music, and a simulator.

A menu is a greeting (typed text spoken now with espeak-ng, or an uploaded
MP3/WAV converted now) and what each key does; Main Numbers sends calls to
a menu per time frame. The simulator beside the editor tells where a caller
goes: from a main number at a time (its route, as the routing simulator says)
and then through the menus for the keys typed, counting repeats the way the
media server does. Saving checks every destination; deleting something a
route or another menu still uses is refused with what uses it.

Every callback checks the role again and reads objects by the manager's own
tenant (an id from another company is "no such"): hiding a link is not
access control. An uploaded greeting stays on the server: the browser keeps
only its content digest, and saving rebuilds the path from the manager's own
tenant (``greeting_file_from_form``), so no value a browser sends can point a
menu at another company's voicemail or recordings. Saving a menu changes no
routing decision (routes name a menu by id), so nothing is pushed to Kamailio.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_mantine_components as dmc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dash_app.attendants_form import (
    OUTCOME_FIELDS,
    announcement_row,
    announcements_section,
    attendant_from_form,
    destination_from_form,
    editor_section,
    greeting_file_from_form,
    hold_row,
    hold_section,
    keys_from_text,
    menu_card,
    register_target_hints,
    simulator_section,
)
from dash_app.auth import portal, provisioning
from dash_app.editing import NotAllowed, alert, require_click
from dash_app.layout import section
from dash_app.page_shell import manager_page_viewer, page_header, signed_in_manager
from dash_app.uploads import decode_upload
from media.audio_library import AudioError, save_speech, save_upload
from switchboard.attendants import (
    MENU_KEYS,
    Announcement,
    AttendantError,
    main_number_step,
    simulate_attendant,
)
from switchboard.library_paths import library_digest
from switchboard.store import ProvisioningError, ProvisioningStore, User

dash.register_page(
    __name__,
    path="/attendants",
    name="Auto Attendants",
    title="Auto Attendants · Switchboard",
    order=5,
    roles=("manager",),  # read by the shell's navigation
)

MANAGERS_ONLY = "only managers can see and change auto attendants"
FIELDS = [*MENU_KEYS, *OUTCOME_FIELDS]
MENU_ALERT, ANN_ALERT, HOLD_ALERT = (
    "attendants-alert",
    "attendants-ann-alert",
    "attendants-hold-alert",
)


register_target_hints()


def _names(store: ProvisioningStore, tenant: str) -> dict[str, str]:
    names = {f"attendant:{a.id}": a.name for a in store.attendants(tenant)}
    return names | {f"announcement:{a.id}": a.name for a in store.announcements(tenant)}


def layout(**query: str) -> Any:
    user = manager_page_viewer("attendants", "Auto attendants")
    if not isinstance(user, User):
        return user
    with provisioning() as store:
        numbers = [d.number for d in store.dids(user.tenant_domain)]
    editor, simulator = editor_section(), simulator_section(numbers)
    announcements, hold = announcements_section(), hold_section()
    return dmc.Stack(
        [
            page_header(
                "attendants",
                "Auto Attendants",
                "Menus callers to a main number hear, and what each key does.",
            ),
            html.Div(id=MENU_ALERT),
            html.Div(dmc.Skeleton(height=80), id="attendants-list"),
            dmc.SimpleGrid(
                [
                    section("Menu", editor, id_prefix="attendants-editor"),
                    section("Simulator", simulator, id_prefix="attendants-sim"),
                ],
                cols={"base": 1, "lg": 2},
            ),
            section("Announcements", announcements, id_prefix="attendants-ann"),
            section("Hold music", hold, id_prefix="attendants-hold"),
            dcc.Store(id="attendants-version", data=0),
            dcc.Store(id="attendants-editing", data=None),
        ],
        gap="lg",
    )


# -- lists ----------------------------------------------------------------------------------------
@callback(
    Output("attendants-list", "children"),
    Output("attendants-ann-list", "children"),
    Output("attendants-hold-list", "children"),
    Input("attendants-version", "data"),
)
def refresh_lists(_version: int | None) -> tuple[Any, Any, Any]:
    """The tenant's menus (with what is broken in them), announcements and tracks."""
    try:
        user = signed_in_manager(MANAGERS_ONLY)
    except NotAllowed as exc:
        return alert(str(exc), alert_id="attendants-denied"), None, None
    tenant = user.tenant_domain
    with provisioning() as store:
        names = _names(store, tenant)
        cards = [menu_card(m, names, store.attendant_problems(m)) for m in store.attendants(tenant)]
        anns = [announcement_row(a, names) for a in store.announcements(tenant)]
        tracks = [hold_row(t) for t in store.hold_music(tenant)]
    empty = dmc.Text("No menus yet: build one below.", c="dimmed", id="attendants-empty")
    return (
        dmc.Stack(cards, gap="sm") if cards else empty,
        dmc.Stack(anns, gap=4) if anns else dmc.Text("No announcements yet.", c="dimmed"),
        dmc.Stack(tracks, gap=4)
        if tracks
        else dmc.Text("No tracks yet: callers on hold hear the built-in music.", c="dimmed"),
    )


# -- the menu editor ----------------------------------------------------------------------------
# The menu editor's fields, in the order open_menu fills them and save_menu reads them.
MENU_FIELDS: tuple[tuple[Any, str], ...] = (
    ("attendants-name", "value"),
    ("attendants-greeting-text", "value"),
    ("attendants-greeting-digest", "data"),  # a digest, never a path
    ("attendants-timeout", "value"),
    ("attendants-repeats", "value"),
    ({"type": "attendants-mdest-kind", "field": ALL}, "value"),
    ({"type": "attendants-mdest-target", "field": ALL}, "value"),
)


@callback(
    Output("attendants-editing", "data"),
    *(Output(i, p) for i, p in MENU_FIELDS),
    Output("attendants-editor-alert", "children"),
    Input("attendants-new", "n_clicks"),
    Input({"type": "attendants-edit", "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def open_menu(_new: int | None, _edits: list[int | None]) -> Any:
    """Fill the editor with a saved menu of the manager's tenant (or empty it)."""
    require_click()
    ids = [spec["id"] for spec in ctx.outputs_list[6]]  # the kind selects, as rendered
    menu = None
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        try:
            user = signed_in_manager(MANAGERS_ONLY)
            with provisioning() as store:
                menu = store.attendant(user.tenant_domain, int(trigger.get("id") or 0))
        except (NotAllowed, ProvisioningError) as exc:
            return (*[no_update] * 8, alert(str(exc), alert_id="attendants-editor-error"))
    kinds, targets = [], []
    for pid in ids:
        field = pid["field"]
        dest = None
        if menu is not None:
            dest = getattr(menu, field) if field in OUTCOME_FIELDS else menu.options.get(field)
        if dest is None:
            kinds.append("off" if field in MENU_KEYS else "hangup")
            targets.append("")
        else:
            kinds.append(dest.kind)
            targets.append(dest.target)
    if menu is None:
        return None, "", "", "", 5, 2, kinds, targets, None
    return (
        menu.id,
        menu.name,
        menu.greeting_text,
        library_digest(menu.tenant, "greeting", menu.greeting_file) or "",
        menu.timeout_seconds,
        menu.max_repeats,
        kinds,
        targets,
        None,
    )


@callback(
    Output("attendants-greeting-digest", "data", allow_duplicate=True),
    Output("attendants-greeting-feedback", "children"),
    Input("attendants-greeting-upload", "contents"),
    State("attendants-greeting-upload", "filename"),
    prevent_initial_call=True,
)
def upload_greeting(contents: str | None, filename: str | None) -> tuple[Any, Any]:
    """Convert an uploaded greeting now (refused when it is not MP3/WAV audio); its digest."""
    if not contents:
        raise PreventUpdate
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        rel = save_upload(
            portal().settings.data_dir,
            user.tenant_domain,
            "greeting",
            decode_upload(contents),
            filename or "",
        )
    except (NotAllowed, AudioError) as exc:
        return no_update, alert(str(exc), alert_id="attendants-upload-refused")
    return library_digest(user.tenant_domain, "greeting", rel), dmc.Text(
        f"{filename}: ready; it plays once you save the menu.",
        c="green",
        size="sm",
        id="attendants-upload-ok",
    )


@callback(
    Output("attendants-editor-alert", "children", allow_duplicate=True),
    Output("attendants-version", "data", allow_duplicate=True),
    Output("attendants-editing", "data", allow_duplicate=True),
    Output("attendants-greeting-digest", "data", allow_duplicate=True),
    Input("attendants-save", "n_clicks"),
    State("attendants-editing", "data"),
    *(State(i, p) for i, p in MENU_FIELDS),
    State("attendants-version", "data"),
    prevent_initial_call=True,
)
def save_menu(
    clicks: int | None, editing: Any, name: str | None, text: str | None, digest: Any,
    timeout: Any, repeats: Any, kinds: list[str | None],
    targets: list[str | None], version: int | None,
) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """Check and save the menu; the greeting text is spoken now unless a recording was given.

    The recording is named by ``digest`` only; its path is rebuilt from the
    manager's own tenant (``greeting_file_from_form``), never taken from the browser.
    """
    if not clicks:
        raise PreventUpdate
    keep = (no_update, no_update, no_update)
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        menu_id = int(editing) if editing else None
        tenant = user.tenant_domain
        data_dir = portal().settings.data_dir
        file = greeting_file_from_form(data_dir, tenant, digest)
        menu = attendant_from_form(
            tenant,
            menu_id,
            name,
            text,
            file,
            timeout,
            repeats,
            _fields(ctx.states_list[6]),
            kinds,
            targets,
        )
        with provisioning() as store:
            if menu_id is not None:
                old = store.attendant(tenant, menu_id)  # another tenant's id: "no such"
                spoken = old.greeting_text != menu.greeting_text and file == old.greeting_file
            else:
                spoken = not file
            if (spoken or not file) and menu.greeting_text:
                file = save_speech(data_dir, tenant, "greeting", menu.greeting_text)
                menu = dataclasses.replace(menu, greeting_file=file)
            saved = store.save_attendant(menu)
    except (NotAllowed, AttendantError, ProvisioningError, AudioError) as exc:
        return alert(str(exc), alert_id="attendants-refused"), *keep
    banner = alert(
        f"Saved menu “{saved.name}” (menu {saved.id}). Route calls to it on Main Numbers.",
        color="green",
        alert_id="attendants-saved",
    )
    digest_saved = library_digest(tenant, "greeting", saved.greeting_file) or ""
    return banner, (version or 0) + 1, saved.id, digest_saved


@callback(
    Output(MENU_ALERT, "children"),
    Output("attendants-version", "data", allow_duplicate=True),
    Input({"type": "attendants-delete", "id": ALL}, "n_clicks"),
    State("attendants-version", "data"),
    prevent_initial_call=True,
)
def delete_menu(_clicks: list[int | None], version: int | None) -> tuple[Any, Any]:
    """Delete a menu nothing uses; else say what still sends callers to it."""
    require_click()
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict):
        raise PreventUpdate
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        with provisioning() as store:
            store.delete_attendant(user.tenant_domain, int(trigger.get("id") or 0))
    except (NotAllowed, ProvisioningError) as exc:
        return alert(str(exc), alert_id="attendants-delete-refused"), no_update
    return alert("Menu deleted.", color="green", alert_id="attendants-deleted"), (version or 0) + 1


# -- the simulator --------------------------------------------------------------------------------
@callback(
    Output("attendants-sim-result", "children"),
    Input("attendants-simulate", "n_clicks"),
    State("attendants-editing", "data"),
    State("attendants-sim-number", "value"),
    State("attendants-sim-at", "value"),
    State("attendants-sim-keys", "value"),
    prevent_initial_call=True,
)
def simulate(
    clicks: int | None, editing: Any, number: str | None, at_text: str | None, keys: str | None
) -> Any:
    """Where a caller goes: the main number's route at that time, then the menus."""
    if not clicks:
        raise PreventUpdate
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        tenant = user.tenant_domain
        with provisioning() as store:
            zone = ZoneInfo(store.tenant(tenant).timezone)
            menus = {m.id: m for m in store.attendants(tenant) if m.id is not None}
            anns = {a.id: a for a in store.announcements(tenant) if a.id is not None}
            extensions = {u.extension for u in store.users(tenant)}
            lines: list[str] = []
            start = None
            if number:
                did = next((d for d in store.dids(tenant) if d.number == number), None)
                if did is None:
                    raise NotAllowed("no such main number in your company")
                inputs = store.did_routing_inputs(did)
                at = _instant(at_text, zone)
                sentence, start = main_number_step(did.number, inputs.rules, inputs.frames, at)
                lines.append(sentence)
                if start is None:
                    return _result(lines)
            elif not editing:
                raise AttendantError("save the menu first, or choose a main number")
            steps = simulate_attendant(
                menus,
                int(editing or 0),
                keys_from_text(keys),
                announcements=anns,
                extensions=extensions,
                start=start,
            )
    except (NotAllowed, AttendantError, ProvisioningError, ValueError) as exc:
        return alert(str(exc), alert_id="attendants-sim-refused")
    return _result([*lines, " → ".join(steps)])


def _fields(specs: Any) -> list[str]:
    """The picker fields of a pattern state, in the order of its values."""
    return [str(spec["id"]["field"]) for spec in specs or []]


def _instant(text: str | None, zone: ZoneInfo) -> datetime:
    if not text or not text.strip():
        return datetime.now(zone)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise AttendantError(f"{text!r} is not a time (e.g. 2026-12-24 20:00)") from exc
    return at if at.tzinfo else at.replace(tzinfo=zone)


def _result(lines: list[str]) -> Any:
    return dmc.Stack(
        [dmc.Text(line, size="sm") for line in lines], gap=2, id="attendants-sim-steps"
    )


# -- announcements --------------------------------------------------------------------------------
@callback(
    Output(ANN_ALERT, "children"),
    Output("attendants-version", "data", allow_duplicate=True),
    Input("attendants-ann-add", "n_clicks"),
    Input({"type": "attendants-ann-delete", "id": ALL}, "n_clicks"),
    State("attendants-ann-name", "value"),
    State("attendants-ann-text", "value"),
    State("attendants-ann-upload", "contents"),
    State("attendants-ann-upload", "filename"),
    State({"type": "attendants-adest-kind", "field": "then"}, "value"),
    State({"type": "attendants-adest-target", "field": "then"}, "value"),
    State("attendants-version", "data"),
    prevent_initial_call=True,
)
def change_announcement(
    _add: int | None, _deletes: list[int | None], name: str | None, text: str | None,
    contents: str | None, filename: str | None, then_kind: str | None, then_target: str | None,
    version: int | None,
) -> tuple[Any, Any]:  # fmt: skip
    """Add an announcement (recording converted / text spoken now), or delete one."""
    require_click()
    trigger = ctx.triggered_id
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        tenant = user.tenant_domain
        data_dir = portal().settings.data_dir
        with provisioning() as store:
            if isinstance(trigger, dict):
                store.delete_announcement(tenant, int(trigger.get("id") or 0))
                done = "Announcement deleted."
            else:
                then = destination_from_form("Then", then_kind, then_target)
                if contents:
                    audio = save_upload(
                        data_dir, tenant, "announcement", decode_upload(contents), filename or ""
                    )
                else:
                    audio = save_speech(data_dir, tenant, "announcement", text or "")
                ann = store.save_announcement(
                    Announcement(tenant, (name or "").strip(), (text or "").strip(), audio, then)
                )
                done = f"Added announcement “{ann.name}” (announcement {ann.id})."
    except (NotAllowed, AttendantError, ProvisioningError, AudioError) as exc:
        return alert(str(exc), alert_id="attendants-ann-refused"), no_update
    return alert(done, color="green", alert_id="attendants-ann-saved"), (version or 0) + 1


# -- hold music -----------------------------------------------------------------------------------
@callback(
    Output(HOLD_ALERT, "children"),
    Output("attendants-version", "data", allow_duplicate=True),
    Input("attendants-hold-upload", "contents"),
    Input({"type": "attendants-hold-default", "id": ALL}, "n_clicks"),
    Input({"type": "attendants-hold-delete", "id": ALL}, "n_clicks"),
    State("attendants-hold-upload", "filename"),
    State("attendants-hold-name", "value"),
    State("attendants-version", "data"),
    prevent_initial_call=True,
)
def change_hold_music(
    contents: str | None, _defaults: list[int | None], _deletes: list[int | None],
    filename: str | None, name: str | None, version: int | None,
) -> tuple[Any, Any]:  # fmt: skip
    """Add a track (converted now), choose the default, or delete a track."""
    require_click()
    trigger = ctx.triggered_id
    try:
        user = signed_in_manager(MANAGERS_ONLY)
        tenant = user.tenant_domain
        with provisioning() as store:
            if isinstance(trigger, dict):
                track_id = int(trigger.get("id") or 0)
                if trigger.get("type") == "attendants-hold-default":
                    track = store.set_default_hold_music(tenant, track_id)
                    done = f"“{track.name}” is now the hold music."
                else:
                    track = store.delete_hold_music(tenant, track_id)
                    done = f"Deleted “{track.name}”."
            else:
                rel = save_upload(
                    portal().settings.data_dir,
                    tenant,
                    "hold",
                    decode_upload(contents),
                    filename or "",
                )
                label = (name or "").strip() or (filename or "track").rsplit(".", 1)[0]
                track = store.add_hold_music(tenant, label, rel)
                done = f"Added “{track.name}”" + (" (the default)." if track.is_default else ".")
    except (NotAllowed, ProvisioningError, AudioError) as exc:
        return alert(str(exc), alert_id="attendants-hold-refused"), no_update
    return alert(done, color="green", alert_id="attendants-hold-saved"), (version or 0) + 1
