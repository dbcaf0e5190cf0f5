"""Queues through the real parts, beyond the main number: extension, strategies, max callers.

The call center of ``tests.fixtures.call_center`` (Kamailio, the media server,
agents 101 and 102 as SIPp phones with an RTP socket each, the carrier on
the trunk port). Here an internal caller dials the queue's own extension
(routed by the decision ``kamailio.rules_push`` publishes for it); the
ring strategies each pick the agent they promise over a run of short calls
chosen so that every strategy's pick differs from what another would have
picked; and a queue at its maximum callers sends the next one to its
overflow destination. What happened is read from the queue's spooled events.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bridge_scenarios import caller_scenario, ringing_agent_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone
from kamailio.rpc import KamailioRPC, RPCFault
from kamailio.rules_push import push_change
from kamailio.traffic import SippUAS, run_sipp
from media.queue import dialog_parties
from switchboard.attendants import MenuDestination
from tests.fixtures.call_center import ACME, CallCenter, agent_scenario, heard
from tests.fixtures.sip import account

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

QUEUE_EXT = "555"


def _until(what: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    """Poll ``what`` until it returns something true; that value (fails past ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            assert value, f"still not true after {timeout} s: {what}"
            return value
        time.sleep(step)


def _held(rpc: KamailioRPC, key: str) -> str | None:
    """Kamailio's htable ``rules`` value for ``key`` (None: not held)."""
    try:
        result = rpc.call("htable.get", "rules", key)
    except RPCFault:
        return None
    item = result.get("item") if isinstance(result, dict) else None
    return None if item is None else str(item["value"])


def _agents_idle(cc: CallCenter, rpc: KamailioRPC) -> bool:
    """Both agents free in the queue's live state and in no Kamailio dialog."""
    states = {a["extension"]: a["state"] for a in cc.live()["queues"][0]["agents"]}
    busy = dialog_parties(rpc.call("dlg.list"), ACME)
    return set(states.values()) == {"available"} and not busy & {"101", "102"}


def test_dialling_the_queue_extension_reaches_an_agent(center: CallCenter, tmp_path: Path) -> None:
    s, store = center.settings, center.store
    rpc = KamailioRPC(s.rpc_url)
    center.edit(extension="554")
    assert push_change(s, store, tenant=ACME)  # what the CLI and the portal do after a save
    assert _held(rpc, f"{ACME}:554") is not None
    center.edit(extension=QUEUE_EXT)  # renumbered: the old extension routes nothing any more
    assert push_change(s, store, tenant=ACME)
    assert _held(rpc, f"{ACME}:554") is None and f"{ACME}:554" not in store.decisions()
    assert "queue:" in (_held(rpc, f"{ACME}:{QUEUE_EXT}") or "")
    with RtpBank() as bank:
        agent = bank.add(RtpPhone(0, 1400.0))
        uas = {"101": SippUAS(agent_scenario(tmp_path / "101.xml", agent, hangup_after_ms=1000))}
        try:
            center.register(uas)
            caller = bank.add(RtpPhone(0, 600.0))
            result = run_sipp(
                s, caller_scenario(tmp_path / "103.xml", caller, talk_ms=None),
                [("103", ACME, "-", QUEUE_EXT, ACME, "Sue Supervisor")],
                auth=account(f"103@{ACME}"), timeout=30,
            )  # fmt: skip
        finally:
            uas["101"].stop()
    assert result.returncode == 0, result.errors
    assert heard(caller, 1400.0) > 0.05 and heard(agent, 600.0) > 0.05  # RTP both ways
    kinds = [(e["kind"], e["agent"]) for e in center.ended(1)]
    assert kinds == [("enter", None), ("offer", "101"), ("connect", "101"), ("complete", "101")]
    assert center.ended(1)[0]["caller"] == "103"
    center.edit(extension=None)  # no extension any more: nothing left to route
    assert push_change(s, store, tenant=ACME)
    assert _held(rpc, f"{ACME}:{QUEUE_EXT}") is None


def test_each_strategy_offers_the_agent_it_promises(center: CallCenter, tmp_path: Path) -> None:
    """Six short calls; each strategy's pick differs from what another strategy would pick.

    1 ring all: both ring, 101 answers first (102 rings until cancelled);
      round robin now starts after 102, the last agent offered.
    2 round robin → 101 (longest idle and fewest calls would pick 102);
    3 longest idle → 102 (idle since the start);
    4 longest idle → 101 (its last call ended before 102's; fewest calls: 102);
    5 fewest calls → 102 (1 call against 3);
    6 fewest calls → 102 (2 against 3; longest idle and round robin: 101).
    """
    rpc = KamailioRPC(center.settings.rpc_url)
    center.edit(wrapup_seconds=0, strategy="ring_all")
    plan = [
        ("ring_all", "101"), ("round_robin", "101"), ("longest_idle", "102"),
        ("longest_idle", "101"), ("fewest_calls", "102"), ("fewest_calls", "102"),
    ]  # fmt: skip
    with RtpBank() as bank:
        answering = agent_scenario(tmp_path / "102.xml", bank.add(RtpPhone(0, 1800.0)),
                                   hangup_after_ms=300, ring_ms=100)  # fmt: skip
        uas = {
            "101": SippUAS(agent_scenario(tmp_path / "101.xml", bank.add(RtpPhone(0, 1400.0)),
                                          hangup_after_ms=300, ring_ms=100)),
            "102": SippUAS(ringing_agent_scenario(tmp_path / "102-ring.xml")),
        }  # fmt: skip
        try:
            center.register(uas)
            for n, (strategy, _) in enumerate(plan):
                if n == 1:  # from now on 102 answers too (same port: same registration)
                    uas["102"].stop()
                    uas["102"] = SippUAS(answering, port=uas["102"].port).start()
                center.edit(strategy=strategy)
                _until(lambda: _agents_idle(center, rpc))
                result = center.call(bank.add(RtpPhone(0, 600.0)), name=str(n))
                assert result.returncode == 0, (strategy, result.errors)
        finally:
            for u in uas.values():
                u.stop()
    events = center.ended(len(plan))
    connected = [e["agent"] for e in events if e["kind"] == "connect"]
    assert connected == [agent for _, agent in plan], connected
    first_offers = []
    for e in events:
        if e["kind"] == "enter":
            first_offers.append([])
        elif e["kind"] == "offer":
            first_offers[-1].append(e["agent"])
    assert first_offers == [["101", "102"], ["101"], ["102"], ["101"], ["102"], ["102"]]


def test_a_full_queue_sends_the_next_caller_to_overflow(center: CallCenter, tmp_path: Path) -> None:
    """The carrier's caller waits (nobody logged in); 103 dials the queue's extension: full."""
    s, store = center.settings, center.store
    store.set_agent_login(ACME, "101", False)
    store.set_agent_login(ACME, "102", False)
    center.edit(max_callers=1, extension=QUEUE_EXT, overflow=MenuDestination("voicemail", "100"))
    assert push_change(s, store, tenant=ACME)
    with RtpBank() as bank:
        waiting = center.call_in_background(bank.add(RtpPhone(0, 600.0)), talk_ms=4500)
        _until(lambda: center.live()["queues"][0]["waiting"])
        second = bank.add(RtpPhone(0, 700.0))
        result = run_sipp(
            s, caller_scenario(tmp_path / "103.xml", second, talk_ms=3000),
            [("103", ACME, "-", QUEUE_EXT, ACME, "Sue Supervisor")],
            auth=account(f"103@{ACME}"), timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.errors
        assert waiting().returncode == 0
    events = center.ended(2)
    kinds = [(e["kind"], e.get("outcome")) for e in events]
    assert kinds == [
        ("enter", None), ("enter", None), ("overflow", "max_callers"), ("abandon", "hangup"),
    ], kinds  # fmt: skip
    assert (events[1]["position"], events[2]["target"]) == (2, "voicemail:100")
    assert events[2]["wait"] < 1.0  # sent on at once, not after waiting
    server = center.server.server
    assert server is not None
    _until(lambda: [m.mailbox for m in server.messages] == ["100"])


def test_a_menu_key_puts_the_caller_in_the_queue_and_an_agent_answers(
    center: CallCenter, tmp_path: Path
) -> None:
    """Main number → auto attendant → key 2 → the queue → agent 101, tones both ways."""
    from kamailio.rules_push import push_all
    from media.audio_library import save_speech
    from switchboard.attendants import Attendant
    from switchboard.rules import Destination
    from tests.fixtures.main_number import press_keys

    s, store = center.settings, center.store
    greeting = save_speech(s.data_dir, ACME, "greeting", "Press 2 for support.")
    menu = store.save_attendant(
        Attendant(ACME, "Front", {"2": MenuDestination("queue", str(center.queue.id))},
                  greeting_text="Press 2 for support.", greeting_file=greeting)
    )  # fmt: skip
    [did] = store.dids(ACME)
    to_menu = Destination("auto_attendant", str(menu.id))
    [route] = store.did_routing_inputs(did).rules  # the center's "Q" route, now to the menu
    store.save_did_rule(did, dataclasses.replace(route, forward_always=to_menu))
    push_all(s, store)
    with RtpBank() as bank:
        agent = bank.add(RtpPhone(0, 1400.0))
        uas = {"101": SippUAS(agent_scenario(tmp_path / "101.xml", agent, hangup_after_ms=1500))}
        try:
            center.register(uas)
            caller = bank.add(RtpPhone(0, 600.0))
            presser = threading.Thread(target=press_keys, args=(caller, "2"), daemon=True)
            presser.start()
            result = center.call(caller)
        finally:
            uas["101"].stop()
    assert result.returncode == 0, result.errors
    assert heard(caller, 1400.0) > 0.05 and heard(agent, 600.0) > 0.05  # RTP both ways
    kinds = [(e["kind"], e["agent"]) for e in center.ended(1)]
    assert kinds == [("enter", None), ("offer", "101"), ("connect", "101"), ("complete", "101")]
