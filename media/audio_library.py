"""Audio the media server plays, made once at save time: uploads converted, text spoken.

The one owner of turning audio a person gives us into what a call carries:
8 kHz mono 16-bit WAV. Voicemail greetings (``dash_app.greetings``), menu
greetings, announcements and hold music all come through here, from the
portal and the CLI alike; no SIP code is imported, so front ends may call it.

Uploads: the file name's extension is not trusted; ffprobe must find an MP3
or WAV container with an audio stream, or the upload is refused with a
message a user reads as-is (``AudioError``). ffmpeg converts (loudness-
normalised with ``loudnorm`` for menus, announcements and hold music, so a
quiet recording is as loud as the spoken prompts) into a temp file renamed
into place: the media server never plays a half-written file. Text is spoken
with espeak-ng (``media.prompts.synthesize``) at save time, never downloaded.

Library files live under ``<data_dir>/audio/<tenant>/<kind>-<digest>.wav``,
named by their content, so saving the same audio twice makes one file and a
changed greeting never overwrites one a call is playing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from media import prompts
from switchboard.identifiers import TENANT_RE

ACCEPTED_SUFFIXES = (".mp3", ".wav")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600.0
# EBU R128-ish speech loudness for the phone (the prompts espeak-ng makes are about this loud).
LOUDNORM = "loudnorm=I=-18:TP=-2:LRA=11"

LibraryKind = Literal["greeting", "announcement", "hold"]
NOUNS: dict[str, str] = {
    "greeting": "Greetings",
    "announcement": "Announcements",
    "hold": "Hold music",
}


class AudioError(ValueError):
    """Audio that cannot be played to callers; the message is for the user."""


def probe(path: Path) -> tuple[str, bool, float]:
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


def convert_upload(
    data: bytes,
    filename: str,
    dest: Path,
    *,
    noun: str = "Recordings",
    max_seconds: float = MAX_SECONDS,
    max_bytes: int = MAX_UPLOAD_BYTES,
    normalise: bool = True,
) -> float:
    """Check an uploaded MP3/WAV and write it to ``dest`` as 8 kHz mono WAV; its length in s."""
    name = Path(filename or "the file").name
    refused = f"{noun} must be an MP3 or WAV audio file; {name} is not."
    if Path(name).suffix.lower() not in ACCEPTED_SUFFIXES:
        raise AudioError(refused)
    if len(data) > max_bytes:
        raise AudioError(f"{name} is larger than {max_bytes // 2**20} MB.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        upload = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        upload.write_bytes(data)
        formats, has_audio, seconds = probe(upload)
        if not has_audio or not ({"mp3", "wav"} & set(formats.split(","))):
            raise AudioError(refused)
        if seconds > max_seconds:
            raise AudioError(f"{name} is longer than {max_seconds:.0f} seconds.")
        out = Path(tmp) / "converted.wav"
        filters = ["-af", LOUDNORM] if normalise else []
        result = subprocess.run(
            [
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(upload), "-vn", *filters,
                "-ac", "1", "-ar", str(prompts.SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
        if result.returncode != 0 or not out.is_file():
            raise AudioError(f"{name} could not be converted: the audio looks damaged.")
        os.replace(out, dest)
    return seconds


def library_relpath(tenant: str, kind: LibraryKind, digest: str) -> Path:
    """``audio/<tenant>/<kind>-<digest>.wav``, relative to the data dir (stored in the DB)."""
    if not TENANT_RE.match(tenant) or kind not in NOUNS or not digest.isalnum():
        raise AudioError(f"no library path for {kind!r} of {tenant!r}")
    return Path("audio") / tenant / f"{kind}-{digest}.wav"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:20]


def save_upload(data_dir: Path, tenant: str, kind: LibraryKind, data: bytes, filename: str) -> str:
    """Convert an upload into the tenant's library; the path relative to ``data_dir``."""
    rel = library_relpath(tenant, kind, _digest(b"upload", data))
    if not (data_dir / rel).is_file():
        convert_upload(data, filename, data_dir / rel, noun=NOUNS[kind])
    return str(rel)


def save_speech(data_dir: Path, tenant: str, kind: LibraryKind, text: str) -> str:
    """Speak ``text`` into the tenant's library (espeak-ng, now); the relative path."""
    text = " ".join(text.split())
    if not text:
        raise AudioError("Type the words to speak, or upload a recording.")
    if len(text) > 1000:
        raise AudioError("The text is too long to speak (1000 characters at most).")
    rel = library_relpath(tenant, kind, _digest(b"speech", text.encode()))
    if not (data_dir / rel).is_file():
        try:
            prompts.synthesize(text, data_dir / rel)
        except (prompts.PromptError, subprocess.CalledProcessError) as exc:
            raise AudioError(f"The text could not be spoken: {exc}") from exc
    return str(rel)


def library_pcm(data_dir: Path, relpath: str) -> bytes:
    """The samples of a library file (8 kHz 16-bit mono); refuses paths outside the data dir."""
    path = (data_dir / relpath).resolve()
    if not path.is_relative_to(data_dir.resolve()):
        raise AudioError(f"{relpath!r} is not in the audio library")
    return prompts.read_wav_pcm(path)
