"""Spoken prompts and tones: generated here with espeak-ng and sox, never downloaded.

Every prompt is 8 kHz 16-bit mono PCM (what G.711 carries), made once and
cached under ``<data_dir>/prompts/`` as WAV, keyed by a hash of its text, so
editing a sentence below makes a new file and never plays a stale one. The
server calls ``ensure_prompts`` at start-up (in a thread: espeak-ng takes a
few hundred ms a sentence) so no call waits for synthesis.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 8000
BYTES_PER_SECOND = SAMPLE_RATE * 2

PROMPTS: dict[str, str] = {
    "greeting_unavailable": "The person you are calling is not available."
    " Please leave a message after the tone.",
    "greeting_busy": "The person you are calling is on the phone."
    " Please leave a message after the tone.",
    "enter_pin": "Please enter your PIN, then press pound.",
    "wrong_pin": "That PIN is not correct.",
    "no_access": "Voicemail access is not set up for this mailbox. Goodbye.",
    "locked": "Phone access to this mailbox is locked after too many wrong PINs."
    " Please try again later. Goodbye.",
    "no_new_messages": "You have no new messages.",
    "new_messages": "You have new messages.",
    "message_menu": "Press 1 to play it again, 2 to save, 3 to delete, 4 for the next message.",
    "saved": "Message saved.",
    "deleted": "Message deleted.",
    "end_of_messages": "End of messages.",
    "main_menu": "Press 1 to hear your messages, 2 to record your greeting, star to exit.",
    "record_greeting": "Record your greeting after the tone. Press pound when you are done.",
    "greeting_saved": "Your greeting is saved.",
    "goodbye": "Goodbye.",
    # auto attendant (media/attendant.py)
    "dial_extension": "Please dial the extension, then press pound.",
    "no_such_extension": "That extension does not exist.",
    "not_reachable": "The person you are calling cannot be reached right now.",
    "menu_unavailable": "Sorry, this number cannot take your call right now."
    " Please try again later. Goodbye.",
    # played by rtpengine, not by us (kamailio-media.cfg MEDIA_ANSWER): see recording_notice_file
    "recording_notice": "This call may be recorded.",
}
# rtpengine opens the notice by a fixed name relative to its working directory
# <data_dir>/run/rtpengine (relay/launcher.py): kamailio.cfg SB_RECORDING_NOTICE_FILE.
RECORDING_NOTICE_NAME = "recording-notice.wav"


class PromptError(RuntimeError):
    """A prompt could not be synthesised or read."""


def prompt_dir(data_dir: Path) -> Path:
    return data_dir / "prompts"


def _cache_path(data_dir: Path, text: str) -> Path:
    digest = hashlib.sha1(f"espeak-ng:en:150:{text}".encode()).hexdigest()[:16]
    return prompt_dir(data_dir) / f"{digest}.wav"


# sox dithers when it changes sample rate or width, from a random seed unless told ``-R``:
# without it the same speech was a different WAV in every run (and, in the tests and
# benchmarks, a different transcript). Every sox run of the project starts with this.
SOX: tuple[str, ...] = ("sox", "-R")


def to_mono16(source: Path, out: Path, rate: int = SAMPLE_RATE, *effects: str) -> None:
    """``source`` as a 16-bit mono WAV at ``rate`` Hz (sox, then ``effects``) in ``out``."""
    cmd = [*SOX, str(source), "-r", str(rate), "-c", "1", "-b", "16", str(out), *effects]
    subprocess.run(cmd, check=True, capture_output=True)


SPEECH_TIMEOUT_SECONDS = 60


def synthesize(text: str, out: Path) -> None:
    """Speak ``text`` with espeak-ng into ``out`` as 8 kHz 16-bit mono WAV."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} not found (Debian packages espeak-ng, sox)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "espeak.wav"
        tmp_out = Path(tmp) / "out.wav"
        # "--": a text is never an option (a manager's menu text "-f/etc/…" spoke that
        # file into the company's audio library); bounded, as any text is
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), "--", text],
            check=True,
            capture_output=True,
            timeout=SPEECH_TIMEOUT_SECONDS,
        )
        to_mono16(raw, tmp_out)
        tmp_out.rename(out)  # atomic: a concurrent reader never sees half a prompt


def native_wav_pcm(path: Path) -> bytes | None:
    """The samples of an 8 kHz 16-bit mono WAV, the media's own format, read as they are;
    None for any other file (the caller converts it)."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2):
                return w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        pass
    return None


def read_wav_pcm(path: Path) -> bytes:
    """The samples of an 8 kHz 16-bit mono WAV (anything else is converted with sox)."""
    pcm = native_wav_pcm(path)
    if pcm is not None:
        return pcm
    result = subprocess.run(
        [*SOX, str(path), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
         "-e", "signed-integer", "-L", "-"],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise PromptError(f"cannot read {path}: {result.stderr.decode(errors='replace')[:200]}")
    return result.stdout


def write_wav(path: Path, pcm: bytes, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit mono ``pcm`` (8 kHz unless ``rate`` says) to ``path`` (not atomic:
    callers rename)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def speech_pcm(data_dir: Path, text: str) -> bytes:
    """``text`` spoken, from the cache or synthesised now."""
    path = _cache_path(data_dir, text)
    if not path.exists():
        synthesize(text, path)
    return read_wav_pcm(path)


def spoken_once(data_dir: Path, text: str) -> bytes:
    """``text`` spoken and not cached: for one-off sentences such as a message's time."""
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        out = Path(tmp) / "once.wav"
        synthesize(text, out)
        return read_wav_pcm(out)


def prompt_pcm(data_dir: Path, name: str) -> bytes:
    """The named prompt of ``PROMPTS``."""
    return speech_pcm(data_dir, PROMPTS[name])


def ensure_prompts(data_dir: Path) -> list[Path]:
    """Synthesise every missing prompt (start-up); return their paths."""
    paths = []
    for text in PROMPTS.values():
        path = _cache_path(data_dir, text)
        if not path.exists():
            synthesize(text, path)
        paths.append(path)
    recording_notice_file(data_dir)
    return paths


def recording_notice_file(data_dir: Path) -> Path:
    """The notice under its fixed name (a copy of the cached prompt, refreshed every call).

    Kamailio names the file for rtpengine's media player and cannot compute the hash
    of a text, so the current sentence is copied to ``RECORDING_NOTICE_NAME``.
    """
    source = _cache_path(data_dir, PROMPTS["recording_notice"])
    if not source.exists():
        synthesize(PROMPTS["recording_notice"], source)
    target = prompt_dir(data_dir) / RECORDING_NOTICE_NAME
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(source, tmp)
    tmp.rename(target)  # atomic: rtpengine never opens half a file
    return target


def beep_pcm(seconds: float = 0.4, frequency: float = 1000.0, level: float = 0.3) -> bytes:
    """The record tone: a sine with 10 ms ramps (no click at either end)."""
    n = int(SAMPLE_RATE * seconds)
    t = np.arange(n) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * frequency * t) * level * 32767
    ramp = min(80, n // 2)
    envelope = np.ones(n)
    envelope[:ramp] = np.linspace(0, 1, ramp)
    envelope[n - ramp :] = np.linspace(1, 0, ramp)
    return (tone * envelope).astype("<i2").tobytes()


def silence_pcm(seconds: float) -> bytes:
    return bytes(int(SAMPLE_RATE * seconds) * 2)
