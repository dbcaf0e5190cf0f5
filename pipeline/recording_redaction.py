"""Masking payment-card numbers in transcripts (pure), before a transcript is stored.

A card number is a run of 13 to 19 digits that passes the Luhn check. In a call
transcript it comes as digits ("4111 1111 1111 1111"), as words ("four one one
one …") or mixed, with spaces, dashes, commas or periods between groups, and —
as tiny.en writes a number said in groups of four — as spoken cardinals ("4,1
hundred 11, 1 thousand,100 11 …"). Each run of number tokens
(:func:`pipeline.transcription_numbers.number_runs`, the reader voicemail's
display shares) is read both as written and as cardinals, and every stretch of
either reading whose digits make a Luhn-valid 13–19-digit number is replaced by
``MASK``. Luhn keeps order numbers, amounts and phone numbers (which rarely pass
it and are shorter) in the transcript. ``recording_redaction`` (setting) turns
it off. What tiny.en really writes for spoken card numbers, and how much of it
this finds: docs/recordings.md ("Redaction").

The model mishears digits: a card number with one digit changed fails Luhn but is
still 15 of the caller's 16 digits in the clear, and a misheard digit often comes out
as a word ("4526. I'm 1083"). So after a card word ("card", "visa", "credit" …
:data:`_CARD_CUE`) the number runs of the next :data:`CUE_WINDOW` words are read as
one number, and masked from the first run on when 12–19 of their digits can be read,
Luhn or not: after those words such digits are a card number. A word that names
another number ("call", "phone", "order", "invoice" … :data:`_OTHER_NUMBER`) ends
the window, and a phone number said after the card's (at most 15 digits with a country
code, mostly 10–12) keeps its own digits where a pause lets the card's end before it.
A speaker's lines right after the other side asked for a card ("Can I have the card
number?") are read as after a card word (:func:`chained_card_spans` ``asked``): the one
reading the number rarely says "card". What this gains is measured by
``benchmarks/redaction.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice, pairwise

from pipeline.transcription_numbers import (
    Group,
    NumberToken,
    cardinal_groups,
    literal_groups,
    number_runs,
)

MASK = "[card number]"
MIN_DIGITS = 13
MAX_DIGITS = 19
_PAUSE = re.compile(r"[,.]|\band\b", re.IGNORECASE)
# Words that say a card number follows; "current", "car" and "count" are how the models
# write "card" before "number" (benchmarks/redaction.py: 10 of their 48 transcripts).
_CARD_CUE = re.compile(
    r"\b(?:cards?|visa|master\s?card|amex|american express|discover|credit|debit"
    r"|(?:current|car|count)(?=\s+number))\b",
    re.IGNORECASE,
)
# ... up to one of these: the number after it is a phone's, or another number named.
_OTHER_NUMBER = re.compile(
    r"\b(?:phon\w*|call\w*|mobile|cell|reach|fax|extension|order|invoice|account|reference"
    r"|ticket|tracking|booking|policy|member|customer|case|confirmation|postcode|zip)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\S+")
CUE_WINDOW = 12  # words after a card word in which its number is looked for
# After a card word a number is a card's from 12 digits (Maestro's shortest; a phone
# number said as a card's is not a case to keep in the clear).
CUED_MIN_DIGITS = 12
CHAIN_JOIN = ", "  # between one speaker's lines read as one (chained_card_spans)
ASKED = "card: "  # before lines read after the other speaker asked for a card
_EDGES = " ,."


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment-card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class _Pauses:
    """Where a run is broken by a comma, a period or an "and": (end of one token, start of next).

    Whisper writes a pause so; two phone numbers said one after the other ("415 555 0192,
    415 555 0110") are two pieces, and a card number is never taken across pieces unless
    it starts and ends on a pause (or the run's ends): a number the model broke into
    pieces ("4,1 hundred 11, 1 thousand …") is whole pieces.
    """

    first: int
    last: int
    cuts: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str, run: list[NumberToken]) -> _Pauses:
        cuts = tuple(
            (a.end, b.start) for a, b in pairwise(run) if _PAUSE.search(text, a.end, b.start)
        )
        return cls(run[0].start, run[-1].end, cuts)

    def allows(self, start: int, end: int) -> bool:
        """Whole pieces, or the head of one piece (a number followed by more digits)."""
        if start != self.first and all(n != start for _, n in self.cuts):
            return False
        ends_on_pause = end == self.last or any(p == end for p, _ in self.cuts)
        return ends_on_pause or not any(start < n and p < end for p, n in self.cuts)


def _card_stretches(groups: list[Group], pauses: _Pauses) -> list[tuple[int, int]]:
    """Character spans of the longest Luhn-valid 13–19-digit stretches of ``groups``."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        found = None
        for j in range(len(groups), i, -1):  # the longest valid stretch starting at group i
            digits = "".join(g[2] for g in groups[i:j])
            if (
                MIN_DIGITS <= len(digits) <= MAX_DIGITS
                and luhn_valid(digits)
                and pauses.allows(groups[i][0], groups[j - 1][1])
            ):
                found = j
                break
        if found is None:
            i += 1
            continue
        spans.append((groups[i][0], groups[found - 1][1]))
        i = found
    return spans


def _cued_spans(
    text: str, runs: list[tuple[list[NumberToken], _Pauses]], luhn: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """For each card word: the number after it (the module's docstring), unless the
    Luhn check found one there."""
    spans: list[tuple[int, int]] = []
    for cue in _CARD_CUE.finditer(text):
        words = [m.end() for m in islice(_WORD.finditer(text, cue.end()), CUE_WINDOW)]
        if not words:
            continue
        other = _OTHER_NUMBER.search(text, cue.end(), words[-1])
        limit = other.start() if other else words[-1]
        in_window = [(run, p) for run, p in runs if cue.end() <= run[0].start < limit]
        if not in_window:
            continue
        window = [run for run, _ in in_window]
        first, last = window[0][0].start, window[-1][-1].end
        if any(start < last and first < end for start, end in luhn):
            continue
        cuts = [cut for _, p in in_window for cut in p.cuts]
        cuts += [(a[-1].end, b[0].start) for a, b in pairwise(window)]  # words between runs
        pauses = _Pauses(first, last, tuple(cuts))
        written = [g for run in window for stretch in literal_groups(run) for g in stretch]
        spoken = [g for run in window for g in cardinal_groups(run)]
        for groups in (written, spoken):
            span = _cued_stretch(groups, pauses) if groups else None
            if span is not None:
                spans.append(span)
                break
    return spans


def _cued_stretch(groups: list[Group], pauses: _Pauses) -> tuple[int, int] | None:
    """The span of ``groups`` from their start holding 12–19 digits, ending on a pause
    if it can (a phone number said after the card keeps its own digits); when no such
    end exists, up to the group that passes 19 (a loop's tail on a card number)."""
    ends: list[tuple[bool, int]] = []
    total = 0
    for _, end, digits in groups:
        total += len(digits)
        if total > MAX_DIGITS:
            if not ends:
                return groups[0][0], end
            break
        if total >= CUED_MIN_DIGITS:
            ends.append((end == pauses.last or any(p == end for p, _ in pauses.cuts), end))
    return (groups[0][0], max(ends)[1]) if ends else None


def card_spans(text: str, *, cued: bool = True) -> list[tuple[int, int]]:
    """(start, end) character ranges of ``text`` holding a card number, in order.

    ``cued``: also the number after a card word, Luhn or not (the module's docstring); False
    is the Luhn check alone (the benchmark's baseline). The audio redaction
    (:mod:`pipeline.recording_audio_redaction`) maps them to words.
    """
    found: list[tuple[int, int]] = []
    runs = [(run, _Pauses.of(text, run)) for run in number_runs(text, homophones=True)]
    for run, pauses in runs:
        for stretch in [*literal_groups(run), cardinal_groups(run)]:
            found += _card_stretches(stretch, pauses)
    if cued:
        found += _cued_spans(text, runs, found)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):  # the two readings may overlap: one span each
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def has_card_word(text: str) -> bool:
    """Whether ``text`` names a card (:data:`_CARD_CUE`): "What is the card number?"."""
    return _CARD_CUE.search(text) is not None


def chained_card_spans(texts: Sequence[str], *, asked: bool = False) -> list[list[tuple[int, int]]]:
    """Per text, the ranges of it holding a card number, found over the texts read as one
    (joined by a pause, ", "): one speaker's lines in a row, across which a number read
    with pauses is split. A range that falls on the joins only is dropped.

    ``asked``: the other speaker asked for a card just before ("Can I have the long number
    on your card?"); the texts are read as if after a card word, since the one reading the
    number rarely says the word again."""
    joined, offsets = ASKED if asked else "", []
    for n, text in enumerate(texts):
        joined += CHAIN_JOIN if n else ""
        offsets.append(len(joined))
        joined += text
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    for start, end in card_spans(joined):
        for i, (offset, text) in enumerate(zip(offsets, texts, strict=True)):
            lo, hi = max(start, offset) - offset, min(end, offset + len(text)) - offset
            piece = text[lo:hi]  # without the pauses at its edges (the join's, or the line's)
            lo, hi = (
                lo + len(piece) - len(piece.lstrip(_EDGES)),
                hi - len(piece) + len(piece.rstrip(_EDGES)),
            )
            if lo < hi:
                out[i].append((lo, hi))
    return out


def mask_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each of ``spans`` (in order, not overlapping) replaced by MASK."""
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


def mask_card_numbers(text: str, *, cued: bool = True) -> str:
    """``text`` with every card number of :func:`card_spans` replaced by MASK."""
    return mask_spans(text, card_spans(text, cued=cued))
