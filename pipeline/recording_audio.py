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

import itertools
import wave
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from G722 import G722 as G722Decoder  # type: ignore[import-untyped]

from pipeline.recording_capture import CaptureError, CaptureMeta, RtpPacket
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


def split_sides(
    meta: CaptureMeta, packets: list[RtpPacket]
) -> tuple[list[RtpPacket], list[RtpPacket]]:
    """(caller's, callee's) packets, by the rtpengine port each side sends to.

    Without SDP in the metadata (never seen, but the file is not trusted) the first
    sender is the caller.
    """
    caller_port, callee_port = meta.caller_port, meta.callee_port
    if caller_port is None or callee_port is None or caller_port == callee_port:
        caller_port = packets[0].dst_port if packets else None
    caller = [p for p in packets if p.dst_port == caller_port]
    if callee_port is not None and callee_port != caller_port:
        callee = [p for p in packets if p.dst_port == callee_port]
    else:
        callee = [p for p in packets if p.dst_port != caller_port]
    return caller, callee


@dataclass
class _Placed:
    position: int  # sample index from the capture's first packet
    samples: np.ndarray


def _unwrap(values: list[int], modulus: int) -> list[int]:
    """Values of a wrapping counter made monotonic-ish, relative to the first."""
    out = [0]
    for prev, cur in itertools.pairwise(values):
        step = (cur - prev) % modulus
        if step >= modulus // 2:
            step -= modulus
        out.append(out[-1] + step)
    return out


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


def _place_side(
    packets: list[RtpPacket], meta: CaptureMeta, t0: float
) -> tuple[list[_Placed], int, int, str | None]:
    """One side's decoded packets with their sample positions; (placed, lost, skipped, codec)."""
    by_ssrc: dict[int, list[RtpPacket]] = defaultdict(list)
    for p in packets:
        by_ssrc[p.ssrc].append(p)
    placed: list[_Placed] = []
    lost = skipped = 0
    codec: str | None = None
    for stream in by_ssrc.values():
        seqs = _unwrap([p.seq for p in stream], 1 << 16)
        lost += max(0, (max(seqs) - min(seqs) + 1) - len(set(seqs)))
        rel = _unwrap([p.timestamp for p in stream], _WRAP)
        arrival = [round((p.time - t0) * SAMPLE_RATE) for p in stream]
        anchors = _segment_anchors(rel, arrival)
        seen: set[int] = set()
        kept: list[tuple[int, int, RtpPacket, str]] = []
        for p, r, s, anchor in zip(stream, rel, seqs, anchors, strict=True):
            if s in seen:  # a duplicate (retransmitted or looped) packet
                continue
            seen.add(s)
            encoding = meta.encoding(p.payload_type) or ""
            # An empty payload is a lost frame: silence by the timestamps, like a lost packet.
            if (encoding not in DECODERS and encoding != G722) or not p.payload:
                skipped += 1
                continue
            codec = codec or encoding
            kept.append((s, anchor + r, p, encoding))
        wide = _g722_narrow({s: p.payload for s, _, p, e in kept if e == G722})
        for s, position, p, encoding in kept:
            if encoding == G722:
                samples = wide[s]
            else:
                samples = DECODERS[encoding][np.frombuffer(p.payload, dtype=np.uint8)]
            placed.append(_Placed(position, samples))
    return placed, lost, skipped, codec


G722 = "G722"


def _g722_narrow(payloads: dict[int, bytes]) -> dict[int, np.ndarray]:
    """One G.722 stream's payloads (by unwrapped sequence number) as 8 kHz samples, each
    packet's own: decoded in order by one decoder, then the whole taken to 8 kHz."""
    if not payloads:
        return {}
    decoder = G722Decoder(16000, 64000)
    order = sorted(payloads)
    wide = b"".join(decoder.decode(payloads[s]).tobytes() for s in order)
    narrow = np.frombuffer(down2(wide), dtype="<i2")
    out, at = {}, 0
    for s in order:  # a byte of G.722 is two 16 kHz samples: one 8 kHz sample
        out[s] = narrow[at : at + len(payloads[s])]
        at += len(payloads[s])
    return out


def _render(placed: list[_Placed], base: int, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.int16)
    for item in placed:
        at = item.position - base
        out[at : at + len(item.samples)] = item.samples[: max(0, length - at)]
    return out


def assemble(meta: CaptureMeta, packets: list[RtpPacket]) -> StereoAudio:
    """The stereo audio of one capture (caller left, callee right); pure."""
    caller_pkts, callee_pkts = split_sides(meta, packets)
    t0 = min((p.time for p in packets), default=0.0)
    caller, lost_a, skip_a, codec_a = _place_side(caller_pkts, meta, t0)
    callee, lost_b, skip_b, codec_b = _place_side(callee_pkts, meta, t0)
    both = caller + callee
    if both:
        base = min(0, min(p.position for p in both))
        length = max(p.position + len(p.samples) for p in both) - base
    else:
        base, length = 0, 0
    if length > MAX_CAPTURE_SECONDS * SAMPLE_RATE:  # checked before a sample is allocated
        raise CaptureError(
            f"the capture's packets span {length / SAMPLE_RATE / 3600:.1f} h,"
            f" longer than any call ({MAX_CAPTURE_SECONDS // 3600} h): its times are corrupt"
        )
    return StereoAudio(
        caller=_render(caller, base, length),
        callee=_render(callee, base, length),
        start=t0 + base / SAMPLE_RATE,
        codec=codec_a or codec_b,
        caller_packets=len(caller_pkts),
        callee_packets=len(callee_pkts),
        lost_packets=lost_a + lost_b,
        skipped_packets=skip_a + skip_b,
    )


def stereo_frames(audio: StereoAudio) -> bytes:
    """Interleaved little-endian 16-bit frames, caller left, callee right."""
    frames = np.empty(2 * len(audio.caller), dtype="<i2")
    frames[0::2] = audio.caller
    frames[1::2] = audio.callee
    return frames.tobytes()


def write_wav(path: Path, audio: StereoAudio) -> None:
    """Write ``audio`` as an 8 kHz 16-bit stereo WAV at ``path`` (the caller renames it)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(stereo_frames(audio))


def read_channels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) samples of a stereo WAV this module wrote."""
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data[0::2].copy(), data[1::2].copy()
