"""Numbers in transcripts: one reader of spoken and written numbers, two uses.

The reader (:func:`number_runs`) finds runs of number tokens — digit groups
("4111", "4,111" read as "4" "111"), digit words (zero/oh/o … nine), teens and
tens ("eleven", "forty") and the scales "hundred"/"thousand" — joined only by
spaces, commas, periods, dashes or an "and". Two readings of a run are offered:

- :func:`literal_groups`: each digit group or digit word as written, in order
  ("four one one one 1111" → "4" "1" "1" "1" "1111"); a teen, tens or scale word
  ends the stretch;
- :func:`cardinal_groups`: each spoken cardinal as its value ("4,1 hundred 11,
  1 thousand,100 11" → "4" "111" "1111"), which is how tiny.en writes a card
  number said in groups of four (``docs/recordings.md``, "Redaction").

Uses: :func:`numbers_for_display` (voicemail) joins a run of at least
:data:`MIN_RUN` single digits — "seven seven one nine" or "3 0 9 6" is a code or
a phone number, shown as "7719" / "3096" — while "two people" or "one of them"
stay words; :mod:`pipeline.recording_redaction` looks for card numbers in both
readings. Pure; display text only, the words Whisper heard stay in the segments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MIN_RUN = 3
DIGIT_WORDS = {
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
# Words with a value of their own: a cardinal's teens and tens.
VALUE_WORDS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALE_WORDS = {"hundred": 100, "thousand": 1000}
# What tiny.en writes for a digit said among digits over the phone ("time zero to zero one
# four six" for 5 0 2 0 1 4 6): read as that digit only next to a true number token, and
# only where a number is looked for (redaction), never for display.
DIGIT_HOMOPHONES = {
    "to": "2",
    "too": "2",
    "for": "4",
    "free": "3",
    "time": "5",
    "fine": "5",
    "nero": "0",  # base's "zero" on the phone (benchmarks/redaction.py)
}
_TOKEN = re.compile(r"(\S+?)([.,!?;:]*)(\s+|$)")
_NUMBER_TOKEN = re.compile(r"\d+|[A-Za-z]+")
# What may stand between two tokens of one run: punctuation, spaces, one "and".
_JOINER = re.compile(r"[\s,.\-]*(?:and[\s,.\-]+)?", re.IGNORECASE)


def spoken_digit(word: str) -> str | None:
    """The digit a single word stands for ("four", "oh", "7"), else None."""
    lowered = word.lower()
    if lowered in DIGIT_WORDS:
        return DIGIT_WORDS[lowered]
    return word if len(word) == 1 and word.isdigit() else None


def is_number_word(word: str) -> bool:
    """A digit group or a word of a spoken number (digit, teen, tens, scale)."""
    lowered = word.lower()
    return word.isdigit() or any(lowered in w for w in (DIGIT_WORDS, VALUE_WORDS, SCALE_WORDS))


@dataclass(frozen=True)
class NumberToken:
    """One token of a run: characters ``start``..``end`` of the text."""

    start: int
    end: int
    text: str

    @property
    def digits(self) -> str | None:
        """As written: a digit group, or a digit word's digit; None for other words."""
        if self.text.isdigit():
            return self.text
        lowered = self.text.lower()
        return DIGIT_WORDS.get(lowered) or DIGIT_HOMOPHONES.get(lowered)

    @property
    def value(self) -> int | None:
        """Its value in a cardinal (digit groups, digit, teen and tens words)."""
        digits = self.digits
        if digits is not None:
            return int(digits)
        return VALUE_WORDS.get(self.text.lower())

    @property
    def scale(self) -> int | None:
        return SCALE_WORDS.get(self.text.lower())


def number_runs(text: str, *, homophones: bool = False) -> list[list[NumberToken]]:
    """Runs of number tokens in ``text`` joined only by spaces, punctuation or "and".

    With ``homophones``, a :data:`DIGIT_HOMOPHONES` word joined to a true number token
    (before or after it) is read as its digit.
    """
    tokens = [NumberToken(m.start(), m.end(), m.group()) for m in _NUMBER_TOKEN.finditer(text)]

    def joined(a: NumberToken, b: NumberToken) -> bool:
        return _JOINER.fullmatch(text, a.end, b.start) is not None

    def kept(i: int) -> bool:
        token = tokens[i]
        if is_number_word(token.text):
            return True
        if not homophones or token.text.lower() not in DIGIT_HOMOPHONES:
            return False
        before = i > 0 and is_number_word(tokens[i - 1].text) and joined(tokens[i - 1], token)
        after = i + 1 < len(tokens) and is_number_word(tokens[i + 1].text)
        return before or (after and joined(token, tokens[i + 1]))

    runs: list[list[NumberToken]] = []
    last: NumberToken | None = None
    for i, token in enumerate(tokens):
        if not kept(i):
            if token.text.lower() != "and":
                last = None
            continue
        if runs and last is not None and joined(last, token):
            runs[-1].append(token)
        else:
            runs.append([token])
        last = token
    return runs


Group = tuple[int, int, str]  # characters start..end of the text, the digits they read as


def literal_groups(run: list[NumberToken]) -> Iterator[list[Group]]:
    """Stretches of the run read as written: digit groups and digit words, in order."""
    stretch: list[Group] = []
    for token in run:
        digits = token.digits
        if digits is None:
            if stretch:
                yield stretch
            stretch = []
        else:
            stretch.append((token.start, token.end, digits))
    if stretch:
        yield stretch


@dataclass
class _Cardinal:
    """A cardinal being read: thousands part, the rest, and the largest value still addable."""

    start: int
    end: int
    head: int | None
    rest: int
    open: int

    def group(self) -> Group:
        return (self.start, self.end, str((self.head or 0) + self.rest))


def _open_after(value: int) -> int:
    """The largest value that may follow ``value`` in one cardinal ("forty" → 9, "100" → 99)."""
    if value == 0 or 10 <= value % 100 <= 19 or value % 10:
        return 0
    return 99 if value % 100 == 0 else 9


def cardinal_groups(run: list[NumberToken]) -> list[Group]:
    """The run read as spoken cardinals, each a group of its value's digits.

    A token that cannot continue the cardinal being read starts the next one: "4 1 hundred
    11" is 4 then 111; digit groups of four digits or a leading zero stand alone.
    """
    groups: list[Group] = []
    cur: _Cardinal | None = None
    for token in run:
        scale, value = token.scale, token.value
        if scale is not None:
            if cur and scale == 100 and 1 <= cur.rest <= 9 and cur.open == 0:
                cur.rest, cur.open, cur.end = cur.rest * 100, 99, token.end
            elif cur and scale == 1000 and cur.head is None and 1 <= cur.rest <= 999:
                cur.head, cur.rest, cur.open, cur.end = cur.rest * 1000, 0, 999, token.end
            else:  # a scale with nothing to multiply: a break
                if cur:
                    groups.append(cur.group())
                cur = None
            continue
        if value is None:
            continue
        written = token.text
        standalone = written.isdigit() and (len(written) >= 4 or written[0] == "0" != written)
        if cur and not standalone and 0 < value <= cur.open:
            cur.rest, cur.end = cur.rest + value, token.end
            cur.open = _open_after(cur.rest)
            continue
        if cur:
            groups.append(cur.group())
        if standalone:
            groups.append((token.start, token.end, token.digits or str(value)))
            cur = None
        else:
            cur = _Cardinal(token.start, token.end, None, value, _open_after(value))
    if cur:
        groups.append(cur.group())
    return groups


def numbers_for_display(text: str) -> str:
    """``text`` with each run of >= 3 spoken or spaced single digits written as one number."""
    tokens = [(m.group(1), m.group(2), m.group(3)) for m in _TOKEN.finditer(text)]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        run: list[str] = []
        j = i
        while j < len(tokens) and (d := spoken_digit(tokens[j][0])) is not None:
            run.append(d)
            j += 1
            if tokens[j - 1][1]:  # punctuation ends the run after this token
                break
        # "oh" alone is a word; a run must hold a real digit besides any "oh"s.
        real = sum(1 for k in range(i, j) if tokens[k][0].lower() not in ("oh", "o"))
        if len(run) >= MIN_RUN and real >= 2:
            out.append("".join(run) + tokens[j - 1][1] + tokens[j - 1][2])
            i = j
        else:
            word, punct, space = tokens[i]
            out.append(word + punct + space)
            i += 1
    return "".join(out)
