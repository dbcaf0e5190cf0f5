"""Numbers for display: a run of spoken digits becomes the number a reader dials.

Whisper writes most numbers as digits already; what it leaves spelled out, or
spaced digit by digit, is the case that matters in a voicemail: "seven seven one
nine" or "3 0 9 6" is a code or a phone number, shown as "7719" / "3096". Only a
run of at least :data:`MIN_RUN` single digits is joined, so "two people" or
"one of them" stay words. Pure and applied to display text only; the words
Whisper heard are kept in the segments.
"""

from __future__ import annotations

import re

MIN_RUN = 3
DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
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
_TOKEN = re.compile(r"(\S+?)([.,!?;:]*)(\s+|$)")


def _digit(word: str) -> str | None:
    lowered = word.lower()
    if lowered in DIGIT_WORDS:
        return DIGIT_WORDS[lowered]
    return word if len(word) == 1 and word.isdigit() else None


def numbers_for_display(text: str) -> str:
    """``text`` with each run of >= 3 spoken or spaced single digits written as one number."""
    tokens = [(m.group(1), m.group(2), m.group(3)) for m in _TOKEN.finditer(text)]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        run: list[str] = []
        j = i
        while j < len(tokens) and (d := _digit(tokens[j][0])) is not None:
            run.append(d)
            j += 1
            if tokens[j - 1][1]:  # punctuation ends the run after this token
                break
        # "oh" alone is a word; a run must hold a real digit besides any "oh"s.
        real = sum(1 for k in range(i, j) if tokens[k][0].lower() != "oh")
        if len(run) >= MIN_RUN and real >= 2:
            out.append("".join(run) + tokens[j - 1][1] + tokens[j - 1][2])
            i = j
        else:
            word, punct, space = tokens[i]
            out.append(word + punct + space)
            i += 1
    return "".join(out)
