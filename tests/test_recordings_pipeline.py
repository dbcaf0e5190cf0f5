"""Recordings in the pipeline: rtpengine capture → stereo WAV + lake row, exactly once.

Captures are written in rtpengine 10.5's own format (benchmarks.recordings_convert, checked
against real captures in tests/test_recordings_pipeline_e2e.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.recordings_convert import CALLEE_PORT, CALLER_PORT, Side, tone, write_capture
from pipeline.compaction import CompactionPolicy, compact_lake
from pipeline.lake_layout import RECORDINGS, live_paths
from pipeline.recording_audio import DECODERS, SAMPLE_RATE, encode_g711, read_channels
from pipeline.recording_capture import CaptureError, parse_metadata, read_pcap
from pipeline.recording_figures import conversation_figures
from pipeline.recording_ingest import RecordingIngest
from pipeline.recording_redaction import mask_card_numbers
from switchboard.settings import Settings
from tests.fixtures.crash import kill_at_step_program

REPO = str(Path(__file__).resolve().parents[1])
TENANTS = frozenset({"acme.example"})


def ingest(settings: Settings):
    return RecordingIngest(settings, lambda: TENANTS).run()


def rows(settings: Settings) -> list[dict]:
    return [
        r
        for p in live_paths(settings.lake_dir, RECORDINGS.name)
        for r in pq.read_table(p).to_pylist()
    ]


def test_g711_tables_decode_the_standard_values() -> None:
    ulaw, alaw = DECODERS["PCMU"], DECODERS["PCMA"]
    assert (ulaw[0x00], ulaw[0x80], ulaw[0xFF], ulaw[0x7F]) == (-32124, 32124, 0, 0)
    assert (alaw[0xD5], alaw[0x55], alaw[0xAA], alaw[0x2A]) == (8, -8, 32256, -32256)
    samples = tone(0.1, 440)
    for codec, table in DECODERS.items():
        back = table[np.frombuffer(encode_g711(samples, codec), dtype=np.uint8)]
        assert np.max(np.abs(back.astype(int) - samples)) < 0.04 * 32767, codec


def tone_hz(samples: np.ndarray) -> int:
    """The strongest frequency of a channel, to the nearest 10 Hz."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return int(round(np.argmax(spectrum) * SAMPLE_RATE / len(samples), -1))


def first_loud(samples: np.ndarray) -> float:
    return float(np.flatnonzero(np.abs(samples) > 2000)[0]) / SAMPLE_RATE


def test_each_side_in_its_channel_on_a_true_timeline(settings: Settings) -> None:
    """Loss and a silence-suppression gap stay silence of the right length; PCMA decoded."""
    caller = Side(tone(3.0, 440), lose_every=10, gap=(1.0, 1.6))
    callee = Side(tone(2.0, 1000), start=1.5)
    write_capture(settings.recording_spool_dir, "call-1@host", caller, callee, codec="PCMA")
    assert ingest(settings).recordings == 1
    [row] = rows(settings)
    assert row["call_id"] == "call-1@host" and row["codec"] == "PCMA"
    assert row["duration"] == pytest.approx(3.5, abs=0.03)
    # every 10th packet sent is lost; the last one (n=149) cannot show in the sequence
    assert row["lost_packets"] == 11
    left, right = read_channels(settings.data_dir / row["audio_path"])
    assert len(left) == len(right) == int(3.5 * SAMPLE_RATE)
    assert first_loud(right) == pytest.approx(1.5, abs=0.021)  # the callee's first word
    assert np.all(left[int(1.02 * SAMPLE_RATE) : int(1.58 * SAMPLE_RATE)] == 0)  # the gap
    assert np.abs(left[int(2.0 * SAMPLE_RATE) :]).max() > 5000  # the tone after the gap
    assert np.all(right[: int(1.49 * SAMPLE_RATE)] == 0)
    # conversation figures from the two channels
    assert row["caller_speech_seconds"] == pytest.approx(2.6, abs=0.3)
    assert row["callee_speech_seconds"] == pytest.approx(2.0, abs=0.3)
    assert row["overtalk_seconds"] == pytest.approx(1.5, abs=0.3)
    # the capture left the spool; the transcription work list has it
    assert not list((settings.recording_spool_dir / "pcaps").iterdir())
    assert (settings.recording_spool_dir / "transcribe" / f"{row['recording_id']}.json").exists()


def test_a_g722_call_is_decoded_on_its_timeline(settings: Settings) -> None:
    """Two HD-voice phones (G.722, 16 kHz, RTP clock 8,000 Hz): each side's tone comes
    out at its pitch and place, on the recording's 8 kHz timeline, a lost packet a gap."""
    caller = Side(tone(2.0, 440), lose_every=25)
    callee = Side(tone(1.5, 1000), start=0.5)
    write_capture(settings.recording_spool_dir, "hd-1@host", caller, callee, codec="G722")
    assert ingest(settings).recordings == 1
    [row] = rows(settings)
    assert row["codec"] == "G722"
    assert row["duration"] == pytest.approx(2.0, abs=0.03)
    assert row["lost_packets"] == 3  # of 4: the last packet lost cannot show
    left, right = read_channels(settings.data_dir / row["audio_path"])
    assert tone_hz(left) == 440 and tone_hz(right) == 1000
    assert first_loud(right) == pytest.approx(0.5, abs=0.021)
    # ADPCM decoded in order: the tone's level holds (a decoder out of step would not)
    steady = left[int(0.1 * SAMPLE_RATE) : int(0.45 * SAMPLE_RATE)].astype(float)
    assert np.sqrt(np.mean(steady**2)) == pytest.approx(0.3 * 32767 / np.sqrt(2), rel=0.1)


def test_figures_on_known_turns() -> None:
    rate = SAMPLE_RATE
    silence = np.zeros(rate, dtype=np.int16)
    caller = np.concatenate([tone(2.0, 300), silence, silence, silence, tone(1.0, 300)])
    callee = np.concatenate([silence, tone(2.0, 500), silence, silence, silence])[: len(caller)]
    figures = conversation_figures(caller, callee, rate)
    assert figures.caller_speech_seconds == pytest.approx(3.0, abs=0.25)
    assert figures.callee_speech_seconds == pytest.approx(2.0, abs=0.25)
    assert figures.overtalk_seconds == pytest.approx(1.0, abs=0.25)
    assert figures.longest_silence_seconds == pytest.approx(2.0, abs=0.25)


def test_bad_captures_are_quarantined_with_a_reason_and_the_others_go_on(
    settings: Settings,
) -> None:
    spool = settings.recording_spool_dir
    good = Side(tone(1.0, 440))
    write_capture(spool, "good", good, good)
    truncated = write_capture(spool, "truncated", good, good)
    pcap = spool / "pcaps" / truncated.name.removeprefix("rtpengine-meta-").replace(".txt", ".pcap")
    pcap.write_bytes(pcap.read_bytes()[:-50])
    corrupt = write_capture(spool, "corrupt", good, good)
    pcap = spool / "pcaps" / corrupt.name.removeprefix("rtpengine-meta-").replace(".txt", ".pcap")
    pcap.write_bytes(b"\x00" * 200)
    write_capture(spool, "stranger", good, good, tenant="initech.example")
    write_capture(spool, "anonymous", good, good, fields="caller:101")
    result = ingest(settings)
    assert (result.recordings, result.quarantined) == (1, 4)
    assert [r["call_id"] for r in rows(settings)] == ["good"]
    reasons = {
        p.name.split("-", 3)[2].split("-")[0]: p.read_text().strip()
        for p in (spool / "quarantine").glob("*.reason.txt")
    }
    assert "truncated" in reasons["truncated"]
    assert "bad magic" in reasons["corrupt"]
    assert "unknown tenant" in reasons["stranger"]
    assert "names no tenant" in reasons["anonymous"]
    assert len(list((spool / "quarantine").glob("*.pcap"))) == 4


def test_pcap_reader_refuses_garbage_and_reads_rtp() -> None:
    with pytest.raises(CaptureError, match="shorter"):
        read_pcap(b"abc")
    meta = parse_metadata(
        "rtpengine-meta-cid-1%40x-3fce8644c3bdc369.txt",
        "/x/pcaps/cid-1%40x-3fce8644c3bdc369.pcap\n\n\nTimestamp started ms: 1.5\n"
        "SDP mode: offer\nSDP before RTP packet: 1\n\nv=0\r\nm=audio 38526 RTP/AVP 0 8\r\n"
        "\nTimestamp started ms: 2.5\nSDP mode: answer\nSDP before RTP packet: 1\n\n"
        "m=audio 38538 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
        "\nTimestamp terminated ms(first monologue): 9.0\n\ncall start time: x\n"
        "call end time: y\n\n\ntenant:acme.example|caller:101\n",
    )
    assert (meta.call_id, meta.caller_port, meta.callee_port) == ("cid-1@x", 38538, 38526)
    assert meta.fields == {"tenant": "acme.example", "caller": "101"}
    assert (meta.started_ms, meta.terminated_ms, meta.encoding(8)) == (1.5, 9.0, "PCMA")


CHILD = kill_at_step_program(
    """
    from pipeline.recording_ingest import RecordingIngest
    from switchboard.settings import load_settings

    RecordingIngest(load_settings(), lambda: frozenset({"acme.example"})).run(
        on_step=hook if step != "none" else None
    )
    """
)


STEPS = ("convert", "wav", "row", "todo", "done")


def test_a_kill_at_any_step_leaves_exactly_one_recording_per_call(settings: Settings) -> None:
    """Each round adds two captures and kills the ingest at one step of the second."""
    spool = settings.recording_spool_dir
    env = settings_env(settings)
    for round_, step in enumerate(STEPS):
        for n in range(2):
            write_capture(spool, f"call-{round_}-{n}", Side(tone(0.5, 440)), Side(tone(0.5, 900)))
        child = subprocess.run([sys.executable, "-c", CHILD, step, "2"], env=env, cwd=REPO)
        assert child.returncode == -9, step
    again = subprocess.run([sys.executable, "-c", CHILD, "none", "0"], env=env, cwd=REPO)
    assert again.returncode == 0
    found = sorted(r["call_id"] for r in rows(settings))
    assert found == sorted(f"call-{r}-{n}" for r in range(len(STEPS)) for n in range(2))
    for r in rows(settings):
        assert (settings.data_dir / r["audio_path"]).is_file()
    assert not list((spool / "metadata").iterdir())
    assert not list((spool / "pcaps").iterdir())
    assert len(list((spool / "transcribe").iterdir())) == 2 * len(STEPS)


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SWITCHBOARD_CONFIG": str(settings.data_dir / "none.toml"),
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
    }


def test_hook_reaches_every_step(settings: Settings) -> None:
    write_capture(settings.recording_spool_dir, "c", Side(tone(0.5, 440)), Side(tone(0.5, 900)))
    seen: list[str] = []
    RecordingIngest(settings, lambda: TENANTS).run(on_step=seen.append)
    assert tuple(seen) == STEPS


def test_compaction_merges_recordings_and_a_merged_capture_is_never_ingested_twice(
    settings: Settings,
) -> None:
    spool = settings.recording_spool_dir
    for n in range(3):
        write_capture(spool, f"call-{n}", Side(tone(0.5, 440)), Side(tone(0.5, 900)))
    assert ingest(settings).recordings == 3
    policy = CompactionPolicy(grace_seconds=0.0, durable=False)
    report = compact_lake(settings.lake_dir, policy, now=time.time() + 1)
    assert report.rows >= 3
    [merged] = live_paths(settings.lake_dir, RECORDINGS.name)
    assert merged.name.startswith("c-") and pq.read_table(merged).num_rows == 3
    # the same capture again (a spool restored from a backup, say): already in the lake
    write_capture(spool, "call-1", Side(tone(0.5, 440)), Side(tone(0.5, 900)))
    assert ingest(settings).recordings == 0
    assert sorted(r["call_id"] for r in rows(settings)) == ["call-0", "call-1", "call-2"]


@pytest.mark.parametrize(
    ("said", "stored"),
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [card number] thanks"),
        ("it's 4111-1111-1111-1111.", "it's [card number]."),
        (
            "four one one one one one one one one one one one one one one one, expiry",
            "[card number], expiry",
        ),
        ("number 4111 one one one one 1111 1111 ok", "number [card number] ok"),
        # not Luhn-valid, or too short: order and phone numbers stay
        ("order 4111 1111 1111 1112", "order 4111 1111 1111 1112"),
        ("call me at 555 0100", "call me at 555 0100"),
    ],
)
def test_card_numbers_are_masked_digits_or_words(said: str, stored: str) -> None:
    assert mask_card_numbers(said) == stored


def test_a_capture_started_on_demand_names_its_ports_in_its_metadata(settings: Settings) -> None:
    """No SDP in the metadata (recording started mid-call): the ports come from its fields."""
    spool = settings.recording_spool_dir
    meta = write_capture(spool, "od", Side(tone(1.0, 440), start=0.5), Side(tone(1.0, 900)))
    text = meta.read_text()
    head, _, _ = text.partition("\nTimestamp started ms")
    # the callee happens to send first: without the fields it would be taken as the caller
    fields = f"tenant:acme.example|caller_port:{CALLER_PORT}|callee_port:{CALLEE_PORT}"
    meta.write_text(head + "\n\ncall start time: x\ncall end time: y\n\n\n" + fields + "\n")
    assert ingest(settings).recordings == 1
    [row] = rows(settings)
    left, right = read_channels(settings.data_dir / row["audio_path"])
    assert first_loud(left) == pytest.approx(0.5, abs=0.021)
    assert first_loud(right) == pytest.approx(0.0, abs=0.021)
    assert tone_hz(left) == 440 and tone_hz(right) == 900
