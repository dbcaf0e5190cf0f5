"""Home's Record button: a user records their own live call, on demand, through the real parts.

A real Kamailio with rtpengine in the media path carries a call 101 → 102
between two SIPp phones whose RTP names each packet's index; a portal
(gunicorn, as ``make run`` serves it) on the same settings asks that
Kamailio's ``dlg.list`` for the call and that rtpengine's ng port to start
and stop recording. The test POSTs Home's Dash callbacks as the page does and
reads what rtpengine wrote in the recording spool: the recorded span only,
and no capture for a call that is not the asker's, a crafted Call-ID, or a
call whose policy is not on-demand.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from benchmarks.relay_phones import PcapCallee, pcap_call
from dash_app.recordings_live import live_calls
from kamailio.launcher import KamailioProcess
from relay.launcher import RelayProcess, ng_client
from switchboard.store import User
from tests.fixtures.core import Directory
from tests.fixtures.portal import http_session, start_portal, stop_portal
from tests.fixtures.relay import (
    call_metadata,
    call_pcaps,
    media_flowing,
    read_pcap_rtp,
    set_policy,
    wait_for,
)
from tests.fixtures.sip import account, register_at

TENANT = "acme.example"
PACKETS = 300  # 6 s of audio each way: the call outlasts every step below
HOLD_MS = 6500


def _refresh(client: httpx.Client) -> httpx.Response:
    """Home's live-call tick, as the page POSTs it."""
    return client.post(
        "/_dash-update-component",
        json={
            "output": "..home-live-call.children...home-live-state.data..",
            "outputs": [
                {"id": "home-live-call", "property": "children"},
                {"id": "home-live-state", "property": "data"},
            ],
            "inputs": [{"id": "home-live-tick", "property": "n_intervals", "value": 1}],
            "state": [{"id": "home-live-state", "property": "data", "value": None}],
            "changedPropIds": ["home-live-tick.n_intervals"],
        },
    )


_OUTPUT: list[str] = []  # the toggle's outputs as Dash names them


def _toggle(client: httpx.Client, call_id: str, recording: bool) -> httpx.Response:
    """A click on Record (``recording`` False) or Stop, with the store the page holds."""
    if not _OUTPUT:  # read once, signed in (an anonymous client is not shown the callbacks)
        deps = client.get("/_dash-dependencies").json()
        _OUTPUT.extend(
            d["output"] for d in deps if any(i["id"] == "home-live-record" for i in d["inputs"])
        )
    [output] = _OUTPUT
    parts = output.strip(".").split("...")
    return client.post(
        "/_dash-update-component",
        json={
            "output": output,
            "outputs": [
                {"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts
            ],
            "inputs": [{"id": "home-live-record", "property": "n_clicks", "value": 1}],
            "state": [
                {
                    "id": "home-live-state",
                    "property": "data",
                    "value": {"call_id": call_id, "recording": recording},
                }
            ],
            "changedPropIds": ["home-live-record.n_clicks"],
        },
    )


def _each_phone(packets: list[Any]) -> int:
    """The fewer packets either phone has in ``packets`` (caller 0x11, callee 0x22)."""
    return min(sum(1 for p in packets if p.payload[1] == byte) for byte in (0x11, 0x22))


def test_a_user_records_their_own_live_call_and_nobody_else_can(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess
) -> None:
    settings = kamailio.settings
    set_policy(kamailio, directory, "on_demand")
    server = start_portal(settings)
    outcome: dict[str, Any] = {}
    try:
        with PcapCallee(phone_byte=0x22, packets=PACKETS) as callee:
            assert register_at(settings, "102@acme.example", callee).returncode == 0  # type: ignore[arg-type]

            def place() -> None:
                outcome["result"] = pcap_call(
                    settings,
                    account("101@acme.example"),
                    account("102@acme.example"),
                    phone_byte=0x11,
                    packets=PACKETS,
                    hold_ms=HOLD_MS,
                )

            caller = threading.Thread(target=place)
            caller.start()
            try:
                call_id = wait_for(lambda: media_flowing(ng_client(settings)), "RTP via rtpengine")
                assert call_pcaps(settings, call_id) == []  # on demand: not recorded yet
                with http_session(server.url, "101@acme.example") as user:
                    card = _refresh(user)
                    assert card.status_code == 200, card.text
                    assert "Calling 102" in card.text and '"Record"' in card.text
                    assert card.json()["response"]["home-live-state"]["data"]["call_id"] == call_id

                    began = time.time()
                    started = _toggle(user, call_id, recording=False)
                    assert started.status_code == 200, started.text
                    assert "Stop recording" in started.text
                    [pcap] = call_pcaps(settings, call_id)
                    wait_for(lambda: _each_phone(read_pcap_rtp(pcap)) >= 20, "20 packets each way")
                    stopped = _toggle(user, call_id, recording=True)
                    ended = time.time()
                    assert stopped.status_code == 200, stopped.text
                    assert '"Record"' in stopped.text

                    # a crafted Call-ID reaches nothing
                    crafted = _toggle(user, "crafted-" + call_id, recording=False)
                    assert crafted.status_code == 403, crafted.text
                    assert "not a call of yours" in crafted.text, crafted.text
                with http_session(server.url, "103@acme.example") as supervisor:
                    other = _toggle(supervisor, call_id, recording=False)  # 101 and 102's call
                    assert other.status_code == 403, other.text
                    assert "not a call of yours" in other.text, other.text
                    assert "home-live-record" not in _refresh(supervisor).text
                with http_session(server.url, "100@globex.example") as other_tenant:
                    foreign = _toggle(other_tenant, call_id, recording=False)
                    assert foreign.status_code == 403, foreign.text
                with httpx.Client(base_url=server.url, timeout=10.0) as anonymous:
                    assert _toggle(anonymous, call_id, recording=False).status_code == 401
                for mode, badge in (("always", "Recorded (company policy)"), ("never", "Not rec")):
                    directory.store.set_recording_policy(TENANT, "tenant", mode)
                    with http_session(server.url, "101@acme.example") as user:
                        text = _refresh(user).text
                        assert badge in text and "home-live-record" not in text, text
                        refused = _toggle(user, call_id, recording=False)
                        assert refused.status_code == 403, refused.text
                        assert "recording policy" in refused.text, refused.text
            finally:
                caller.join(30)
    finally:
        stop_portal(server)
    result, _ = outcome["result"]
    assert result.returncode == 0, result.errors

    # one capture, of the recorded span only: the refusals started nothing after Stop
    assert call_pcaps(settings, call_id) == [pcap]
    assert len(list((settings.recording_spool_dir / "pcaps").iterdir())) == 1
    metadata = call_metadata(settings, call_id)
    assert f"tenant:{TENANT}|call_id:{call_id}|caller:101|callee:102" in metadata
    assert "|direction:internal|from_tag:" in metadata and "|from_tag:|" not in metadata
    recorded = read_pcap_rtp(pcap)
    for byte in (0x11, 0x22):
        seqs = sorted(p.seq for p in recorded if p.payload[1] == byte)
        assert len(seqs) >= 20, f"phone {byte:#x}: {len(seqs)} packets recorded"
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), "a gap in the recorded span"
        # the span only: well short of the call's PACKETS each way, within Record..Stop
        assert len(seqs) < PACKETS - 50, len(seqs)
    times = [p.time for p in recorded]
    assert began - 1.0 < min(times) and max(times) < ended + 1.0, (began, times, ended)


def _dialog(from_uri: str, to_uri: str, **variables: str) -> dict[str, Any]:
    """A confirmed dialog as Kamailio's ``dlg.list`` shows it (shape taken from a real one)."""
    return {
        "call-id": "c1", "state": 4, "from_uri": from_uri, "to_uri": to_uri, "start_ts": 1,
        "caller": {"tag": "t1"}, "variables": [{k: v} for k, v in variables.items()],
    }  # fmt: skip


def test_whose_live_call_it_is_comes_from_kamailio_not_from_the_headers() -> None:
    """An outside caller writing From 102@acme, or a colleague writing To 102, made the
    call 102's on Home (and 102 could record it)."""
    bob = User(id=1, tenant_id=1, tenant_domain="acme.example", extension="102", name="Bob",
               email="", role="user", timezone="UTC", status_message="")  # fmt: skip
    tenant = {"tenant": "acme.example"}
    forged_from = _dialog("sip:102@acme.example", "sip:+15550001@acme.example",
                          asserted="trunk", answered_by="101", **tenant)  # fmt: skip
    forged_to = _dialog("sip:101@acme.example", "sip:102@acme.example",
                        asserted="101@acme.example", answered_by="103", **tenant)  # fmt: skip
    assert live_calls([forged_from, forged_to], bob) == []
    placed = _dialog("sip:102@acme.example", "sip:103@acme.example",
                     asserted="102@acme.example", answered_by="103", **tenant)  # fmt: skip
    taken = _dialog("sip:+15550001@carrier.example", "sip:+15551230000@127.0.0.1",
                    asserted="trunk", answered_by="102", **tenant)  # fmt: skip
    [out, into] = live_calls([placed, taken], bob)
    assert (out.outgoing, out.other_party) == (True, "103")
    assert (into.outgoing, into.other_party) == (False, "+15550001")
