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

A capture is read into columns (:class:`RtpColumns`: eight numbers a packet, its payload
left in the file's bytes) rather than an object per packet: a 2-hour call is 712,000
packets, ~470 bytes each as objects (330 MB before a sample is decoded), and a crafted
pcap of tiny packets had reached 1.8 GB from 28 MB.
"""

from __future__ import annotations

import re
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

import numpy as np

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


@dataclass(frozen=True, slots=True)  # slots: a 12-hour call is over 4 million of them
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


@dataclass(frozen=True)
class RtpColumns:
    """The RTP packets of a capture in capture order, a column per field (numpy, int64
    but ``time``); packet ``i``'s payload is ``data[start[i]:end[i]]``."""

    data: bytes
    time: np.ndarray  # float64, seconds since the epoch
    src_port: np.ndarray
    dst_port: np.ndarray
    payload_type: np.ndarray
    seq: np.ndarray
    timestamp: np.ndarray
    ssrc: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def payload(self, i: int) -> bytes:
        return self.data[self.start[i] : self.end[i]]

    def packets(self) -> list[RtpPacket]:
        """One object per packet (tests and small captures; conversion uses the columns)."""
        columns = (self.src_port, self.dst_port, self.payload_type, self.seq)
        rows = zip(
            self.time.tolist(),
            *(c.tolist() for c in (*columns, self.timestamp, self.ssrc)),
            strict=True,
        )
        return [
            RtpPacket(at, sport, dport, pt, seq, ts, ssrc, self.payload(i))
            for i, (at, sport, dport, pt, seq, ts, ssrc) in enumerate(rows)
        ]


_INT_COLUMNS = ("src_port", "dst_port", "payload_type", "seq", "timestamp", "ssrc", "start", "end")


def columns_of(packets: Sequence[RtpPacket]) -> RtpColumns:
    """:class:`RtpColumns` of packet objects (their payloads joined into ``data``)."""
    ends = np.cumsum([len(p.payload) for p in packets], dtype=np.int64)
    ints = {
        name: np.array([getattr(p, name) for p in packets], dtype=np.int64)
        for name in _INT_COLUMNS[:6]
    }
    return RtpColumns(
        b"".join(p.payload for p in packets),
        np.array([p.time for p in packets], dtype=np.float64),
        **ints,
        start=ends - np.array([len(p.payload) for p in packets], dtype=np.int64),
        end=ends,
    )


def read_pcap(data: bytes) -> list[RtpPacket]:
    """The RTP packets of a pcap as objects (:func:`read_pcap_columns`)."""
    return read_pcap_columns(data).packets()


def read_pcap_columns(data: bytes) -> RtpColumns:
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
    skip = 14 if linktype == LINKTYPE_ETHERNET else 0
    record = struct.Struct(endian + "IIII")
    times = array("d")
    ints = [array("q") for _ in _INT_COLUMNS]
    appends = [column.append for column in ints]
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            raise CaptureError(f"the pcap is truncated (record header at byte {offset})")
        sec, frac, incl, orig = record.unpack_from(data, offset)
        if incl > MAX_PACKET or incl > orig:
            raise CaptureError(f"corrupt pcap record at byte {offset} (length {incl})")
        if offset + 16 + incl > len(data):
            raise CaptureError(f"the pcap is truncated (packet at byte {offset})")
        fields = _rtp_of_frame(data, offset + 16 + skip, incl - skip)
        offset += 16 + incl
        if fields is not None:
            times.append(sec + frac * unit)
            for append, value in zip(appends, fields, strict=True):
                append(value)
    return RtpColumns(
        data,
        np.frombuffer(times, dtype=np.float64),
        *(np.frombuffer(column, dtype=np.int64) for column in ints),
    )


_PORTS = struct.Struct("!HH")
_RTP = struct.Struct("!BBHII")
_EXTENSION_WORDS = struct.Struct("!H")


def _rtp_of_frame(data: bytes, at: int, size: int) -> tuple[int, ...] | None:
    """The RTP packet in the raw IP frame ``data[at:at + size]``, as (source port,
    destination port, payload type, seq, timestamp, ssrc, payload start, payload end)
    with the payload's offsets in ``data``; None for anything else."""
    if size <= 0:
        return None
    version = data[at] >> 4
    if version == 4:
        ihl = (data[at] & 0x0F) * 4
        if size < ihl + 8 or data[at + 9] != _UDP:
            return None
        udp = at + ihl
    elif version == 6:
        if size < 48 or data[at + 6] != _UDP:
            return None
        udp = at + 40
    else:
        return None
    sport, dport = _PORTS.unpack_from(data, udp)
    rtp, stop = udp + 8, at + size
    if stop - rtp < 12 or data[rtp] >> 6 != 2:
        return None
    pt = data[rtp + 1] & 0x7F
    if 72 <= pt <= 76:  # RTCP (SR, RR, SDES, BYE, APP) on a muxed port
        return None
    first = data[rtp]
    header = rtp + 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 4 bytes, then its length in words
        if stop < header + 4:
            return None
        header += 4 + 4 * _EXTENSION_WORDS.unpack_from(data, header + 2)[0]
    end = stop
    if first & 0x20 and end > header:  # padding: the last byte counts it
        end -= data[stop - 1]
    if end < header:
        return None
    _, _, seq, ts, ssrc = _RTP.unpack_from(data, rtp)
    return sport, dport, pt, seq, ts, ssrc, header, end
