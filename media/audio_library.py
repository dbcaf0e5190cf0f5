"""Audio the media server plays, made once at save time: uploads converted, text spoken.

The one owner of turning audio a person gives us into what a call carries:
8 kHz mono 16-bit WAV. Voicemail greetings (``dash_app.greetings``), menu
greetings, announcements and hold music all come through here, from the
portal and the CLI alike; no SIP code is imported, so front ends may call it.

Uploads: the file name's extension is not trusted; ffprobe must find an MP3
or WAV container with an audio stream of at most ``MAX_CHANNELS`` channels
sampled at ``MIN_SAMPLE_RATE``..``MAX_SAMPLE_RATE``, or the upload is refused
with a message a user reads as-is (``AudioError``). ffmpeg converts into a
temp file renamed into place, so the media server never plays a half-written
file and a refused upload never replaces the audio saved before it. It first
downmixes to mono at the library's rate, then loudness-normalises with
``loudnorm`` (menus, announcements and hold music, so a quiet recording is as
loud as the spoken prompts): ``loudnorm`` works at 192 kHz per channel, so
normalising 16 channels would cost 16 times one, and a hostile file could hold
a core for minutes; a conversion past ``CONVERT_SECONDS`` is stopped and
refused. What ffmpeg made is checked before it is kept: at least
``MIN_SECONDS`` long (``playable_seconds``), else callers would hear only the
beep. Text is spoken with espeak-ng (``media.prompts.synthesize``) at save
time, never downloaded.

Library files live under ``<data_dir>/audio/<tenant>/<kind>-<digest>.wav``,
named by their content, so saving the same audio twice makes one file and a
changed greeting never overwrites one a call is playing. That layout is
``switchboard.library_paths``'s (the store checks paths against it too); the
media server reads a library file only through ``library_file``, for the
tenant whose call it is, so a stored path naming any other file plays nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from media import prompts
from switchboard.library_paths import (
    DIGEST_CHARS,
    LibraryKind,
    LibraryPathError,
    is_library_path,
    library_relpath,
    tenant_library_dir,
)

ACCEPTED_SUFFIXES = (".mp3", ".wav")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600.0
# Shorter than this is no greeting or prompt: a click, a cut-off word, or nothing at all.
MIN_SECONDS = 0.5
# Mono, stereo, up to 7.1 surround; more is no recording a person made for a phone line.
MAX_CHANNELS = 8
# The phone's own rate up to the highest studio rate; 100 Hz audio is no audio.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = prompts.SAMPLE_RATE, 192_000
# Once mono, a 600 s upload converts in about 8 s on one core; far past that, something is off.
CONVERT_SECONDS = 120.0
# EBU R128-ish speech loudness for the phone (the prompts espeak-ng makes are about this loud).
LOUDNORM = "loudnorm=I=-18:TP=-2:LRA=11"

NOUNS: dict[str, str] = {
    "greeting": "Greetings",
    "announcement": "Announcements",
    "hold": "Hold music",
}


class AudioError(ValueError):
    """Audio that cannot be played to callers; the message is for the user."""


@dataclass(frozen=True)
class AudioProbe:
    """What ffprobe says of an upload (all empty or 0 when it could not read it)."""

    formats: frozenset[str] = frozenset()
    has_audio: bool = False
    seconds: float = 0.0
    channels: int = 0
    sample_rate: int = 0


def probe(path: Path) -> AudioProbe:
    """The container formats, first audio stream and length of ``path``, by ffprobe."""
    try:
        result = subprocess.run(
            [
                "ffprobe", "-v", "error", "-print_format", "json", "-show_entries",
                "format=format_name,duration:stream=codec_type,channels,sample_rate", str(path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return AudioProbe()
    if result.returncode != 0:
        return AudioProbe()
    info = json.loads(result.stdout or "{}")
    fmt = info.get("format", {})
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    stream = audio[0] if audio else {}
    return AudioProbe(
        formats=frozenset(str(fmt.get("format_name", "")).split(",")),
        has_audio=bool(audio),
        seconds=_number(fmt.get("duration")),
        channels=int(_number(stream.get("channels"))),
        sample_rate=int(_number(stream.get("sample_rate"))),
    )


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def megabytes(size: int) -> str:
    """``size`` in MB for a message, rounded down (a file of the size said always fits)."""
    tenths = size * 10 // 2**20
    return f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths / 10:.1f}"


def _refuse_stream(name: str, noun: str, found: AudioProbe, max_seconds: float) -> None:
    """Refuse, before any conversion, what would take ffmpeg unreasonably long or is no audio."""
    if found.seconds > max_seconds:
        raise AudioError(f"{name} is longer than {max_seconds:.0f} seconds.")
    if found.channels > MAX_CHANNELS:
        raise AudioError(
            f"{name} has {found.channels} channels; {noun.lower()} may have at most"
            f" {MAX_CHANNELS} (mono or stereo is best)."
        )
    if found.sample_rate and not MIN_SAMPLE_RATE <= found.sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{name} is sampled at {found.sample_rate:,} Hz; {noun.lower()} must be sampled"
            f" at {MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz."
        )


def playable_seconds(path: Path, name: str, noun: str) -> float:
    """The length of a converted file; refused when it holds no samples or too few to hear.

    Checked on what ffmpeg made, not on the probe's duration: that comes from
    headers a file may lie in. Digital silence is kept (a manager may want a
    silent hold track, and the tests' fixtures upload silence as valid audio).
    """
    try:
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, OSError, ZeroDivisionError) as exc:
        raise AudioError(f"{name} could not be converted: the audio looks damaged.") from exc
    if seconds == 0:
        raise AudioError(
            f"{name} holds no sound: it has no audio samples. {noun} must be at least"
            f" {MIN_SECONDS} seconds long."
        )
    if seconds < MIN_SECONDS:
        raise AudioError(
            f"{name} is too short ({seconds:.2f} s): {noun.lower()} must be at least"
            f" {MIN_SECONDS} seconds long."
        )
    return seconds


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
    """Check an uploaded MP3/WAV and write it to ``dest`` as 8 kHz mono WAV; its length in s.

    Refused (``AudioError``, ``dest`` untouched): not MP3/WAV audio, too large or
    long, absurd channels or rate, no samples or too short, or a conversion past
    ``CONVERT_SECONDS``.
    """
    name = Path(filename or "the file").name
    refused = f"{noun} must be an MP3 or WAV audio file; {name} is not."
    if Path(name).suffix.lower() not in ACCEPTED_SUFFIXES:
        raise AudioError(refused)
    if len(data) > max_bytes:
        raise AudioError(f"{name} is larger than {megabytes(max_bytes)} MB.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        upload = Path(tmp) / f"upload{Path(name).suffix.lower()}"
        upload.write_bytes(data)
        found = probe(upload)
        if not found.has_audio or not {"mp3", "wav"} & found.formats:
            raise AudioError(refused)
        _refuse_stream(name, noun, found, max_seconds)
        out = Path(tmp) / "converted.wav"
        _run_ffmpeg(upload, out, name, max_seconds, normalise)
        seconds = playable_seconds(out, name, noun)
        if seconds > max_seconds + 1:  # the headers said shorter: ffmpeg stopped reading
            raise AudioError(f"{name} is longer than {max_seconds:.0f} seconds.")
        os.replace(out, dest)
    return seconds


def _run_ffmpeg(upload: Path, out: Path, name: str, max_seconds: float, normalise: bool) -> None:
    """Mono at the library's rate first, then loudnorm (one channel's work, not N)."""
    rate = str(prompts.SAMPLE_RATE)
    chain = f"aformat=channel_layouts=mono,aresample={rate}"
    if normalise:
        chain += f",{LOUDNORM}"
    try:
        result = subprocess.run(
            [
                # -t: no more than a little past the limit is read, whatever the headers say
                "ffmpeg", "-nostdin", "-v", "error", "-y", "-t", f"{max_seconds + 2:.0f}",
                "-i", str(upload), "-vn", "-af", chain, "-ac", "1", "-ar", rate,
                "-c:a", "pcm_s16le", "-f", "wav", str(out),
            ],
            capture_output=True,
            text=True,
            timeout=CONVERT_SECONDS,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AudioError(
            f"{name} took too long to convert (over {CONVERT_SECONDS:g} seconds);"
            " save it as a mono or stereo MP3 or WAV and try again."
        ) from exc
    if result.returncode != 0 or not out.is_file():
        raise AudioError(f"{name} could not be converted: the audio looks damaged.")


def _library_path(tenant: str, kind: LibraryKind, digest: str) -> Path:
    """``library_relpath``, refusing with the ``AudioError`` the portal and the CLI report."""
    try:
        return library_relpath(tenant, kind, digest)
    except LibraryPathError as exc:
        raise AudioError(str(exc)) from exc


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:DIGEST_CHARS]


def save_upload(data_dir: Path, tenant: str, kind: LibraryKind, data: bytes, filename: str) -> str:
    """Convert an upload into the tenant's library; the path relative to ``data_dir``."""
    rel = _library_path(tenant, kind, _digest(b"upload", data))
    if (data_dir / rel).is_file():
        # Saved before, maybe by a version that kept empty files: check it again.
        playable_seconds(data_dir / rel, Path(filename or "the file").name, NOUNS[kind])
    else:
        convert_upload(data, filename, data_dir / rel, noun=NOUNS[kind])
    return str(rel)


def save_speech(data_dir: Path, tenant: str, kind: LibraryKind, text: str) -> str:
    """Speak ``text`` into the tenant's library (espeak-ng, now); the relative path."""
    text = " ".join(text.split())
    if not text:
        raise AudioError("Type the words to speak, or upload a recording.")
    if len(text) > 1000:
        raise AudioError("The text is too long to speak (1000 characters at most).")
    rel = _library_path(tenant, kind, _digest(b"speech", text.encode()))
    if not (data_dir / rel).is_file():
        try:
            prompts.synthesize(text, data_dir / rel)
        except (prompts.PromptError, subprocess.CalledProcessError) as exc:
            raise AudioError(f"The text could not be spoken: {exc}") from exc
    return str(rel)


def library_file(data_dir: Path, tenant: str, kind: LibraryKind, relpath: str) -> Path:
    """The file ``relpath`` names when it is ``tenant``'s own library file of ``kind``.

    Refused (``AudioError``) otherwise: a row saved before the store checked paths
    may name another tenant's voicemail or a call recording, and the media server
    plays whatever it is given. Resolved too, so a link in the folder leads nowhere.
    """
    refused = AudioError(f"{relpath!r} is not in the audio library of {tenant}")
    if not is_library_path(tenant, kind, relpath):
        raise refused
    path = (data_dir / relpath).resolve()
    if not path.is_relative_to(tenant_library_dir(data_dir, tenant).resolve()):
        raise refused
    return path


def library_pcm(data_dir: Path, tenant: str, kind: LibraryKind, relpath: str) -> bytes:
    """The samples (8 kHz 16-bit mono) of ``tenant``'s library file; ``library_file`` refuses."""
    return prompts.read_wav_pcm(library_file(data_dir, tenant, kind, relpath))
