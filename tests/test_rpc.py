"""The JSON-RPC client: against the real Kamailio, and its errors with MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rpc import KamailioRPC, RPCError, RPCFault, RPCUnavailable, parse_lookup
from tests.fixtures.core import free_port


@pytest.mark.kamailio
def test_core_version_and_faults_from_real_kamailio(kamailio: KamailioProcess) -> None:
    with KamailioRPC(kamailio.settings.rpc_url) as rpc:
        assert rpc.call("core.version").startswith("kamailio 5.6")
        with pytest.raises(RPCFault) as fault:
            rpc.call("no.such.method")
        assert fault.value.code == 500 and "not found" in fault.value.message.lower()
        assert rpc.registrations("101", "acme.example") == []
        # only /RPC is served
        reply = httpx.get(kamailio.settings.rpc_url.replace("/RPC", "/other"))
        assert reply.status_code == 404


def test_unreachable_kamailio_is_rpc_unavailable() -> None:
    rpc = KamailioRPC(f"http://127.0.0.1:{free_port()}/RPC", timeout=0.5)
    with pytest.raises(RPCUnavailable):
        rpc.call("core.version")


def test_request_is_positional_json_rpc() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"jsonrpc": "2.0", "result": "ok", "id": 1})

    rpc = KamailioRPC("http://k/RPC", transport=httpx.MockTransport(handler))
    assert rpc.call("htable.sets", "rules", 'x"y', "a b") == "ok"
    assert seen[0]["method"] == "htable.sets"
    assert seen[0]["params"] == ["rules", 'x"y', "a b"]
    assert seen[0]["jsonrpc"] == "2.0"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, json={"jsonrpc": "2.0", "error": {"code": 404,
                                   "message": "AOR not found"}, "id": 1}), RPCFault),
        (httpx.Response(500, text="<html>oops</html>"), RPCUnavailable),
        (httpx.Response(200, json=[1, 2]), RPCUnavailable),
        (httpx.Response(200, json={"jsonrpc": "2.0", "id": 1}), RPCUnavailable),
    ],
)  # fmt: skip
def test_errors_map_to_the_hierarchy(response: httpx.Response, error: type[RPCError]) -> None:
    rpc = KamailioRPC("http://k/RPC", transport=httpx.MockTransport(lambda _: response))
    with pytest.raises(error):
        rpc.call("ul.dump")


def test_not_registered_is_an_empty_list_other_faults_raise() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        aor = json.loads(request.content)["params"][1]
        message = "AOR not found in location table" if aor == "1@a.example" else "db down"
        body = {"jsonrpc": "2.0", "error": {"code": 500, "message": message}, "id": 1}
        return httpx.Response(200, json=body)

    rpc = KamailioRPC("http://k/RPC", transport=httpx.MockTransport(handler))
    assert rpc.registrations("1", "a.example") == []
    with pytest.raises(RPCFault):
        rpc.registrations("2", "a.example")


def test_parse_lookup_reads_contacts() -> None:
    result = {
        "AoR": "102@acme.example",
        "Contacts": [
            {"Contact": {"Address": "sip:102@10.0.0.5:5062", "Expires": 299,
                         "User-Agent": "Yealink", "Received": "sip:198.51.100.7:40000"}},
            {"Contact": {"Address": "sip:102@10.0.0.6", "Expires": "permanent",
                         "User-Agent": "", "Received": "[not set]"}},
        ],
    }  # fmt: skip
    first, second = parse_lookup(result)
    assert (first.contact, first.expires_in, first.user_agent) == (
        "sip:102@10.0.0.5:5062", 299, "Yealink")  # fmt: skip
    assert first.received == "sip:198.51.100.7:40000"
    assert (second.expires_in, second.received) == (-1, None)
