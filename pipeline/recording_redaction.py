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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

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


def card_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character ranges of ``text`` holding a card number, in order.

    The audio redaction (:mod:`pipeline.recording_audio_redaction`) maps them to words.
    """
    found: list[tuple[int, int]] = []
    for run in number_runs(text, homophones=True):
        pauses = _Pauses.of(text, run)
        for stretch in [*literal_groups(run), cardinal_groups(run)]:
            found += _card_stretches(stretch, pauses)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):  # the two readings may overlap: one span each
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mask_card_numbers(text: str) -> str:
    """``text`` with every Luhn-valid 13–19-digit run (digits or words) replaced by MASK."""
    for start, end in reversed(card_spans(text)):
        text = text[:start] + MASK + text[end:]
    return text
