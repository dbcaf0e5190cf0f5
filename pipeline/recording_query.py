"""Reading call recordings: the list with filters, one recording, and one search box.

The read API of the Recordings page and ``switchboard recordings list/search``.
Every function takes a connection from :func:`pipeline.viewer.open_for_viewer`
(a :class:`~pipeline.viewer.ViewerConnection`'s ``conn``), already bound to one
tenant and, for a plain user, to their own calls: a recording outside the scope
is simply not found. The SQL lives in ``pipeline/sql/recording_*.sql``; every
value is bound. Bad input raises :class:`RecordingQueryError`, whose message is
for the user (the portal answers 400 with it).

A recording of a bridged leg is shown under its call (``call_id`` is the
caller's Call-ID; ``captured_call_id`` the Call-ID rtpengine recorded).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from pipeline.fetch import fetch_rows
from pipeline.queries import sql_file
from pipeline.recordings_schema import AUDIO_DIR
from pipeline.schema import DIRECTIONS
from switchboard.days import FIRST_DAY, LAST_DAY, parse_day
from switchboard.settings import Settings
from switchboard.zones import require_zone

RECORDING_ID_RE = re.compile(r"^rec-[0-9a-f]{24}$")
_DIGITS_RE = re.compile(r"^\+?[0-9*#]{1,32}$")
# A number as people type it: digits with spaces, dashes, dots or brackets.
_NUMBER_RE = re.compile(r"^\+?[0-9][0-9 ().-]{0,39}$")
MAX_ROWS = 500
MAX_WORDS = 10
MAX_WORD_LENGTH = 64


class RecordingQueryError(ValueError):
    """A request the user has to fix; the message is for the user."""


def search_words(text: str | None) -> list[str]:
    """The lower-case words of a search box (every one must appear in the transcript)."""
    words = [w for w in (text or "").lower().split() if w]
    if len(words) > MAX_WORDS:
        raise RecordingQueryError(f"search for at most {MAX_WORDS} words")
    if any(len(w) > MAX_WORD_LENGTH for w in words):
        raise RecordingQueryError(f"a search word is limited to {MAX_WORD_LENGTH} characters")
    return words


@dataclass(frozen=True)
class RecordingFilter:
    """What the Recordings page and the CLI filter on (None: no condition).

    Days are the viewer's (``timezone``), ``date_to`` inclusive, like call history.
    """

    date_from: date | None = None
    date_to: date | None = None
    extension: str | None = None  # caller, callee or who answered
    direction: str | None = None
    number: str | None = None  # digits contained in caller or callee
    queue_id: int | None = None  # calls that went through this queue
    has_transcript: bool | None = None
    words: str | None = None  # every word in the transcript
    timezone: str = "UTC"
    _words: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_zone(self.timezone, RecordingQueryError)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise RecordingQueryError("'from' is after 'to'")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise RecordingQueryError(
                f"direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}"
            )
        if self.extension is not None and not _DIGITS_RE.match(self.extension):
            raise RecordingQueryError(f"extension must be digits, not {self.extension!r}")
        if self.number is not None and not _NUMBER_RE.match(self.number):
            raise RecordingQueryError(f"number must be a phone number, not {self.number!r}")
        if self.queue_id is not None and not (
            isinstance(self.queue_id, int) and 0 < self.queue_id < 10**12
        ):
            raise RecordingQueryError("queue must be a queue number")
        object.__setattr__(self, "_words", search_words(self.words))

    @classmethod
    def from_query(cls, query: dict[str, str], timezone: str = "UTC") -> RecordingFilter:
        """From a page's URL query or CLI options (strings); bad values raise the user's error."""

        def day(key: str) -> date | None:
            value = (query.get(key) or "").strip()
            try:
                return parse_day(value) if value else None
            except ValueError as exc:
                raise RecordingQueryError(
                    f"{key} must be a date (YYYY-MM-DD) between {FIRST_DAY} and {LAST_DAY}"
                ) from exc

        queue = (query.get("queue") or "").strip()
        if queue and not (queue.isascii() and queue.isdigit()):  # "²" is a digit to isdigit
            raise RecordingQueryError("queue must be a queue number")
        flag = (query.get("has_transcript") or "").strip().lower()
        if flag not in ("", "yes", "no", "true", "false", "1", "0"):
            raise RecordingQueryError("has_transcript must be yes or no")
        return cls(
            date_from=day("from"),
            date_to=day("to"),
            extension=(query.get("extension") or "").strip() or None,
            direction=(query.get("direction") or "").strip() or None,
            number=(query.get("number") or "").strip() or None,
            queue_id=int(queue) if queue else None,
            has_transcript=None if not flag else flag in ("yes", "true", "1"),
            words=(query.get("words") or "").strip() or None,
            timezone=timezone,
        )

    def params(self) -> dict[str, Any]:
        """The bound parameters of ``recording_list.sql`` (days → UTC instants)."""
        zone = ZoneInfo(self.timezone)

        def start(day: date | None) -> datetime | None:
            return None if day is None else datetime.combine(day, time(), zone)

        number = None if self.number is None else re.sub(r"[^0-9]", "", self.number) or None
        return {
            "since": start(self.date_from),
            "until": start(self.date_to + timedelta(days=1) if self.date_to else None),
            "extension": self.extension,
            "direction": self.direction,
            "number": number,
            "queue_id": self.queue_id,
            "has_transcript": self.has_transcript,
            "words": self._words,
        }


def _list(
    conn: duckdb.DuckDBPyConnection, params: dict[str, Any], **more: Any
) -> list[dict[str, Any]]:
    """``recording_list.sql`` with the filter's parameters and the list's own."""
    bound = {"recording_id": None, "missing": False, "offset": 0, **params, **more}
    return fetch_rows(conn, sql_file("recording_list"), bound)


def list_recordings(
    conn: duckdb.DuckDBPyConnection,
    flt: RecordingFilter | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Recordings in the connection's scope that pass ``flt``, newest first."""
    if not 1 <= limit <= MAX_ROWS:
        raise RecordingQueryError(f"ask for 1 to {MAX_ROWS} rows")
    if offset < 0:
        raise RecordingQueryError("offset must not be negative")
    return _list(conn, (flt or RecordingFilter()).params(), limit=limit, offset=offset)


def list_missing_recordings(
    conn: duckdb.DuckDBPyConnection, flt: RecordingFilter | None = None, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Calls the policy said to record that were not recorded (rtpengine down), newest first.

    ``flt``: its days, extension, direction and number apply; the transcript, words and
    queue conditions cannot (there is no recording), so they are refused.
    """
    if not 1 <= limit <= MAX_ROWS:
        raise RecordingQueryError(f"ask for 1 to {MAX_ROWS} rows")
    flt = flt or RecordingFilter()
    if flt.words or flt.has_transcript is not None or flt.queue_id is not None:
        raise RecordingQueryError("a missing recording has no transcript, words or queue filter")
    return _list(conn, flt.params(), missing=True, limit=limit)


@dataclass(frozen=True)
class TranscriptLine:
    start: float
    end: float
    speaker: str  # caller / callee
    text: str


@dataclass(frozen=True)
class Recording:
    """One recording as the page shows it: facts, WAV (relative to data_dir), transcript."""

    facts: dict[str, Any]
    lines: tuple[TranscriptLine, ...]
    model: str | None

    @property
    def recording_id(self) -> str:
        return str(self.facts["recording_id"])

    @property
    def audio_path(self) -> str:
        return str(self.facts["audio_path"])


def get_recording(conn: duckdb.DuckDBPyConnection, recording_id: str) -> Recording | None:
    """One recording in the connection's scope (None: no such recording, or not theirs)."""
    if not isinstance(recording_id, str) or not RECORDING_ID_RE.match(recording_id):
        raise RecordingQueryError(f"{recording_id!r} is not a recording id")
    rows = _list(conn, RecordingFilter().params(), recording_id=recording_id, limit=1)
    if not rows:
        return None
    transcript = fetch_rows(conn, sql_file("recording_transcript"), {"recording_id": recording_id})
    if not transcript:
        return Recording(rows[0], (), None)
    lines = tuple(
        TranscriptLine(float(s["start"]), float(s["end"]), str(s["speaker"]), str(s["text"]))
        for s in json.loads(transcript[0]["segments_json"])
    )
    return Recording(rows[0], lines, transcript[0]["model"])


def audio_file(settings: Settings, recording: Recording) -> Path:
    """The WAV of ``recording`` on disk; refuses a path that leaves the recordings folder."""
    root = (settings.data_dir / AUDIO_DIR).resolve()
    path = (settings.data_dir / recording.audio_path).resolve()
    if not path.is_relative_to(root):
        raise RecordingQueryError("the recording's audio path is outside the recordings folder")
    return path


def search_everything(
    conn: duckdb.DuckDBPyConnection, text: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Recordings and voicemails whose transcript holds every word of ``text``, newest first.

    Each row: ``kind`` (recording / voicemail), ``item_id`` (recording or message id),
    ``call_id``, ``started_at``, ``duration``, ``caller``, ``callee`` (a voicemail's
    mailbox), ``transcript``.
    """
    words = search_words(text)
    if not words:
        raise RecordingQueryError("type a word to search for")
    if not 1 <= limit <= MAX_ROWS:
        raise RecordingQueryError(f"ask for 1 to {MAX_ROWS} results")
    return fetch_rows(conn, sql_file("recording_search"), {"words": words, "limit": limit})


def agent_figures(
    conn: duckdb.DuckDBPyConnection, flt: RecordingFilter | None = None
) -> list[dict[str, Any]]:
    """Per agent: recorded calls, mean talk share, longest silence and overtalk (dates of ``flt``).

    Definitions: ``pipeline/sql/recording_agent_figures.sql`` and docs/recordings.md.
    """
    params = (flt or RecordingFilter()).params()
    bounds = {"since": params["since"], "until": params["until"]}
    return fetch_rows(conn, sql_file("recording_agent_figures"), bounds)
