"""Voicemail greeting uploads, and how large an audio file a portal upload may carry.

The conversion itself (ffprobe check, ffmpeg into a temp file renamed into
place) is ``media.audio_library``'s, the one owner for every recording the
portal and the CLI take in; this module keeps the greeting's limits and words.

It also owns the arithmetic every audio drop zone of the portal (greetings,
menu greetings, announcements, hold music) sizes itself by: a ``dcc.Upload``
sends its file base64-encoded (4 bytes for every 3) inside the callback's
JSON, and the portal refuses a body over ``portal_max_request_mb`` with a
bare 413 before any callback runs, so no message could reach the page. A
drop zone therefore never takes a file larger than what fits
(``largest_upload_bytes``) and says that size in its label: the browser
keeps a larger file back, and the label is what tells the user why.
"""

from __future__ import annotations

from pathlib import Path

from media.audio_library import MAX_UPLOAD_BYTES, AudioError, convert_upload, megabytes

ACCEPTED_SUFFIXES = (".mp3", ".wav")
MAX_GREETING_BYTES = 10 * 1024 * 1024
MAX_GREETING_SECONDS = 180.0
REFUSED = "Greetings must be an MP3 or WAV audio file; {name} is not."
# The callback's JSON around the file: ids, the file name, the form's other fields (a
# menu's typed text, one n_clicks per listed track). An audio form sends far less.
REQUEST_OVERHEAD_BYTES = 64 * 1024

# An upload that cannot become a greeting; the message is for the user.
GreetingError = AudioError


def largest_upload_bytes(max_request_mb: float, limit: int = MAX_UPLOAD_BYTES) -> int:
    """The largest file a portal upload carries within ``portal_max_request_mb``, at most ``limit``.

    Base64 makes 4 bytes of every 3, so a body of B bytes carries a file of 3/4 of
    B less the JSON around it.
    """
    carried = (int(max_request_mb * 2**20) - REQUEST_OVERHEAD_BYTES) * 3 // 4
    return max(0, min(limit, carried))


def upload_hint(max_bytes: int) -> str:
    """What a drop zone says of its files (a larger one is never sent)."""
    return f"MP3 or WAV, up to {megabytes(max_bytes)} MB"


def convert_greeting(data: bytes, filename: str, dest: Path) -> float:
    """Check an uploaded greeting and write it to ``dest`` as 8 kHz WAV; its length in s."""
    return convert_upload(
        data, filename, dest, noun="Greetings", max_seconds=MAX_GREETING_SECONDS,
        max_bytes=MAX_GREETING_BYTES, normalise=False,
    )  # fmt: skip
