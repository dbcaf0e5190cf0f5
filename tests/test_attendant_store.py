"""Menus, announcements and hold music in the store; the simulator's walks (pure).

Scenarios: Acme's day menu (1 → 102, 2 → the support menu, 0 → an
announcement then hang up), the support menu (9 → dial by extension), and
what the store refuses: missing destinations, queues, a menu loop, a key no
phone has, deleting what is still used, another tenant's ids.
"""

from __future__ import annotations

import pytest

from switchboard.attendants import (
    Announcement,
    Attendant,
    MenuCounts,
    MenuDestination,
    menu_choice,
    simulate_attendant,
)
from switchboard.rules import AnsweringRule, Destination, validate_rule
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory

ACME = "acme.example"
GLOBEX = "globex.example"


def ext(n: str) -> MenuDestination:
    return MenuDestination("extension", n)


def _menus(store: ProvisioningStore) -> tuple[Attendant, Attendant, Announcement]:
    closed = store.save_announcement(Announcement(ACME, "Closed", text="We are closed."))
    support = store.save_attendant(
        Attendant(ACME, "Support", {"9": MenuDestination("dial_by_extension")},
                  greeting_text="Press 9 and the extension.", max_repeats=1,
                  invalid=MenuDestination("voicemail", "100"))
    )  # fmt: skip
    sales = store.save_attendant(
        Attendant(
            ACME, "Sales",
            {"1": ext("102"), "2": MenuDestination("attendant", str(support.id)),
             "0": MenuDestination("announcement", str(closed.id)),
             "*": MenuDestination("repeat")},
            greeting_text="Press 1 for Bob.", max_repeats=1,
            no_input=ext("101"), invalid=MenuDestination("voicemail", "100"),
        )
    )  # fmt: skip
    return sales, support, closed


def test_menus_round_trip_and_stay_in_their_tenant(directory: Directory) -> None:
    store = directory.store
    sales, support, closed = _menus(store)
    assert store.attendant(ACME, sales.id or 0) == sales
    assert sales.options["2"] == MenuDestination("attendant", str(support.id))
    assert [a.name for a in store.attendants(ACME)] == ["Sales", "Support"]
    assert store.attendants(GLOBEX) == []
    with pytest.raises(ProvisioningError, match="no such auto attendant"):
        store.attendant(GLOBEX, sales.id or 0)
    with pytest.raises(ProvisioningError, match="no such announcement"):
        store.announcement(GLOBEX, closed.id or 0)
    # editing another tenant's menu by id finds nothing to update
    stolen = Attendant(GLOBEX, "Mine", greeting_text="hi", id=sales.id)
    with pytest.raises(ProvisioningError, match="no such auto attendant"):
        store.save_attendant(stolen)
    renamed = store.save_attendant(Attendant(**{**sales.__dict__, "name": "Sales desk"}))
    assert renamed.id == sales.id and renamed.name == "Sales desk"


@pytest.mark.parametrize(
    ("dest", "message"),
    [
        (ext("999"), "key 1: extension 999 does not exist"),
        (ext("100@globex"), "does not exist"),
        (MenuDestination("voicemail", "555"), "extension 555 does not exist"),
        (MenuDestination("attendant", "77"), "auto attendant 77 does not exist"),
        (MenuDestination("announcement", "x"), "announcement x does not exist"),
        (MenuDestination("queue", "1"), "queue 1 does not exist"),
        (MenuDestination("number", "call me"), "is not a phone number"),
    ],
)
def test_every_destination_must_exist_when_saved(
    directory: Directory, dest: MenuDestination, message: str
) -> None:
    with pytest.raises(ProvisioningError, match=message):
        directory.store.save_attendant(Attendant(ACME, "M", {"1": dest}, greeting_text="hi"))


def test_another_tenants_menu_is_not_a_destination(directory: Directory) -> None:
    store = directory.store
    theirs = store.save_attendant(Attendant(GLOBEX, "Empfang", greeting_text="Hallo"))
    with pytest.raises(ProvisioningError, match=f"auto attendant {theirs.id} does not exist"):
        store.save_attendant(
            Attendant(ACME, "M", {"1": MenuDestination("attendant", str(theirs.id))},
                      greeting_text="hi")
        )  # fmt: skip


def test_bad_menus_are_refused(directory: Directory) -> None:
    store = directory.store
    with pytest.raises(ProvisioningError, match="no key 'A'"):
        store.save_attendant(Attendant(ACME, "M", {"A": ext("102")}, greeting_text="hi"))
    with pytest.raises(ProvisioningError, match="needs a greeting"):
        store.save_attendant(Attendant(ACME, "M", {"1": ext("102")}))
    with pytest.raises(ProvisioningError, match="1 to 60 seconds"):
        store.save_attendant(Attendant(ACME, "M", greeting_text="hi", timeout_seconds=0))
    store.save_attendant(Attendant(ACME, "M", greeting_text="hi"))
    with pytest.raises(ProvisioningError, match="named 'M' already exists"):
        store.save_attendant(Attendant(ACME, "M", greeting_text="again"))


def test_a_menu_loop_is_refused_at_save_time(directory: Directory) -> None:
    store = directory.store
    a = store.save_attendant(Attendant(ACME, "A", greeting_text="a"))
    b = store.save_attendant(
        Attendant(ACME, "B", {"1": MenuDestination("attendant", str(a.id))}, greeting_text="b")
    )
    to_b = MenuDestination("attendant", str(b.id))
    with pytest.raises(ProvisioningError, match=r"menu loop: (A → B → A|B → A → B)"):
        store.save_attendant(Attendant(**{**a.__dict__, "options": {"2": to_b}}))
    # through an announcement's "then" too: A (no input) → Notice → B → A
    notice = store.save_announcement(Announcement(ACME, "Notice", text="n", then=to_b))
    to_notice = MenuDestination("announcement", str(notice.id))
    with pytest.raises(ProvisioningError, match="menu loop"):
        store.save_attendant(Attendant(**{**a.__dict__, "no_input": to_notice}))
    with pytest.raises(ProvisioningError, match="play the menu again"):
        store.save_attendant(
            Attendant(**{**a.__dict__, "options": {"9": MenuDestination("attendant", str(a.id))}})
        )
    assert store.attendant(ACME, a.id or 0).options == {}


def test_deleting_what_callers_are_sent_to_is_refused_naming_it(directory: Directory) -> None:
    store = directory.store
    sales, support, closed = _menus(store)
    with pytest.raises(ProvisioningError, match='still used by auto attendant "Sales"'):
        store.delete_attendant(ACME, support.id or 0)
    with pytest.raises(ProvisioningError, match='still used by auto attendant "Sales"'):
        store.delete_announcement(ACME, closed.id or 0)
    did = store.add_did(ACME, "+15550001000", "Main")
    to_sales = Destination("auto_attendant", str(sales.id))
    store.save_did_rule(did, AnsweringRule("Open", 1, forward_always=to_sales))
    with pytest.raises(ProvisioningError, match="main number \\+15550001000 route 'Open'"):
        store.delete_attendant(ACME, sales.id or 0)
    store.delete_did_rule(did, store.did_routing_inputs(did).rules[0].id or 0)
    with pytest.raises(ProvisioningError, match="no such auto attendant"):
        store.delete_attendant(GLOBEX, sales.id or 0)
    store.delete_attendant(ACME, sales.id or 0)
    store.delete_attendant(ACME, support.id or 0)
    store.delete_announcement(ACME, closed.id or 0)
    assert store.attendants(ACME) == [] and store.announcements(ACME) == []


def test_rules_take_queues_and_know_announcements() -> None:
    # queues take calls (issue 12); the store checks the queue exists (tests/test_queue_store.py)
    validate_rule(AnsweringRule("Q", 1, forward_always=Destination("queue", "1")), {}, set())
    assert Destination("announcement", "3").describe() == "announcement 3"


def test_hold_music_has_one_default_per_tenant(directory: Directory) -> None:
    store = directory.store
    jazz = store.add_hold_music(ACME, "Jazz", f"audio/{ACME}/hold-{'1' * 20}.wav")
    assert jazz.is_default  # the first track
    rock = store.add_hold_music(ACME, "Rock", f"audio/{ACME}/hold-{'2' * 20}.wav", default=True)
    assert rock.is_default and store.default_hold_music(ACME) == rock
    store.set_default_hold_music(ACME, jazz.id or 0)
    assert [m.name for m in store.hold_music(ACME) if m.is_default] == ["Jazz"]
    with pytest.raises(ProvisioningError, match="no such hold-music track"):
        store.set_default_hold_music(GLOBEX, jazz.id or 0)
    store.delete_hold_music(ACME, jazz.id or 0)
    assert store.default_hold_music(ACME) == store.hold_music(ACME)[0]
    assert store.default_hold_music(GLOBEX) is None


# --- the walk: counting (menu_choice) and the simulator's words -------------------------------

MENU = Attendant(
    ACME, "Sales", {"1": ext("102"), "*": MenuDestination("repeat")}, greeting_text="hi",
    max_repeats=1, no_input=ext("101"), invalid=MenuDestination("voicemail", "100"), id=1,
)  # fmt: skip


def test_no_input_and_invalid_keys_are_counted_apart() -> None:
    counts = MenuCounts()
    assert menu_choice(MENU, None, counts) == ("menu_timeout", None)
    assert menu_choice(MENU, "7", counts) == ("menu_invalid", None)
    assert menu_choice(MENU, "*", counts) == ("menu_key", None)  # repeat: the menu again
    assert menu_choice(MENU, "7", counts) == ("menu_invalid", MENU.invalid)
    assert menu_choice(MENU, None, counts) == ("menu_timeout", MENU.no_input)
    assert menu_choice(MENU, "1", MenuCounts()) == ("menu_key", ext("102"))


def test_simulator_tells_the_walk_in_words() -> None:
    support = Attendant(
        ACME, "Support", {"9": MenuDestination("dial_by_extension"),
                          "0": MenuDestination("announcement", "5")},
        greeting_text="s", max_repeats=0, invalid=MenuDestination("hangup"), id=2,
    )  # fmt: skip
    sales = Attendant(**{**MENU.__dict__, "options": {
        **MENU.options, "2": MenuDestination("attendant", "2")}})  # fmt: skip
    menus = {1: sales, 2: support}
    anns = {5: Announcement(ACME, "Holidays", text="closed", then=ext("103"))}

    def walk(keys: list[str | None]) -> str:
        steps = simulate_attendant(
            menus, 1, keys, announcements=anns, extensions={"100", "101", "102", "103"}
        )
        return " → ".join(steps)

    assert walk(["1"]) == "Sales → 1 → extension 102"
    assert (
        walk(["7", "7"])
        == "Sales → 7: invalid (1) → Sales again → 7: invalid (2) → voicemail of 100"
    )
    assert walk([None, None]) == "Sales → no input (1) → Sales again → no input (2) → extension 101"
    assert walk(["2", "9", "103"]) == "Sales → 2 → Support → 9 → dials 103 → extension 103"
    assert (
        walk(["2", "9", "555"])
        == "Sales → 2 → Support → 9 → dials 555 → no extension 555: invalid (1) → hang up"
    )
    assert walk(["2", "0"]) == 'Sales → 2 → Support → 0 → announcement "Holidays" → extension 103'
    assert walk([]) == "Sales → waiting for a key"
    assert simulate_attendant(menus, 9, ["1"]) == ["menu 9 no longer exists: the call ends"]


def test_routes_and_rules_may_name_only_the_tenants_own_menus(directory: Directory) -> None:
    store = directory.store
    sales, _, closed = _menus(store)
    did = store.add_did(ACME, "+15550009999", "Main line")
    for missing in ("auto_attendant:999", "announcement:999", "auto_attendant:x"):
        kind, target = missing.split(":")
        dest = Destination(kind, target)  # type: ignore[arg-type]
        with pytest.raises(ProvisioningError, match="does not exist"):
            store.save_did_rule(did, AnsweringRule("Open", 1, None, forward_always=dest))
        with pytest.raises(ProvisioningError, match="does not exist"):
            store.save_rule(directory.users[f"101@{ACME}"], AnsweringRule("X", 1, fallback=dest))
    globex_menu = store.save_attendant(Attendant(GLOBEX, "Globex menu", greeting_text="Hi"))
    with pytest.raises(ProvisioningError, match="does not exist"):
        store.save_did_rule(
            did,
            AnsweringRule(
                "Theirs", 1, None, forward_always=Destination("auto_attendant", str(globex_menu.id))
            ),
        )
    saved = store.save_did_rule(
        did,
        AnsweringRule("Open", 1, None, forward_always=Destination("auto_attendant", str(sales.id))),
    )
    assert saved.forward_always == Destination("auto_attendant", str(sales.id))
    rule = AnsweringRule("Closed", 1, fallback=Destination("announcement", str(closed.id)))
    assert store.save_rule(directory.users[f"101@{ACME}"], rule).fallback.target == str(closed.id)
