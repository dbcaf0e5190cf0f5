"""Reading what rtpengine leaves for one recorded call: its pcap and its metadata file (pure).

rtpengine 10.5 with ``--recording-method=pcap`` (read from its ``daemon/recording.c``
and checked against captures made here), under ``--recording-dir``::

    pcaps/<call-id %-escaped>-<16 hex>.pcap     libpcap, linktype RAW (101; or Ethernet,
                                                1, with --recording-format=eth): each
                                                received RTP packet behind a made-up
                                                IPv4/IPv6 + UDP header, source = the
                                                sender, destination = rtpengine's port
    tmp/rtpengine-meta-<same>.tmp               the metadata while the call is recorded
    metadata/rtpengine-meta-<same>.txt          the same, moved here when recording ends:
                                                the pcap is closed, the call is ready

The metadata file: the pcap's path on the first line; one block per SDP rtpengine
sent out (``Timestamp started ms: …``, ``SDP mode: offer|answer``,
``SDP before RTP packet: N``, a blank line, the rewritten SDP); ``Recording
paused at: … (<ms> ms)`` / ``resumed`` lines; ``Timestamp terminated ms(first
monologue): …``; ``call start time`` / ``call end time`` (local time, second
resolution, unused); then, after a blank line, the ng ``metadata`` string Kamailio
passed: ``key:value|key:value`` (``tenant``, ``caller``, ``callee``, ``call_id``,
``caller_port``, ``callee_port``; docs/recordings.md). A recording started mid-call
(ng ``start recording``) has no SDP block: its ``metadata`` names the ports.

Which side is which: the SDP rtpengine sends with the *offer* goes to the callee and
names the port the callee sends to; the one sent with the *answer* names the port
the caller sends to. So a packet's destination port says who spoke.

Nothing here trusts the files: a truncated or corrupt capture raises
:class:`CaptureError` whose message is the quarantine reason.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
_UDP = 17
MAX_PACKET = 65535
_META_NAME = re.compile(r"^rtpengine-meta-(?P<prefix>.+)-(?P<tag>[0-9a-f]{16})\.txt$")
# ASCII digits only: str.isdigit() also takes "²" or "٣", which int() then refuses.
_PORT = re.compile(r"[0-9]{1,5}")


class CaptureError(ValueError):
    """A capture the pipeline cannot convert; the message is the quarantine reason."""


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet as rtpengine received it."""

    time: float  # capture time, seconds since the epoch
    src_port: int
    dst_port: int
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


@dataclass(frozen=True)
class SdpBlock:
    mode: str  # offer / answer (as rtpengine sent it out)
    port: int  # the audio port rtpengine named in it
    rtpmap: dict[int, str] = field(default_factory=dict)  # payload type → encoding name


@dataclass(frozen=True)
class CaptureMeta:
    """What the metadata file says about one recording."""

    pcap_name: str
    call_id: str  # from the metadata string, else the file name (un-escaped)
    tag: str  # rtpengine's random tag: call id + tag name the capture
    started_ms: float | None
    terminated_ms: float | None
    sdp: tuple[SdpBlock, ...]
    fields: dict[str, str]  # the ng ``metadata`` string, parsed

    @property
    def caller_port(self) -> int | None:
        """rtpengine's port the caller sends to (named in the answer it relayed)."""
        return self._port("caller_port") or next(
            (b.port for b in self.sdp if b.mode == "answer"), None
        )

    @property
    def callee_port(self) -> int | None:
        return self._port("callee_port") or next(
            (b.port for b in self.sdp if b.mode == "offer"), None
        )

    def _port(self, key: str) -> int | None:
        # A recording started mid-call (on demand) has no SDP in its metadata: whoever
        # starts it names the ports (ng query: the from-tag's local port is the caller's).
        # Anything but a port number (1..65535) is ignored: the SDP, else the first sender, says.
        value = self.fields.get(key, "")
        if not _PORT.fullmatch(value):
            return None
        port = int(value)
        return port if 0 < port < 65536 else None

    def encoding(self, payload_type: int) -> str | None:
        """The encoding name SDP gave ``payload_type`` (static types by RFC 3551)."""
        for block in self.sdp:
            if payload_type in block.rtpmap:
                return block.rtpmap[payload_type]
        return {0: "PCMU", 8: "PCMA", 9: "G722", 13: "CN"}.get(payload_type)


def parse_metadata_name(name: str) -> tuple[str, str] | None:
    """(escaped call-id prefix, tag) of ``metadata/rtpengine-meta-<prefix>-<tag>.txt``."""
    m = _META_NAME.match(name)
    return None if m is None else (m.group("prefix"), m.group("tag"))


def _fields(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split("|"):
        key, sep, value = part.partition(":")
        if not sep:
            key, sep, value = part.partition("=")
        if sep and key.strip():
            found[key.strip().lower()] = value.strip()
    return found


def parse_metadata(name: str, text: str) -> CaptureMeta:
    """The metadata file ``name`` holding ``text`` (see the module docstring)."""
    parsed = parse_metadata_name(name)
    if parsed is None:
        raise CaptureError(f"{name!r} is not an rtpengine metadata file name")
    prefix, tag = parsed
    lines = text.splitlines()
    if not lines or not lines[0].strip().endswith(".pcap"):
        raise CaptureError("metadata does not start with its pcap's path")
    pcap_name = lines[0].strip().rsplit("/", 1)[-1]
    if pcap_name != f"{prefix}-{tag}.pcap":
        raise CaptureError(f"metadata names the capture {pcap_name!r}, not its own")
    started = terminated = None
    blocks: list[SdpBlock] = []
    mode: str | None = None
    port: int | None = None
    rtpmap: dict[int, str] = {}
    tail_start = len(lines)

    def close_block() -> None:
        if mode is not None and port is not None:
            blocks.append(SdpBlock(mode, port, dict(rtpmap)))

    for i, raw in enumerate(lines[1:], 1):
        line = raw.strip()
        if line.startswith("Timestamp started ms:"):
            close_block()
            mode, port, rtpmap = None, None, {}
            value = _number(line.split(":", 1)[1])
            started = value if started is None else min(started, value)
        elif line.startswith("SDP mode:"):
            mode = line.split(":", 1)[1].strip().lower()
        elif line.startswith("m=audio ") and port is None:
            try:
                port = int(line.split()[1])
            except (IndexError, ValueError) as exc:
                raise CaptureError(f"unreadable SDP media line {line!r}") from exc
        elif line.startswith("a=rtpmap:"):
            pt, _, enc = line[len("a=rtpmap:") :].partition(" ")
            if pt.isascii() and pt.isdigit() and len(pt) <= 3:
                rtpmap[int(pt)] = enc.split("/")[0].upper()
        elif line.startswith("Timestamp terminated ms"):
            close_block()
            mode = None
            terminated = _number(line.split(":", 1)[1])
        elif line.startswith("call end time:"):
            tail_start = i + 1
    close_block()
    tail = " ".join(x.strip() for x in lines[tail_start:] if x.strip())
    fields = _fields(tail)
    call_id = fields.get("call_id") or unquote(prefix)
    return CaptureMeta(pcap_name, call_id, tag, started, terminated, tuple(blocks), fields)


def _number(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError as exc:
        raise CaptureError(f"unreadable timestamp {text.strip()!r} in metadata") from exc


def read_pcap(data: bytes) -> list[RtpPacket]:
    """The RTP packets of a pcap (RTCP, non-UDP and non-RTP frames skipped).

    Raises CaptureError for a file that is not a pcap, or whose last record is cut
    short (rtpengine killed mid-write) or whose records do not parse.
    """
    if len(data) < 24:
        raise CaptureError("the pcap is shorter than its file header")
    try:
        endian, unit = _PCAP_MAGIC[data[:4]]
    except KeyError:
        raise CaptureError("not a pcap file (bad magic number)") from None
    major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(
        endian + "HHiIII", data[4:24]
    )
    if major != 2:
        raise CaptureError(f"pcap version {major} is not supported")
    if linktype not in (LINKTYPE_RAW, LINKTYPE_ETHERNET):
        raise CaptureError(f"pcap link type {linktype} is not raw IP or Ethernet")
    packets: list[RtpPacket] = []
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            raise CaptureError(f"the pcap is truncated (record header at byte {offset})")
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[offset : offset + 16])
        if incl > MAX_PACKET or incl > orig:
            raise CaptureError(f"corrupt pcap record at byte {offset} (length {incl})")
        frame = data[offset + 16 : offset + 16 + incl]
        if len(frame) < incl:
            raise CaptureError(f"the pcap is truncated (packet at byte {offset})")
        offset += 16 + incl
        if linktype == LINKTYPE_ETHERNET:
            frame = frame[14:]
        packet = _rtp_of_frame(frame, sec + frac * unit)
        if packet is not None:
            packets.append(packet)
    return packets


def _rtp_of_frame(frame: bytes, at: float) -> RtpPacket | None:
    """The RTP packet inside one raw IP frame, None for anything else."""
    if not frame:
        return None
    version = frame[0] >> 4
    if version == 4:
        ihl = (frame[0] & 0x0F) * 4
        if len(frame) < ihl + 8 or frame[9] != _UDP:
            return None
        udp = frame[ihl:]
    elif version == 6:
        if len(frame) < 48 or frame[6] != _UDP:
            return None
        udp = frame[40:]
    else:
        return None
    sport, dport = struct.unpack("!HH", udp[:4])
    rtp = udp[8:]
    if len(rtp) < 12 or rtp[0] >> 6 != 2:
        return None
    pt = rtp[1] & 0x7F
    if 72 <= pt <= 76:  # RTCP (SR, RR, SDES, BYE, APP) on a muxed port
        return None
    header = 12 + 4 * (rtp[0] & 0x0F)
    if rtp[0] & 0x10:  # header extension: 4 bytes, then its length in words
        if len(rtp) < header + 4:
            return None
        header += 4 + 4 * struct.unpack("!H", rtp[header + 2 : header + 4])[0]
    end = len(rtp)
    if rtp[0] & 0x20 and end > header:  # padding: the last byte counts it
        end -= rtp[-1]
    if end < header:
        return None
    _, _, seq, ts, ssrc = struct.unpack("!BBHII", rtp[:12])
    return RtpPacket(at, sport, dport, pt, seq, ts, ssrc, rtp[header:end])
