"""Hold music a tenant uploads in any format ffmpeg reads plays at 8 kHz from its first use."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from media.hold_music import hold_pcm


def _stereo_tone_16k(path: Path, hz: float = 440.0, seconds: float = 1.0) -> None:
    t = np.arange(int(16000 * seconds)) / 16000
    mono = (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.repeat(mono, 2).tobytes())


def test_a_track_ffmpeg_must_convert_plays_on_its_first_use_and_is_converted_once(
    tmp_path: Path,
) -> None:
    track = tmp_path / "jazz.wav"
    _stereo_tone_16k(track)
    data_dir = tmp_path / "data"

    first = hold_pcm(track, data_dir)  # was FileNotFoundError: the cache did not exist yet
    samples = np.frombuffer(first, "<i2").astype(float)
    assert abs(len(samples) - 8000) <= 80  # one second at 8 kHz, mono
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 8000 / len(samples) - 440) < 5  # the caller hears the tone

    cached = list((data_dir / "media" / "hold-cache").glob("*.wav"))
    assert len(cached) == 1
    made = cached[0].stat().st_mtime_ns
    assert hold_pcm(track, data_dir) == first
    assert cached[0].stat().st_mtime_ns == made  # read from the cache, not converted again
