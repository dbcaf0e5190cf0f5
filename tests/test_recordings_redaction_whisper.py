"""A card number said in a call, through the real model: masked in the row, toned in the WAV.

The recording is built as a call leaves it: espeak-ng speech through G.711 µ-law,
8 kHz stereo. The caller says "My card number is …" and a Luhn-valid test number
digit by digit, then thanks; the callee speaks over the number ("Okay, I am writing
it down."). The default bundled model transcribes each channel (the worker's engine from
``load_transcriber``: word times because audio redaction is on), the real masking,
span planning and WAV rewrite follow. Checked as a listener would: the stored line
says ``[card number]`` and none of the digits, the number's speech is gone under the
tone, the words before and after it and the whole callee channel are still there.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmarks.transcription import Utterance, read_pcm, speak_through_phone
from pipeline.recording_audio import SAMPLE_RATE, read_channels
from pipeline.recording_redaction import MASK
from pipeline.recording_transcripts import transcribe_pending_recordings, transcript_path
from pipeline.transcribe import load_transcriber
from switchboard.settings import Settings
from tests.fixtures.recorded_calls import queue_transcription

pytestmark = pytest.mark.whisper

TENANT = "acme.example"
DAY = date(2026, 12, 2)
REC = "rec-0000ca4d0000ca4d"
VOICE, SPEED = "en-us+f3", 150
# The caller's three phrases, 0.3 s apart (one stretch of speech: one transcript line).
CALLER = ("My card number is", "5 9 6 0, 3 0 8 2, 4 6 2 8, 1 9 4 7", "Thank you very much.")
CALLEE = "Okay, I am writing it down."
GAP = 0.3
LEAD = 1.0


def speech(text: str, folder: Path, voice: str = VOICE) -> np.ndarray:
    """``text`` through the phone path, its leading and trailing silence cut."""
    x = read_pcm(speak_through_phone(Utterance(text, voice, SPEED), folder / "say.wav"))
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > 300)
    return x[loud[0] : loud[-1] + 1]


def record(
    settings: Settings, folder: Path, said: tuple[str, ...] = CALLER, pause: float = GAP
) -> tuple[Path, list[slice]]:
    """The stereo WAV and its spool marker; the caller's phrases' sample ranges."""
    phrases = [speech(t, folder) for t in said]
    gap = np.zeros(int(pause * SAMPLE_RATE), dtype="<i2")
    left = [np.zeros(int(LEAD * SAMPLE_RATE), dtype="<i2")]
    ranges: list[slice] = []
    at = len(left[0])
    for phrase in phrases:
        ranges.append(slice(at, at + len(phrase)))
        left += [phrase, gap]
        at += len(phrase) + len(gap)
    left.append(np.zeros(SAMPLE_RATE, dtype="<i2"))
    caller = np.concatenate(left)
    answer = speech(CALLEE, folder, "en-gb")
    callee = np.zeros_like(caller)
    start = ranges[1].start + SAMPLE_RATE  # over the number
    callee[start : start + len(answer)] = answer
    frames = np.stack([caller, callee], axis=1).astype("<i2").tobytes()
    wav = queue_transcription(settings, REC, TENANT, DAY, frames)
    return wav, ranges


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation at lag 0 (1.0: the same sound)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Both redactions on."""
    return replace(settings, recording_redaction=True, recording_redact_audio=True)


def transcribed(settings: Settings) -> list[dict]:
    """The recorded call through the default model and the worker's step: its lines."""
    import ctranslate2

    ctranslate2.set_random_seed(42)
    engine = load_transcriber(settings)
    assert engine is not None
    assert transcribe_pending_recordings(settings, engine) == 1
    path = transcript_path(settings.lake_dir, TENANT, DAY, REC, engine.model_name)
    return json.loads(pq.read_table(path).to_pylist()[0]["segments_json"])


def test_a_spoken_card_number_is_masked_and_toned_out_of_its_speakers_channel_only(
    settings: Settings, tmp_path: Path
) -> None:
    wav, (before_number, number, after_number) = record(settings, tmp_path)
    caller_before, callee_before = read_channels(wav)
    lines = transcribed(settings)
    caller = " ".join(x["text"] for x in lines if x["speaker"] == "caller")
    callee = " ".join(x["text"] for x in lines if x["speaker"] == "callee")
    assert MASK in caller and "card number is" in caller.lower(), caller
    assert not any(d in caller for d in "0123456789"), caller
    assert "writing" in callee.lower() and MASK not in callee, callee
    spans = [s for x in lines if x["speaker"] == "caller" for s in x.get("redacted_audio", [])]
    assert spans and all(x.get("redacted_audio") is None for x in lines if x["speaker"] == "callee")

    caller_after, callee_after = read_channels(wav)
    toned = caller_after != caller_before
    # The number: under the tone from its first sound to its last, nothing of it left.
    assert toned[number].mean() > 0.97, toned[number].mean()
    assert abs(similarity(caller_after[number], caller_before[number])) < 0.1
    # The words either side: still there (the tone's margin may touch their edges only).
    for words in (before_number, after_number):
        assert toned[words].mean() < 0.15, toned[words].mean()
        assert similarity(caller_after[words], caller_before[words]) > 0.9
    # The callee spoke over the number: their channel is untouched, sample for sample.
    np.testing.assert_array_equal(callee_after, callee_before)


def test_a_card_number_read_group_by_group_with_pauses_is_masked_across_lines(
    settings: Settings, tmp_path: Path
) -> None:
    """1 s between the groups: each is a line of its own (a 0.6 s pause ends a stretch),
    and no line alone holds a card number; read as one, every group is masked and toned."""
    said = ("My card number is", *CALLER[1].split(", "), "Thank you very much.")
    wav, ranges = record(settings, tmp_path, said, pause=1.0)
    before, _ = read_channels(wav)
    lines = transcribed(settings)
    caller = [x["text"] for x in lines if x["speaker"] == "caller"]
    assert len(caller) >= 4, caller  # the groups came out as lines of their own
    assert MASK in " ".join(caller) and not any(d in " ".join(caller) for d in "0123456789")
    after, _ = read_channels(wav)
    toned = after != before
    for group in ranges[1:-1]:  # every group's sound is under the tone
        assert toned[group].mean() > 0.97, (toned[group].mean(), caller)
    for words in (ranges[0], ranges[-1]):  # "My card number is", "Thank you …": still heard
        assert toned[words].mean() < 0.15, (toned[words].mean(), caller)
