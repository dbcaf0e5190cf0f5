"""A real rtpengine capture through the pipeline: each sentence in its own channel, on time.

rtpengine (userspace, pcap recording; tests/fixtures/relay.py) relays one call that ng
offer/answer set up with recording on and the tenant in its metadata, as Kamailio does;
two UDP sockets play two different espeak-ng sentences as PCMU in real time, the callee
starting ``CALLEE_DELAY`` later. The WAV must hold the caller's sentence on the left and
the callee's on the right (cross-correlation against the source, offset within 100 ms),
last as long as the call within 200 ms, and the per-speaker transcript must give each
sentence to its side.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.recordings_convert import espeak
from pipeline.lake_layout import RECORDINGS, live_paths
from pipeline.recording_audio import SAMPLE_RATE, encode_g711, read_channels
from pipeline.recording_ingest import RecordingIngest
from relay.launcher import RelayProcess
from switchboard.settings import Settings
from tests.fixtures.core import Directory

CALLER_SAYS = "Hello, I would like to cancel my subscription please."
CALLEE_SAYS = "Thank you for calling, your refund is on the way."
CALLEE_DELAY = 0.6
CALL_ID = "e2e-rec-1@127.0.0.1"


def sdp(port: int) -> str:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )


def relay_port(answer: dict) -> int:
    found = re.search(r"m=audio (\d+)", str(answer["sdp"]))
    assert found
    return int(found.group(1))


def play(sock: socket.socket, to: tuple[str, int], samples: np.ndarray, start: float) -> None:
    """Send ``samples`` as 20 ms PCMU packets, paced by the clock from ``start``."""
    payload = encode_g711(samples, "PCMU")
    ssrc = int.from_bytes(sock.getsockname()[1].to_bytes(2, "big") * 2, "big")
    for n in range(len(payload) // 160):
        delay = start + n * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        header = struct.pack("!BBHII", 0x80, 0, n, 1000 + n * 160, ssrc)
        sock.sendto(header + payload[n * 160 : (n + 1) * 160], to)


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    pair = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        pair.append(s)
    yield pair[0], pair[1]
    for s in pair:
        s.close()


def offset_of(channel: np.ndarray, source: np.ndarray) -> tuple[float, float]:
    """(seconds where ``source`` best lines up in ``channel``, normalised peak)."""
    a = channel.astype(np.float64)
    b = source.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[: len(a)]
    lag = int(np.argmax(corr))
    window = a[lag : lag + len(b)]
    peak = corr[lag] / (np.linalg.norm(window) * np.linalg.norm(b[: len(window)]) + 1e-9)
    return lag / SAMPLE_RATE, float(peak)


@pytest.mark.whisper
def test_a_real_capture_becomes_a_stereo_wav_with_each_side_in_its_channel(
    settings: Settings,
    directory: Directory,
    relay: RelayProcess | None,
    sockets: tuple[socket.socket, socket.socket],
    tmp_path: Path,
) -> None:
    assert relay is not None
    caller_audio = espeak(CALLER_SAYS, tmp_path)
    callee_audio = espeak(CALLEE_SAYS, tmp_path, "en-gb")
    caller, callee = sockets
    ng = relay.ng
    offer = ng.request(
        "offer",
        call_id=CALL_ID,
        from_tag="caller-tag",
        sdp=sdp(caller.getsockname()[1]),
        record_call="yes",
        metadata="tenant:acme.example|caller:101|callee:102",
    )
    answer = ng.request(
        "answer",
        call_id=CALL_ID,
        from_tag="caller-tag",
        to_tag="callee-tag",
        sdp=sdp(callee.getsockname()[1]),
    )
    start = time.monotonic() + 0.05
    callee_thread = threading.Thread(
        target=play,
        args=(callee, ("127.0.0.1", relay_port(offer)), callee_audio, start + CALLEE_DELAY),
    )
    callee_thread.start()
    play(caller, ("127.0.0.1", relay_port(answer)), caller_audio, start)
    callee_thread.join()
    call_seconds = max(
        len(caller_audio) / SAMPLE_RATE, CALLEE_DELAY + len(callee_audio) / SAMPLE_RATE
    )
    ng.request("delete", call_id=CALL_ID, from_tag="caller-tag")

    folder = settings.recording_spool_dir / "metadata"
    deadline = time.monotonic() + 10
    while not (folder.is_dir() and any(folder.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    result = RecordingIngest(settings, lambda: frozenset({"acme.example"})).run()
    assert (result.recordings, result.quarantined) == (1, 0)
    [path] = live_paths(settings.lake_dir, RECORDINGS.name)
    [row] = pq.read_table(path).to_pylist()
    assert (row["call_id"], row["caller"], row["callee"]) == (CALL_ID, "101", "102")
    assert abs(row["duration"] - call_seconds) <= 0.2
    left, right = read_channels(settings.data_dir / row["audio_path"])

    at, peak = offset_of(left, caller_audio)
    assert at <= 0.1 and peak > 0.9, (at, peak)
    at, peak = offset_of(right, callee_audio)
    assert abs(at - CALLEE_DELAY) <= 0.1 and peak > 0.9, (at, peak)
    # and not the other way round: each sentence is only in its own channel
    assert offset_of(left, callee_audio)[1] < 0.3
    assert offset_of(right, caller_audio)[1] < 0.3
    assert row["caller_speech_seconds"] > 1.0 and row["callee_speech_seconds"] > 1.0

    # the per-speaker transcript gives each sentence to its side, lines in time order
    from pipeline.recording_query import get_recording
    from pipeline.recording_transcripts import transcribe_pending_recordings
    from pipeline.transcribe import WhisperTranscriber
    from pipeline.viewer import open_for_viewer

    assert transcribe_pending_recordings(settings, WhisperTranscriber()) == 1
    with open_for_viewer(settings, "acme.example") as viewer:
        recording = get_recording(viewer.conn, row["recording_id"])
    assert recording is not None and recording.lines
    said = {
        side: " ".join(x.text.lower() for x in recording.lines if x.speaker == side)
        for side in ("caller", "callee")
    }
    # tiny.en hears the caller's "subscription" through G.711 as "prescription" now and
    # then: this checks whose side a sentence lands on, not the model's accuracy (#15's
    # WER gate does that), so the part both readings share is enough
    assert "cancel" in said["caller"] and "scription" in said["caller"], said
    assert "thank" in said["callee"] and "refund" in said["callee"], said
    assert "cancel" not in said["callee"] and "refund" not in said["caller"], said
    assert recording.lines[0].speaker == "caller"
    assert [x.start for x in recording.lines] == sorted(x.start for x in recording.lines)
