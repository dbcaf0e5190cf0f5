"""Calls through Kamailio and rtpengine: recorded by policy, on demand, and never failed by it.

Two SIPp phones (``benchmarks/relay_phones.py``) send RTP whose every packet
names its phone and index; rtpengine's pcap must hold exactly what each sent.
"""

from __future__ import annotations

import threading

from benchmarks.relay_phones import PACKET_BYTES, PcapCallee, pcap_call
from kamailio.launcher import KamailioProcess
from kamailio.recording_push import push_recording_policy
from relay.launcher import RelayProcess, ng_client
from tests.fixtures.core import Directory
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
CALLER, CALLEE = "101@acme.example", "102@acme.example"


def answered_call_id(lines: list[str]) -> str:
    [line] = [x for x in lines if x.startswith("answered ")]
    return line.split()[1]


def frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + PACKET_BYTES] for i in range(0, len(audio), PACKET_BYTES)]


def test_always_records_both_directions_exactly(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess
) -> None:
    set_policy(kamailio, directory, "always")
    with PcapCallee(phone_byte=0x22, packets=40) as callee:
        assert register_at(kamailio.settings, CALLEE, callee).returncode == 0  # type: ignore[arg-type]
        result, caller_audio = pcap_call(
            kamailio.settings, account(CALLER), account(CALLEE), phone_byte=0x11, packets=40
        )
    assert result.returncode == 0, result.errors
    call_id = answered_call_id(result.log_lines)
    metadata = call_metadata(kamailio.settings, call_id)
    assert f"tenant:{TENANT}|call_id:{call_id}|caller:101|callee:102" in metadata
    [pcap] = call_pcaps(kamailio.settings, call_id)
    packets = read_pcap_rtp(pcap)
    by_phone = {
        byte: [p.payload for p in sorted(packets, key=lambda p: p.seq) if p.payload[1] == byte]
        for byte in (0x11, 0x22)
    }
    assert by_phone[0x11] == frames(caller_audio)
    assert by_phone[0x22] == frames(callee.audio)
    assert len(packets) == 80  # nothing else was recorded


def test_never_records_nothing_the_user_policy_wins_and_rtpengine_down_fails_no_call(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess
) -> None:
    """One Kamailio for three calls: policy never, then 102's own always, then rtpengine dead."""
    set_policy(kamailio, directory, "never")
    directory.store.set_recording_policy(TENANT, "user", "on_demand", "101")
    with PcapCallee(packets=10) as callee:
        assert register_at(kamailio.settings, CALLEE, callee).returncode == 0  # type: ignore[arg-type]
        result, _ = pcap_call(
            kamailio.settings, account(CALLER), account(CALLEE), packets=10, hold_ms=300
        )
        assert result.returncode == 0, result.errors
        call_id = answered_call_id(result.log_lines)
        assert call_pcaps(kamailio.settings, call_id) == []
        assert f"[{call_id}]: [core] Creating new call" in relay.log_path.read_text()

        # the callee's own policy beats the tenant's default
        directory.store.set_recording_policy(TENANT, "user", "always", "102")
        assert push_recording_policy(kamailio.settings)
        result, _ = pcap_call(
            kamailio.settings, account(CALLER), account(CALLEE), packets=10, hold_ms=300
        )
        assert result.returncode == 0, result.errors
        call_metadata(kamailio.settings, answered_call_id(result.log_lines))

        # rtpengine dies: the next call (policy still always) connects all the same
        relay.kill()
        result, _ = pcap_call(
            kamailio.settings, account(CALLER), account(CALLEE), packets=10, hold_ms=300
        )
    assert result.returncode == 0, result.errors
    assert any(line.startswith("bye_ok ") for line in result.log_lines)
    log = kamailio.log_path.read_text(errors="replace")
    assert "rtpengine unavailable: offer of" in log and "recording 'always' missing" in log


def test_on_demand_start_and_stop_mid_call(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess
) -> None:
    set_policy(kamailio, directory, "on_demand")
    ng = ng_client(kamailio.settings)
    packets = 100  # 2 s of audio each way
    outcome: dict[str, object] = {}
    with PcapCallee(phone_byte=0x22, packets=packets) as callee:
        assert register_at(kamailio.settings, CALLEE, callee).returncode == 0  # type: ignore[arg-type]

        def place() -> None:
            outcome["result"] = pcap_call(
                kamailio.settings,
                account(CALLER),
                account(CALLEE),
                phone_byte=0x11,
                packets=packets,
                hold_ms=2500,
            )

        caller = threading.Thread(target=place)
        caller.start()
        try:
            call_id = wait_for(lambda: media_flowing(ng), "RTP through rtpengine")
            assert call_pcaps(kamailio.settings, call_id) == []  # not recorded yet
            ng.start_recording(call_id)
            [pcap] = call_pcaps(kamailio.settings, call_id)
            wait_for(lambda: len(read_pcap_rtp(pcap)) >= 40 or None, "40 recorded packets")
            ng.stop_recording(call_id)
        finally:
            caller.join(30)
    result, _ = outcome["result"]  # type: ignore[misc]
    assert result.returncode == 0, result.errors
    recorded = read_pcap_rtp(pcap)
    for byte in (0x11, 0x22):
        indexes = sorted(p.payload[0] for p in recorded if p.payload[1] == byte)
        assert indexes, f"phone {byte:#x} not recorded"
        # the span only: neither the call's first packet nor its last
        assert indexes[0] > 0 and indexes[-1] < packets - 1, indexes
        assert indexes == list(range(indexes[0], indexes[-1] + 1))
