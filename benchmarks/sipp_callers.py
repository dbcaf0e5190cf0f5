"""SIPp callers that play RTP from pcap files: load for the media server, in benchmarks and tests.

Callers are SIPp scenarios generated from one template (codec, telephone-event
payload type, when to start the audio and how the call ends are per caller).
Their audio is a pcap built here: speech made with espeak-ng, encoded to
G.711 by sox (an encoder independent of aiortp, so a polarity bug cannot
cancel itself out), optional RFC 4733 digits in the same RTP stream.
``play_pcap_audio`` sends it to the address of the media server's SDP answer.
A caller goes to the media server directly, or through Kamailio with ``auth``.
Directly, it stands in for Kamailio, the only peer the media server trusts:
it sends from Kamailio's SIP address with the asserted identity
``<caller>@<domain>`` and the media secret (``switchboard.sip_trust``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
import subprocess
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import sipp_scenarios as steps
from kamailio.traffic import SipAccount, SippResult, run_sipp
from media import prompts
from switchboard.settings import Settings
from switchboard.sip_trust import ASSERTED_HEADER, asserted_value, media_secret

_SOX_ENCODING = {0: "mu-law", 8: "a-law"}  # G.711 payload type -> sox encoding


# --- audio -------------------------------------------------------------------------------------


def speech_wav(directory: Path, text: str) -> Path:
    """``text`` spoken by espeak-ng as 8 kHz 16-bit mono WAV (cached in ``directory``)."""
    path = directory / f"speech-{hashlib.sha1(text.encode()).hexdigest()[:12]}.wav"
    if not path.exists():
        prompts.synthesize(text, path)
    return path


def wav_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def g711(pcm: bytes, payload_type: int) -> bytes:
    """Encode s16le 8 kHz ``pcm`` to PCMU (0) or PCMA (8) with sox."""
    encoding = _SOX_ENCODING[payload_type]
    result = subprocess.run(
        [*prompts.SOX, "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c",
         "1", "-L", "-", "-t", "raw", "-r", "8000", "-e", encoding, "-b", "8", "-c", "1", "-"],
        input=pcm, capture_output=True, check=True,
    )  # fmt: skip
    return result.stdout


def g722(pcm: bytes) -> bytes:
    """Encode s16le 16 kHz ``pcm`` to G.722 at 64 kbit/s (PyPI ``G722``, not aiortp's
    session: an HD-voice phone's encoder), 160 bytes per 20 ms as on the wire."""
    from G722 import G722  # type: ignore[import-untyped]

    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    encoded: bytes = G722(16000, 64000).encode(samples)
    return encoded


@dataclass
class RtpPlan:
    """An RTP stream for a pcap: audio frames, then optional digits, same SSRC."""

    payload_type: int
    audio: bytes  # G.711 or G.722 bytes, 160 per 20 ms (each 8,000 a second)
    digits: Sequence[str] = ()
    dtmf_payload_type: int = 101
    ssrc: int = 0x5EED1234

    @property
    def seconds(self) -> float:
        return len(self.audio) / 8000 + 0.2 * len(self.digits)


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_rtp_pcap(path: Path, plan: RtpPlan) -> Path:
    """Write ``plan`` as a pcap (Ethernet/IPv4/UDP) that SIPp's play_pcap_audio replays."""
    packets: list[tuple[float, bytes]] = []
    seq, ts, t = 1000, 8000, 0.0

    def rtp(pt: int, payload: bytes, timestamp: int, marker: bool = False) -> bytes:
        nonlocal seq
        header = struct.pack(
            "!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, timestamp, plan.ssrc
        )
        seq += 1
        return header + payload

    for offset in range(0, len(plan.audio), 160):
        packets.append((t, rtp(plan.payload_type, plan.audio[offset : offset + 160], ts)))
        ts += 160
        t += 0.02
    for digit in plan.digits:
        event = "0123456789*#".index(digit)
        for i in range(1, 5):  # 80 ms of progress, then 3 end packets
            payload = struct.pack("!BBH", event, 10, i * 160)
            packets.append((t, rtp(plan.dtmf_payload_type, payload, ts, marker=i == 1)))
            t += 0.02
        for _ in range(3):
            payload = struct.pack("!BBH", event, 0x80 | 10, 800)
            packets.append((t, rtp(plan.dtmf_payload_type, payload, ts)))
        ts += 800
        t += 0.04

    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for when, payload in packets:
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(payload), 0) + payload
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        )  # fmt: skip
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
        sec = int(when)
        out += struct.pack("<IIII", sec, int((when - sec) * 1e6), len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


# --- SIPp callers ------------------------------------------------------------------------------


@dataclass
class Caller:
    """One SIPp call to the media server (directly, or through Kamailio with ``auth``)."""

    settings: Settings
    ruri_user: str
    work: Path
    payload_type: int = 0
    dtmf_payload_type: int = 101
    audio: RtpPlan | None = None
    wait_ms: int = 1000  # after the ACK, before the audio starts
    after_ms: int = 300  # after the audio, before hanging up
    ending: str = "bye"  # "bye" | "wait_bye" (the server hangs up)
    then: list[tuple[int, RtpPlan]] = field(default_factory=list)  # (pause ms, more audio)
    auth: SipAccount | None = None
    caller: str = "101"
    domain: str = "acme.example"
    name: str = "Front Desk"
    rate: float = 10.0
    calls: int = 1
    limit: int | None = None
    timeout: float = 60.0
    extra: list[str] = field(default_factory=list)
    # who Kamailio asserts calls (``trunk``: the carrier delivered the caller); default
    # ``caller@domain``, an authenticated colleague
    identity: str | None = None
    # where the offer asks for RTP: SIPp's own port, or a test's socket that hears the call
    offer_port: int | str = "[media_port]"

    def scenario(self) -> Path:
        """This caller's SIPp scenario: call, wait, play the pcaps, then hang up or wait."""
        play = ""
        if self.audio is not None:
            pcap = write_rtp_pcap(self.work / f"audio-{id(self)}.pcap", self.audio)
            play = steps.play_pcap(str(pcap), int(self.audio.seconds * 1000) + self.after_ms)
        for n, (pause_ms, plan) in enumerate(self.then):
            pcap = write_rtp_pcap(self.work / f"audio-{id(self)}-{n}.pcap", plan)
            play += f'  <pause milliseconds="{pause_ms}"/>\n'
            play += steps.play_pcap(str(pcap), int(plan.seconds * 1000) + self.after_ms)
        if self.ending == "wait_bye" and play:
            # the server's BYE may come while the audio still plays: wait for it right away
            play = play[: play.rindex("  <pause")]
        auth = self.auth is not None
        if self.ending == "bye":
            ending = steps.hang_up(steps.next_cseq(auth))
        else:
            ending = steps.await_bye(int(self.timeout * 1000))
        offer = steps.sdp(
            self.offer_port, self.payload_type, self.dtmf_payload_type, address="[media_ip]"
        )
        # directly, the caller is Kamailio: it asserts who calls, as Kamailio does after auth
        identity = asserted_value(
            self.identity or f"{self.caller}@{self.domain}", media_secret(self.settings)
        )
        asserted = () if auth else (f"{ASSERTED_HEADER}: {identity}",)
        text = steps.scenario(
            "voicemail caller",
            steps.call_answered(offer, auth=auth, headers=asserted, ringing_optional="global"),
            f'  <pause milliseconds="{self.wait_ms}"/>\n',
            play,
            ending,
        )
        path = self.work / f"caller-{id(self)}.xml"
        path.write_text(text)
        return path

    def run(self) -> SippResult:
        through_kamailio = self.auth is not None
        target = (
            self.settings
            if through_kamailio
            else dataclasses.replace(self.settings, sip_port=self.settings.media_port)
        )
        host = self.domain if through_kamailio else f"127.0.0.1:{self.settings.media_port}"
        rows = [(self.caller, self.domain, "-", self.ruri_user, host, self.name)] * self.calls
        return run_sipp(
            target,
            self.scenario(),
            rows,
            calls=self.calls,
            rate=self.rate,
            limit=self.limit,
            timeout=self.timeout,
            auth=self.auth,
            work_dir=self.work,
            extra=self.extra,
            local_port=None if through_kamailio else self.settings.sip_port,
        )
