"""Recordings: pcap → stereo WAV conversion speed, and transcription throughput.

``python -m benchmarks.recordings_convert [--minutes 10] [--calls 5] [--transcribe]``

Captures are written in rtpengine 10.5's format (:mod:`pipeline.recording_capture`) by
:func:`write_capture`, which the tests use too: two sides, G.711, 20 ms packets, with
optional packet loss and a silence-suppression gap. The conversion figure is seconds of
call audio converted per second of one core (the whole ingest step: pcap parse, decode,
placement, figures, WAV + Parquet written). The transcription figure is hours of call
audio (both channels) transcribed per core-hour with the configured Whisper model, on
espeak-ng speech.
"""

from __future__ import annotations

import argparse
import random
import shutil
import struct
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from benchmarks.sipp_callers import g722
from media.prompts import to_mono16
from pipeline.recording_audio import SAMPLE_RATE, encode_g711
from switchboard.resample import up2

PACKET_SAMPLES = 160  # 20 ms at 8 kHz
CALLER_PORT = 30000  # rtpengine's port the caller sends to (named in the answer)
CALLEE_PORT = 30010  # rtpengine's port the callee sends to (named in the offer)


@dataclass(frozen=True)
class Side:
    """One side's audio and how it travels: start offset, losses, a gap with no packets."""

    samples: np.ndarray
    start: float = 0.0  # seconds after the capture's first instant
    lose_every: int = 0  # drop every n-th packet (0: none)
    gap: tuple[float, float] | None = None  # (from, to) seconds of this side: not sent
    ssrc: int = 0


def _ip_udp(src_port: int, dst_port: int, payload: bytes) -> bytes:
    length = 28 + len(payload)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        length,
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    return ip + struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload


def rtp_packets(side: Side, codec: str, src_port: int, dst_port: int, t0: float):
    """(time, frame) of each packet one side sends (pcap order is by time, merged later)."""
    pt = {"PCMU": 0, "PCMA": 8, "G722": 9}[codec]
    if codec == "G722":  # an HD-voice phone: 16 kHz, 160 bytes (RTP clock 160) per 20 ms
        payload = g722(up2(side.samples.astype("<i2").tobytes()))
    else:
        payload = encode_g711(side.samples, codec)
    ssrc = side.ssrc or random.Random(src_port).getrandbits(32)
    ts0 = random.Random(ssrc).getrandbits(32)
    seq0 = random.Random(ssrc + 1).getrandbits(16)
    out = []
    sent = 0  # a gap (silence suppression) sends nothing: sequence numbers do not move
    for n in range(len(payload) // PACKET_SAMPLES):
        at = n * PACKET_SAMPLES / SAMPLE_RATE
        if side.gap and side.gap[0] <= at < side.gap[1]:
            continue
        sent += 1
        if side.lose_every and n % side.lose_every == side.lose_every - 1:
            continue  # sent, lost on the way: a hole in the sequence numbers
        chunk = payload[n * PACKET_SAMPLES : (n + 1) * PACKET_SAMPLES]
        header = struct.pack(
            "!BBHII",
            0x80,
            pt,
            (seq0 + sent) & 0xFFFF,
            (ts0 + n * PACKET_SAMPLES) & 0xFFFFFFFF,
            ssrc,
        )
        out.append((t0 + side.start + at, _ip_udp(src_port, dst_port, header + chunk)))
    return out


def pcap_bytes(packets: list[tuple[float, bytes]]) -> bytes:
    """A libpcap file, linktype RAW, as rtpengine writes it."""
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for at, frame in sorted(packets, key=lambda p: p[0]):
        sec = int(at)
        parts.append(struct.pack("<IIII", sec, int((at - sec) * 1e6), len(frame), len(frame)))
        parts.append(frame)
    return b"".join(parts)


def _sdp(port: int, mode: str, started_ms: float) -> str:
    return (
        f"\nTimestamp started ms: {started_ms:.3f}\nSDP mode: {mode}\nSDP before RTP packet: 1\n\n"
        f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        f"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\na=rtcp:{port + 1}\r\n"
    )


def write_capture(
    spool: Path,
    call_id: str,
    caller: Side,
    callee: Side,
    *,
    tenant: str = "acme.example",
    codec: str = "PCMU",
    t0: float = 1_793_000_000.0,
    tag: str | None = None,
    fields: str | None = None,
) -> Path:
    """Write one finished capture (pcap + metadata) into rtpengine's spool; the metadata path."""
    tag = tag or f"{random.Random(call_id).getrandbits(64):016x}"
    prefix = f"{quote(call_id, safe='')}-{tag}"
    (spool / "pcaps").mkdir(parents=True, exist_ok=True)
    (spool / "metadata").mkdir(parents=True, exist_ok=True)
    pcap = spool / "pcaps" / f"{prefix}.pcap"
    packets = rtp_packets(caller, codec, 40000, CALLER_PORT, t0)
    packets += rtp_packets(callee, codec, 40002, CALLEE_PORT, t0)
    pcap.write_bytes(pcap_bytes(packets))
    end = max(at for at, _ in packets) if packets else t0
    meta = (
        f"{pcap}\n\n"
        + _sdp(CALLEE_PORT, "offer", t0 * 1000 - 900)
        + _sdp(CALLER_PORT, "answer", t0 * 1000 - 100)
        + f"\nTimestamp terminated ms(first monologue): {end * 1000:.3f}\n\n"
        + "call start time: 2026-11-03T10:00:00\ncall end time: 2026-11-03T10:01:00\n\n\n"
        + (fields if fields is not None else f"tenant:{tenant}|caller:101|callee:102")
        + "\n"
    )
    path = spool / "metadata" / f"rtpengine-meta-{prefix}.txt"
    path.write_text(meta)
    return path


def tone(seconds: float, hz: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * level * 32767).astype(np.int16)


def espeak(text: str, folder: Path, voice: str = "en-us") -> np.ndarray:
    """``text`` spoken by espeak-ng, as 8 kHz 16-bit samples (sox resamples)."""
    raw, out = folder / "say.wav", folder / "say8k.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    to_mono16(raw, out, 8000)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def main() -> None:
    from benchmarks.testbed import make_settings
    from pipeline.recording_ingest import RecordingIngest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each call")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--transcribe", action="store_true", help="also measure transcription")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rec-bench-"))
    try:
        settings = make_settings(tmp / "data")
        rng = np.random.default_rng(42)
        seconds = args.minutes * 60
        for n in range(args.calls):
            noise = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 3000).astype(np.int16)
            write_capture(
                settings.recording_spool_dir,
                f"bench-{n}",
                Side(noise, lose_every=50),
                Side(tone(seconds, 440), start=0.3, gap=(60.0, 70.0)),
            )
        pcap_mb = sum(p.stat().st_size for p in (settings.recording_spool_dir / "pcaps").iterdir())
        ingest = RecordingIngest(settings, lambda: frozenset({"acme.example"}))
        cpu, wall = time.process_time(), time.perf_counter()
        result = ingest.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        audio = args.calls * seconds
        print(
            f"convert: {result.recordings} calls x {args.minutes:g} min"
            f" ({pcap_mb / 1e6:.1f} MB pcap)"
            f" in {wall:.2f} s wall / {cpu:.2f} s CPU = {audio / cpu:.0f} s of call per CPU second"
        )
        if args.transcribe:
            _transcription(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _transcription(tmp: Path) -> None:
    from pipeline.recording_transcripts import transcribe_channels
    from pipeline.transcribe import WhisperTranscriber

    sentences = [
        "Hello, I am calling about my order from last week, it has not arrived yet.",
        "I am sorry to hear that. Can you give me the order number please?",
        "Sure, it is four five six seven eight. I paid by card on Monday.",
        "Thank you. I can see it now, it will be delivered tomorrow morning.",
    ]
    a = [espeak(s, tmp) for s in sentences[0::2]]
    b = [espeak(s, tmp, "en-gb") for s in sentences[1::2]]
    pause = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
    left, right = [], []
    for x, y in zip(a, b, strict=True):
        left += [x, pause, np.zeros(len(y), dtype=np.int16), pause]
        right += [np.zeros(len(x), dtype=np.int16), pause, y, pause]
    caller, callee = np.concatenate(left * 4), np.concatenate(right * 4)
    wav = tmp / "call.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        frames = np.empty(2 * len(caller), dtype="<i2")
        frames[0::2], frames[1::2] = caller, callee
        w.writeframes(frames.tobytes())
    engine = WhisperTranscriber(threads=1)
    cpu = time.process_time()
    lines, _, decoded = transcribe_channels(wav, engine)
    cpu = time.process_time() - cpu
    call_seconds = len(caller) / SAMPLE_RATE
    print(
        f"transcribe ({engine.model_name}, 1 thread): {call_seconds:.0f} s call,"
        f" {decoded:.0f} s of speech decoded, {len(lines)} lines, {cpu:.1f} s CPU ="
        f" {call_seconds / cpu:.1f} h of call per core-hour"
    )


if __name__ == "__main__":
    main()
