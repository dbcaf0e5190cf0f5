"""Home's Record button: a user starts and stops recording of their own live call, on demand.

The portal (shared in-process ``client_portal``) asks Kamailio's JSON-RPC for
the live dialogs and rtpengine's ng port to start and stop recording. Both
are played here by small servers on the portal's own ports that speak the
real wire formats (JSON-RPC over HTTP; bencode over UDP, with relay.ng's own
codec) and keep what they were asked, so the test sees exactly which ng
commands reached "rtpengine" — and that a crafted Call-ID or a call whose
policy is not on-demand reaches nothing.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from relay.ng import bdecode, bencode
from tests.fixtures.portal import client_session

# Kamailio's dlg.list: 101 → 102 answered (state 4), 103 → 102 answered, 100 → 104 ringing.
DIALOGS = [
    {"call-id": "live-101", "from_uri": "sip:101@acme.example", "to_uri": "sip:102@acme.example",
     "state": 4, "start_ts": 1_760_000_000, "caller": {"tag": "ft101"}},
    {"call-id": "live-103", "from_uri": "sip:103@acme.example", "to_uri": "sip:102@acme.example",
     "state": 4, "start_ts": 1_760_000_100, "caller": {"tag": "ft103"}},
    {"call-id": "early-100", "from_uri": "sip:100@acme.example",
     "to_uri": "sip:104@acme.example", "state": 2, "start_ts": 0, "caller": {"tag": "x"}},
]  # fmt: skip


class _Kamailio(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        if body.get("method") == "dlg.list":
            answer["result"] = DIALOGS
        else:
            answer["error"] = {"code": 500, "message": "not here"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class NGServer:
    """rtpengine's ng port as far as this test needs it: answers ok, keeps each request."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.requests: list[dict[str, Any]] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            cookie, _, body = data.partition(b" ")
            self.requests.append(bdecode(body))
            self.sock.sendto(cookie + b" " + bencode({"result": "ok"}), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def live(client_portal: Any) -> Iterator[tuple[Any, NGServer]]:
    state = client_portal.server.extensions["switchboard_portal"]
    settings = state.settings
    rpc = ThreadingHTTPServer(("127.0.0.1", settings.rpc_port), _Kamailio)
    threading.Thread(target=rpc.serve_forever, daemon=True).start()
    ng = NGServer(settings.rtpengine_ng_port)
    try:
        yield client_portal, ng
    finally:
        with state.store_lock:
            state.store.set_recording_policy("acme.example", "tenant", None)
        ng.close()
        rpc.shutdown()
        rpc.server_close()


def _policy(app: Any, mode: str | None) -> None:
    state = app.server.extensions["switchboard_portal"]
    with state.store_lock:
        state.store.set_recording_policy("acme.example", "tenant", mode)


def _refresh(client: Any) -> Any:
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


_OUTPUT: list[str] = []  # the toggle's outputs as Dash names them (read once, signed in)


def _toggle(client: Any, call_id: str, recording: bool) -> Any:
    if not _OUTPUT:
        deps = client.get("/_dash-dependencies").get_json()
        _OUTPUT.extend(
            d["output"] for d in deps if any(i["id"] == "home-live-record" for i in d["inputs"])
        )
    output = _OUTPUT[0]
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


def test_a_user_records_their_own_live_call_on_demand(live: tuple[Any, NGServer]) -> None:
    app, ng = live
    _policy(app, "on_demand")
    with client_session(app, "101@acme.example") as user:
        card = _refresh(user)
        assert card.status_code == 200
        text = card.get_data(as_text=True)
        assert "Calling 102" in text and "home-live-record" in text and '"Record"' in text
        assert card.get_json()["response"]["home-live-state"]["data"]["call_id"] == "live-101"

        assert _toggle(user, "live-101", recording=False).status_code == 200
        assert _toggle(user, "live-101", recording=True).status_code == 200
    commands = [(r["command"], r["call-id"]) for r in ng.requests]
    assert commands == [("start recording", "live-101"), ("stop recording", "live-101")]
    metadata = ng.requests[0]["metadata"]
    assert "tenant:acme.example" in metadata and "call_id:live-101" in metadata
    assert "caller:101" in metadata and "callee:102" in metadata and "from_tag:ft101" in metadata


def test_nobody_records_a_call_that_is_not_theirs_or_not_on_demand(
    live: tuple[Any, NGServer],
) -> None:
    app, ng = live
    _policy(app, "on_demand")
    before = len(ng.requests)
    with client_session(app, "101@acme.example") as user:
        assert _toggle(user, "live-103", recording=False).status_code == 403  # 103's call
        assert _toggle(user, "early-100", recording=False).status_code == 403
    with client_session(app, "104@acme.example") as agent:  # ringing only: no live call
        assert "home-live-record" not in _refresh(agent).get_data(as_text=True)
    with client_session(app, "100@globex.example") as other_tenant:
        assert _toggle(other_tenant, "live-101", recording=False).status_code == 403
    with client_session(app, None) as anonymous:
        assert _toggle(anonymous, "live-101", recording=False).status_code == 401

    _policy(app, "always")
    with client_session(app, "101@acme.example") as user:
        text = _refresh(user).get_data(as_text=True)
        assert "Recorded (company policy)" in text and "home-live-record" not in text
        assert _toggle(user, "live-101", recording=False).status_code == 403
    _policy(app, "never")
    with client_session(app, "101@acme.example") as user:
        assert "Not recorded" in _refresh(user).get_data(as_text=True)
    assert len(ng.requests) == before  # nothing reached rtpengine
