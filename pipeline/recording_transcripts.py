"""Per-speaker transcripts of call recordings: each channel on its own, lines interleaved by time.

A channel is cut into its speech stretches (:func:`pipeline.recording_figures.speech_frames`,
gaps under ``JOIN_GAP_SECONDS`` joined, each stretch padded and at most
``MAX_CHUNK_SECONDS``), and each stretch is transcribed through the public
:class:`pipeline.transcribe.Transcriber` API as a short mono WAV. Why stretches and
not the whole channel: the other side's turns are silence on this channel, where
Whisper invents words ("Thank you."), and a stretch's offset gives each line its true
time in the call even when the engine decodes without timestamps. An engine that takes
context (``takes_context``) gets the text of the same speaker's previous stretch (its
``Transcript.carried``: nothing when it was decoded hot): a short stretch decoded alone (a
card number's group of digits) is mostly filler.

Work list: ingest leaves ``<recording_spool_dir>/transcribe/rec-<hex>.json`` per
committed recording. One transcript is one Parquet file,
``recording_transcripts/tenant=<t>/date=<d>/rec-<hex>.<model>.parquet``, committed by
its rename (like voicemail transcripts); the marker goes after. Card numbers are masked
before the row is written (:mod:`pipeline.recording_redaction`, setting
``recording_redaction``), read across each speaker's lines in a row
(:func:`card_spans_by_line`). A kill between the
two leaves a marker whose file exists: the next pass only deletes the marker.
With ``recording_redact_audio`` the spoken numbers are also toned out of the WAV, after
the row, from a plan saved in the marker (:mod:`pipeline.recording_audio_redaction`).

A recording deleted while its transcription runs (:mod:`pipeline.lake_deletion`) must
not get its transcript afterwards: the deletion unlinks the WAV and the marker first,
then drops the rows under the compaction lock. The transcript is therefore renamed into
the lake under that same lock, and only while the WAV and the marker are still there.
Either the deletion came first (one is gone: the transcript is dropped, step ``dropped``)
or the write did (the deletion, waiting on the lock, then drops it with the row).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

from pipeline.compaction import LOCK as COMPACTION_LOCK
from pipeline.files import exclusive_lock, write_json_atomic, write_parquet_atomic
from pipeline.lake_layout import RECORDING_TRANSCRIPTS, partition_dir
from pipeline.recording_audio import SAMPLE_RATE, read_channels
from pipeline.recording_audio_redaction import Span, Word, apply_tone, line_ranges
from pipeline.recording_figures import FRAME_SECONDS, speech_frames
from pipeline.recording_redaction import chained_card_spans, has_card_word, mask_spans
from pipeline.recordings_schema import (
    RECORDING_TRANSCRIPTS_SCHEMA,
    SPEAKERS,
    transcription_queue,
)
from pipeline.transcribe import (
    ContextTranscriber,
    Transcriber,
    model_slug,
    transcript_written,
    with_word_times,
)
from switchboard.settings import Settings

log = logging.getLogger(__name__)

StepHook = Callable[[str], None]
JOIN_GAP_SECONDS = 0.6
PAD_SECONDS = 0.25
MAX_CHUNK_SECONDS = 25.0
# One speaker's lines closer than this are read as one for card numbers (a caller reading
# a card pauses between groups; see card_spans_by_line).
CHAIN_GAP_SECONDS = 3.0


@dataclass(frozen=True)
class Line:
    start: float
    end: float
    speaker: str
    text: str
    words: tuple[Word, ...] = ()  # when the engine gives word times (seconds of the WAV)
    redacted: tuple[tuple[float, float], ...] = ()  # spans toned out of the WAV


def _words(seg: Any, offset: float) -> tuple[Word, ...]:
    """The segment's word times, if the engine gave them (faster-whisper's ``word``)."""
    out = []
    for w in getattr(seg, "words", None) or ():
        text = str(getattr(w, "text", None) or getattr(w, "word", ""))
        out.append(Word(round(offset + w.start, 2), round(offset + w.end, 2), text))
    return tuple(out)


def speech_stretches(samples: np.ndarray, rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """(first, end) sample ranges of one channel's speech (see the module docstring)."""
    frames = speech_frames(samples, rate)
    size = int(rate * FRAME_SECONDS)
    runs: list[list[int]] = []
    for index in np.flatnonzero(frames):
        if runs and (index - runs[-1][1]) * FRAME_SECONDS <= JOIN_GAP_SECONDS:
            runs[-1][1] = int(index) + 1
        else:
            runs.append([int(index), int(index) + 1])
    pad = int(PAD_SECONDS * rate)
    longest = int(MAX_CHUNK_SECONDS * rate)
    out: list[tuple[int, int]] = []
    for first, end in runs:
        lo, hi = max(0, first * size - pad), min(len(samples), end * size + pad)
        while hi - lo > longest:
            out.append((lo, lo + longest))
            lo += longest
        out.append((lo, hi))
    return out


def _write_mono(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def transcribe_channels(
    wav_path: Path, transcriber: Transcriber
) -> tuple[list[Line], str | None, float]:
    """Lines of both channels in time order; (lines, language, seconds of audio decoded)."""
    channels = dict(zip(SPEAKERS, read_channels(wav_path), strict=True))
    lines: list[Line] = []
    language: str | None = None
    decoded = 0.0
    with tempfile.TemporaryDirectory(prefix="rec-chunks-") as tmp:
        chunk = Path(tmp) / "chunk.wav"
        for speaker, samples in channels.items():
            before = ""  # the speaker's previous stretch, for an engine that takes it
            for lo, hi in speech_stretches(samples):
                _write_mono(chunk, samples[lo:hi])
                if getattr(transcriber, "takes_context", False):
                    engine = cast(ContextTranscriber, transcriber)
                    transcript = engine.transcribe(chunk, context=before)
                    before = transcript.carried
                else:
                    transcript = transcriber.transcribe(chunk)
                decoded += (hi - lo) / SAMPLE_RATE
                language = language or transcript.language
                offset = lo / SAMPLE_RATE
                if transcript.segments:
                    for seg in transcript.segments:
                        if seg.text.strip():
                            start = round(offset + seg.start, 2)
                            end = round(offset + max(seg.end, seg.start), 2)
                            words = _words(seg, offset)
                            lines.append(Line(start, end, speaker, seg.text.strip(), words))
                elif transcript.text.strip():
                    end = round(hi / SAMPLE_RATE, 2)
                    lines.append(Line(round(offset, 2), end, speaker, transcript.text.strip()))
    lines.sort(key=lambda line: (line.start, line.speaker))
    return lines, language, decoded


def transcript_path(lake_dir: Path, tenant: str, day: date, recording_id: str, model: str) -> Path:
    folder = partition_dir(lake_dir, RECORDING_TRANSCRIPTS.name, tenant, day)
    return folder / f"{recording_id}.{model_slug(model)}.parquet"


def transcript_row(
    recording_id: str,
    lines: list[Line],
    language: str | None,
    model: str,
    seconds: float,
    took: float,
) -> dict[str, Any]:
    segments: list[dict[str, Any]] = []
    for x in lines:
        segments.append({"start": x.start, "end": x.end, "speaker": x.speaker, "text": x.text})
        if x.redacted:
            segments[-1]["redacted_audio"] = [list(r) for r in x.redacted]
    return {
        "recording_id": recording_id,
        "text": "\n".join(f"{line.speaker}: {line.text}" for line in lines),
        "segments_json": json.dumps(segments),
        "language": language,
        "model": model,
        "audio_seconds": round(seconds, 3),
        "transcribe_seconds": round(took, 3),
        "transcribed_at": datetime.now(UTC),
    }


def _asked_for_a_card(lines: list[Line], i: int) -> bool:
    """Whether the line just before line ``i`` is the other speaker's, names a card and
    ended at most ``CHAIN_GAP_SECONDS`` before it ("Can I have the card number?"): the
    number that follows is the card's though its reader never says "card"."""
    if i == 0 or lines[i - 1].speaker == lines[i].speaker:
        return False
    asking = lines[i - 1]
    return lines[i].start - asking.end <= CHAIN_GAP_SECONDS and has_card_word(asking.text)


def card_spans_by_line(lines: list[Line]) -> list[list[tuple[int, int]]]:
    """Per line, the character ranges of its card number (or of its part of one): each
    speaker's lines less than ``CHAIN_GAP_SECONDS`` apart are read as one, because a pause
    of ``JOIN_GAP_SECONDS`` already splits a number read group by group into lines. The
    other speaker asking for a card starts a new chain, read as after a card word."""
    chains: list[tuple[bool, list[int]]] = []  # (asked for a card, the lines)
    last: dict[str, int] = {}  # speaker -> the index of its chain in ``chains``
    for i, x in enumerate(lines):  # in time order
        chain = chains[last[x.speaker]][1] if x.speaker in last else None
        asked = _asked_for_a_card(lines, i)
        if chain is None or asked or x.start - lines[chain[-1]].end > CHAIN_GAP_SECONDS:
            last[x.speaker] = len(chains)
            chains.append((asked, [i]))
        else:
            chain.append(i)
    out: list[list[tuple[int, int]]] = [[] for _ in lines]
    for asked, chain in chains:
        texts = [lines[i].text for i in chain]
        for i, spans in zip(chain, chained_card_spans(texts, asked=asked), strict=True):
            out[i] = spans
    return out


def plan_audio_redaction(lines: list[Line], found: list[list[tuple[int, int]]]) -> list[Line]:
    """The lines, each with the spans of its channel to tone (``found``: its card numbers,
    :func:`card_spans_by_line`)."""
    return [
        replace(x, redacted=tuple(line_ranges(bool(spans), x.start, x.end, x.words)))
        for x, spans in zip(lines, found, strict=True)
    ]


def mask_lines(lines: list[Line], found: list[list[tuple[int, int]]]) -> list[Line]:
    """The lines with their card numbers (``found``: :func:`card_spans_by_line`) masked."""
    return [replace(x, text=mask_spans(x.text, s)) for x, s in zip(lines, found, strict=True)]


def pending(settings: Settings) -> list[Path]:
    folder = transcription_queue(settings.recording_spool_dir)
    return sorted(folder.glob("rec-*.json")) if folder.is_dir() else []


def transcribe_pending_recordings(
    settings: Settings,
    transcriber: Transcriber,
    *,
    limit: int = 2,
    on_step: StepHook | None = None,
) -> int:
    """Transcribe up to ``limit`` recordings waiting for it; how many were written.

    A recording whose transcription fails is logged and not retried (its marker goes),
    like voicemail: a broken file must not block the ones behind it.
    """
    step = on_step or (lambda _name: None)
    if settings.recording_redact_audio:  # the tone covers the number's words only
        transcriber = with_word_times(transcriber)
    done = 0
    for marker in pending(settings)[:limit]:
        todo = json.loads(marker.read_text())
        day = date.fromisoformat(todo["day"])
        target = transcript_path(
            settings.lake_dir, todo["tenant"], day, todo["recording_id"], transcriber.model_name
        )
        if not transcript_written(target):
            started = time.perf_counter()
            try:
                lines, language, seconds = transcribe_channels(
                    settings.data_dir / todo["audio_path"], transcriber
                )
            except Exception:
                log.exception("transcribing %s failed; not retried", todo["recording_id"])
                marker.unlink(missing_ok=True)
                continue
            redacting = settings.recording_redaction or settings.recording_redact_audio
            found = card_spans_by_line(lines) if redacting else []  # once, tone and text
            if settings.recording_redact_audio:
                lines = plan_audio_redaction(lines, found)
                spans = [Span(x.speaker, a, b) for x in lines for a, b in x.redacted]
                if spans:  # saved before the row: a rerun must not re-hear a toned WAV
                    todo["redact_audio"] = [span.to_json() for span in spans]
                    write_json_atomic(marker, todo)
                    step("plan")
            if settings.recording_redaction:
                lines = mask_lines(lines, found)
            row = transcript_row(
                todo["recording_id"],
                lines,
                language,
                transcriber.model_name,
                seconds,
                time.perf_counter() - started,
            )
            table = pa.Table.from_pylist([row], schema=RECORDING_TRANSCRIPTS_SCHEMA)
            step("transcribed")
            # Under the deletion's lock, and only for a recording still there (docstring).
            with exclusive_lock(settings.lake_dir / COMPACTION_LOCK):
                alive = marker.exists() and (settings.data_dir / todo["audio_path"]).exists()
                if alive:
                    write_parquet_atomic(target, table)
            if not alive:
                log.info("recording %s was deleted; its transcript dropped", todo["recording_id"])
                marker.unlink(missing_ok=True)
                step("dropped")
                continue
            step("transcript")
            done += 1
        if todo.get("redact_audio"):
            spans = [Span.from_json(x) for x in todo["redact_audio"]]
            apply_tone(settings.data_dir / todo["audio_path"], spans)
            step("audio")
        marker.unlink(missing_ok=True)
        step("marker")
    return done
