"""The audio Whisper is given: a spool WAV (8 kHz G.711 speech, or an HD-voice deposit's
16 kHz G.722) as 16 kHz float samples.

Whisper only takes 16 kHz; the resampling is PyAV's (libswresample, the same
faster-whisper uses for a file), done here so the level can be set first (a 16 kHz
message passes as it is).
Phone messages arrive at any level (a quiet handset, an automatic gain that
pumps): the speech is scaled to one RMS level, measured over its loud frames
only so long pauses do not inflate the gain, and capped so it never clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
# Target RMS of the speech frames, -20 dBFS (Whisper's training audio sits around there).
TARGET_RMS = 0.1
MAX_GAIN = 30.0  # +30 dB at most: hiss on a silent line is not lifted into "speech"
_FRAME = 320  # 20 ms at 16 kHz


def load_audio(path: Path) -> np.ndarray:
    """``path`` as mono float32 at 16 kHz in [-1, 1]."""
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE), dtype=np.float32)


def speech_rms(samples: np.ndarray) -> float:
    """RMS of the loudest half of the 20 ms frames (the speech, not the pauses)."""
    usable = len(samples) // _FRAME * _FRAME
    if usable == 0:
        return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    frames = samples[:usable].reshape(-1, _FRAME)
    energy = np.sort(np.mean(frames**2, axis=1))
    loud = energy[len(energy) // 2 :]
    return float(np.sqrt(np.mean(loud)))


def normalise_level(samples: np.ndarray) -> np.ndarray:
    """``samples`` scaled so their speech sits at :data:`TARGET_RMS`, never clipping."""
    rms = speech_rms(samples)
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if rms <= 1e-6 or peak <= 0.0:
        return samples
    gain = min(TARGET_RMS / rms, MAX_GAIN, 0.99 / peak)
    return (samples * gain).astype(np.float32)
