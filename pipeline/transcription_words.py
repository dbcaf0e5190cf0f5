"""Word times moved onto the speech they cover: Whisper's edges snapped to the pauses around.

faster-whisper times words by aligning its cross-attention (``word_timestamps``);
on the phone it gives each pause to a word next to it. Measured on espeak-ng
card numbers through G.711 (docs/recordings.md, "Redaction"): the first digit
after "my card number is" started 0.24–0.34 s late (the pause before it went to
"is") and the last digit ended up to 0.39 s late (the pause after it went to the
digit) — so a tone over the words' times missed the first digit's onset and
clipped the next word. The signal knows better where a pause is: a run of quiet
20 ms frames of at least :data:`MIN_PAUSE_SECONDS`. Each word's start moves to
the end of a pause it starts in, or back to the end of the last pause before it
when the previous word has speech before that pause (within :data:`REACH_SECONDS`);
its end moves to the start of a pause it ends in (a late end; an early one was not
seen, and reaching forward could take the next word's speech). Words with no pause
near keep Whisper's times. Pure.

Where the times come from (:func:`align_words`): faster-whisper's own
``word_timestamps=True`` re-seeks to the last word's end when decoding without
timestamps (as voicemail decoding does), so each piece's tail was decoded again —
measured on the dev set: CPU RTF 0.27 → 0.44 and other text (docs/recordings.md).
So the text is decoded as always, and its tokens are then aligned to the piece's
audio with the same cross-attention alignment faster-whisper uses
(``WhisperModel.find_alignment``, faster-whisper 1.2.1 as pinned): one encoder pass
and one alignment per segment, no second decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from pipeline.transcription_decoding import Word

FRAME_SECONDS = 0.02
MIN_PAUSE_SECONDS = 0.15  # longer than a stop consonant's closure ("eight", "six")
REACH_SECONDS = 0.4
# Speech a neighbour must have on its side of a pause before a word may reach across it.
MIN_SPEECH_SECONDS = 0.06
# A frame is quiet below this share of the loud frames' level (-20 dB of the 95th percentile).
QUIET_SHARE = 0.1

Pause = tuple[float, float]  # seconds, in the clock of the words


def pauses(audio: np.ndarray, rate: int, offset: float = 0.0) -> list[Pause]:
    """The pauses of ``audio`` (which starts ``offset`` seconds into the words' clock)."""
    size = int(rate * FRAME_SECONDS)
    count = len(audio) // size
    if count == 0:
        return []
    frames = audio[: count * size].astype(np.float64).reshape(count, size)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = float(np.percentile(rms, 95))
    if loud <= 0.0:
        return []
    quiet = rms < QUIET_SHARE * loud
    found: list[Pause] = []
    first = None
    for i, q in enumerate([*quiet, False]):
        if q and first is None:
            first = i
        elif not q and first is not None:
            if (i - first) * FRAME_SECONDS >= MIN_PAUSE_SECONDS:
                found.append((offset + first * FRAME_SECONDS, offset + i * FRAME_SECONDS))
            first = None
    return found


def _start(start: float, floor: float, quiet: list[Pause]) -> float:
    """A word's start on its speech; ``floor``: the previous word's start."""
    for a, b in quiet:
        if a <= start < b:
            return b  # started in a pause: the speech begins at its end
    # A pause after some speech of the previous word, ending before this word's start:
    # the speech since belongs to this word (Whisper gave the pause to the previous one).
    before = [
        b
        for a, b in quiet
        if a >= floor + MIN_SPEECH_SECONDS and b <= start and start - b <= REACH_SECONDS
    ]
    return max(before) if before else start


def _end(end: float, quiet: list[Pause]) -> float:
    """A word's end on its speech: Whisper's end, or the start of the pause it ends in."""
    for a, b in quiet:
        if a < end <= b:
            return a  # ended in a pause: the speech stopped at its start
    return end


def snap_to_pauses(words: Sequence[Word], quiet: list[Pause]) -> tuple[Word, ...]:
    """``words`` with each edge moved onto the speech (see the module docstring)."""
    out: list[Word] = []
    for i, word in enumerate(words):
        floor = words[i - 1].start if i else float("-inf")
        start = _start(word.start, floor, quiet)
        end = _end(word.end, quiet)
        if end <= start:  # a word Whisper put wholly in a pause: keep its own times
            start, end = word.start, word.end
        out.append(replace(word, start=start, end=end))
    for i in range(1, len(out)):
        # A word moved back to its onset after a pause: the previous one ends at that pause.
        ends = [a for a, b in quiet if b == out[i].start and a > out[i - 1].start]
        if ends and out[i - 1].end > out[i].start:
            out[i - 1] = replace(out[i - 1], end=ends[0])
    return tuple(replace(w, start=round(w.start, 2), end=round(w.end, 2)) for w in out)


# Punctuation faster-whisper folds into the word before/after (its transcribe defaults).
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


def align_words(
    model: Any,
    audio: np.ndarray,
    tokens: Sequence[int],
    language: str,
    offset: float,
    encoded: Any = None,
) -> tuple[Word, ...]:
    """The words of ``tokens`` (Whisper's decode of ``audio``, 16 kHz) and their times.

    ``model`` is the faster-whisper ``WhisperModel``; ``encoded``: its encoder's output
    for ``audio`` when the decode already computed it (else encoded here); times are
    seconds in the words' clock (``audio`` starts ``offset`` seconds into it), not yet
    snapped to pauses.
    """
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import merge_punctuations

    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
    )
    text = [t for t in tokens if t < tokenizer.eot]
    if not text or len(audio) == 0:
        return ()
    features = model.feature_extractor(audio)
    frames = features.shape[-1] - 1
    if encoded is None:
        encoded = model.encode(pad_or_trim(features[:, :frames]))
    alignment = model.find_alignment(tokenizer, [text], encoded, frames)[0]
    merge_punctuations(alignment, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
    return tuple(
        Word(offset + float(w["start"]), offset + float(w["end"]), w["word"])
        for w in alignment
        if w["word"]
    )
