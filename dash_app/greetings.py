"""Voicemail greeting uploads: MP3 or WAV in, 8 kHz mono 16-bit WAV out (what calls play).

The conversion itself (ffprobe check, ffmpeg into a temp file renamed into
place) is ``media.audio_library``'s, the one owner for every recording the
portal and the CLI take in; this module keeps the greeting's limits and words.
"""

from __future__ import annotations

from pathlib import Path

from media.audio_library import AudioError, convert_upload

ACCEPTED_SUFFIXES = (".mp3", ".wav")
MAX_GREETING_BYTES = 10 * 1024 * 1024
MAX_GREETING_SECONDS = 180.0
REFUSED = "Greetings must be an MP3 or WAV audio file; {name} is not."

# An upload that cannot become a greeting; the message is for the user.
GreetingError = AudioError


def convert_greeting(data: bytes, filename: str, dest: Path) -> float:
    """Check an uploaded greeting and write it to ``dest`` as 8 kHz WAV; its length in s."""
    return convert_upload(
        data, filename, dest, noun="Greetings", max_seconds=MAX_GREETING_SECONDS,
        max_bytes=MAX_GREETING_BYTES, normalise=False,
    )  # fmt: skip
