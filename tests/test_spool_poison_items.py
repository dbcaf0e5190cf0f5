"""Poison spool items: one bad capture or voicemail never blocks the spool nor lies in the lake.

Each scenario (found by fuzzing the real ingest) puts the bad item between good ones, runs
the real pass twice and checks: the good items are in the lake exactly once, the bad one is
quarantined with a reason a person can act on (or converted, when it is a legitimate call
with an oddity), and the second pass finds nothing more to do.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from benchmarks.recordings_convert import (
    CALLER_PORT,
    Side,
    _ip_udp,
    pcap_bytes,
    rtp_packets,
    tone,
    write_capture,
)
from pipeline import recording_audio, recording_ingest
from pipeline.lake_layout import RECORDINGS, live_paths
from pipeline.recording_audio import SAMPLE_RATE, assemble, read_channels
from pipeline.recording_capture import CaptureError, RtpPacket, parse_metadata
from pipeline.recording_ingest import RecordingIngest
from pipeline.voicemail_ingest import ingest_voicemail
from switchboard.resample import down2, up2
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import silence_wav, write_spool_item

ACME = "acme.example"
T = 1_793_000_000.0
SILENT = b"\xff" * 160  # 20 ms of PCMU silence


# -- recordings ---------------------------------------------------------------------------
def ingest(settings: Settings) -> tuple[int, int]:
    result = RecordingIngest(settings, lambda: frozenset({ACME})).run()
    return result.recordings, result.quarantined


def recordings(settings: Settings) -> dict[str, dict[str, Any]]:
    """The lake's recordings by call id; a call id twice fails the test."""
    rows = [
        r
        for p in live_paths(settings.lake_dir, RECORDINGS.name)
        for r in pq.read_table(p).to_pylist()
    ]
    by_call = {r["call_id"]: r for r in rows}
    assert len(by_call) == len(rows), "a capture is in the lake twice"
    return by_call


def capture_reasons(settings: Settings) -> dict[str, str]:
    """Quarantine reason by the call id the capture's file name starts with."""
    folder = settings.recording_spool_dir / "quarantine"
    return {
        p.name.removeprefix("rtpengine-meta-").rsplit("-", 1)[0]: p.read_text().strip()
        for p in folder.glob("*.reason.txt")
    }


def rtp(pt: int, seq: int, ts: int, payload: bytes, ssrc: int = 1) -> bytes:
    header = struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    return _ip_udp(40000, CALLER_PORT, header + payload)


def between_good_captures(settings: Settings, call_id: str, **kw: Any) -> Path:
    """Good captures ``a-good`` and ``z-good`` around ``call_id`` (listed between them)."""
    spool, good = settings.recording_spool_dir, Side(tone(1.0, 440))
    write_capture(spool, "a-good", good, good)
    meta = write_capture(spool, call_id, good, good, **kw)
    write_capture(spool, "z-good", good, good)
    return meta


def replace_pcap(meta: Path, packets: list[tuple[float, bytes]]) -> Path:
    pcap = meta.parent.parent / "pcaps" / meta.name.removeprefix("rtpengine-meta-")
    pcap = pcap.with_suffix(".pcap")
    pcap.write_bytes(pcap_bytes(packets))
    return pcap


def test_an_rtp_timestamp_jump_is_a_new_segment_not_a_longer_call(settings: Settings) -> None:
    """d12: +2**22 (~9 min) inside one SSRC, 2 s of capture: the recording lasts 2 s."""
    meta = between_good_captures(settings, "m-jump")
    replace_pcap(
        meta,
        [
            (T + i * 0.02, rtp(0, i, i * 160 + (2**22 if i >= 50 else 0), SILENT))
            for i in range(100)
        ],
    )
    assert ingest(settings) == (3, 0)
    found = recordings(settings)
    assert sorted(found) == ["a-good", "m-jump", "z-good"]
    assert found["m-jump"]["duration"] == pytest.approx(2.0, abs=0.05)
    assert ingest(settings) == (0, 0)
    assert sorted(recordings(settings)) == ["a-good", "m-jump", "z-good"]


def packets_of(times_and_timestamps: list[tuple[float, int]]) -> list[RtpPacket]:
    return [
        RtpPacket(at, 40000, CALLER_PORT, 0, n, ts & 0xFFFFFFFF, 7, SILENT)
        for n, (at, ts) in enumerate(times_and_timestamps)
    ]


FUZZED = {  # the fuzzer's shapes: before the fix 8 GiB, 156 GiB, 8 GiB of timeline
    "one +2**30 jump": [(T + i * 0.02, i * 160 + (2**30 if i >= 50 else 0)) for i in range(100)],
    "+2**31-1 every packet": [(T + i * 0.02, i * (2**31 - 1)) for i in range(40)],
    "one -2**30 jump": [(T + i * 0.02, i * 160 - (2**30 if i >= 50 else 0)) for i in range(100)],
}


@pytest.mark.parametrize("shape", sorted(FUZZED))
def test_fuzzed_timestamp_jumps_convert_in_memory_of_the_real_duration(shape: str) -> None:
    """d12: the timeline (and so the WAV and the figures' arrays) follows the capture's clock."""
    meta = parse_metadata(
        "rtpengine-meta-x-0123456789abcdef.txt", "/x/x-0123456789abcdef.pcap\n\ntenant:a.b\n"
    )
    packets = packets_of(FUZZED[shape])
    wall = packets[-1].time - packets[0].time + 0.02
    tracemalloc.start()
    try:
        audio = assemble(meta, packets)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert audio.duration <= wall + recording_audio.JUMP_SLACK_SECONDS
    assert peak < 4_000_000  # a 2 s call, not gigabytes


LEGITIMATE = {  # (capture time, RTP timestamp) of 100 packets: what a real call sends
    "wrap-around at 2**32": [(T + i * 0.02, 2**32 - 800 + i * 160) for i in range(100)],
    "silence suppression, 5 s": [
        (T + i * 0.02 + (5.0 if i >= 50 else 0), i * 160 + (40000 if i >= 50 else 0))
        for i in range(100)
    ],
    "paused sender, clock stopped 3 s": [
        (T + i * 0.02 + (3.0 if i >= 50 else 0), i * 160) for i in range(100)
    ],
    "first second held up 1.5 s, then a burst": [
        (T + max(i * 0.02, 1.5 if i < 50 else 0) + (0.5 if i >= 50 else 0), i * 160)
        for i in range(100)
    ],
}


@pytest.mark.parametrize("shape", sorted(LEGITIMATE))
def test_legitimate_timelines_convert_exactly_as_with_one_anchor(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """d12: a real call is one segment: the same samples as the one-anchor placement."""
    meta = parse_metadata(
        "rtpengine-meta-x-0123456789abcdef.txt", "/x/x-0123456789abcdef.pcap\n\ntenant:a.b\n"
    )
    packets = packets_of(LEGITIMATE[shape])
    rel = recording_audio._unwrap([p.timestamp for p in packets], 1 << 32)
    arrival = [round((p.time - packets[0].time) * SAMPLE_RATE) for p in packets]
    assert len(set(recording_audio._segment_anchors(rel, arrival))) == 1
    audio = assemble(meta, packets)
    monkeypatch.setattr(
        recording_audio,
        "_segment_anchors",
        lambda rel, arrival: [min(a - r for a, r in zip(arrival, rel, strict=True))] * len(rel),
    )
    before = assemble(meta, packets)
    assert (audio.start, audio.duration) == (before.start, before.duration)
    assert np.array_equal(audio.caller, before.caller)


def test_a_capture_longer_than_any_call_is_refused_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """d12: a stray capture time (the callee 2 min away) cannot make a huge timeline."""
    monkeypatch.setattr(recording_audio, "MAX_CAPTURE_SECONDS", 60)
    meta = parse_metadata(
        "rtpengine-meta-x-0123456789abcdef.txt", "/x/x-0123456789abcdef.pcap\n\ntenant:a.b\n"
    )
    packets = packets_of([(T + i * 0.02, i * 160) for i in range(10)])
    packets.append(RtpPacket(T + 120, 40002, 30010, 0, 1, 5, 9, SILENT))
    with pytest.raises(CaptureError, match="longer than any call"):
        assemble(meta, packets)


def test_g722_packets_without_payload_are_lost_frames_not_a_crash(settings: Settings) -> None:
    """d10: empty G.722 payloads are silence; a capture of nothing else has no audio."""
    meta = between_good_captures(settings, "m-empty")
    replace_pcap(meta, [(T + i * 0.02, rtp(9, i, i * 160, b"")) for i in range(50)])
    spool = settings.recording_spool_dir
    holes = write_capture(spool, "n-holes", Side(tone(1.0, 440)), Side(tone(1.0, 440)))
    frames = rtp_packets(Side(tone(1.0, 440)), "G722", 40000, CALLER_PORT, T)
    # every 5th frame arrives empty: header only (12 bytes behind the 28 of IPv4 + UDP)
    replace_pcap(
        holes,
        [
            (at, _ip_udp(40000, CALLER_PORT, f[28:40]) if n % 5 == 4 else f)
            for n, (at, f) in enumerate(frames)
        ],
    )
    assert ingest(settings) == (3, 1)
    assert "holds no audio we decode" in capture_reasons(settings)["m-empty"]
    found = recordings(settings)
    assert sorted(found) == ["a-good", "n-holes", "z-good"]
    row = found["n-holes"]
    assert (row["codec"], row["lost_packets"]) == ("G722", 0)
    assert row["duration"] == pytest.approx(1.0, abs=0.03)
    left, _ = read_channels(settings.data_dir / row["audio_path"])
    empty = left[int(0.08 * SAMPLE_RATE) + 10 : int(0.1 * SAMPLE_RATE) - 10]  # frame 4
    assert not empty.any() and np.abs(left[: int(0.07 * SAMPLE_RATE)]).max() > 5000
    assert ingest(settings) == (0, 0)
    assert (up2(b""), down2(b"")) == (b"", b"")


@pytest.mark.parametrize("port", ["\u00b2", "\u0663\u0660\u0660\u0660\u0660", "9" * 5000, "0"])
def test_a_port_that_is_not_an_ascii_number_is_ignored(settings: Settings, port: str) -> None:
    """d11: ``caller_port:²`` passes str.isdigit() but not int(): the SDP's ports decide."""
    between_good_captures(settings, "m-port", fields=f"tenant:{ACME}|caller_port:{port}")
    assert ingest(settings) == (3, 0)
    found = recordings(settings)
    assert sorted(found) == ["a-good", "m-port", "z-good"]
    assert (found["m-port"]["caller_packets"], found["m-port"]["callee_packets"]) == (50, 50)
    assert ingest(settings) == (0, 0)


def test_an_rtpmap_with_a_non_ascii_payload_type_is_ignored() -> None:
    """d11: the same trap in the SDP's ``a=rtpmap:`` lines."""
    text = (
        "/x/x-0123456789abcdef.pcap\n\nTimestamp started ms: 1\nSDP mode: offer\n\n"
        "m=audio 30010 RTP/AVP 0\r\na=rtpmap:\u00b2 PCMU/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    )
    meta = parse_metadata("rtpengine-meta-x-0123456789abcdef.txt", text)
    assert meta.sdp[0].rtpmap == {0: "PCMU"}


def test_an_unreadable_pcap_or_a_converter_bug_quarantines_one_capture(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """d13: any OSError reading the pcap, any exception converting it: that capture only."""
    meta = between_good_captures(settings, "m-dir")
    pcap = replace_pcap(meta, [])
    pcap.unlink()
    pcap.mkdir()  # as root (tests run so) chmod 000 would still read: a directory it is
    good = Side(tone(1.0, 440))
    write_capture(settings.recording_spool_dir, "n-bug", good, good)
    real = recording_audio.assemble

    def buggy(meta: Any, packets: Any) -> Any:
        if meta.call_id == "n-bug":
            raise ZeroDivisionError("a converter bug")
        return real(meta, packets)

    monkeypatch.setattr(recording_ingest, "assemble", buggy)
    assert ingest(settings) == (2, 2)
    reasons = capture_reasons(settings)
    assert reasons["m-dir"] == "the capture's pcap cannot be read: Is a directory"
    assert reasons["n-bug"] == (
        "the capture could not be converted: ZeroDivisionError: a converter bug"
    )
    assert sorted(recordings(settings)) == ["a-good", "z-good"]
    assert not list((settings.recording_spool_dir / "metadata").iterdir())
    assert ingest(settings) == (0, 0)


# -- voicemail ----------------------------------------------------------------------------
def voicemail_rows(settings: Settings) -> list[dict[str, Any]]:
    root = settings.lake_dir / "voicemails"
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def voicemail_reasons(settings: Settings) -> dict[str, str]:
    folder = settings.spool_dir / "quarantine" / "voicemail"
    return {
        p.name.removesuffix(".reason.txt"): p.read_text().strip()
        for p in folder.glob("*.reason.txt")
    }


def test_one_message_id_in_two_mailboxes_of_one_pass_is_one_message(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    """d6: the first in path order is the message; the other is quarantined."""
    wav = silence_wav(tmp_path / "s.wav")
    good = write_spool_item(settings, ACME, "101", wav)
    twice = write_spool_item(settings, ACME, "101", wav)
    write_spool_item(settings, ACME, "102", wav, message_id=twice)

    first = ingest_voicemail(settings, directory.store)

    assert (first.messages, first.quarantined) == (2, 1)
    rows = voicemail_rows(settings)
    assert sorted(r["message_id"] for r in rows) == sorted([good, twice])
    assert next(r for r in rows if r["message_id"] == twice)["mailbox"] == "101"
    assert [m.message_id for m in directory.store.voicemail_messages(ACME, "102")] == []
    assert {m.message_id for m in directory.store.voicemail_messages(ACME, "101")} == {good, twice}
    assert len(list((settings.data_dir / "voicemail").rglob("*.wav"))) == 2
    assert voicemail_reasons(settings) == {
        f"{ACME}_102_{twice}": "message id already ingested",
    }
    again = ingest_voicemail(settings, directory.store)
    assert (again.messages, again.discarded, again.quarantined) == (0, 0, 0)
    assert len(voicemail_rows(settings)) == 2


def test_a_message_id_resent_into_another_mailbox_or_tenant_never_replaces_the_fact(
    settings: Settings, directory: Directory
) -> None:
    """d7: a discarded message (no store row) re-sent under its id: same tenant, then the
    other; the committed row and file stay as they were, the lake has the id once."""
    kw: dict[str, Any] = {"discarded": True, "started_at": T}
    mid = write_spool_item(settings, ACME, "102", None, **kw)
    assert ingest_voicemail(settings, directory.store).discarded == 1
    [committed] = list((settings.lake_dir / "voicemails").rglob("*.parquet"))
    before = committed.read_bytes()

    write_spool_item(settings, ACME, "101", None, message_id=mid, **kw)
    other = write_spool_item(settings, ACME, "101", None, **kw)
    second = ingest_voicemail(settings, directory.store)
    write_spool_item(settings, "globex.example", "101", None, message_id=mid, **kw)
    third = ingest_voicemail(settings, directory.store)

    assert (second.discarded, second.quarantined) == (1, 1)
    assert (third.discarded, third.quarantined) == (0, 1)
    assert committed.read_bytes() == before
    rows = voicemail_rows(settings)
    assert sorted(r["message_id"] for r in rows) == sorted([mid, other])
    assert next(r for r in rows if r["message_id"] == mid)["mailbox"] == "102"
    assert voicemail_reasons(settings) == {
        f"{ACME}_101_{mid}": "message id already ingested",
        f"globex.example_101_{mid}": "message id already ingested",
    }
    last = ingest_voicemail(settings, directory.store)
    assert (last.messages, last.discarded, last.quarantined) == (0, 0, 0)
