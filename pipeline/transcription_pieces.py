"""Long recordings cut at pauses into pieces that Whisper decodes whole, one by one.

Why: on audio longer than one 30 s window Whisper decodes window after window
and, when a window's decode ends early, its seek jumps the whole window — every
word after the early end is lost. On CI's CPU ``tiny.en`` returned 108 words of a
180-word, 2-minute message that way (whole sentences gone), and the same cut
happens wherever the int8 kernels round a little differently. Decoding pieces
of at most :data:`MAX_PIECE_SECONDS` of speech, each in its own window with the
voicemail prompt, leaves the decoder nowhere to jump to: a piece is one or two
sentences, and the next piece starts where the caller started speaking again.
The figures behind the piece length are in docs/voicemail.md.

The pieces come from Silero VAD (shipped inside faster-whisper's wheel): its
speech spans, split where the caller pauses, are merged in order while a piece
stays within :data:`MAX_PIECE_SECONDS`. A piece's audio is its spans back to
back (the pauses between them shortened to the VAD's padding, as faster-whisper's
own ``vad_filter`` does); :func:`original_seconds` maps a time in that audio
back to the recording. Grouping and time mapping are pure and tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.transcription_audio import SAMPLE_RATE

# Longest stretch of speech decoded in one window. Measured on 2-minute messages
# (docs/voicemail.md): pieces of 20-25 s still lost a sentence inside the window
# (the decoder wrote the first words, then went on with the next sentence); 12 s
# lost none, on every thread count, seed and compute type tried.
MAX_PIECE_SECONDS = 12.0
# Silero's padding around each span: the pause kept between two spans of one piece.
SPEECH_PAD_MS = 400

Span = tuple[int, int]  # [start, end) in samples of the recording


@dataclass(frozen=True)
class Piece:
    """Speech spans decoded together, in order; times in samples of the recording."""

    spans: tuple[Span, ...]

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    def audio(self, recording: np.ndarray) -> np.ndarray:
        """The piece as Whisper hears it: its spans back to back."""
        return np.concatenate([recording[a:b] for a, b in self.spans])

    def original_seconds(self, seconds: float) -> float:
        """A time in :meth:`audio` (seconds) as a time in the recording."""
        return original_seconds(self.spans, seconds)


def speech_spans(
    audio: np.ndarray, *, min_silence_ms: int, max_seconds: float = MAX_PIECE_SECONDS
) -> list[Span]:
    """Where ``audio`` (16 kHz) holds speech, per Silero VAD; no span longer than ``max_seconds``.

    A pause of ``min_silence_ms`` ends a span; a longer stretch of speech is cut at its
    last short pause before ``max_seconds`` (Silero's own rule).
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=min_silence_ms,
        max_speech_duration_s=max_seconds,
        speech_pad_ms=SPEECH_PAD_MS,
    )
    return [(int(s["start"]), int(s["end"])) for s in get_speech_timestamps(audio, options)]


def pieces_of(spans: Sequence[Span], max_seconds: float = MAX_PIECE_SECONDS) -> list[Piece]:
    """``spans`` merged in order into pieces whose speech lasts at most ``max_seconds``.

    A span longer than ``max_seconds`` on its own is a piece by itself (the VAD cuts
    speech at ``max_seconds``, so this only happens when asked for shorter pieces).
    """
    limit = max_seconds * SAMPLE_RATE
    pieces: list[list[Span]] = []
    used = 0
    for start, end in spans:
        if end <= start:
            continue
        length = end - start
        if pieces and used + length <= limit:
            pieces[-1].append((start, end))
            used += length
        else:
            pieces.append([(start, end)])
            used = length
    return [Piece(tuple(p)) for p in pieces]


def original_seconds(spans: Sequence[Span], seconds: float) -> float:
    """A time in ``spans`` played back to back, as a time in the recording they come from."""
    target = seconds * SAMPLE_RATE
    played = 0
    for start, end in spans:
        if target <= played + (end - start):
            return (start + max(target - played, 0)) / SAMPLE_RATE
        played += end - start
    return spans[-1][1] / SAMPLE_RATE if spans else seconds
