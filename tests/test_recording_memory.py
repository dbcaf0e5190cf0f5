"""A long or packet-dense capture converts in memory proportional to its audio, not to
an object per packet (a 2-hour call had peaked at 1.6 GB; a crafted pcap of 28 MB at
1.8 GB)."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np

from benchmarks.recordings_convert import CALLER_PORT, _ip_udp, pcap_bytes
from pipeline.recording_audio import SAMPLE_RATE, assemble
from pipeline.recording_capture import parse_metadata, read_pcap_columns
from pipeline.recording_figures import conversation_figures

T = 1_793_000_000.0
META = parse_metadata(
    "rtpengine-meta-x-0123456789abcdef.txt", "/x/x-0123456789abcdef.pcap\n\ntenant:a.b\n"
)


def _peak(work) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_pcap_of_tiny_packets_costs_bytes_per_packet_not_objects() -> None:
    """100,000 one-byte packets (2 s of RTP time each 0.5 ms): ~1 KB each as objects."""
    count = 100_000
    rtp = [struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, 4 * i, 7) + b"\xff" for i in range(count)]
    frames = [(T + i * 0.0005, _ip_udp(40000, CALLER_PORT, p)) for i, p in enumerate(rtp)]
    data = pcap_bytes(frames)
    del frames, rtp
    found: list[int] = []

    def convert() -> None:
        audio = assemble(META, read_pcap_columns(data))
        found.extend([audio.caller_packets, len(audio.caller)])

    peak = _peak(convert)
    assert found[0] == count and found[1] >= 4 * (count - 1)
    assert peak < 300 * count  # columns and their lists: ~230 bytes a packet (objects: ~800)


def test_the_figures_of_an_hour_read_it_a_block_at_a_time() -> None:
    """float64 of a whole channel is 4x its samples, and it was made three times over."""
    hour = np.zeros(3600 * SAMPLE_RATE, dtype=np.int16)
    hour[::7] = 3000
    peak = _peak(lambda: conversation_figures(hour, hour, SAMPLE_RATE))
    assert peak < hour.nbytes  # one channel's int16 (58 MB); before: ~690 MB
