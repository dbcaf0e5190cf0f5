"""8 kHz <-> 16 kHz for G.722 legs: the band kept, images and aliases removed."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.resample import convert, down2, up2


def _sine(freq: float, rate: int, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (10000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def _level(pcm: bytes, rate: int, freq: float) -> float:
    """The amplitude of ``freq`` in ``pcm`` (its middle: the ends are the filter's)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(float)[rate // 10 : -rate // 10]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) / (len(x) / 4)
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[np.argmin(np.abs(freqs - freq))])


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_up_keeps_the_tone_and_drops_its_image(freq: float) -> None:
    wide = up2(_sine(freq, 8000))
    assert len(wide) == 2 * 16000
    assert _level(wide, 16000, freq) == pytest.approx(10000, rel=0.02)
    assert _level(wide, 16000, 8000 - freq) < 10000 * 10 ** (-40 / 20)  # the mirror


def test_down_keeps_the_narrow_band_and_rejects_the_wide() -> None:
    assert _level(down2(_sine(1000, 16000)), 8000, 1000) == pytest.approx(10000, rel=0.02)
    # 6 kHz cannot exist at 8 kHz: without the filter it would fold to 2 kHz
    assert _level(down2(_sine(6000, 16000)), 8000, 2000) < 10
    assert convert(b"\x01\x00" * 8, 8000, 8000) == b"\x01\x00" * 8
    with pytest.raises(ValueError, match="44100"):
        convert(b"", 44100, 8000)


@pytest.mark.parametrize("samples", [1, 5, 20, 62, 63, 64, 160])
def test_a_short_input_keeps_its_length(samples: int) -> None:
    """np.convolve(mode="same") gives the filter's 63 for a shorter input."""
    pcm = np.arange(samples, dtype="<i2").tobytes()
    assert len(down2(pcm)) == 2 * ((samples + 1) // 2)
    assert len(up2(pcm)) == 4 * samples
