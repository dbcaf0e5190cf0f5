"""RTP packets of one call → two PCM channels on a true timeline (pure), and the WAV edge.

Each side (caller, callee: :mod:`pipeline.recording_capture` says which packet is
whose) is placed sample by sample by its RTP timestamps, not by packet order, so
lost packets, silence suppression and hold stay in the file as silence of the
right length. A stream (SSRC) is pinned to the wall clock by its least-delayed
packet: ``arrival - timestamp`` is smallest for the packet the network held up
least, so jitter never pushes a stream late; the two sides then line up to within
a packet. The WAV starts at the first packet of either side.

G.711 is decoded through 256-entry tables (Python 3.13 has no ``audioop``); G.722
(two HD-voice phones, or an HD-voice deposit) a stream at a time in sequence order
(ADPCM: each packet's samples depend on the ones before), then taken to 8 kHz
(:mod:`switchboard.resample`); its RTP clock is 8,000 Hz like G.711's, so it is
placed the same way. Comfort noise, DTMF events, other codecs and packets with an
empty payload (a lost frame some senders still send) become silence and are counted.

A stream's RTP timestamps are trusted only as far as the wall clock agrees: a jump
(a sender that restarts its clock without a new SSRC, or a corrupt capture) would
otherwise stretch the timeline by up to 2**31 samples a packet. So a stream is cut
into segments, each spanning no more RTP time than capture time plus
``JUMP_SLACK_SECONDS`` (jitter) and ``CLOCK_DRIFT`` (a sender's clock running fast), and
each segment is pinned to the wall clock on its own (:func:`_segment_anchors`). A real
call never trips it: wrap-around at 2**32 is unwrapped first, and silence suppression,
comfort noise and hold advance the timestamps with the wall clock, or less. The call as
a whole is refused past ``MAX_CAPTURE_SECONDS`` (stray capture times), so memory stays
proportional to the call's real length.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from G722 import G722 as G722Decoder  # type: ignore[import-untyped]

from pipeline.recording_capture import (
    CaptureError,
    CaptureMeta,
    RtpColumns,
    RtpPacket,
    columns_of,
)
from switchboard.resample import down2

SAMPLE_RATE = 8000
_WRAP = 1 << 32
JUMP_SLACK_SECONDS = 2.0  # network jitter a stream's RTP span may exceed its capture span by
CLOCK_DRIFT = 0.01  # and a sender's clock this much faster than rtpengine's (real: < 0.1 %)
# Kamailio ends a dialog after 12 h (kamailio.cfg dialog default_timeout): a longer capture
# is stray packet times, not a call, and would need gigabytes to convert.
MAX_CAPTURE_SECONDS = 13 * 3600


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


DECODERS: dict[str, np.ndarray] = {"PCMU": _ulaw_table(), "PCMA": _alaw_table()}


def encode_g711(samples: np.ndarray, codec: str) -> bytes:
    """16-bit samples → G.711 bytes, the nearest code (for test captures and benchmarks)."""
    table = DECODERS[codec]
    order = np.argsort(table, kind="stable")
    ranked = table[order].astype(np.int32)
    values = samples.astype(np.int32)
    index = np.clip(np.searchsorted(ranked, values), 1, len(ranked) - 1)
    nearer = np.where(values - ranked[index - 1] <= ranked[index] - values, index - 1, index)
    return order[nearer].astype(np.uint8).tobytes()


@dataclass(frozen=True)
class StereoAudio:
    """The call as two channels of 16-bit samples, equal length, and what went into it."""

    caller: np.ndarray
    callee: np.ndarray
    start: float  # epoch seconds of the first sample
    codec: str | None  # the first codec seen (PCMU, PCMA or G722)
    caller_packets: int
    callee_packets: int
    lost_packets: int
    skipped_packets: int  # not audio we decode (comfort noise, DTMF, other codecs)

    @property
    def duration(self) -> float:
        return len(self.caller) / SAMPLE_RATE


def split_sides(meta: CaptureMeta, packets: RtpColumns) -> tuple[np.ndarray, np.ndarray]:
    """(caller's, callee's) packet indices in capture order, by the rtpengine port each
    side sends to.

    Without SDP in the metadata (never seen, but the file is not trusted) the first
    sender is the caller.
    """
    caller_port, callee_port = meta.caller_port, meta.callee_port
    if caller_port is None or callee_port is None or caller_port == callee_port:
        caller_port = int(packets.dst_port[0]) if len(packets) else None
    caller = packets.dst_port == caller_port
    if callee_port is not None and callee_port != caller_port:
        callee = packets.dst_port == callee_port
    else:
        callee = ~caller
    return np.flatnonzero(caller), np.flatnonzero(callee)


@dataclass(slots=True)
class _Placed:
    """Packets of one stream and encoding at their places, in capture order: packet ``i``
    is ``length[i]`` samples at sample ``position[i]``, read from ``source`` at
    ``start[i]``. G.711 stays the pcap's own bytes until it is rendered (a decoded copy
    of each packet is 0.5 KB, 2 GB for a 12-hour call); G.722 is its stream's 8 kHz run."""

    position: np.ndarray
    start: np.ndarray
    length: np.ndarray
    source: np.ndarray  # the pcap's bytes (G.711) or 8 kHz samples (G.722)
    table: np.ndarray | None = None  # the G.711 decoder of ``source``

    def span(self) -> tuple[int, int]:
        """(first sample, sample after the last) these packets cover."""
        return int(self.position.min()), int((self.position + self.length).max())


def _unwrap(values: Sequence[int] | np.ndarray, modulus: int) -> np.ndarray:
    """Values of a wrapping counter made monotonic-ish, relative to the first."""
    steps = np.mod(np.diff(np.asarray(values, dtype=np.int64)), modulus)
    steps[steps >= modulus // 2] -= modulus
    return np.concatenate(([0], np.cumsum(steps)))


def _segment_anchors(rel: list[int], arrival: list[int]) -> list[int]:
    """Each packet's anchor (``position = anchor + rel``), one per segment of the stream.

    Packets in capture order; a packet that would make its segment span more RTP time
    than capture time (plus slack and drift, module docstring) starts a new segment. A
    segment is pinned by its least-delayed packet, so every position lies between its
    packet's arrival minus the segment's span and that arrival: bounded by the capture.
    """
    slack = round(JUMP_SLACK_SECONDS * SAMPLE_RATE)
    anchors: list[int] = []
    start = 0
    lo_r = hi_r = rel[0]
    lo_a = hi_a = arrival[0]
    for i in range(1, len(rel) + 1):
        if i < len(rel):
            r, a = rel[i], arrival[i]
            span_r = max(hi_r, r) - min(lo_r, r)
            span_a = max(hi_a, a) - min(lo_a, a)
            if span_r <= span_a * (1 + CLOCK_DRIFT) + slack:
                lo_r, hi_r, lo_a, hi_a = min(lo_r, r), max(hi_r, r), min(lo_a, a), max(hi_a, a)
                continue
        anchor = min(arrival[j] - rel[j] for j in range(start, i))
        anchors.extend([anchor] * (i - start))
        if i < len(rel):
            start = i
            lo_r = hi_r = rel[i]
            lo_a = hi_a = arrival[i]
    return anchors


G722 = "G722"


@dataclass
class _Side:
    """What :func:`_place_side` found on one side."""

    placed: list[_Placed]
    lost: int = 0
    skipped: int = 0
    codec: str | None = None


def _place_side(packets: RtpColumns, index: np.ndarray, meta: CaptureMeta, t0: float) -> _Side:
    """One side's decodable packets (``index``: theirs, in capture order) at their places."""
    side = _Side([])
    ssrcs = packets.ssrc[index]
    found, first = np.unique(ssrcs, return_index=True)
    pcap = np.frombuffer(packets.data, dtype=np.uint8)
    for ssrc in found[np.argsort(first)]:  # the streams in the order they began
        stream = index[ssrcs == ssrc]
        seqs = _unwrap(packets.seq[stream], 1 << 16)
        distinct, firsts = np.unique(seqs, return_index=True)
        side.lost += max(0, int(seqs.max() - seqs.min()) + 1 - len(distinct))
        rel = _unwrap(packets.timestamp[stream], _WRAP)
        arrival = np.round((packets.time[stream] - t0) * SAMPLE_RATE).astype(np.int64)
        anchors = np.asarray(_segment_anchors(rel.tolist(), arrival.tolist()), dtype=np.int64)
        once = np.zeros(len(stream), dtype=bool)
        once[firsts] = True  # a duplicate (retransmitted or looped) packet counts once
        start = packets.start[stream]
        length = packets.end[stream] - start
        types = packets.payload_type[stream]
        encodings = {int(pt): meta.encoding(int(pt)) or "" for pt in np.unique(types)}
        # An empty payload is a lost frame: silence by the timestamps, like a lost packet.
        usable = once & (length > 0)
        by_encoding: dict[str, np.ndarray] = {}
        for pt, encoding in encodings.items():
            mine = usable & (types == pt)
            if (encoding in DECODERS or encoding == G722) and mine.any():
                by_encoding[encoding] = by_encoding.get(encoding, mine) | mine
        decoded = np.zeros(len(stream), dtype=bool)
        for mine in by_encoding.values():
            decoded |= mine
        side.skipped += int(once.sum() - decoded.sum())
        if side.codec is None and decoded.any():
            side.codec = encodings[int(types[np.argmax(decoded)])]
        for encoding, mine in by_encoding.items():
            position = anchors[mine] + rel[mine]
            if encoding == G722:
                order = np.argsort(seqs[mine])  # ADPCM: decoded in sequence order
                narrow = _g722_narrow([packets.payload(i) for i in stream[mine][order]])
                offsets = np.empty(len(order), dtype=np.int64)
                offsets[order] = np.cumsum(length[mine][order]) - length[mine][order]
                side.placed.append(_Placed(position, offsets, length[mine], narrow))
            else:
                side.placed.append(
                    _Placed(position, start[mine], length[mine], pcap, DECODERS[encoding])
                )
    return side


def _g722_narrow(payloads: list[bytes]) -> np.ndarray:
    """One G.722 stream's payloads, in sequence order, as one run of 8 kHz samples
    (decoded in order by one decoder, then the whole taken to 8 kHz): a byte of G.722 is
    two 16 kHz samples, one 8 kHz sample."""
    decoder = G722Decoder(16000, 64000)
    wide = b"".join(decoder.decode(p).tobytes() for p in payloads)
    return np.frombuffer(down2(wide), dtype="<i2")


def _render(placed: list[_Placed], base: int, length: int) -> np.ndarray:
    """One channel: each packet's samples written at its place, later packets over earlier."""
    out = np.zeros(length, dtype=np.int16)
    for item in placed:
        table = item.table
        rows = zip(item.position.tolist(), item.start.tolist(), item.length.tolist(), strict=True)
        for position, start, size in rows:
            at = position - base
            chunk = item.source[start : start + min(size, length - at)]
            out[at : at + len(chunk)] = chunk if table is None else table[chunk]
    return out


def assemble(meta: CaptureMeta, packets: RtpColumns | Sequence[RtpPacket]) -> StereoAudio:
    """The stereo audio of one capture (caller left, callee right); pure."""
    if not isinstance(packets, RtpColumns):
        packets = columns_of(packets)
    caller_index, callee_index = split_sides(meta, packets)
    t0 = float(packets.time.min()) if len(packets) else 0.0
    caller = _place_side(packets, caller_index, meta, t0)
    callee = _place_side(packets, callee_index, meta, t0)
    spans = [item.span() for item in caller.placed + callee.placed]
    if spans:
        base = min(0, *(first for first, _ in spans))
        length = max(end for _, end in spans) - base
    else:
        base, length = 0, 0
    if length > MAX_CAPTURE_SECONDS * SAMPLE_RATE:  # checked before a sample is allocated
        raise CaptureError(
            f"the capture's packets span {length / SAMPLE_RATE / 3600:.1f} h,"
            f" longer than any call ({MAX_CAPTURE_SECONDS // 3600} h): its times are corrupt"
        )
    return StereoAudio(
        caller=_render(caller.placed, base, length),
        callee=_render(callee.placed, base, length),
        start=t0 + base / SAMPLE_RATE,
        codec=caller.codec or callee.codec,
        caller_packets=len(caller_index),
        callee_packets=len(callee_index),
        lost_packets=caller.lost + callee.lost,
        skipped_packets=caller.skipped + callee.skipped,
    )


def stereo_frames(audio: StereoAudio, start: int = 0, end: int | None = None) -> bytes:
    """Interleaved little-endian 16-bit frames, caller left, callee right."""
    caller, callee = audio.caller[start:end], audio.callee[start:end]
    frames = np.empty(2 * len(caller), dtype="<i2")
    frames[0::2] = caller
    frames[1::2] = callee
    return frames.tobytes()


WRITE_BLOCK = 60 * SAMPLE_RATE  # frames per write: a whole long call interleaved is 4x its size


def write_wav(path: Path, audio: StereoAudio) -> None:
    """Write ``audio`` as an 8 kHz 16-bit stereo WAV at ``path`` (the caller renames it)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.setnframes(len(audio.caller))
        for start in range(0, len(audio.caller), WRITE_BLOCK):
            w.writeframesraw(stereo_frames(audio, start, start + WRITE_BLOCK))


def read_channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) samples of a stereo WAV this module wrote."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data[0::2].copy(), data[1::2].copy()
