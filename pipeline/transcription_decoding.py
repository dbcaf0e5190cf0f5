"""How a voicemail is decoded: the prompt, the decoder options, and the guards after it.

Every default here was chosen on the dev set (``tests/devset``: espeak-ng
speech through G.711 at 8 kHz); the figures behind each are in
docs/voicemail.md. The pieces are pure so each is tested alone:

- :func:`voicemail_prompt` — a prompt in the style of a voicemail, carrying the
  names the company uses (mailbox owner first, then contacts, then the tenant's
  users), bounded so it never crowds the 448-token context; :func:`with_context` — that
  prompt followed by the words heard just before a piece;
- :class:`DecodingOptions` — beam, temperature fallback, VAD, thresholds;
- :func:`kept_segments` / :func:`collapse_repeats` — the guard against text
  invented on silence or noise and against repetition loops.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.transcription_models import MODEL_MARGIN
from pipeline.transcription_numbers import is_number_word
from pipeline.transcription_pieces import MAX_PIECE_SECONDS

# The prompt's style (punctuation, digits, "call me back") is what Whisper copies; see
# docs/voicemail.md for the wordings measured.
VOICEMAIL_PROMPT = "Hi, this is a voicemail. Please call me back at 555-0100. Thanks."
# Bound on the names part of the prompt: ~40 tokens; Whisper keeps at most 223 prompt
# tokens and a long list of names measurably pulls words towards names.
MAX_NAMES_CHARS = 160
# Bound on the words heard just before (with_context): Whisper's own condition on previous
# text keeps half its context; a few sentences are what a short stretch needs.
MAX_CONTEXT_CHARS = 200

# What Whisper says over silence and music (its training data's subtitles); dropped when
# the segment itself is unsure there is speech.
HALLUCINATIONS = frozenset(
    {
        "thank you",
        "thank you.",
        "thanks for watching",
        "thanks for watching!",
        "thank you for watching",
        "thank you for watching.",
        "you",
        "bye",
        "bye.",
        "bye!",
        ".",
        "subtitles by the amara.org community",
    }
)


@dataclass(frozen=True)
class DecodingOptions:
    """faster-whisper settings for voicemail; defaults are the measured choice."""

    beam_size: int = 5
    # Fallback: retry a window at higher temperature when it loops (compression ratio) or
    # is unsure (log-prob); without it base looped on the dev set.
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    # Silero VAD trims leading/trailing silence and cuts long silences: silence → no text.
    vad_filter: bool = True
    vad_min_silence_ms: int = 1000
    # With the VAD on, each stretch of speech between pauses (cut at this many seconds) is
    # decoded on its own (pipeline.transcription_pieces: why, and the figures); 0: one pass
    # through faster-whisper's own 30 s windows, as before (kept to measure against).
    max_piece_seconds: float = MAX_PIECE_SECONDS
    without_timestamps: bool = True
    condition_on_previous_text: bool = False
    use_prompt: bool = True
    names_as_hotwords: bool = False
    normalise_level: bool = True
    # Word times (faster-whisper's cross-attention alignment): what audio redaction needs to
    # tone only a card number's words; off unless asked for (cost: docs/recordings.md).
    word_timestamps: bool = False
    # Padding frames the encoder sees after the audio (pipeline.transcription_models: why);
    # MODEL_MARGIN: the model's own; None: the whole 30 s window, as faster-whisper pads it.
    context_margin_frames: int | None = MODEL_MARGIN
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self, prompt: str | None, names: str | None) -> dict[str, Any]:
        """Keyword arguments for ``WhisperModel.transcribe``."""
        return {
            "beam_size": self.beam_size,
            "temperature": list(self.temperature),
            "compression_ratio_threshold": self.compression_ratio_threshold,
            "log_prob_threshold": self.log_prob_threshold,
            "no_speech_threshold": self.no_speech_threshold,
            "vad_filter": self.vad_filter,
            "vad_parameters": {"min_silence_duration_ms": self.vad_min_silence_ms},
            "without_timestamps": self.without_timestamps,
            "condition_on_previous_text": self.condition_on_previous_text,
            "initial_prompt": prompt,
            "hotwords": names,
            "word_timestamps": self.word_timestamps,
            **self.extra,
        }


def bounded_names(names: Iterable[str], limit: int = MAX_NAMES_CHARS) -> list[str]:
    """Distinct non-empty names in order (the most important first) within ``limit`` chars."""
    kept: list[str] = []
    seen: set[str] = set()
    used = 0
    for raw in names:
        name = " ".join(str(raw).split())
        if not name or name.lower() in seen or not re.search(r"[^\W\d_]", name):
            continue
        cost = len(name) + (2 if kept else 0)
        if used + cost > limit:
            break
        kept.append(name)
        seen.add(name.lower())
        used += cost
    return kept


def voicemail_prompt(names: Sequence[str] = (), *, english: bool = True) -> str | None:
    """The initial prompt: the voicemail style (English only) plus the company's names."""
    listed = bounded_names(names)
    parts: list[str] = []
    if english:
        parts.append(VOICEMAIL_PROMPT)
    if listed:
        parts.append(", ".join(listed) + ".")
    return " ".join(parts) or None


# A piece decoded above this temperature is not carried into the next piece's prompt, and
# the words before it are dropped too (faster-whisper's ``prompt_reset_on_temperature``):
# text the decoder was unsure of would pull the next piece the same way.
PROMPT_RESET_TEMPERATURE = 0.5


def context_after(context: str, piece: Sequence[DecodedSegment]) -> str:
    """The words heard before the next piece: ``context`` and ``piece``'s kept text, or
    nothing when the piece needed a hot fallback (:data:`PROMPT_RESET_TEMPERATURE`)."""
    if any(s.temperature > PROMPT_RESET_TEMPERATURE for s in piece):
        return ""
    return " ".join([context, *(s.text.strip() for s in kept_segments(piece))]).strip()


def with_context(prompt: str | None, context: str) -> str | None:
    """``prompt`` followed by the last words of ``context`` (what the speaker said just
    before): a stretch of a few digits decoded alone comes out as filler ("Time, time,
    big") far more often than after "My card number is … 4-8-3-7" (docs/recordings.md)."""
    tail = context.strip()
    if len(tail) > MAX_CONTEXT_CHARS:
        tail = tail[-MAX_CONTEXT_CHARS:].split(" ", 1)[-1]
    return " ".join(part for part in (prompt, tail) if part) or None


_WORD = re.compile(r"\S+")
_CHAR_LOOP = re.compile(r"(\S{2,12}?)\1{3,}")
_PUNCT = ".,!?-"
LONG_PHRASE = 4
MAX_SHORT_REPEATS = 3
# A number said digit by digit repeats itself ("1, 1, 1, 1", "8-8-8-8"): repeated number
# words are speech while they span at most this many words (the longest card number).
MAX_NUMBER_WORDS = 19


def _is_number_phrase(words: list[str]) -> bool:
    return all(w and all(is_number_word(p) for p in w.split("-") if p) for w in words)


def _char_loop(m: re.Match[str]) -> str:
    """One copy of a loop inside a "word", unless it is a digit said over ("one-one-one-")."""
    unit = m.group(1)
    reps = len(m.group(0)) // len(unit)
    if reps <= MAX_NUMBER_WORDS and _is_number_phrase([unit.strip(_PUNCT)]):
        return m.group(0)
    return unit


def collapse_repeats(text: str, *, max_ngram: int = 12) -> str:
    """``text`` with Whisper's repetition loops cut to one copy of the repeated phrase.

    A phrase of 4+ words said twice in a row is a loop; shorter ones ("no, no, no") are
    speech up to :data:`MAX_SHORT_REPEATS` times; a repeated number ("1, 1, 1, 1, 1" of a
    card number, "thousand five hundred fifty five" of its groups) while it spans at most
    :data:`MAX_NUMBER_WORDS` words.
    """
    # A loop inside one "word" ("L-E-N-E-N-E-N-E…"): 2–12 characters said 4+ times over.
    text = _CHAR_LOOP.sub(_char_loop, text)
    words = _WORD.findall(text)
    key = [w.lower().strip(_PUNCT) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        step = 1
        for n in range(1, min(max_ngram, len(words) - i) + 1):
            phrase = key[i : i + n]
            reps = 1
            while key[i + reps * n : i + (reps + 1) * n] == phrase:
                reps += 1
            if _is_number_phrase(phrase) and reps * n <= MAX_NUMBER_WORDS:
                limit = reps  # a number said in its digits or groups: speech
            else:
                limit = 1 if n >= LONG_PHRASE else MAX_SHORT_REPEATS
            if reps > limit:
                out.extend(words[i : i + n])
                step = reps * n
                break
        else:
            out.append(words[i])
        i += step
    return " ".join(out)


@dataclass(frozen=True)
class Word:
    """One decoded word and its time (seconds); ``text`` as Whisper spelt it (leading space)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class DecodedSegment:
    """What the guard needs of one faster-whisper segment."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[Word, ...] = ()
    temperature: float = 0.0  # of the decode that was kept (the fallback's, if it ran)


def is_invented(seg: DecodedSegment) -> bool:
    """A segment that is most likely not speech: a known filler on unsure audio, or noise."""
    text = seg.text.strip().lower()
    if not text:
        return True
    if text in HALLUCINATIONS and (seg.no_speech_prob > 0.2 or seg.avg_logprob < -0.5):
        return True
    # Whisper's own rule for "no speech", applied to what it kept anyway.
    if seg.no_speech_prob > 0.6 and seg.avg_logprob < -0.7:
        return True
    # Still a loop after every temperature of the fallback, and unsure of it.
    return seg.compression_ratio > 2.4 and seg.avg_logprob < -0.5


def kept_segments(segments: Iterable[DecodedSegment]) -> list[DecodedSegment]:
    """The segments worth showing, each with its repetition loops collapsed."""
    kept = []
    for seg in segments:
        if is_invented(seg):
            continue
        text = collapse_repeats(seg.text.strip())
        kept.append(
            DecodedSegment(
                seg.start,
                seg.end,
                text,
                seg.avg_logprob,
                seg.no_speech_prob,
                seg.compression_ratio,
                seg.words,
            )
        )
    return kept


# Below these a transcript is marked "may be inaccurate" (portal and email). Chosen on the
# dev set: sentences with WER above 0.3 had a weighted log-prob below about -0.6; see
# docs/voicemail.md.
LOW_CONFIDENCE_LOGPROB = -0.6
LOW_CONFIDENCE_NO_SPEECH = 0.5


def is_low_confidence(avg_logprob: float | None, no_speech_prob: float | None) -> bool:
    """Whether a stored transcript should be shown as possibly inaccurate."""
    if avg_logprob is None:
        return False  # no speech, empty transcript: nothing to doubt
    if avg_logprob < LOW_CONFIDENCE_LOGPROB:
        return True
    return no_speech_prob is not None and no_speech_prob > LOW_CONFIDENCE_NO_SPEECH


# What the portal and the email say next to a low-confidence transcript.
LOW_CONFIDENCE_NOTE = "Transcript may be inaccurate."
_LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
}


def language_name(code: str) -> str:
    """A language code as users read it (``es`` → ``Spanish``; unknown codes as they are)."""
    return _LANGUAGE_NAMES.get(code, code)
