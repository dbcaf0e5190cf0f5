"""The audio library: uploads converted once to 8 kHz mono WAV, loudness-normalised; text spoken.

Real ffmpeg/ffprobe/espeak-ng: a quiet 44.1 kHz stereo WAV and an MP3 come
out at 8 kHz mono and about as loud as speech prompts; a text file named
``.mp3`` and a PNG named ``.wav`` are refused with a sentence a user reads.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from media.audio_library import AudioError, library_pcm, save_speech, save_upload

ACME = "acme.example"


def _tone_wav(path: Path, *, rate: int = 44100, channels: int = 2, level: float = 0.02) -> Path:
    t = np.arange(rate * 2) / rate
    mono = (np.sin(2 * np.pi * 440 * t) * level * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(mono, channels).tobytes())
    return path


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    return float(np.sqrt(np.mean(samples**2)))


def test_a_quiet_stereo_wav_becomes_8k_mono_and_louder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    source = _tone_wav(tmp_path / "quiet.wav")
    rel = save_upload(data_dir, ACME, "hold", source.read_bytes(), "quiet.wav")
    assert rel.startswith(f"audio/{ACME}/hold-")
    with wave.open(str(data_dir / rel)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 1.8 <= w.getnframes() / 8000 <= 2.2
    quiet = 0.02 * 32767 / np.sqrt(2)
    assert _rms(library_pcm(data_dir, ACME, "hold", rel)) > 3 * quiet  # loudnorm lifted it
    # the same upload again: the same file, not converted twice
    assert save_upload(data_dir, ACME, "hold", source.read_bytes(), "again.wav") == rel


def test_an_mp3_is_accepted(tmp_path: Path) -> None:
    wav = _tone_wav(tmp_path / "t.wav", channels=1)
    mp3 = tmp_path / "t.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    rel = save_upload(tmp_path / "data", ACME, "announcement", mp3.read_bytes(), "t.mp3")
    assert len(library_pcm(tmp_path / "data", ACME, "announcement", rel)) > 8000 * 2 * 1.5


@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.txt", b"hello"), ("song.mp3", b"not really an mp3" * 50),
     ("logo.wav", b"\x89PNG\r\n\x1a\n" + bytes(200))],
)  # fmt: skip
def test_what_is_not_audio_is_refused(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(AudioError, match=f"Hold music must be an MP3 or WAV audio file; {name}"):
        save_upload(tmp_path, ACME, "hold", data, name)
    assert not (tmp_path / "audio").exists() or not any((tmp_path / "audio").rglob("*.wav"))


def test_text_is_spoken_at_save_time(tmp_path: Path) -> None:
    rel = save_speech(tmp_path, ACME, "greeting", "Press 1 for sales.")
    assert (
        len(library_pcm(tmp_path, ACME, "greeting", rel)) > 8000
    )  # more than half a second of speech
    with pytest.raises(AudioError, match="Type the words"):
        save_speech(tmp_path, ACME, "greeting", "   ")
    with pytest.raises(AudioError, match="not in the audio library"):
        library_pcm(tmp_path, ACME, "greeting", "../../etc/passwd")
