"""What a waiting party hears, looped: hold music and ringback.

Hold music is played to a party put on hold (re-INVITE ``sendonly`` /
``inactive``) in a bridged call. The tenant's library lives in the store
(``switchboard.attendants.HoldMusic``, 8 kHz mono WAVs made at upload); until a
tenant picks one, the setting ``hold_music_file`` names the default track, and
when that is empty a tone melody is generated once into
``<data_dir>/media/hold-default.wav``. Any other file is converted once to
8 kHz mono s16 with ffmpeg and cached beside it, never at call time twice.
A tenant's track is played only when it is that tenant's own library file
(``hold_track``): ffmpeg would convert whatever a stored path named.

Audio is encoded once per codec (``LoopedAudio.frames``) and shared by every
call: a player only keeps its position.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from media.audio_library import AudioError, library_file
from media.leg import FRAME_SAMPLES
from media.prompts import SAMPLE_RATE, native_wav_pcm, write_wav
from media.workarounds import codec_for

log = logging.getLogger(__name__)

RATE = SAMPLE_RATE
DEFAULT_TRACK = Path("media") / "hold-default.wav"
# The default melody (a C major arpeggio, up and down): tests detect these notes.
MELODY_HZ: tuple[float, ...] = (523.25, 659.25, 783.99, 1046.5, 783.99, 659.25)
NOTE_SECONDS = 0.25
# North American ringback: 440 + 480 Hz, 2 s on, 4 s off
RINGBACK_HZ: tuple[float, float] = (440.0, 480.0)

_lock = threading.Lock()


def _tone(freqs: tuple[float, ...], seconds: float, level: float = 0.25) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave_ = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades: no clicks
    return (wave_ * ramp * level * 32767).astype("<i2")


def melody_pcm() -> bytes:
    """The default hold track: the melody, then half a second of silence."""
    notes = [_tone((f,), NOTE_SECONDS) for f in MELODY_HZ]
    return b"".join(n.tobytes() for n in notes) + bytes(RATE)


def ringback_pcm() -> bytes:
    """One ringback cadence (6 s)."""
    return _tone(RINGBACK_HZ, 2.0, level=0.2).tobytes() + bytes(2 * 4 * RATE)


def _write_wav(path: Path, pcm: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}")
    write_wav(tmp, pcm)
    tmp.replace(path)


def default_track(data_dir: Path, setting: str = "") -> Path:
    """The default hold music: the setting's file, else the melody made once in data_dir."""
    if setting:
        return Path(setting)
    path = data_dir / DEFAULT_TRACK
    with _lock:
        if not path.exists():
            _write_wav(path, melody_pcm())
    return path


def hold_track(data_dir: Path, tenant: str, relpath: str | None, setting: str = "") -> Path:
    """The tenant's track ``relpath`` names, else the default (``default_track``).

    A path that is not the tenant's own hold-music file (a row saved before the
    store checked paths) or whose file is gone is logged and the default plays.
    """
    if relpath:
        try:
            path = library_file(data_dir, tenant, "hold", relpath)
        except AudioError:
            log.warning("hold music %r is not in the audio library of %s", relpath, tenant)
        else:
            if path.is_file():
                return path
            log.warning("hold music %r of %s is missing", relpath, tenant)
    return default_track(data_dir, setting)


def hold_pcm(path: Path, data_dir: Path) -> bytes:
    """8 kHz mono s16 PCM of ``path``, converted once with ffmpeg and cached in data_dir."""
    pcm = native_wav_pcm(path)
    if pcm is not None:
        return pcm
    digest = hashlib.sha1(f"{path.resolve()}:{path.stat().st_mtime_ns}".encode()).hexdigest()
    cached = data_dir / "media" / "hold-cache" / f"{digest[:16]}.wav"
    with _lock:
        pcm = native_wav_pcm(cached) if cached.is_file() else None  # first use: not made yet
        if pcm is None:
            tmp = cached.with_name(f".{cached.name}.tmp.wav")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), "-ac", "1",
                 "-ar", str(RATE), "-sample_fmt", "s16", str(tmp)],
                check=True, capture_output=True,
            )  # fmt: skip
            tmp.replace(cached)
            pcm = native_wav_pcm(cached)
    if pcm is None:
        raise ValueError(f"{path}: not audio ffmpeg can convert")
    return pcm


class LoopedAudio:
    """A PCM loop encoded once per codec; players share it."""

    def __init__(self, pcm: bytes) -> None:
        frame_bytes = FRAME_SAMPLES * 2
        if len(pcm) % frame_bytes:
            pcm += bytes(frame_bytes - len(pcm) % frame_bytes)
        self.pcm = pcm or bytes(frame_bytes)
        self._encoded: dict[int, bytes] = {}

    def frames(self, payload_type: int) -> bytes:
        """The whole loop encoded for ``payload_type`` (160 bytes per 20 ms)."""
        encoded = self._encoded.get(payload_type)
        if encoded is None:
            encoded = self._encoded[payload_type] = codec_for(payload_type).encode(self.pcm)
        return encoded

    def player(self, payload_type: int) -> LoopPlayer:
        return LoopPlayer(self.frames(payload_type))


class LoopPlayer:
    """One listener's position in a loop: ``next_frame`` gives the next 20 ms payload."""

    def __init__(self, encoded: bytes) -> None:
        self._encoded = encoded
        self._pos = 0

    def next_frame(self) -> bytes:
        frame = self._encoded[self._pos : self._pos + FRAME_SAMPLES]
        self._pos = (self._pos + FRAME_SAMPLES) % len(self._encoded)
        return frame


_loops: dict[str, LoopedAudio] = {}


def looped(key: str, make: Callable[[], bytes]) -> LoopedAudio:
    """The process-wide loop for ``key`` (``make()`` gives its PCM the first time)."""
    loop = _loops.get(key)
    if loop is None:
        loop = _loops[key] = LoopedAudio(make())
    return loop


def hold_music_loop(path: Path, data_dir: Path) -> LoopedAudio:
    """The loop of a hold-music file (converted and encoded once per process)."""
    return looped(f"hold:{path.resolve()}", lambda: hold_pcm(path, data_dir))


def ringback_loop() -> LoopedAudio:
    return looped("ringback", ringback_pcm)
