"""8 kHz <-> 16 kHz, for the legs that speak G.722.

The media's own audio is 8 kHz (prompts, greetings, hold music, G.711 calls); a
mailbox deposit from an HD-voice phone is 16 kHz (G.722), so what it hears is
doubled in rate and what it says is kept at 16 kHz (the transcript's accuracy
comes from the band above 4 kHz: docs/voicemail.md). A 2x change of rate is a
half-band low-pass filter: zeros stuffed between the samples then filtered
(up), or filtered then every other sample kept (down). The filter is a
Hann-windowed sinc cut at 4 kHz: images above it fall ~45 dB or more, far
below what a phone's own codec adds. No audio in is no audio out (np.convolve refuses
an empty input, and a stream of lost frames is one).
"""

from __future__ import annotations

import numpy as np

NARROW = 8000
WIDE = 16000
_TAPS = 63


def frame_bytes(rate: int) -> int:
    """Bytes of 20 ms of 16-bit mono PCM at ``rate``: one RTP packet's audio."""
    return rate // 50 * 2


def _half_band() -> np.ndarray:
    n = np.arange(_TAPS) - (_TAPS - 1) / 2
    taps = 0.5 * np.sinc(n / 2) * np.hanning(_TAPS)
    return taps / taps.sum()


_FILTER = _half_band()


def _filtered(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``x`` through ``taps``, centred, as many samples as in ``x`` (``mode="same"`` gives
    ``len(taps)`` for a shorter input: a G.722 packet of 20 samples came out 63 long)."""
    delay = (len(taps) - 1) // 2
    return np.convolve(x, taps)[delay : delay + len(x)]


def _pcm(samples: np.ndarray) -> bytes:
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def up2(pcm: bytes) -> bytes:
    """8 kHz 16-bit mono PCM as 16 kHz (twice the samples)."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    if not x.size:
        return b""
    stuffed = np.zeros(2 * x.size)
    stuffed[::2] = x
    return _pcm(_filtered(stuffed, 2 * _FILTER))


def down2(pcm: bytes) -> bytes:
    """16 kHz 16-bit mono PCM as 8 kHz (half the samples)."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    if not x.size:
        return b""
    return _pcm(_filtered(x, _FILTER)[::2])


def convert(pcm: bytes, rate: int, to: int) -> bytes:
    """``pcm`` at ``rate`` as ``to`` (8,000 or 16,000 Hz)."""
    if rate == to:
        return pcm
    if (rate, to) == (NARROW, WIDE):
        return up2(pcm)
    if (rate, to) == (WIDE, NARROW):
        return down2(pcm)
    raise ValueError(f"no conversion from {rate} Hz to {to} Hz")
