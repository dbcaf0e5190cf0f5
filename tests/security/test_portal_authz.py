"""Who may read or change what in the portal: one table, checked over HTTP and in a browser.

Every row is something a browser can ask for (a page, a download, a Dash
callback that reads or writes by id), every column a kind of visitor. The
objects all belong to extension 102 of acme.example (a plain user) or to
acme itself, so the plain user (101), the agent (104) and globex's manager
ask for someone else's things. A probe answers "did it get through?" by the
effect: the data in the answer, or the change in the store. A refusal may be
a 401/403, a redirect to the login form, a 204 or an alert; all that counts
is that nothing was read or changed.

Callbacks are POSTed straight to ``/_dash-update-component`` with crafted
inputs, as an attacker would; hiding a button is not access control.
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest

from switchboard.attendants import MENU_KEYS, Attendant, MenuDestination
from switchboard.report_schedules import ReportSchedule
from switchboard.rules import AnsweringRule
from switchboard.store import ProvisioningStore, User
from switchboard.store.queues import CallQueue, QueueMember
from switchboard.timeframes import TimeFrame, WeeklyPeriod
from tests.fixtures.core import Directory
from tests.fixtures.portal import MISSED_CALLER, client_session, log_in, page_layout

ROLES = ("anonymous", "user", "agent", "supervisor", "manager", "other_manager")
LOGINS: dict[str, str | None] = {
    "anonymous": None,
    "user": "101@acme.example",
    "agent": "104@acme.example",
    "supervisor": "103@acme.example",
    "manager": "100@acme.example",
    "other_manager": "100@globex.example",
}

# What each visitor may do. "yes": it gets through; "no": refused, nothing read or changed.
# target                                           anon  user  agent super mgr   other (ROLES)
MATRIX = """
page /                                             no    yes   yes   yes   yes   yes
page /calls                                        no    yes   yes   yes   yes   yes
page /analytics                                    no    yes   yes   yes   yes   yes
page /voicemail                                    no    yes   yes   yes   yes   yes
page /rules                                        no    yes   yes   yes   yes   yes
page /timeframes                                   no    yes   yes   yes   yes   yes
page /numbers                                      no    no    no    no    yes   yes
page /reports                                      no    no    no    yes   yes   yes
page /rules?user=102                               no    no    no    yes   yes   no
page /voicemail?box=102                            no    no    no    no    yes   no
download calls of 102 with others                  no    no    no    yes   yes   no
download analytics worklist of 102                 no    no    no    yes   yes   no
download voicemail audio of 102                    no    no    no    no    yes   no
callback call grid rows of 102 with others         no    no    no    yes   yes   no
callback rules list of 102                         no    no    no    yes   yes   no
callback rules delete 102's rule                   no    no    no    yes   yes   no
callback rules delete 102's rule from own page     no    no    no    no    no    no
callback rules open 102's rule in the editor       no    no    no    yes   yes   no
callback rules save over 102's rule                no    no    no    yes   yes   no
callback rules save over 102's rule as mine        no    no    no    no    no    no
callback timeframes open 102's personal frame      no    no    no    no    no    no
callback timeframes save over 102's personal frame no    no    no    no    no    no
callback voicemail save 102's mailbox settings     no    no    no    no    yes   no
callback voicemail upload a greeting for 102       no    no    no    no    yes   no
callback rules simulate a call to 102              no    no    no    yes   yes   no
callback timeframes delete 102's personal frame    no    no    no    no    no    no
callback timeframes delete a company frame         no    no    no    no    yes   no
callback voicemail list of 102                     no    no    no    no    yes   no
callback voicemail delete 102's message            no    no    no    no    yes   no
callback voicemail delete 102's message as mine    no    no    no    no    no    no
callback voicemail set 102's PIN                   no    no    no    no    yes   no
callback numbers list shows acme's number          no    no    no    no    yes   no
callback numbers open acme's number's route        no    no    no    no    yes   no
callback numbers add a route to acme's number      no    no    no    no    yes   no
callback analytics mark 102's caller handled       no    no    no    yes   yes   no
callback reports delete acme's schedule            no    no    no    no    yes   no
page /attendants                                   no    no    no    no    yes   yes
callback attendants list shows acme's menu         no    no    no    no    yes   no
callback attendants open acme's menu               no    no    no    no    yes   no
callback attendants save over acme's menu          no    no    no    no    yes   no
callback attendants delete acme's menu             no    no    no    no    yes   no
callback attendants simulate acme's menu           no    no    no    no    yes   no
page /phones                                       no    yes   yes   yes   yes   yes
page /contacts                                     no    yes   yes   yes   yes   yes
callback phones list shows 102's device            no    no    no    no    yes   no
callback phones add a device to 102                no    no    no    no    yes   no
callback phones revoke 102's device                no    no    no    no    yes   no
callback contacts list shows acme's shared contact no    yes   yes   yes   yes   no
callback contacts list shows 102's own contact     no    no    no    no    no    no
callback contacts open 102's own contact           no    no    no    no    no    no
callback contacts delete 102's own contact         no    no    no    no    no    no
callback contacts export shows 102's own contact   no    no    no    no    no    no
callback contacts delete acme's shared contact     no    no    no    yes   yes   no
page /users                                        no    no    no    no    yes   yes
page /profile                                      no    yes   yes   yes   yes   yes
download users of acme                             no    no    no    no    yes   no
callback users list shows acme's users             no    no    no    no    yes   no
callback users save over 102                       no    no    no    no    yes   no
callback users disable 102                         no    no    no    no    yes   no
callback users reset 102's password                no    no    no    no    yes   no
callback users remove a user of acme               no    no    no    no    yes   no
callback users import into acme                    no    no    no    no    yes   no
callback profile save reaches 102's profile        no    no    no    no    no    no
callback profile recording names 102 as the owner  no    no    no    no    no    no
page /queues                                       no    no    no    yes   yes   yes
callback queues list shows acme's queue            no    no    no    yes   yes   no
callback queues open acme's queue                  no    no    no    yes   yes   no
callback queues save over acme's queue             no    no    no    yes   yes   no
callback queues delete acme's queue                no    no    no    yes   yes   no
callback agent bar pauses 102                      no    no    no    no    no    no
page /wallboard                                    no    no    no    yes   yes   yes
callback wallboard shows acme's live queue         no    no    no    yes   yes   no
page /audit                                        no    no    no    no    yes   yes
callback audit rows show who played 102's message  no    no    no    no    yes   no
download audit trail of acme                       no    no    no    no    yes   no
page /recordings                                   no    yes   yes   yes   yes   yes
callback recordings list shows 103 to 102's call   no    no    no    yes   yes   no
callback recordings open 103 to 102's recording    no    no    no    yes   yes   no
download recording of 103 to 102's call            no    no    no    yes   yes   no
callback recordings delete 103 to 102's recording  no    no    no    no    yes   no
callback recordings set acme's retention           no    no    no    no    yes   no
callback recordings search finds 102's voicemail   no    no    no    no    yes   no
"""


def matrix_rows() -> list[tuple[str, dict[str, bool]]]:
    rows = []
    for line in MATRIX.strip().splitlines():
        (*words,) = line.split()
        cells, target = words[-len(ROLES) :], " ".join(words[: -len(ROLES)])
        assert all(c in ("yes", "no") for c in cells), line
        rows.append((target, dict(zip(ROLES, [c == "yes" for c in cells], strict=True))))
    return rows


CASES = [
    (target, role, allowed) for target, cells in matrix_rows() for role, allowed in cells.items()
]


# -- the world the probes look at ----------------------------------------------------------
NY = "America/New_York"
OFFICE = (WeeklyPeriod(frozenset(range(5)), time(9), time(17)),)


@dataclass
class World:
    """The shared in-process portal, its store, a signed-in client per role, 102's things."""

    app: Any
    clients: dict[str, Any]
    deps: list[dict[str, Any]]
    owner: User  # 102@acme.example
    message_id: str
    did_id: int

    def store(self) -> Any:
        return self.app.server.extensions["switchboard_portal"]

    def run(self, fn: Callable[[ProvisioningStore], Any]) -> Any:
        state = self.store()
        with state.store_lock:
            return fn(state.store)


@pytest.fixture(scope="module")
def world(client_portal: Any) -> Iterator[World]:
    state = client_portal.server.extensions["switchboard_portal"]
    data_dir = state.settings.data_dir
    with state.store_lock:
        store = state.store
        owner = store.user("acme.example", "102")
        store.save_frame("acme.example", TimeFrame("Gym-102", NY, OFFICE), user_id=owner.id)
        store.save_rule(owner, AnsweringRule("Simulated first", 1, dnd=True))
        message_id = "vm-" + "ab" * 16
        audio = data_dir / "voicemail" / "acme.example" / "102" / f"{message_id}.wav"
        audio.parent.mkdir(parents=True, exist_ok=True)
        audio.write_bytes(b"RIFF0000WAVEfmt matrix")
        store.record_voicemail(
            "acme.example",
            "102",
            message_id,
            started_at=clock.time(),
            duration=2.0,
            audio_path=str(audio.relative_to(data_dir)),
        )
        did = next(
            (d for d in store.dids("acme.example") if d.number == "+15557770001"), None
        ) or _add_number(store, "acme.example", "+15557770001")
    with ExitStack() as stack:
        clients = {
            role: stack.enter_context(client_session(client_portal, login))
            for role, login in LOGINS.items()
        }
        deps = clients["manager"].get("/_dash-dependencies").get_json()
        yield World(client_portal, clients, deps, owner, message_id, did.id)


def _add_number(store: ProvisioningStore, tenant: str, number: str) -> Any:
    """A main number of ``tenant`` (allocated first where the store asks for that)."""
    allocate = getattr(store, "allocate_did", None)
    if allocate is not None:
        allocate(tenant, number)
    return store.add_did(tenant, number, "Matrix line")


# -- talking to Dash as its renderer does ---------------------------------------------------------
def _id(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, sort_keys=True, separators=(",", ":"))
    )


def _pattern(id_text: str) -> dict[str, Any] | None:
    return json.loads(id_text) if id_text.startswith("{") else None


# The concrete ids behind the editors' pattern-matching outputs (what the page renders).
RULE_FIELDS = ("forward_always", "forward_busy", "forward_no_answer", "forward_offline", "fallback")
PATTERN_FIELDS = {
    "rules-dest-kind": RULE_FIELDS,
    "rules-dest-target": RULE_FIELDS,
    "numbers-dest-kind": ("route",),
    "numbers-dest-target": ("route",),
    "attendants-mdest-kind": (*MENU_KEYS, "no_input", "invalid"),
    "attendants-mdest-target": (*MENU_KEYS, "no_input", "invalid"),
}


def post_callback(
    world: World,
    role: str,
    trigger: str | dict[str, Any],
    values: dict[str, Any] | None = None,
    prop: str = "n_clicks",
) -> Any:
    """POST the callback that ``trigger`` fires; ``values`` for the other inputs and states.

    ``values`` is keyed by component id (a pattern id by its ``type``); a
    pattern state takes a list of (concrete id, value) pairs.
    """
    values = values or {}
    kind = trigger if isinstance(trigger, str) else trigger["type"]

    def matches(entry: dict[str, Any]) -> bool:
        pattern = _pattern(entry["id"])
        return (pattern or {}).get("type", entry["id"]) == kind and entry["property"] == prop

    dep = next(d for d in world.deps if any(matches(i) for i in d["inputs"]))

    def entry(spec: dict[str, Any], is_input: bool) -> Any:
        pattern = _pattern(spec["id"])
        if pattern is None:
            if is_input and matches(spec):
                value = values.get(spec["id"], 1)  # a click, unless given
                return {"id": spec["id"], "property": spec["property"], "value": value}
            key = f"{spec['id']}.{spec['property']}"  # "id.prop" when one id has two props
            value = values.get(key, values.get(spec["id"]))
            return {"id": spec["id"], "property": spec["property"], "value": value}
        if is_input and matches(spec):
            return [{"id": trigger, "property": prop, "value": 1}]
        pairs = values.get(pattern["type"], [])
        return [{"id": i, "property": spec["property"], "value": v} for i, v in pairs]

    parts = (
        dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
    )
    outputs: list[Any] = []
    for part in parts:
        id_text, _, prop_name = part.rpartition(".")
        pattern = _pattern(id_text)
        if pattern is None:
            outputs.append({"id": id_text, "property": prop_name})
        else:  # the form's fields, as the page renders them
            fields = PATTERN_FIELDS.get(pattern["type"], ())
            outputs.append(
                [
                    {"id": {"type": pattern["type"], "field": f}, "property": prop_name}
                    for f in fields
                ]
            )
    body = {
        "output": dep["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [entry(i, True) for i in dep["inputs"]],
        "state": [entry(s, False) for s in dep["state"]],
        "changedPropIds": [f"{_id(trigger)}.{prop}"],
    }
    return world.clients[role].post("/_dash-update-component", json=body)


def answered(response: Any) -> str:
    """The callback's answer as text when it ran (200), else ""."""
    return response.get_data(as_text=True) if response.status_code == 200 else ""


# -- probes: True when the request got through ----------------------------------------------------
def prop_of(text: str, component_id: str, prop: str) -> Any:
    """``prop`` of the component ``component_id`` in a layout answer (None: not there)."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == component_id:
                found.append(props.get(prop))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text) if text else {})
    return found[0] if found else None


def page_probe(path: str, marker: str) -> Callable[[World, str], bool]:
    """The page shell loads and its layout holds ``marker`` (or "id.prop=value")."""

    def probe(world: World, role: str) -> bool:
        shell = world.clients[role].get(path)
        if shell.status_code != 200:
            return False
        text = answered(page_layout(world.clients[role], path))
        if "=" in marker:
            target, _, value = marker.partition("=")
            component_id, _, prop = target.rpartition(".")
            return prop_of(text, component_id, prop) == value
        return marker in text

    return probe


def _rule(world: World, name: str) -> int:
    saved = world.run(lambda s: s.save_rule(world.owner, AnsweringRule(name, 50, dnd=True)))
    return int(saved.id)


def _rules_of_owner(world: World) -> set[str]:
    return {r.name for r in world.run(lambda s: s.routing_inputs(world.owner).rules)}


def probe_rules_delete(own_page: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        name = f"Doomed {role} {own_page}"
        rule_id = _rule(world, name)
        post_callback(
            world,
            role,
            {"type": "rules-delete", "rule": rule_id},
            {"rules-user": None if own_page else "102", "rules-version": 1},
        )
        return name not in _rules_of_owner(world)

    return probe


def probe_rules_open(world: World, role: str) -> bool:
    rule_id = _rule(world, f"Open me {role}")
    response = post_callback(
        world, role, {"type": "rules-edit", "rule": rule_id}, {"rules-user": "102"}
    )
    return f"Open me {role}" in answered(response)


def probe_rules_list(world: World, role: str) -> bool:
    _rule(world, f"Listed for {role}")
    response = post_callback(world, role, "rules-user", {"rules-user": "102"}, prop="value")
    return f"Listed for {role}" in answered(response)


def probe_rules_save(own_page: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        rule_id = _rule(world, f"Edit me {role} {own_page}")
        new_name = f"Edited by {role} {own_page}"
        owner = None if own_page else "102"
        kinds = [({"type": "rules-dest-kind", "field": f}, "off") for f in RULE_FIELDS]
        targets = [({"type": "rules-dest-target", "field": f}, "") for f in RULE_FIELDS]
        post_callback(
            world,
            role,
            "rules-save",
            {
                "rules-editing": {"id": rule_id, "priority": 50, "user": owner},
                "rules-user": owner,
                "rules-name": new_name,
                "rules-frame": "__always__",
                "rules-enabled": True,
                "rules-ring": 20,
                "rules-simultaneous": [],
                "rules-dnd": True,
                "rules-block": [],
                "rules-block-anonymous": False,
                "rules-dest-kind": [*kinds[:-1], (kinds[-1][0], "voicemail")],
                "rules-dest-target": targets,
                "rules-version": 1,
            },
        )
        return new_name in _rules_of_owner(world)

    return probe


def _personal_frame(world: World, name: str) -> int:
    frame = TimeFrame(name, NY, OFFICE)
    saved = world.run(lambda s: s.save_frame("acme.example", frame, user_id=world.owner.id))
    return int(saved.id)


def probe_frame_open(world: World, role: str) -> bool:
    frame_id = _personal_frame(world, f"Peek {role}")
    response = post_callback(world, role, {"type": "timeframes-edit", "frame": frame_id})
    return f"Peek {role}" in answered(response)


def probe_frame_save(world: World, role: str) -> bool:
    frame_id = _personal_frame(world, f"Keep {role}")
    post_callback(
        world,
        role,
        "timeframes-save",
        {
            "timeframes-editing": {"id": frame_id, "scope": "personal"},
            "timeframes-scope": "personal",
            "timeframes-name": f"Hijacked by {role}",
            "timeframes-zone": NY,
            "timeframes-always": True,
            "timeframes-version": 1,
        },
    )
    return f"Hijacked by {role}" in _frame_names(world, world.owner.id)


def probe_voicemail_settings(world: World, role: str) -> bool:
    def order(store: ProvisioningStore) -> str:
        return str(store.mailbox_settings("acme.example", "102").message_order)

    before = world.run(order)
    post_callback(
        world,
        role,
        "voicemail-settings-save",
        {
            "voicemail-active-greeting": "unavailable",
            "voicemail-order": "oldest" if before == "newest" else "newest",
            "voicemail-announce": True,
            "voicemail-email": False,
            "voicemail-attach": False,
            "voicemail-box": "102",
        },
    )
    return world.run(order) != before


def probe_greeting_upload(world: World, role: str) -> bool:
    import base64
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * 4000)
    contents = "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode()
    response = post_callback(
        world,
        role,
        "voicemail-greeting-upload",
        {
            "voicemail-greeting-upload": contents,
            "voicemail-greeting-upload.filename": "greeting.wav",
            "voicemail-greeting-kind": "busy",
            "voicemail-box": "102",
        },
        prop="contents",
    )
    return "voicemail-greeting-saved" in answered(response)


def probe_simulator(world: World, role: str) -> bool:
    response = post_callback(
        world,
        role,
        "rules-sim-run",
        {
            "rules-user": "102",
            "rules-sim-caller": "+15551234567",
            "rules-sim-date": "2026-12-22",
            "rules-sim-time": "10:00",
            "rules-version": 1,
        },
    )
    return "Simulated first" in answered(response)


def _frame_names(world: World, user_id: int | None) -> set[str]:
    return set(world.run(lambda s: s.frames("acme.example", user_id)))


def probe_frame_delete(company: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        name = f"Frame {role} {company}"
        owner_id = None if company else world.owner.id
        frame = world.run(
            lambda s: s.save_frame("acme.example", TimeFrame(name, NY, OFFICE), user_id=owner_id)
        )
        post_callback(
            world, role, {"type": "timeframes-delete", "frame": frame.id}, {"timeframes-version": 1}
        )
        return name not in _frame_names(world, owner_id)

    return probe


def _message_folder(world: World) -> str:
    msg = world.run(lambda s: s.voicemail_message("acme.example", "102", world.message_id))
    return str(msg.folder)


def probe_voicemail_list(world: World, role: str) -> bool:
    response = post_callback(
        world,
        role,
        "voicemail-version",
        {"voicemail-box": "102", "voicemail-folder": "inbox"},
        prop="data",
    )
    return world.message_id in answered(response)


def probe_voicemail_delete(as_mine: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        world.run(lambda s: s.restore_message("acme.example", "102", world.message_id))
        assert _message_folder(world) != "trash"
        post_callback(
            world,
            role,
            {"type": "voicemail-action", "action": "delete", "message": world.message_id},
            {"voicemail-box": None if as_mine else "102", "voicemail-version": 1},
        )
        deleted = _message_folder(world) == "trash"
        world.run(lambda s: s.restore_message("acme.example", "102", world.message_id))
        return deleted

    return probe


def probe_voicemail_pin(world: World, role: str) -> bool:
    before = world.run(lambda s: s.mailbox_settings("acme.example", "102").pin_hash)
    pin = str(4000 + ROLES.index(role))
    post_callback(
        world,
        role,
        "voicemail-pin-save",
        {"voicemail-pin": pin, "voicemail-pin-repeat": pin, "voicemail-box": "102"},
    )
    return world.run(lambda s: s.mailbox_settings("acme.example", "102").pin_hash) != before


def probe_numbers_list(world: World, role: str) -> bool:
    response = post_callback(world, role, "numbers-version", {}, prop="data")
    return "+15557770001" in answered(response)


def probe_numbers_open(world: World, role: str) -> bool:
    response = post_callback(world, role, {"type": "numbers-add-route", "did": world.did_id})
    return "+15557770001" in answered(response)


def probe_numbers_route(world: World, role: str) -> bool:
    name = f"Route by {role}"
    post_callback(
        world,
        role,
        "numbers-route-save",
        {
            "numbers-editing": {"did": world.did_id, "id": None},
            "numbers-route-name": name,
            "numbers-route-frame": "__always__",
            "numbers-route-priority": 10 + ROLES.index(role),
            "numbers-route-enabled": True,
            "numbers-dest-kind": [({"type": "numbers-dest-kind", "field": "route"}, "voicemail")],
            "numbers-dest-target": [({"type": "numbers-dest-target", "field": "route"}, "100")],
            "numbers-version": 1,
        },
    )

    def routes(store: ProvisioningStore) -> set[str]:
        did = next(d for d in store.dids("acme.example") if d.id == world.did_id)
        return {r.name for r in store.did_routing_inputs(did).rules}

    return name in world.run(routes)


ACME_MENU = "Matrix menu"


def _acme_menu(world: World, name: str = ACME_MENU) -> int:
    """The id of acme's menu ``name`` (made on first use: key 1 to 102)."""

    def get(store: ProvisioningStore) -> int:
        menu = next((a for a in store.attendants("acme.example") if a.name == name), None)
        if menu is None:
            to_102 = {"1": MenuDestination("extension", "102")}
            menu = store.save_attendant(Attendant("acme.example", name, to_102, "Matrix."))
        return int(menu.id or 0)

    return int(world.run(get))


def probe_attendants_list(world: World, role: str) -> bool:
    _acme_menu(world)
    return ACME_MENU in answered(post_callback(world, role, "attendants-version", {}, "data"))


def probe_attendants_open(world: World, role: str) -> bool:
    trigger = {"type": "attendants-edit", "id": _acme_menu(world)}
    return ACME_MENU in answered(post_callback(world, role, trigger))


def probe_attendants_save(world: World, role: str) -> bool:
    menu_id, text = _acme_menu(world), f"Greeting by {role}."
    fields = PATTERN_FIELDS["attendants-mdest-kind"]
    kind = {"1": "extension", "no_input": "hangup", "invalid": "hangup"}
    values = {
        "attendants-editing": menu_id, "attendants-name": ACME_MENU,
        "attendants-greeting-text": text, "attendants-greeting-file": "",
        "attendants-timeout": 5, "attendants-repeats": 2, "attendants-version": 1,
        "attendants-mdest-kind": [
            ({"type": "attendants-mdest-kind", "field": f}, kind.get(f, "off")) for f in fields
        ],
        "attendants-mdest-target": [
            ({"type": "attendants-mdest-target", "field": f}, "102" if f == "1" else "")
            for f in fields
        ],
    }  # fmt: skip
    post_callback(world, role, "attendants-save", values)
    return world.run(lambda s: s.attendant("acme.example", menu_id).greeting_text) == text


def probe_attendants_delete(world: World, role: str) -> bool:
    menu_id = _acme_menu(world, f"Spare menu for {role}")
    post_callback(world, role, {"type": "attendants-delete", "id": menu_id})
    return world.run(lambda s: all(a.id != menu_id for a in s.attendants("acme.example")))


def probe_attendants_simulate(world: World, role: str) -> bool:
    values = {"attendants-editing": _acme_menu(world), "attendants-sim-keys": "1"}
    said = answered(post_callback(world, role, "attendants-simulate", values))
    return ACME_MENU in said and "extension 102" in said


def probe_mark_handled(world: World, role: str) -> bool:
    def marks(store: ProvisioningStore) -> dict[str, Any]:
        return dict(store.callback_marks("acme.example"))

    digits = MISSED_CALLER.lstrip("+")
    world.run(lambda s: s._db.execute("delete from callback_handled where number = ?", (digits,)))
    post_callback(
        world,
        role,
        "analytics-mark-handled",
        {
            "analytics-grid-callbacks": [{"number": MISSED_CALLER}],
            "analytics-query": {"from": "2025-03-10", "to": "2025-03-12"},
        },
    )
    return digits in world.run(marks)


def probe_schedule_delete(world: World, role: str) -> bool:
    schedule = ReportSchedule(
        tenant="acme.example",
        name=f"Doomed report {role}",
        kind="kpis",
        format="csv",
        cron="0 7 * * 1",
        timezone=NY,
    )
    saved = world.run(lambda s: s.add_schedule(schedule))
    post_callback(world, role, "reports-delete", {"reports-schedules": [{"id": saved.id}]})
    return saved.id not in {s.id for s in world.run(lambda s: s.schedules("acme.example"))}


def probe_users_list(world: World, role: str) -> bool:
    answer = answered(post_callback(world, role, "users-version", {"users-search": ""}, "data"))
    return "Bob Builder" in answer


def _name_of_102(world: World) -> str:
    return str(world.run(lambda s: s.user("acme.example", "102").name))


def probe_users_save(world: World, role: str) -> bool:
    before = _name_of_102(world)
    values = {
        "users-editing": "102", "users-name": f"Renamed by {role}", "users-role": "user",
        "users-email": "102@acme.example", "users-timezone": "__company__", "users-callerids": [],
    }  # fmt: skip
    post_callback(world, role, "users-save", values)
    changed = _name_of_102(world) != before
    world.run(lambda s: s.update_user("acme.example", "102", name=before))
    return changed


def probe_users_disable(world: World, role: str) -> bool:
    post_callback(world, role, {"type": "users-toggle", "ext": "102"}, {"users-version": 1})
    disabled = bool(world.run(lambda s: s.user("acme.example", "102").disabled))
    world.run(lambda s: s.set_user_disabled("acme.example", "102", False))
    return disabled


def probe_users_reset(world: World, role: str) -> bool:
    def password_hash(store: ProvisioningStore) -> str:
        row = store._db.execute("select password_hash from user where id = ?", (world.owner.id,))
        return str(row.fetchone()[0])

    before = world.run(password_hash)
    post_callback(world, role, {"type": "users-reset", "ext": "102"}, {"users-version": 1})
    changed = world.run(password_hash) != before

    def restore(store: ProvisioningStore) -> None:
        with store._tx() as db:
            db.execute(
                "update user set password_hash = ?, must_change_password = 0,"
                " password_expires_at = null where id = ?",
                (before, world.owner.id),
            )

    world.run(restore)
    return changed


def probe_users_remove(world: World, role: str) -> bool:
    ext = f"19{ROLES.index(role)}"
    world.run(
        lambda s: s.add_user(tenant="acme.example", extension=ext, name=f"Spare {role}",
                             email="", password="p" * 8, sip_password="s" * 8)
    )  # fmt: skip
    post_callback(world, role, "users-remove-confirm", {"users-removing": ext})
    gone = ext not in {u.extension for u in world.run(lambda s: s.users("acme.example"))}
    if not gone:
        world.run(lambda s: s.remove_user("acme.example", ext, keep_days=0))
    world.run(lambda s: s.purge_removed_mailboxes(clock.time() + 1))
    return gone


def probe_users_import(world: World, role: str) -> bool:
    ext = f"18{ROLES.index(role)}"
    text = f"extension,name\n{ext},Imported by {role}\n"
    post_callback(world, role, "users-import-confirm", {"users-import-data": text})
    return ext in {u.extension for u in world.run(lambda s: s.users("acme.example"))}


def probe_profile_save(world: World, role: str) -> bool:
    """The profile callbacks take no user id: whoever calls them changes only themselves."""
    before = _name_of_102(world)
    values = {"profile-name": f"Profiled by {role}", "profile-email": "",
              "profile-timezone": "__company__", "profile-callerid": "__default__"}  # fmt: skip
    post_callback(world, role, "profile-save", values)
    reached = _name_of_102(world) != before
    login = LOGINS[role]
    if login is not None:  # put the caller's own name back
        ext, _, tenant = login.partition("@")
        world.run(lambda s: s.update_user(tenant, ext, name=_names[login]))
    return reached


def probe_profile_recording(world: World, role: str) -> bool:
    """The recording choice names its owner in the page (a store): a POST naming 102 is
    refused, whoever sends it (a manager changes 102's recording on the Users page).

    Through: it answered, or any of acme's recording rows changed. acme records on demand
    for the probe, so the caller's own choice would be accepted were the owner not checked.
    """
    tenant = "acme.example"
    before = world.run(lambda s: s.recording_policies(tenant))
    world.run(lambda s: s.set_recording_policy(tenant, "tenant", "on_demand"))
    chosen = world.run(lambda s: s.recording_policies(tenant))
    try:
        values = {"profile-recording": "always", "profile-recording-owner": "102"}
        response = post_callback(world, role, "profile-recording-save", values)
        return (
            response.status_code == 200
            or world.run(lambda s: s.recording_policies(tenant)) != chosen
        )
    finally:
        for policy in world.run(lambda s: s.recording_policies(tenant)):
            if policy.scope == "user" and policy not in before:
                world.run(
                    lambda s, p=policy: s.set_recording_policy(tenant, "user", None, p.target)
                )
        company = next((p.mode for p in before if p.scope == "tenant"), None)
        world.run(lambda s: s.set_recording_policy(tenant, "tenant", company))


_names = {
    "101@acme.example": "Front Desk",
    "104@acme.example": "Ann Agent",
    "103@acme.example": "Sue Supervisor",
    "100@acme.example": "Mia Manager",
    "100@globex.example": "Globex Manager",
}


def _device_of_102(world: World, name: str) -> str:
    """The username of 102's device ``name`` (added when missing)."""

    def find_or_add(store: ProvisioningStore) -> str:
        for d in store.devices("acme.example", "102"):
            if d.name == name:
                return str(d.username)
        return str(store.add_device("acme.example", "102", name).device.username)

    return str(world.run(find_or_add))


def _usernames_of_102(world: World) -> set[str]:
    return {d.username for d in world.run(lambda s: s.devices("acme.example", "102"))}


def probe_phones_list(world: World, role: str) -> bool:
    username = _device_of_102(world, "Matrix desk")
    return username in answered(post_callback(world, role, "phones-refresh", {}, "n_intervals"))


def probe_phones_add(world: World, role: str) -> bool:
    values = {"phones-add-extension": "102", "phones-add-name": f"Added by {role}"}
    post_callback(world, role, "phones-add", values)
    added = [d for d in world.run(lambda s: s.devices("acme.example", "102"))
             if d.name == f"Added by {role}"]  # fmt: skip
    for d in added:
        world.run(lambda s, d=d: s.revoke_device("acme.example", d.username))
    return bool(added)


def probe_phones_revoke(world: World, role: str) -> bool:
    username = _device_of_102(world, f"Spare phone {role}")
    post_callback(world, role, {"type": "phones-revoke", "username": username})
    return username not in _usernames_of_102(world)


def _contact_of(world: World, name: str, *, shared: bool) -> int:
    """The id of a contact ``name`` (102's own, or acme's shared), added when missing."""
    from switchboard.store.contacts import ContactInput

    def find_or_add(store: ProvisioningStore) -> int:
        row = store._db.execute("select id from contact where name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        owner = store.user("acme.example", "100" if shared else "102")
        new = ContactInput(name, phone="+1 555 0177")
        return int(store.add_contact(owner, new, shared=shared).id)

    return int(world.run(find_or_add))


def _contact_gone(world: World, contact_id: int) -> bool:
    row = world.run(lambda s: s._db.execute("select 1 from contact where id = ?", (contact_id,)))
    return row.fetchone() is None


def probe_contacts_list(shared: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        name = "Matrix shared supplier" if shared else "Bob's private friend"
        _contact_of(world, name, shared=shared)
        values = {"contacts-search": "", "contacts-scope": "all"}
        return name in answered(post_callback(world, role, "contacts-changed", values, "data"))

    return probe


def probe_contacts_open(world: World, role: str) -> bool:
    contact_id = _contact_of(world, "Bob's private friend", shared=False)
    said = answered(post_callback(world, role, {"type": "contacts-edit", "id": contact_id}))
    return "Bob's private friend" in said


def probe_contacts_export(world: World, role: str) -> bool:
    _contact_of(world, "Bob's private friend", shared=False)
    values = {"contacts-search": "", "contacts-scope": "all"}
    return "Bob's private friend" in answered(
        post_callback(world, role, "contacts-export-csv", values)
    )


def probe_contacts_delete(shared: bool) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        name = f"Doomed {'shared' if shared else 'own'} contact {role}"
        contact_id = _contact_of(world, name, shared=shared)
        post_callback(world, role, {"type": "contacts-delete", "id": contact_id})
        return _contact_gone(world, contact_id)

    return probe


def download_probe(path: str, marker: str) -> Callable[[World, str], bool]:
    def probe(world: World, role: str) -> bool:
        response = world.clients[role].get(path)
        return response.status_code == 200 and marker in response.get_data(as_text=True)

    return probe


def probe_audio(world: World, role: str) -> bool:
    response = world.clients[role].get(f"/voicemail/audio/{world.message_id}")
    return response.status_code == 200 and response.data.startswith(b"RIFF")


def probe_grid(world: World, role: str) -> bool:
    response = post_callback(
        world,
        role,
        "calls-grid",
        {"calls-grid": {"startRow": 0, "endRow": 100}, "calls-filter": {"extension": "102"}},
        prop="getRowsRequest",
    )
    text = answered(response)
    return '"c04"' in text or "c04" in text


ACME_QUEUE = "Matrix queue"


def _acme_queue(world: World, name: str = ACME_QUEUE) -> int:
    """The id of acme's queue ``name`` (made on first use: 102 is its agent)."""

    def get(store: ProvisioningStore) -> int:
        queue = next((q for q in store.queues("acme.example") if q.name == name), None)
        if queue is None:
            members = (QueueMember("102"),)
            queue = store.save_queue(CallQueue("acme.example", name, members=members))
        return int(queue.id or 0)

    return int(world.run(get))


def probe_wallboard(world: World, role: str) -> bool:
    """The wallboard's 1-second callback answers with acme's live queue state."""
    from media.queue_spool import QueueLog
    from switchboard.queue_events import LiveQueue

    settings = world.store().settings
    log = QueueLog(settings.spool_dir, settings.data_dir)
    log.write_live("acme.example", 0.0, [LiveQueue(7, "Matrix wallboard", (), ())])
    answer = post_callback(world, role, "wallboard-tick", {"wallboard-tv": False}, "n_intervals")
    return "Matrix wallboard" in answered(answer)


def probe_queues_list(world: World, role: str) -> bool:
    _acme_queue(world)
    return ACME_QUEUE in answered(post_callback(world, role, "queues-version", {}, "data"))


def probe_queues_open(world: World, role: str) -> bool:
    trigger = {"type": "queues-edit", "id": _acme_queue(world)}
    return ACME_QUEUE in answered(post_callback(world, role, trigger))


def probe_queues_save(world: World, role: str) -> bool:
    queue_id, ring = _acme_queue(world), 5 + ROLES.index(role)
    values = {
        "queues-editing": queue_id, "queues-name": ACME_QUEUE, "queues-strategy": "linear",
        "queues-ring": ring, "queues-wrapup": 10, "queues-max-wait": 300,
        "queues-max-callers": 10, "queues-announce": 30, "queues-sl": 20,
        "queues-short-abandon": 5, "queues-overflow-kind": "off", "queues-exit-key": "off",
        "queues-exit-kind": "off", "queues-hold-music": "off", "queues-members": "102",
        "queues-join-empty": True, "queues-version": 1,
    }  # fmt: skip
    post_callback(world, role, "queues-save", values)
    return bool(world.run(lambda s: s.queue("acme.example", queue_id).ring_seconds) == ring)


def probe_queues_delete(world: World, role: str) -> bool:
    queue_id = _acme_queue(world, f"Spare queue for {role}")
    post_callback(world, role, {"type": "queues-delete", "id": queue_id})
    return bool(world.run(lambda s: all(q.id != queue_id for q in s.queues("acme.example"))))


def probe_agent_bar_pause(world: World, role: str) -> bool:
    """The bar acts on the signed-in user only: nobody can pause 102 through it."""
    _acme_queue(world)
    world.run(lambda s: s.set_agent_pause("acme.example", "102", None))
    post_callback(world, role, "agentbar-pause", {"agentbar-reason": "lunch"})
    return world.run(lambda s: s.agent_pause("acme.example", "102")) is not None


def _audited_play(world: World) -> None:
    """A play of 102's message by 102, in acme's audit trail."""
    from switchboard.store.access_log import Access, Actor

    access = Access("voicemail", world.message_id, "play", "mailbox 102", "192.0.2.99")
    world.run(lambda s: s.log_access(Actor.of(world.owner), access))


def probe_audit_rows(world: World, role: str) -> bool:
    _audited_play(world)
    request = {"startRow": 0, "endRow": 100}
    values = {"audit-grid": request, "audit-filter": {"object": world.message_id}}
    return "192.0.2.99" in answered(
        post_callback(world, role, "audit-grid", values, "getRowsRequest")
    )


def probe_audit_download(world: World, role: str) -> bool:
    _audited_play(world)
    response = world.clients[role].get(f"/download/audit.csv?object={world.message_id}")
    return response.status_code == 200 and "192.0.2.99" in response.get_data(as_text=True)


def _recorded(world: World) -> str:
    """Recordings of the portal's calls (idempotent); the id of c04's (103 to 102)."""
    from tests.fixtures.recorded_calls import REC_C04, seed_recordings

    seed_recordings(world.store().settings)
    return REC_C04


def probe_recordings_list(world: World, role: str) -> bool:
    rec = _recorded(world)
    values = {"recordings-grid": {"startRow": 0, "endRow": 100}, "recordings-filter": {}}
    said = answered(post_callback(world, role, "recordings-grid", values, "getRowsRequest"))
    return rec in said


def probe_recordings_open(world: World, role: str) -> bool:
    rec = _recorded(world)
    values = {"recordings-grid": {"rowId": rec, "colId": "caller"}, "recordings-filter": {}}
    said = answered(post_callback(world, role, "recordings-grid", values, "cellClicked"))
    return f'"data-recording-id":"{rec}"' in said


def probe_recording_audio(world: World, role: str) -> bool:
    response = world.clients[role].get(f"/recordings/audio/{_recorded(world)}?download=1")
    return response.status_code == 200 and response.data.startswith(b"RIFF")


def probe_recordings_delete(world: World, role: str) -> bool:
    """A recording of c04 made for this probe: is it still there after the callback?"""
    from datetime import UTC, datetime

    from pipeline.lake_deletion import DoomedRecording, delete_recordings
    from pipeline.recording_query import get_recording
    from pipeline.viewer import open_for_viewer
    from tests.fixtures.recorded_calls import add_recording

    settings = world.store().settings
    rec = f"rec-{ROLES.index(role) + 0xD0:024x}"
    at = datetime(2025, 3, 11, 16, 0, 4, tzinfo=UTC)
    add_recording(settings, rec, "acme.example", "c04", "103", "102", at)
    post_callback(
        world, role, "recordings-delete-yes", {"recordings-open-id": rec, "recordings-version": 1}
    )
    with open_for_viewer(settings, "acme.example") as viewer:
        left = get_recording(viewer.conn, rec)
    if left is not None:  # refused: take it away, other modules list this shared portal's
        delete_recordings(settings, "acme.example", [DoomedRecording.from_facts(left.facts)])
    return left is None


def probe_recordings_retention(world: World, role: str) -> bool:
    world.run(lambda s: s.set_recording_retention("acme.example", None))
    days = 400 + ROLES.index(role)
    post_callback(world, role, "recordings-retention-save", {"recordings-retention-days": days})
    changed = world.run(lambda s: s.recording_retention("acme.example")) == days
    world.run(lambda s: s.set_recording_retention("acme.example", None))
    return changed


def probe_recordings_search_voicemail(world: World, role: str) -> bool:
    """The one search box reads voicemail transcripts as the voicemail rule allows."""
    from datetime import UTC, datetime

    from tests.fixtures.recorded_calls import add_voicemail_transcript

    settings = world.store().settings
    at = datetime(2025, 3, 11, 15, 0, tzinfo=UTC)
    add_voicemail_transcript(settings, world.message_id, "102", "the lighthouse key", at)
    values = {"recordings-search": "lighthouse"}
    said = answered(post_callback(world, role, "recordings-search", values, "value"))
    return world.message_id in said


PROBES: dict[str, Callable[[World, str], bool]] = {
    "page /": page_probe("/", "home-refresh"),
    "page /calls": page_probe("/calls", "calls-grid"),
    "page /analytics": page_probe("/analytics", "analytics-query"),
    "page /voicemail": page_probe("/voicemail", "voicemail-box"),
    "page /rules": page_probe("/rules", "rules-list-box"),
    "page /timeframes": page_probe("/timeframes", "timeframes-version"),
    "page /numbers": page_probe("/numbers", "numbers-new-number"),
    "page /reports": page_probe("/reports", "reports-schedules"),
    "page /rules?user=102": page_probe("/rules?user=102", "rules-user.value=102"),
    "page /voicemail?box=102": page_probe("/voicemail?box=102", "voicemail-box.data=102"),
    "download calls of 102 with others": download_probe("/download/calls.csv?extension=102", "c04"),
    "download analytics worklist of 102": download_probe(
        "/download/analytics/callbacks.csv?from=2025-03-10&to=2025-03-12", "15550001111"
    ),
    "download voicemail audio of 102": probe_audio,
    "callback call grid rows of 102 with others": probe_grid,
    "callback rules list of 102": probe_rules_list,
    "callback rules delete 102's rule": probe_rules_delete(own_page=False),
    "callback rules delete 102's rule from own page": probe_rules_delete(own_page=True),
    "callback rules open 102's rule in the editor": probe_rules_open,
    "callback rules save over 102's rule": probe_rules_save(own_page=False),
    "callback rules save over 102's rule as mine": probe_rules_save(own_page=True),
    "callback timeframes open 102's personal frame": probe_frame_open,
    "callback timeframes save over 102's personal frame": probe_frame_save,
    "callback voicemail save 102's mailbox settings": probe_voicemail_settings,
    "callback voicemail upload a greeting for 102": probe_greeting_upload,
    "callback rules simulate a call to 102": probe_simulator,
    "callback timeframes delete 102's personal frame": probe_frame_delete(company=False),
    "callback timeframes delete a company frame": probe_frame_delete(company=True),
    "callback voicemail list of 102": probe_voicemail_list,
    "callback voicemail delete 102's message": probe_voicemail_delete(as_mine=False),
    "callback voicemail delete 102's message as mine": probe_voicemail_delete(as_mine=True),
    "callback voicemail set 102's PIN": probe_voicemail_pin,
    "callback numbers list shows acme's number": probe_numbers_list,
    "callback numbers open acme's number's route": probe_numbers_open,
    "callback numbers add a route to acme's number": probe_numbers_route,
    "callback analytics mark 102's caller handled": probe_mark_handled,
    "callback reports delete acme's schedule": probe_schedule_delete,
    "page /attendants": page_probe("/attendants", "attendants-sim-keys"),
    "callback attendants list shows acme's menu": probe_attendants_list,
    "callback attendants open acme's menu": probe_attendants_open,
    "callback attendants save over acme's menu": probe_attendants_save,
    "callback attendants delete acme's menu": probe_attendants_delete,
    "callback attendants simulate acme's menu": probe_attendants_simulate,
    "page /phones": page_probe("/phones", "phones-add-name"),
    "page /contacts": page_probe("/contacts", "contacts-search"),
    "callback phones list shows 102's device": probe_phones_list,
    "callback phones add a device to 102": probe_phones_add,
    "callback phones revoke 102's device": probe_phones_revoke,
    "callback contacts list shows acme's shared contact": probe_contacts_list(shared=True),
    "callback contacts list shows 102's own contact": probe_contacts_list(shared=False),
    "callback contacts open 102's own contact": probe_contacts_open,
    "callback contacts delete 102's own contact": probe_contacts_delete(shared=False),
    "callback contacts export shows 102's own contact": probe_contacts_export,
    "callback contacts delete acme's shared contact": probe_contacts_delete(shared=True),
    "page /users": page_probe("/users", "users-search"),
    "page /profile": page_probe("/profile", "profile-name"),
    "download users of acme": download_probe("/download/users.csv", "Bob Builder"),
    "callback users list shows acme's users": probe_users_list,
    "callback users save over 102": probe_users_save,
    "callback users disable 102": probe_users_disable,
    "callback users reset 102's password": probe_users_reset,
    "callback users remove a user of acme": probe_users_remove,
    "callback users import into acme": probe_users_import,
    "callback profile save reaches 102's profile": probe_profile_save,
    "callback profile recording names 102 as the owner": probe_profile_recording,
    "page /queues": page_probe("/queues", "queues-members"),
    "page /wallboard": page_probe("/wallboard", "wallboard-board"),
    "callback wallboard shows acme's live queue": probe_wallboard,
    "callback queues list shows acme's queue": probe_queues_list,
    "callback queues open acme's queue": probe_queues_open,
    "callback queues save over acme's queue": probe_queues_save,
    "callback queues delete acme's queue": probe_queues_delete,
    "callback agent bar pauses 102": probe_agent_bar_pause,
    "page /audit": page_probe("/audit", "audit-grid"),
    "callback audit rows show who played 102's message": probe_audit_rows,
    "download audit trail of acme": probe_audit_download,
    "page /recordings": page_probe("/recordings", "recordings-grid"),
    "callback recordings list shows 103 to 102's call": probe_recordings_list,
    "callback recordings open 103 to 102's recording": probe_recordings_open,
    "download recording of 103 to 102's call": probe_recording_audio,
    "callback recordings delete 103 to 102's recording": probe_recordings_delete,
    "callback recordings set acme's retention": probe_recordings_retention,
    "callback recordings search finds 102's voicemail": probe_recordings_search_voicemail,
}


def test_every_row_of_the_matrix_has_a_probe_and_every_role_a_column() -> None:
    assert {target for target, _ in matrix_rows()} == set(PROBES)


@pytest.mark.parametrize(
    ("target", "role", "allowed"), CASES, ids=[f"{t} | {r}" for t, r, _ in CASES]
)
def test_the_portal_enforces_the_matrix(
    world: World, target: str, role: str, allowed: bool
) -> None:
    assert PROBES[target](world, role) is allowed


def test_anonymous_callbacks_and_downloads_are_refused_outright(world: World) -> None:
    anonymous = world.clients["anonymous"]
    assert anonymous.post("/_dash-update-component", json={}).status_code == 401
    assert anonymous.get("/_dash-dependencies").status_code == 401
    response = anonymous.get("/download/calls.csv")
    assert response.status_code == 302 and response.location.startswith("/login?next=")


# -- the same pages in a real browser ------------------------------------------------------------
BROWSER_PAGES = {
    # page: (what only an allowed visitor sees, the roles allowed)
    "/numbers": ("#numbers-new-number", {"manager", "other_manager"}),
    "/reports": ("#reports-schedules", {"supervisor", "manager", "other_manager"}),
    "/voicemail?box=102": ("text=Mailbox of Bob Builder, extension 102", {"manager"}),
    "/rules?user=102": ("text=Rules of Bob Builder, extension 102", {"supervisor", "manager"}),
    "/calls": ("#calls-grid", {"user", "agent", "supervisor", "manager", "other_manager"}),
}


COLD_MS = 60_000


@pytest.mark.browser
def test_the_matrix_holds_in_a_real_browser(seeded_portal: Any, browser: Any) -> None:
    """Each role signs in through the form and opens the pages; denied pages show none of it."""
    base = seeded_portal.url
    for role, login in LOGINS.items():
        if role == "agent":
            continue  # the shared browser portal has no agent; the HTTP matrix covers agents
        # A fresh browser per role, not cleared cookies: a callback of the previous role's
        # page still in flight would set its session cookie again after a clear (Flask
        # refreshes a permanent session on every response), and /login then redirects home.
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        try:
            _browse_as(context.new_page(), base, role, login)
        finally:
            context.close()


def _browse_as(page: Any, base: str, role: str, login: str | None) -> None:
    from playwright.sync_api import expect

    if login is None:
        for path in BROWSER_PAGES:
            page.goto(base + path)
            expect(page.locator("#login-user")).to_be_visible()
        return
    # The session's first sign-in of each role: a cold worker and page on a busy
    # 2-core box can take longer than one action's wait (a refusal never gets there).
    page.goto(base + "/login")
    page.wait_for_selector("#login-user", timeout=COLD_MS)
    log_in(page, base, login, Directory.PASSWORD)
    page.wait_for_url(base + "/", timeout=COLD_MS)
    for path, (selector, allowed) in BROWSER_PAGES.items():
        page.goto(base + path)
        page.wait_for_selector("#_pages_content > *")
        if role in allowed:
            expect(page.locator(selector).first).to_be_attached()
        else:
            page.wait_for_load_state("networkidle")
            expect(page.locator(selector)).to_have_count(0)


def test_mark_handled_outside_ones_scope_is_a_403(world: World) -> None:
    """A plain user POSTs "Mark handled" for a caller who only ever called 102."""
    response = post_callback(
        world,
        "user",
        "analytics-mark-handled",
        {"analytics-grid-callbacks": [{"number": MISSED_CALLER}], "analytics-query": {}},
    )
    assert response.status_code == 403
    assert "callers of the calls you see" in response.get_data(as_text=True)
    crafted = post_callback(
        world, "user", "analytics-mark-handled", {"analytics-grid-callbacks": [{"no": "number"}]}
    )
    assert crafted.status_code == 400
