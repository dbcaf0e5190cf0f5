"""Conversation figures of a call from its two channels (pure): talk, silence, overtalk.

A 20 ms frame of a channel is speech when its level is above the louder of
``SPEECH_FLOOR_DBFS`` and the channel's own noise floor (its 10th-percentile frame)
plus ``ABOVE_NOISE_DB`` (at most ``NOISE_CAP_DBFS``); a speech run is held
``HANGOVER_FRAMES`` frames past its last loud frame so the short gaps between words
count as talking, as a listener would hear them. Then, over the frames of the call:

- ``caller_speech_seconds`` / ``callee_speech_seconds``: each side's talk time (the
  talk ratio is one over the sum of both);
- ``longest_silence_seconds``: the longest run where neither side speaks, between
  the first and the last speech of the call (the ring-in and hang-up are not pauses);
- ``overtalk_seconds``: both sides at once.

Energy is enough here: G.711 phone audio has little background noise once it is
past the codec, and the thresholds have margin (espeak-ng speech sits ~30 dB above
them; tests/test_recordings_pipeline.py checks the figures on known audio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 0.02
SPEECH_FLOOR_DBFS = -45.0
ABOVE_NOISE_DB = 12.0
HANGOVER_FRAMES = 10  # 200 ms
NOISE_CAP_DBFS = -35.0


@dataclass(frozen=True)
class ConversationFigures:
    caller_speech_seconds: float
    callee_speech_seconds: float
    longest_silence_seconds: float
    overtalk_seconds: float


LEVEL_BLOCK = 6_000  # frames at a time (2 min, ~8 MB a copy): a 12-hour call in float64 is 2.8 GB


def frame_levels(samples: np.ndarray, rate: int) -> np.ndarray:
    """dBFS of each whole 20 ms frame (a last partial frame is dropped)."""
    size = int(rate * FRAME_SECONDS)
    count = len(samples) // size
    levels = np.zeros(count)
    for first in range(0, count, LEVEL_BLOCK):
        last = min(count, first + LEVEL_BLOCK)
        block = samples[first * size : last * size].astype(np.float64).reshape(-1, size)
        rms = np.sqrt(np.mean(np.square(block / 32768.0), axis=1))
        levels[first:last] = 20.0 * np.log10(np.maximum(rms, 1e-10))
    return levels


def speech_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """A bool per 20 ms frame: is this channel speaking (see the module docstring)."""
    levels = frame_levels(samples, rate)
    if levels.size == 0:
        return np.zeros(0, dtype=bool)
    # Capped: a channel that talks nearly all the time has no quiet tenth to measure.
    noise = min(float(np.percentile(levels, 10)) + ABOVE_NOISE_DB, NOISE_CAP_DBFS)
    threshold = max(SPEECH_FLOOR_DBFS, noise)
    loud = levels > threshold
    held = loud.copy()
    for shift in range(1, HANGOVER_FRAMES + 1):
        held[shift:] |= loud[:-shift]
    return held


def _longest_run(flags: np.ndarray) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def conversation_figures(caller: np.ndarray, callee: np.ndarray, rate: int) -> ConversationFigures:
    """The figures of one call from its two equal-length channels."""
    a = speech_frames(caller, rate)
    b = speech_frames(callee, rate)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    anyone = a | b
    spoken = np.flatnonzero(anyone)
    if spoken.size:
        quiet = ~anyone[spoken[0] : spoken[-1] + 1]
        longest = _longest_run(quiet)
    else:
        longest = 0
    return ConversationFigures(
        caller_speech_seconds=round(float(a.sum()) * FRAME_SECONDS, 2),
        callee_speech_seconds=round(float(b.sum()) * FRAME_SECONDS, 2),
        longest_silence_seconds=round(longest * FRAME_SECONDS, 2),
        overtalk_seconds=round(float((a & b).sum()) * FRAME_SECONDS, 2),
    )
