"""rtpengine's ng protocol: encoding and errors through the transport seam, then for real."""

from __future__ import annotations

import re
import socket
import struct
import time
from typing import Any

import pytest

from relay.launcher import RelayProcess, RelayStartError, command, ng_client
from relay.ng import (
    FunctionTransport,
    NGClient,
    NGFailure,
    NGProtocolError,
    NGUnavailable,
    bdecode,
    bencode,
)
from switchboard.settings import Settings
from tests.fixtures.relay import call_metadata, call_pcaps, read_pcap_rtp


def test_bencode_round_trip_sorts_keys() -> None:
    value = {"sdp": "v=0\r\n", "command": "offer", "flags": ["record-call"], "n": -3}
    encoded = bencode(value)
    assert encoded == b"d7:command5:offer5:flagsl11:record-calle1:ni-3e3:sdp5:v=0\r\ne"
    assert bdecode(encoded) == value


@pytest.mark.parametrize("bad", [b"", b"d3:abc", b"5:ab", b"x", b"i1ei2e"])
def test_bdecode_refuses_broken_input(bad: bytes) -> None:
    with pytest.raises(ValueError):
        bdecode(bad)


def test_request_names_use_dashes_and_errors_are_typed() -> None:
    def answer(request: dict[str, Any]) -> dict[str, Any] | None:
        if request["command"] == "start recording":
            return {"result": "error", "error-reason": "Unknown call-id"}
        if request["command"] == "query":
            return None
        return {"result": "ok"}

    transport = FunctionTransport(answer)
    client = NGClient(transport=transport)
    client.stop_recording("abc@host")
    assert transport.requests[-1] == {"command": "stop recording", "call-id": "abc@host"}
    with pytest.raises(NGFailure, match="Unknown call-id") as failure:
        client.start_recording("nope")
    assert failure.value.reason == "Unknown call-id"
    with pytest.raises(NGUnavailable):
        client.query("silent")
    assert [r["command"] for r in transport.requests[-2:]] == ["query", "query"]  # one resend


def test_reply_for_another_cookie_or_not_bencode_is_a_protocol_error() -> None:
    class Wrong:
        def __init__(self, reply: bytes) -> None:
            self.reply = reply

        def exchange(self, datagram: bytes, timeout: float) -> bytes:
            return self.reply

    with pytest.raises(NGProtocolError, match="cookie"):
        NGClient(transport=Wrong(b"other d6:result4:ponge")).ping()
    client = NGClient(transport=Wrong(b""))
    client._prefix = ""  # the cookie of the first request is then "1"
    client.transport = Wrong(b"1 garbage")
    with pytest.raises(NGProtocolError, match="not bencode"):
        client.ping()


def test_nothing_listening_is_unavailable_fast(settings: Settings) -> None:
    started = time.monotonic()
    with pytest.raises(NGUnavailable):
        ng_client(settings, timeout=0.3).ping()
    assert time.monotonic() - started < 2


def test_bad_port_range_is_refused_before_starting(settings: Settings) -> None:
    import dataclasses

    with pytest.raises(RelayStartError, match="rtpengine_port_max"):
        command(dataclasses.replace(settings, rtpengine_port_max=settings.rtpengine_port_min))


def _sdp(port: int) -> str:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )


def _rtp(seq: int, ssrc: int, fill: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + bytes([fill]) * 160


def test_on_demand_recording_covers_only_the_recorded_span(
    relay: RelayProcess, settings: Settings
) -> None:
    """A live call, unrecorded; start, then stop by Call-ID: the pcap holds only that span."""
    client = ng_client(settings)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    try:
        offer = client.request("offer", call_id="od-1", from_tag="fa", sdp=_sdp(a.getsockname()[1]))
        answer = client.request(
            "answer", call_id="od-1", from_tag="fa", to_tag="tb", sdp=_sdp(b.getsockname()[1])
        )
        to_b = int(re.search(r"m=audio (\d+)", answer["sdp"]).group(1))  # type: ignore[union-attr]
        to_a = int(re.search(r"m=audio (\d+)", offer["sdp"]).group(1))  # type: ignore[union-attr]

        def exchange(first: int, count: int, fill: int) -> None:
            for seq in range(first, first + count):
                a.sendto(_rtp(seq, 0xA, fill), ("127.0.0.1", to_b))
                b.sendto(_rtp(seq, 0xB, fill + 1), ("127.0.0.1", to_a))
            # what each side sent has gone through once the other received it all
            for sock in (a, b):
                sock.settimeout(2)
                for _ in range(count):
                    sock.recv(2048)

        exchange(0, 10, 0x10)  # before: not recorded
        client.start_recording("od-1")
        exchange(10, 20, 0x20)  # recorded
        client.stop_recording("od-1")
        exchange(30, 10, 0x30)  # after: not recorded
        assert client.list_calls() == ["od-1"]
        client.request("delete", call_id="od-1", from_tag="fa")
        call_metadata(settings, "od-1")
        [pcap] = call_pcaps(settings, "od-1")
        packets = read_pcap_rtp(pcap)
        assert {p.payload[0] for p in packets} == {0x20, 0x21}
        assert sorted(p.seq for p in packets if p.ssrc == 0xA) == list(range(10, 30))
        assert sorted(p.seq for p in packets if p.ssrc == 0xB) == list(range(10, 30))
        with pytest.raises(NGFailure):
            client.start_recording("od-1")  # the call is gone
    finally:
        a.close()
        b.close()
