"""Masking payment-card numbers in transcripts (pure), before a transcript is stored.

A card number is a run of 13 to 19 digits that passes the Luhn check. In a call
transcript it comes as digits ("4111 1111 1111 1111"), as words ("four one one
one …") or mixed, with spaces, dashes or commas between groups: the run is read
token by token (digit groups and the number words zero/oh … nine), and every
stretch of it whose digits make a Luhn-valid 13–19-digit number is replaced by
``MASK``. Luhn keeps order numbers and phone numbers (which rarely pass it and are
shorter) in the transcript. ``recording_redaction`` (setting) turns it off.
"""

from __future__ import annotations

import re

MASK = "[card number]"
_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TOKEN = re.compile(r"\d+|[A-Za-z]+")
_JOINER = re.compile(r"^[\s,.\-]*$")


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment-card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _runs(text: str) -> list[list[tuple[int, int, str]]]:
    """Runs of number tokens (start, end, digits) joined only by spaces and punctuation."""
    runs: list[list[tuple[int, int, str]]] = []
    last_end = -1
    for m in _TOKEN.finditer(text):
        token = m.group()
        digits = token if token.isdigit() else _WORDS.get(token.lower())
        if digits is None:
            last_end = -1
            continue
        if runs and last_end >= 0 and _JOINER.match(text[last_end : m.start()]):
            runs[-1].append((m.start(), m.end(), digits))
        else:
            runs.append([(m.start(), m.end(), digits)])
        last_end = m.end()
    return runs


def card_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character ranges of ``text`` holding a card number, in order.

    The audio redaction (:mod:`pipeline.recording_audio_redaction`) maps them to words.
    """
    spans: list[tuple[int, int]] = []
    for run in _runs(text):
        i = 0
        while i < len(run):
            found = None
            # the longest valid stretch starting at token i
            for j in range(len(run), i, -1):
                digits = "".join(t[2] for t in run[i:j])
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    found = j
                    break
            if found is None:
                i += 1
                continue
            spans.append((run[i][0], run[found - 1][1]))
            i = found
    return spans


def mask_card_numbers(text: str) -> str:
    """``text`` with every Luhn-valid 13–19-digit run (digits or words) replaced by MASK."""
    for start, end in reversed(card_spans(text)):
        text = text[:start] + MASK + text[end:]
    return text
