"""Outbound caller ID through the real parts: the carrier sees the number the user chose.

A SIPp phone authenticates as 101 and dials an outside number; the carrier is
a SIPp UAS on the trunk port that logs the From user and P-Asserted-Identity
of each INVITE it receives (and the From of the BYE, which Kamailio must turn
back into the number the carrier knows). The choice is made with the CLI,
which pushes it to the running Kamailio at once, as the portal does. A phone
cannot choose for itself: a From naming another number is refused before it
reaches the carrier, and a P-Asserted-Identity it writes is dropped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks import sipp_scenarios as steps
from cli import main as cli
from dash_app.auth import _EXTENSION_KEY as PORTAL_KEY
from dash_app.users_view import COMPANY_ZONE
from kamailio.launcher import KamailioProcess, config_text
from kamailio.rpc import KamailioRPC
from kamailio.rules_push import push_change
from kamailio.traffic import SippResult, SippUAS, call_rows, run_sipp, scenario
from media.mailbox import StoreMailboxes
from switchboard.attendants import Attendant, MenuDestination
from switchboard.routing import DECISION_FIELDS, compile_decision, read_decision
from switchboard.rules import ActiveRule, AnsweringRule, Destination
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.media import MediaServerThread
from tests.fixtures.portal import client_session
from tests.fixtures.sip import account, cdr_rows
from tests.security.raw_sip import SDP, RawSip, header, headers, response_to, status_code

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

ACME = "acme.example"
MAIN = "+15550001000"
OUTSIDE = "+15557654321"
SPOOF = "+15550009999"
CARRIER_CALLER = "+15551234567"

# What the carrier logs of each INVITE (the From user, the P-Asserted-Identity user, and any
# trace of the number a phone tried to spoof) and of each BYE (the From user).
_INVITE_SEEN = (
    '      <ereg regexp="&lt;sip:([^@&gt;]+)@" search_in="hdr" header="From:" check_it="true"'
    ' assign_to="fall,fuser"/>\n'
    '      <ereg regexp="sip:([^@&gt;]+)@" search_in="hdr" header="P-Asserted-Identity:"'
    ' assign_to="pall,pai"/>\n'
    f'      <ereg regexp="{SPOOF[1:]}" search_in="msg" assign_to="leak"/>\n'
    '      <log message="seen invite [$fuser] pai=[$pai] leak=[$leak]"/>\n'
)
_BYE_SEEN = (
    '<ereg regexp="&lt;sip:([^@&gt;]+)@" search_in="hdr" header="From:" assign_to="ball,buser"/>'
    '<log message="seen bye [$buser]"/>'
)


def carrier_scenario(path: Path) -> Path:
    """The carrier: answers at once, logs what it saw of the caller, waits for the BYE."""
    answer = steps.sdp("[media_port]", 0, 101, address="[media_ip]")
    path.write_text(
        steps.scenario(
            "carrier that logs the caller's identity",
            steps.ringing(_INVITE_SEEN),
            steps.answer(0, answer),
            steps.await_bye(60_000, _BYE_SEEN),
            '  <Reference variables="fall,pall,ball"/>',  # SIPp refuses variables never read
        )
    )
    return path


def _phone_call(
    settings: Settings, work: Path, *, from_user: str = "101", pai: str = ""
) -> SippResult:
    """101's phone (digest auth as 101) dials OUTSIDE; From user and an added PAI as given."""
    text = scenario("uac.xml").read_text()
    if pai:
        # the phone asserts an identity of its own in the authenticated INVITE
        text = text.replace(
            "      [authentication]\n",
            f"      [authentication]\n      P-Asserted-Identity: <sip:{pai}@{ACME}>\n",
        )
    path = work / f"phone-{from_user}-{pai or 'plain'}.xml"
    path.write_text(text)
    [row] = call_rows([(account(f"101@{ACME}", name="Front Desk"), account(f"{OUTSIDE}@{ACME}"))])
    row = (from_user, *row[1:])
    return run_sipp(
        settings,
        path,
        [row],
        duration_ms=300,
        timeout=20,
        auth=account(f"101@{ACME}"),
    )


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> None:
    """``switchboard …`` in-process against this Kamailio's data dir and RPC port."""
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    monkeypatch.setenv("SWITCHBOARD_RPC_PORT", str(settings.rpc_port))
    assert cli.main(list(argv)) == 0


def _seen(carrier: SippUAS) -> list[str]:
    """What the carrier saw: ``invite <From user> pai=<PAI user> leak=<spoof>``, ``bye <From>``."""
    lines = carrier.log_lines()
    return [line.strip().removeprefix("seen ") for line in lines if line.startswith("seen ")]


def test_the_carrier_sees_the_chosen_number_and_never_the_phones_own(
    kamailio: KamailioProcess,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    s = kamailio.settings
    directory.store.add_did(ACME, MAIN, "Main line")
    uas = carrier_scenario(tmp_path / "carrier.xml")
    with SippUAS(uas, port=s.trunk_port) as carrier:
        # default: the extension, as before (and nothing the phone asserted)
        plain = _phone_call(s, tmp_path, pai=SPOOF)
        assert list(plain.finals.values()) == [200], plain.errors
        assert _seen(carrier) == ["invite 101 pai= leak=", "bye 101"]

        # the manager allows the main number, the user chooses it: pushed at once
        _cli(s, monkeypatch, "user", "edit", "101", "--tenant", ACME, "--allow-caller-id", MAIN)
        _cli(s, monkeypatch, "user", "edit", "101", "--tenant", ACME, "--caller-id", MAIN)
        chosen = _phone_call(s, tmp_path, pai=SPOOF)
        assert list(chosen.finals.values()) == [200], chosen.errors
        assert _seen(carrier)[2:] == [f"invite {MAIN} pai={MAIN} leak=", f"bye {MAIN}"]
        assert any(line.startswith("bye_ok") for line in chosen.log_lines)  # BYE went through

        # a phone writing another number in its From is refused before the carrier
        spoofed = _phone_call(s, tmp_path, from_user=SPOOF)
        assert list(spoofed.finals.values()) == [403]
        assert len(_seen(carrier)) == 4

        # back to the default: the extension again
        _cli(s, monkeypatch, "user", "edit", "101", "--tenant", ACME, "--caller-id", "")
        again = _phone_call(s, tmp_path)
        assert list(again.finals.values()) == [200], again.errors
        assert _seen(carrier)[4:] == ["invite 101 pai= leak=", "bye 101"]

    # history names who called, whatever number the carrier was shown
    rows = cdr_rows(s, at_least=3, where="where direction = 'outbound'")
    assert [(r["caller"], r["callee"], r["sip_code"]) for r in rows] == [("101", OUTSIDE, 200)] * 3


def test_kamailio_reads_the_callers_caller_id_at_its_index(directory: Directory) -> None:
    """Route CALLER_ID reads field caller_id of the caller's decision; a DID's is empty."""
    cfg = config_text()
    route = cfg[cfg.index("route[CALLER_ID]") :]
    route = route[: route.index("\n}")]
    index = DECISION_FIELDS.index("caller_id")
    assert f"$var(cid) = $(var(cd){{s.select,{index},|}});" in route
    user = directory.users[f"101@{ACME}"]
    none = ActiveRule(None, None, None)
    chosen = compile_decision(
        dataclasses.replace(user, caller_id=MAIN), none, default_ring_seconds=30
    )
    assert read_decision(chosen)["caller_id"] == MAIN
    assert read_decision(compile_decision(user, none, default_ring_seconds=30))["caller_id"] == ""


def _didcalls(settings: Settings) -> object:
    """What Kamailio's htable didcall holds now."""
    with KamailioRPC(settings.rpc_url) as rpc:
        return rpc.call("htable.dump", "didcall")


def _wait_for(sock: RawSip, wanted: Callable[[bytes], bool], timeout: float = 20.0) -> bytes:
    """The first datagram (already received or arriving within ``timeout``) that is ``wanted``."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        for data in sock.received[seen:]:
            if wanted(data):
                return data
        seen = len(sock.received)
        left = deadline - time.monotonic()
        assert left > 0, f"not received within {timeout} s: {sock.received!r}"
        sock.replies(min(left, 0.5))


def test_an_outside_caller_the_attendant_sends_out_shows_the_main_number_they_called(
    kamailio: KamailioProcess, directory: Directory
) -> None:
    """Carrier → main number → menu; no key → an outside number: the carrier sees MAIN.

    The media server places that leg through Kamailio as ``trunk`` (FROM_MEDIA);
    showing the outside caller's own number would present a number the tenant
    does not own, so Kamailio shows the main number that carrier call reached.
    The carrier is one UDP socket on the trunk port: it calls, and it receives.
    """
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=10.0)
    store = directory.store
    did = store.add_did(ACME, MAIN, "Main line")
    menu = store.save_attendant(
        Attendant(ACME, "Out", greeting_text="Hello.", timeout_seconds=1, max_repeats=0,
                  no_input=MenuDestination("number", OUTSIDE))
    )  # fmt: skip
    to_menu = Destination("auto_attendant", str(menu.id))
    store.save_did_rule(did, AnsweringRule("Always", 1, None, forward_always=to_menu))
    assert push_change(s, store, dids=[did])
    server = MediaServerThread(s, mailboxes=StoreMailboxes(store, s.data_dir, s.spool_dir))
    server.start()
    try:
        with RawSip((s.sip_host, s.sip_port), host=s.trunk_host, port=s.trunk_port) as carrier:
            caller = f"sip:{CARRIER_CALLER}@carrier.example"
            invite, call_id = carrier.request(
                "INVITE", f"sip:{MAIN}@{s.sip_host}", from_uri=caller, from_tag="c1", body=SDP
            )
            carrier.send(invite)
            ok = _wait_for(carrier, lambda d: status_code(d) == 200 and call_id.encode() in d)
            to = header(ok, "To") or ""
            in_dialog = {
                "from_uri": caller, "from_tag": "c1", "call_id": call_id,
                "to_uri": to.split(";tag=")[0].strip("<>"), "to_tag": to.partition(";tag=")[2],
                "route": ", ".join(reversed(headers(ok, "Record-Route"))),
            }  # fmt: skip
            contact = (header(ok, "Contact") or "").strip("<>").split(">")[0]
            carrier.send(carrier.request("ACK", contact, **in_dialog)[0])  # type: ignore[arg-type]
            out = _wait_for(carrier, lambda d: d.startswith(f"INVITE sip:{OUTSIDE}@".encode()))
            carrier.send(response_to(out, 486, "Busy Here", to_tag="b1", contact=caller))
            assert call_id in json.dumps(_didcalls(s))
            # the carrier hangs up: Kamailio forgets which number that call reached
            bye, _ = carrier.request("BYE", contact, cseq=2, **in_dialog)  # type: ignore[arg-type]
            carrier.send(bye)
            _wait_for(carrier, lambda d: status_code(d) == 200 and b"BYE" in d)
            assert call_id not in json.dumps(_didcalls(s))
    finally:
        server.stop()
    assert f"<sip:{MAIN}@{ACME}>" in (header(out, "From") or "")
    assert header(out, "P-Asserted-Identity") == f"<sip:{MAIN}@{ACME}>"
    assert CARRIER_CALLER.encode() not in out


def test_a_choice_saved_on_profile_is_pushed_at_once(client_portal: Any) -> None:
    """Profile → Save: the user's decision (what Kamailio loads) carries the number at once.

    On the shared in-process portal (no Kamailio there: the push writes the DB
    row first, then finds Kamailio down, which the page says). User 148 and
    its main number exist for this test only.
    """
    from dash_app.pages.profile import DEFAULT_CALLER_ID  # once the app registered its pages

    state = client_portal.server.extensions[PORTAL_KEY]
    number = "+15557770148"
    with state.store_lock:
        store = state.store
        user = store.add_user(
            tenant=ACME, extension="148", name="Carl Caller", email=f"148@{ACME}",
            password=Directory.PASSWORD, sip_password=Directory.SIP_PASSWORD,
        )  # fmt: skip
        store.add_did(ACME, number, "Sales line")
        store.set_allowed_caller_ids(user, [number])
    try:

        def save(choice: str) -> str:
            fields = {"profile-name": "Carl Caller", "profile-email": f"148@{ACME}",
                      "profile-timezone": COMPANY_ZONE, "profile-callerid": choice}  # fmt: skip
            body = {
                "output": "profile-feedback.children",
                "outputs": {"id": "profile-feedback", "property": "children"},
                "inputs": [{"id": "profile-save", "property": "n_clicks", "value": 1}],
                "state": [{"id": k, "property": "value", "value": v} for k, v in fields.items()],
                "changedPropIds": ["profile-save.n_clicks"],
            }
            with client_session(client_portal, f"148@{ACME}") as client:
                response = client.post("/_dash-update-component", json=body)
            assert response.status_code == 200, response.get_data(as_text=True)
            with state.store_lock:
                return read_decision(state.store.decisions()[f"{ACME}:148"])["caller_id"]

        assert save(number) == number
        assert save(DEFAULT_CALLER_ID) == ""
    finally:
        with state.store_lock:
            state.store.remove_user(ACME, "148", keep_days=-1)
            state.store.purge_removed_mailboxes()
            state.store.remove_did(ACME, number)
