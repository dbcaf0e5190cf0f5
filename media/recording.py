"""Recording what a caller says: PCM placed by RTP timestamp, kept crash-safe, saved as WAV.

Every feature that records (voicemail messages, greetings recorded by phone,
and the queues and call recordings to come) uses these pieces, so each lives
here once rather than inside the first feature that needed it.

The recording is placed by RTP timestamp, not by arrival: a lost or late
packet leaves (or fills) its own 20 ms instead of shifting everything after
it, so the PCM lasts exactly as long as the caller's audio. A ``PartWriter``
appends those samples to disk unbuffered (a kill -9 loses nothing the OS
has); ``atomic_write`` puts a finished file in place with temp + rename.
"""

from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from media import prompts
from switchboard.resample import frame_bytes

SAMPLE_RATE = prompts.SAMPLE_RATE
SILENCE_END_SECONDS = 3.0  # this much silence after speech ends the recording
INITIAL_SILENCE_SECONDS = 10.0  # nobody spoke at all: stop waiting
SPEECH_RMS = 400.0  # ~ -38 dBFS per 20 ms frame; line noise sits far below
MAX_GAP_SECONDS = 2.0  # a larger timestamp jump is a new timeline, not silence
RTP_CLOCK = 8000  # G.711's and G.722's RTP clock (RFC 3551), whatever the audio's rate


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` so a reader sees the old file or the whole new one, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def wav_bytes(pcm: bytes, rate: int = SAMPLE_RATE) -> bytes:
    """A 44-byte RIFF header + ``pcm`` (16-bit mono, 8 kHz unless ``rate`` says)."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1,
        rate, rate * 2, 2, 16, b"data", len(pcm),
    )  # fmt: skip
    return header + pcm


def _loud_frames(pcm: bytes, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Indexes of the whole 20 ms frames of ``pcm`` whose RMS is above the speech threshold."""
    size = frame_bytes(rate)
    whole = pcm[: len(pcm) // size * size]
    samples = np.frombuffer(whole, dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return np.empty(0, dtype=np.intp)
    rms = np.sqrt(np.mean(samples.reshape(-1, size // 2) ** 2, axis=1))
    return np.flatnonzero(rms > SPEECH_RMS)


def speech_seconds(pcm: bytes, rate: int = SAMPLE_RATE) -> float:
    """Seconds of 20 ms frames whose RMS is above the speech threshold."""
    return float(_loud_frames(pcm, rate).size) * 0.02


class PartWriter:
    """Appends samples to a part file with no user-space buffer (crash safety)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, pcm: bytes) -> None:
        if self._fd >= 0:
            os.write(self._fd, pcm)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass
class Recorder:
    """Places frames by RTP timestamp, tracks speech, and says when silence ends it.

    ``writer`` None keeps the samples in memory only (a greeting is saved whole at the end).
    ``rate``: the audio's samples per second; RTP timestamps count :data:`RTP_CLOCK` per
    second for G.711 and G.722 alike, so a G.722 timestamp step is half its samples.
    """

    writer: PartWriter | None = None
    rate: int = SAMPLE_RATE
    pcm: bytearray = field(default_factory=bytearray)
    speech_frames: int = 0
    last_speech_sample: int | None = None
    silence_done: asyncio.Event = field(default_factory=asyncio.Event)
    _base_ts: int | None = None
    _offset: int = 0  # samples of earlier timelines (after an SSRC/timestamp reset)

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    def add(self, frame: bytes, timestamp: int) -> None:
        if self._base_ts is None:
            self._base_ts = timestamp
        ticks = (timestamp - self._base_ts) & 0xFFFFFFFF
        pos = self._offset + ticks * self.rate // RTP_CLOCK
        max_gap = int(MAX_GAP_SECONDS * self.rate)
        if pos - self.samples > max_gap or pos + max_gap < self.samples:
            # a new timeline (new SSRC, re-INVITE): continue right where we are
            self._offset, self._base_ts, pos = self.samples, timestamp, self.samples
        if pos > self.samples:
            self._append(bytes((pos - self.samples) * 2))  # packets never came: silence
        elif pos < self.samples:
            overlap = (self.samples - pos) * 2
            if overlap >= len(frame):
                return  # duplicate
            frame = frame[overlap:]
        self._append(frame)

    def close(self) -> None:
        """Close the part file (if any); the samples stay in ``pcm``."""
        if self.writer is not None:
            self.writer.close()

    def _append(self, pcm: bytes) -> None:
        start = self.samples
        self.pcm += pcm
        if self.writer is not None:
            self.writer.write(pcm)
        loud = _loud_frames(pcm, self.rate)  # speech detection per whole 20 ms frame appended
        if loud.size:
            self.speech_frames += int(loud.size)
            self.last_speech_sample = start + int(loud[-1] + 1) * (frame_bytes(self.rate) // 2)
        self._check_silence()

    def _check_silence(self) -> None:
        if self.last_speech_sample is None:
            if self.samples >= INITIAL_SILENCE_SECONDS * self.rate:
                self.silence_done.set()
        elif self.samples - self.last_speech_sample >= SILENCE_END_SECONDS * self.rate:
            self.silence_done.set()

    @property
    def seconds(self) -> float:
        return self.samples / self.rate

    @property
    def speech_seconds(self) -> float:
        return self.speech_frames * 0.02
