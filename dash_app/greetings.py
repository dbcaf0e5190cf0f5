"""Greeting uploads: MP3 or WAV in, 8 kHz mono 16-bit WAV out (what the media server plays).

The file name's extension is not trusted: ffprobe must find an MP3 or WAV
container with an audio stream, or the upload is refused with a message the
page shows as-is. ffmpeg then converts into a temp file renamed into place,
so the media server never plays a half-written greeting.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

ACCEPTED_SUFFIXES = (".mp3", ".wav")
MAX_GREETING_BYTES = 10 * 1024 * 1024
MAX_GREETING_SECONDS = 180.0
REFUSED = "Greetings must be an MP3 or WAV audio file; {name} is not."


class GreetingError(ValueError):
    """An upload that cannot become a greeting; the message is for the user."""


def _probe(path: Path) -> tuple[str, bool, float]:
    """(container format names, has an audio stream, seconds) according to ffprobe."""
    result = subprocess.run(
        [
            "ffprobe", "-v", "error", "-print_format", "json",
            "-show_entries", "format=format_name,duration:stream=codec_type", str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return "", False, 0.0
    info = json.loads(result.stdout or "{}")
    fmt = info.get("format", {})
    has_audio = any(s.get("codec_type") == "audio" for s in info.get("streams", []))
    try:
        seconds = float(fmt.get("duration", 0.0))
    except ValueError:
        seconds = 0.0
    return str(fmt.get("format_name", "")), has_audio, seconds


def convert_greeting(data: bytes, filename: str, dest: Path) -> float:
    """Check an uploaded greeting and write it to ``dest`` as 8 kHz WAV; its length in s."""
    name = Path(filename or "the file").name
    if Path(name).suffix.lower() not in ACCEPTED_SUFFIXES:
        raise GreetingError(REFUSED.format(name=name))
    if len(data) > MAX_GREETING_BYTES:
        raise GreetingError(f"{name} is larger than {MAX_GREETING_BYTES // 2**20} MB.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        upload = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        upload.write_bytes(data)
        formats, has_audio, seconds = _probe(upload)
        if not has_audio or not ({"mp3", "wav"} & set(formats.split(","))):
            raise GreetingError(REFUSED.format(name=name))
        if seconds > MAX_GREETING_SECONDS:
            raise GreetingError(f"{name} is longer than {MAX_GREETING_SECONDS:.0f} seconds.")
        out = Path(tmp) / "greeting.wav"
        result = subprocess.run(
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(upload),
                "-vn", "-ac", "1", "-ar", "8000", "-c:a", "pcm_s16le", "-f", "wav", str(out),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )  # fmt: skip
        if result.returncode != 0 or not out.is_file():
            raise GreetingError(f"{name} could not be converted: the audio looks damaged.")
        os.replace(out, dest)
    return seconds
