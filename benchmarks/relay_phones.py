"""Two SIPp phones that talk RTP to each other through Kamailio (and rtpengine).

The caller authenticates, plays its pcap once the call is up, stays on for
``hold_ms`` and hangs up; the callee (registered like a desk phone) answers
and plays its own pcap after the ACK. Each phone's RTP carries a pattern of
its own (``phone_audio``: a phone byte and the packet index), so a capture can
tell exactly which phone sent a packet and whether any is missing. Used by the
relay tests and ``benchmarks/relay_capacity.py``.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

from benchmarks import sipp_scenarios as steps
from benchmarks.sipp_callers import RtpPlan, write_rtp_pcap
from kamailio.traffic import SipAccount, SippResult, SippUAS, call_rows, free_udp_port, run_sipp
from switchboard.settings import Settings

PACKET_BYTES = 160  # 20 ms of G.711


def phone_audio(phone_byte: int, packets: int) -> bytes:
    """G.711 bytes of ``packets`` frames: frame k is ``k % 256`` then ``phone_byte`` x 159."""
    return b"".join(
        bytes([k % 256]) + bytes([phone_byte]) * (PACKET_BYTES - 1) for k in range(packets)
    )


# The phones' offer and answer: PCMU only, no telephone-event (what the relay tests expect).
_SDP = """      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""


def caller_xml(pcap: Path) -> str:
    """Call (answering the 407), play ``pcap`` once answered, stay the call's duration, BYE."""
    return steps.scenario(
        "caller that plays a pcap",
        steps.call_answered(_SDP, auth=True),
        steps.play_pcap(str(pcap)),
        steps.pause(),
        steps.hang_up(steps.next_cseq(auth=True)),
    )


def callee_xml(pcap: Path) -> str:
    """Answer at once, play ``pcap`` after the ACK, answer the caller's BYE."""
    return steps.scenario(
        "callee that answers and plays a pcap",
        steps.receive("INVITE"),
        steps.respond("200 OK", body=_SDP),
        steps.receive("ACK"),
        steps.play_pcap(str(pcap)),
        steps.await_bye(None),
    )


def free_media_port() -> int:
    """A UDP port free on loopback with port + 2 free too (SIPp binds audio there, video +2)."""
    while True:
        first = free_udp_port()
        if first + 2 > 65535:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as video:
                video.bind(("127.0.0.1", first + 2))
            return first
        except OSError:
            continue


def _write(path: Path, xml: str) -> Path:
    path.write_text(xml)
    return path


class PcapCallee(SippUAS):
    """A SIPp callee on its own SIP and RTP ports that answers and plays ``packets`` frames."""

    def __init__(self, phone_byte: int = 0x22, packets: int = 50, ssrc: int = 0x0CA11EE) -> None:
        work = Path(tempfile.mkdtemp(prefix="sipp-callee-"))
        self.media_port = free_media_port()
        self.audio = phone_audio(phone_byte, packets)
        pcap = write_rtp_pcap(work / "callee.pcap", RtpPlan(0, self.audio, ssrc=ssrc))
        scenario = _write(work / "callee.xml", callee_xml(pcap))
        super().__init__(scenario, work=work, extra=["-mp", str(self.media_port)])


def pcap_call(
    settings: Settings,
    caller: SipAccount,
    callee: SipAccount,
    *,
    phone_byte: int = 0x11,
    packets: int = 50,
    hold_ms: int = 1500,
    calls: int = 1,
    rate: float = 10.0,
    ssrc: int = 0x0CA11E4,
    timeout: float = 30.0,
) -> tuple[SippResult, bytes]:
    """Place ``calls`` calls caller -> callee that play ``packets`` frames; (result, audio)."""
    work = Path(tempfile.mkdtemp(prefix="sipp-caller-"))
    audio = phone_audio(phone_byte, packets)
    pcap = write_rtp_pcap(work / "caller.pcap", RtpPlan(0, audio, ssrc=ssrc))
    scenario = _write(work / "caller.xml", caller_xml(pcap))
    rows = call_rows([(caller, callee)]) * calls
    result = run_sipp(
        settings,
        scenario,
        rows,
        duration_ms=hold_ms,
        rate=rate,
        timeout=timeout,
        auth=caller,
        work_dir=work,
        extra=["-mp", str(free_media_port())],
    )
    return result, audio
