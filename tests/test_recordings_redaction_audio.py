"""A card number said in a call is toned out of that speaker's channel of the stored WAV.

The engine is a stand-in that "hears" the bursts of sound in each stretch it is handed
(so its times are the true ones): on the caller's side a phrase, then the number; on the
callee's side a short answer. The transcription pipeline, the span planning, the WAV
rewrite and the lake row are the real ones. Checked: the number's span is a 1 kHz tone
(Goertzel), everything else of both channels is unchanged sample for sample, the row says
which spans were toned, and a crash at any step leaves the WAV toned once after a rerun.
"""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.recording_audio import SAMPLE_RATE, StereoAudio, read_channels, write_wav
from pipeline.recording_audio_redaction import PAD_SECONDS, TONE_HZ, Word
from pipeline.recording_transcripts import (
    transcribe_channels,
    transcribe_pending_recordings,
    transcript_path,
)
from pipeline.transcribe import Transcript
from switchboard.settings import Settings
from tests.fixtures.recorded_calls import queue_transcription

TENANT = "acme.example"
DAY = date(2026, 12, 2)
REC = "rec-00c0ffee00c0ffee"
# (start, end) seconds of the bursts of sound in the WAV
PHRASE = (0.50, 1.50)  # caller: "my card number is"
NUMBER = (1.80, 3.80)  # caller: "4111 1111 1111 1111"
ANSWER = (5.00, 5.80)  # callee: "thank you"
DURATION = 7.0


def burst(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.normal(0, 3000, length).clip(-32000, 32000)


def stereo() -> np.ndarray:
    rng = np.random.default_rng(13)
    n = int(DURATION * SAMPLE_RATE)
    out = rng.normal(0, 20, (n, 2))  # line noise: a real channel is never digital zero
    for channel, (a, b) in ((0, PHRASE), (0, NUMBER), (1, ANSWER)):
        lo, hi = int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)
        out[lo:hi, channel] = burst(rng, hi - lo)
    return out.round().astype("<i2")


@dataclass(frozen=True)
class HeardSegment:
    start: float
    end: float
    text: str
    words: list[Word] | None


class EarTranscriber:
    """Finds the bursts in the chunk and says the script's words over them, evenly timed."""

    model_name = "ear"

    def __init__(self, with_words: bool) -> None:
        self.with_words = with_words

    def transcribe(self, wav_path: Path) -> Transcript:
        with wave.open(str(wav_path), "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
        loud = np.flatnonzero(np.abs(x) > 1000)
        cuts = np.flatnonzero(np.diff(loud) > SAMPLE_RATE // 10)
        starts = [loud[0], *loud[cuts + 1]]
        ends = [*loud[cuts], loud[-1]]
        bursts = [
            (a / SAMPLE_RATE, (b + 1) / SAMPLE_RATE) for a, b in zip(starts, ends, strict=True)
        ]
        script = (
            [["my", "card", "number", "is"], ["4111", "1111", "1111", "1111"]]
            if len(bursts) == 2
            else [["thank", "you"]]
        )
        words: list[Word] = []
        for (a, b), said in zip(bursts, script, strict=True):
            step = (b - a) / len(said)
            words += [Word(a + i * step, a + (i + 1) * step, " " + w) for i, w in enumerate(said)]
        text = "".join(w.text for w in words).strip()
        seg = HeardSegment(bursts[0][0], bursts[-1][1], text, words if self.with_words else None)
        return Transcript(text=text, segments=[seg], language="en")  # type: ignore[list-item]


def prepare(settings: Settings) -> Path:
    return queue_transcription(settings, REC, TENANT, DAY, stereo().tobytes())


def segments(settings: Settings) -> list[dict]:
    path = transcript_path(settings.lake_dir, TENANT, DAY, REC, "ear")
    return json.loads(pq.read_table(path).to_pylist()[0]["segments_json"])


def tone_share(x: np.ndarray) -> float:
    """Goertzel: the share of the block's energy at TONE_HZ (1.0: a pure tone)."""
    n = len(x)
    k = round(n * TONE_HZ / SAMPLE_RATE)
    coeff = 2 * np.cos(2 * np.pi * k / n)
    s1 = s2 = 0.0
    for sample in x.astype(float):
        s1, s2 = sample + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return float(power / (n * np.sum(x.astype(float) ** 2) / 2))


def toned_mask(spans: list[list[float]]) -> np.ndarray:
    mask = np.zeros(int(DURATION * SAMPLE_RATE), dtype=bool)
    for a, b in spans:
        mask[int(np.floor(a * SAMPLE_RATE)) : int(np.ceil(b * SAMPLE_RATE))] = True
    return mask


@pytest.mark.parametrize("with_words", [True, False], ids=["word-times", "segment-only"])
def test_the_spoken_number_becomes_a_tone_in_its_channel_only(
    settings: Settings, with_words: bool
) -> None:
    settings = replace(settings, recording_redact_audio=True)
    wav = prepare(settings)
    before = read_channels(wav)
    assert transcribe_pending_recordings(settings, EarTranscriber(with_words)) == 1
    after = read_channels(wav)

    caller_line, callee_line = segments(settings)
    assert caller_line["text"] == "my card number is [card number]"
    assert "redacted_audio" not in callee_line
    spans = caller_line["redacted_audio"]
    if with_words:  # the number's words only, padded
        padded = [NUMBER[0] - PAD_SECONDS, NUMBER[1] + PAD_SECONDS]
        assert spans == [pytest.approx(padded, abs=0.02)]
    else:  # the whole line
        assert spans[0][0] <= PHRASE[0] and spans[0][1] >= NUMBER[1]
    toned = toned_mask(spans)
    number = slice(int(NUMBER[0] * SAMPLE_RATE), int(NUMBER[1] * SAMPLE_RATE))
    assert toned[number].all()
    assert tone_share(after[0][number]) > 0.99
    assert tone_share(before[0][number]) < 0.05
    np.testing.assert_array_equal(after[0][~toned], before[0][~toned])
    np.testing.assert_array_equal(after[1], before[1])  # the other channel: untouched
    assert not list(wav.parent.glob("*.tmp"))


def test_off_by_default_the_wav_is_untouched(settings: Settings) -> None:
    wav = prepare(settings)
    original = wav.read_bytes()
    assert transcribe_pending_recordings(settings, EarTranscriber(True)) == 1
    assert wav.read_bytes() == original
    assert all("redacted_audio" not in s for s in segments(settings))


class Crash(Exception):
    pass


@pytest.mark.parametrize("at", ["plan", "transcript", "audio"])
def test_a_crash_at_any_step_tones_exactly_once_after_the_rerun(
    settings: Settings, at: str
) -> None:
    settings = replace(settings, recording_redact_audio=True)
    wav = prepare(settings)
    original = wav.read_bytes()

    def crash(step: str) -> None:
        if step == at:
            raise Crash(step)

    with pytest.raises(Crash):
        transcribe_pending_recordings(settings, EarTranscriber(True), on_step=crash)
    assert wav.read_bytes() == original or at == "audio"
    transcribe_pending_recordings(settings, EarTranscriber(True))
    assert not list((settings.recording_spool_dir / "transcribe").iterdir())
    spans = segments(settings)[0]["redacted_audio"]
    toned = wav.read_bytes()
    assert toned != original

    # the same result as one clean run: toned once, the row says where
    clean = replace(settings, data_dir=settings.data_dir.parent / "clean")
    clean_wav = prepare(clean)
    transcribe_pending_recordings(clean, EarTranscriber(True))
    assert clean_wav.read_bytes() == toned
    assert segments(clean)[0]["redacted_audio"] == spans


def test_a_number_read_with_pauses_is_found_across_the_speakers_lines() -> None:
    """A pause of JOIN_GAP_SECONDS splits a number read group by group into lines: the
    speaker's lines in a row are read as one, the other speaker's never, a late one not."""
    from pipeline.recording_transcripts import (
        Line,
        card_spans_by_line,
        mask_lines,
        plan_audio_redaction,
    )

    lines = [
        Line(0.5, 2.0, "caller", "My card number is 4111 1111,"),
        Line(2.2, 2.6, "callee", "Mm-hm, 2 2."),
        Line(2.8, 3.8, "caller", "1111 1111."),
        Line(4.0, 4.5, "callee", "Thank you."),
        Line(9.0, 10.0, "caller", "And 4111 1111 again."),  # > CHAIN_GAP_SECONDS later
    ]
    masked = [x.text for x in mask_lines(lines, card_spans_by_line(lines))]
    assert masked == [
        "My card number is [card number],",
        "Mm-hm, 2 2.",
        "[card number].",
        "Thank you.",
        "And 4111 1111 again.",
    ]
    planned = plan_audio_redaction(lines, card_spans_by_line(lines))  # no word times: whole
    assert [x.redacted for x in planned] == [
        ((0.4, 2.1),),
        (),
        ((2.7, 3.9),),
        (),
        (),
    ]
    # Each line alone holds 8 digits: neither check finds a card in it.
    alone = lines[2:3]
    assert [x.text for x in mask_lines(alone, card_spans_by_line(alone))] == ["1111 1111."]


class ContextEar:
    """A stand-in engine that takes context: each stretch it hears becomes "line N"; the
    stretches whose level is in ``hot`` are decoded hot (nothing carried)."""

    model_name = "ear"
    takes_context = True

    def __init__(self, hot: tuple[int, ...] = ()) -> None:
        self.heard: list[tuple[float, str]] = []  # (loudest sample's value, context)
        self.hot = hot

    def transcribe(
        self, wav_path: Path, names: tuple[str, ...] = (), context: str = ""
    ) -> Transcript:
        with wave.open(str(wav_path), "rb") as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        level = int(np.abs(x).max())
        self.heard.append((level, context))
        text = f"line {len(self.heard)}."
        carried = "" if level in self.hot else text
        return Transcript(text=text, segments=[], language="en", carried=carried)


def test_each_stretch_is_decoded_after_the_same_speakers_previous_one(tmp_path: Path) -> None:
    """A card number read group by group is several stretches; each is handed the words
    its speaker said just before (never the other side's), so it is decoded as part of
    what went before rather than as a few isolated sounds."""
    n = int(DURATION * SAMPLE_RATE)
    audio = np.zeros((n, 2), dtype="<i2")
    # caller: three stretches 1.5 s apart; callee: one between them. Each burst's level
    # names it (the stand-in reports the loudest sample).
    for channel, (a, b), level in (
        (0, (0.5, 1.5), 1001),
        (1, (1.8, 2.4), 2002),
        (0, (3.0, 4.0), 3003),
        (0, (5.5, 6.3), 4004),
    ):
        audio[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE), channel] = level
    wav = tmp_path / "call.wav"
    write_wav(wav, StereoAudio(audio[:, 0], audio[:, 1], 0.0, "PCMU", 0, 0, 0, 0))
    engine = ContextEar()
    lines, _, _ = transcribe_channels(wav, engine)
    assert engine.heard == [(1001, ""), (3003, "line 1."), (4004, "line 2."), (2002, "")]
    # A stretch decoded hot is not carried into the next one (the reset within one audio).
    hot = ContextEar(hot=(3003,))
    transcribe_channels(wav, hot)
    assert hot.heard == [(1001, ""), (3003, "line 1."), (4004, ""), (2002, "")]
    assert [(line.speaker, line.text) for line in lines] == [
        ("caller", "line 1."),
        ("callee", "line 4."),
        ("caller", "line 2."),
        ("caller", "line 3."),
    ]


def test_a_number_read_after_the_other_side_asked_for_the_card_is_masked() -> None:
    """The agent asks for the card; the caller reads it without saying "card", and the
    model mishears a digit (Luhn fails): it is masked all the same. Not when the question
    was long before, nor when the caller reads a number nobody asked about."""
    from pipeline.recording_transcripts import Line, card_spans_by_line, mask_lines

    def masked(lines: list[Line]) -> list[str]:
        return [x.text for x in mask_lines(lines, card_spans_by_line(lines))]

    heard = "4111 1111 1111 1112."  # one digit misheard: not Luhn-valid
    asked = [
        Line(0.0, 1.0, "caller", "Hi, I'd like to pay my bill."),
        Line(1.2, 2.8, "callee", "Sure, can I have the long number on your card?"),
        Line(3.5, 4.5, "caller", "Yes, it's 4111,"),
        Line(5.5, 6.5, "caller", "1111 1111 1112."),
        Line(7.0, 7.5, "callee", "Thank you."),
    ]
    assert masked(asked) == [
        "Hi, I'd like to pay my bill.",
        "Sure, can I have the long number on your card?",
        "Yes, it's [card number],",
        "[card number].",
        "Thank you.",
    ]
    not_asked = [replace(asked[1], text="Sure, can I have your account?"), *asked[2:]]
    assert masked([asked[0], *not_asked])[2:4] == ["Yes, it's 4111,", "1111 1111 1112."]
    long_before = [asked[1], replace(asked[2], start=9.0, end=10.0, text=f"Yes, {heard}")]
    assert masked(long_before)[1] == f"Yes, {heard}"
    # The caller already read it before the question: only what follows the question counts.
    reread = [Line(0.0, 2.0, "caller", f"It's {heard}"), *asked[1:3]]
    assert masked(reread) == [f"It's {heard}", asked[1].text, "Yes, it's 4111,"]
