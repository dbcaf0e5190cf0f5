"""Card numbers said in a call, replaced by a 1 kHz tone in the stored WAV (setting).

With ``recording_redact_audio`` on, the per-speaker transcription
(:mod:`pipeline.recording_transcripts`) hands its lines here before masking them:
each line whose text holds a card number, or part of one read across a speaker's lines
(:func:`pipeline.recording_redaction.chained_card_spans`), gives a span of *its own
channel* only — the words of the number when the engine gave word timestamps (the
transcription asks for them when this setting is on, snapped onto the speech by
:mod:`pipeline.transcription_words`), else the whole line — padded by
``PAD_SECONDS`` each side, because a word's edge is only good to a frame or two and a
missed digit is worse than a clipped word. The other channel is never touched.

Why the tone is written *after* the transcript row, and why that is exactly once:

- the plan (the spans) is saved in the transcription marker before the row is written,
  so a crash after the row but before the WAV still knows what to tone; re-transcribing
  an already-toned WAV would find no number and lose the redaction;
- the WAV is rewritten aside and renamed over the old one (:func:`pipeline.files.write_atomic`):
  a crash leaves the old WAV or the new one, never half of each;
- the tone is a function of the absolute sample index, so toning a span twice writes the
  same samples: a rerun that tones again changes nothing.

The row records what was done: each redacted line of ``segments_json`` carries
``redacted_audio`` = ``[[start, end], …]`` (seconds of the WAV), so the page can say so.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.files import TEMP_SUFFIX, write_atomic
from pipeline.recording_audio import SAMPLE_RATE
from pipeline.recording_redaction import card_spans
from pipeline.recordings_schema import SPEAKERS
from pipeline.transcription_decoding import Word  # the engine's word times, in the WAV's clock

log = logging.getLogger(__name__)

TONE_HZ = 1000
TONE_AMPLITUDE = 8192  # -12 dBFS: clearly a tone, not loud enough to hurt on playback
PAD_SECONDS = 0.1


@dataclass(frozen=True)
class Span:
    """Seconds ``start``..``end`` of one speaker's channel to replace with the tone."""

    speaker: str
    start: float
    end: float

    def to_json(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Span:
        return cls(str(data["speaker"]), float(data["start"]), float(data["end"]))


def _word_range(words: Sequence[Word]) -> list[tuple[float, float]]:
    """Time ranges of the card numbers found in the words' text (empty: none found)."""
    text = ""
    bounds: list[tuple[int, int]] = []
    for word in words:
        piece = word.text if word.text[:1].isspace() or not text else " " + word.text
        bounds.append((len(text), len(text) + len(piece)))
        text += piece
    ranges: list[tuple[float, float]] = []
    for lo, hi in card_spans(text):
        hit = [w for w, (a, b) in zip(words, bounds, strict=True) if a < hi and b > lo]
        if hit:
            ranges.append((hit[0].start, max(w.end for w in hit)))
    return ranges


def line_ranges(
    holds_number: bool, start: float, end: float, words: Sequence[Word]
) -> list[tuple[float, float]]:
    """The padded time ranges of one line's card numbers (empty: ``holds_number`` is
    False). A line holding part of a number read across lines (its words alone hold no
    whole number) is toned whole: the words next to the part are as likely misheard
    digits of it ("Hi, I'm 6-0." for "5 9 6 0") as anything else."""
    if not holds_number:
        return []
    ranges = _word_range(words) if words else []
    if not ranges:  # no word times, or they do not spell the number: the whole line
        ranges = [(start, end)]
    return [(round(max(0.0, a - PAD_SECONDS), 2), round(b + PAD_SECONDS, 2)) for a, b in ranges]


def tone(first: int, end: int) -> np.ndarray:
    """The tone's samples ``first``..``end`` of the file: the same wherever it is written."""
    n = np.arange(first, end, dtype=np.float64)
    return np.round(TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * n / SAMPLE_RATE)).astype("<i2")


def apply_tone(wav_path: Path, spans: Sequence[Span]) -> bool:
    """Replace each span of its speaker's channel with the tone; False: the WAV is gone.

    A WAV deleted meanwhile (a manager's delete, retention) is not written back.
    """
    if not wav_path.exists():
        log.warning("redacting %s: the WAV is gone (deleted); nothing toned", wav_path.name)
        return False
    with wave.open(str(wav_path), "rb") as w:
        params = w.getparams()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()
    if params.nchannels != len(SPEAKERS) or params.sampwidth != 2:
        raise ValueError(f"{wav_path.name}: not a 16-bit stereo recording")
    stereo = frames.reshape(-1, params.nchannels)
    rate = params.framerate
    for span in spans:
        channel = SPEAKERS.index(span.speaker)
        first = max(0, int(np.floor(span.start * rate)))
        end = min(len(stereo), int(np.ceil(span.end * rate)))
        if end > first:
            stereo[first:end, channel] = tone(first, end)

    def write(tmp: Path) -> None:
        with wave.open(str(tmp), "wb") as out:
            out.setparams(params)
            out.writeframes(stereo.tobytes())

    for stale in wav_path.parent.glob(f"{wav_path.name}.*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)  # a killed attempt's half-written WAV
    write_atomic(wav_path, write)
    return True
