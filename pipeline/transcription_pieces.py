"""Long recordings cut at the caller's pauses into pieces that Whisper decodes one by one.

Why: on audio longer than one 30 s window Whisper decodes window after window
and, when a window's decode ends early, its seek jumps the whole window — every
word after the early end is lost. On CI's CPU ``tiny.en`` returned 108 words of a
180-word, 2-minute message that way (whole sentences gone), and the same cut
happens wherever the int8 kernels round a little differently. Pieces of several
sentences are not enough: decoded without timestamps, a piece of two sentences
0.8 s apart still came out as one of them (pieces of 12, 20 and 25 s all lost
sentences so). So each stretch of speech between two pauses is a piece of its
own, decoded in its own window with the voicemail prompt: the decoder has one
utterance to write, and the next piece starts where the caller spoke again.
Figures: docs/voicemail.md ("Long messages").

The pieces are Silero VAD's speech spans (the model ships inside faster-whisper's
wheel): a pause of ``min_silence_ms`` ends one, and speech running past
``max_seconds`` is cut at its last short pause (Silero's own rule), so no piece
outgrows a window.
"""

from __future__ import annotations

import numpy as np

# Longest piece: a stretch of speech without a pause is cut here (well inside a 30 s
# window, and short enough that one piece holds a sentence or two).
MAX_PIECE_SECONDS = 12.0
# Silero's padding around each span: the speech onset and tail it would otherwise clip.
SPEECH_PAD_MS = 400

Span = tuple[int, int]  # [start, end) in samples of the 16 kHz recording


def speech_spans(audio: np.ndarray, *, min_silence_ms: int, max_seconds: float) -> list[Span]:
    """Where ``audio`` (16 kHz) holds speech, in order; no span longer than ``max_seconds``."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(
        min_silence_duration_ms=min_silence_ms,
        max_speech_duration_s=max_seconds,
        speech_pad_ms=SPEECH_PAD_MS,
    )
    spans = get_speech_timestamps(audio, options)
    return [(int(s["start"]), int(s["end"])) for s in spans if s["end"] > s["start"]]
