"""Card numbers as tiny.en really writes them, masked; phone numbers and amounts never.

The "heard" column is what the bundled tiny.en wrote (faster-whisper, the product's
decoding) for espeak-ng saying a Luhn-valid test card number through G.711 at 8 kHz
(docs/recordings.md, "Redaction": how they were made and how many were recoverable).
Where the model lost, added or changed digits the Luhn check cannot find the number;
after a card word the run is masked anyway (``cued``), and those rows say so.
"""

from __future__ import annotations

import pytest

from pipeline.recording_redaction import MASK, card_spans, chained_card_spans, mask_card_numbers
from pipeline.transcription_decoding import collapse_repeats
from pipeline.transcription_numbers import cardinal_groups, number_runs
from tests.devset import DEV_SET


@pytest.mark.parametrize(
    ("said", "heard", "stored"),
    [
        # in fours (en-gb, 150 wpm): "four thousand one hundred eleven, one thousand …"
        (
            "4111 1111 1111 1111",
            "4,1 hundred 11,1 thousand,100 11 and 1 thousand,100 11 one thousand,100 11"
            " expectations.",
            f"{MASK} expectations.",
        ),
        # the same, a higher voice: the groups as thousands, one too many (a loop's tail)
        (
            "My card number is 4111 1111 1111 1111. Thanks.",
            "My card number is 4,111,111,111,111,111,111,111,111. Thanks.",
            f"My card number is {MASK},111,111,111. Thanks.",
        ),
        (
            "My card number is 5 9 6 0, 3 0 8 2, 4 6 2 8, 1 9 4 7. Thanks.",
            "My card number is five nine six zero three zero eight two four six two eight one"
            " nine four seven",
            f"My card number is {MASK}",
        ),
        (
            "My card number is 4 8 3 7 2 6 1 6 7 5 1 3 6 1 3 8. Thanks.",
            "My card number is 4-8-3-7-2-6-1-6-7-5-1-3-6-1-3-8. Thanks.",
            f"My card number is {MASK}. Thanks.",
        ),
        (
            "My card number is 4 8 3 7, 2 6 1 6, 7 5 1 3, 6 1 3 8. Thanks.",
            "My current number is 483-7, 2-6, 1-6, 7-5, 1-3, 6-1-3-8. Thanks.",
            f"My current number is {MASK}. Thanks.",
        ),
        (  # digits and words mixed
            "My card number is 4 8 3 7, 2 6 1 6, 7 5 1 3, 6 1 3 8. Thanks.",
            "My card number is 4837, two six, one six, seven, five, one three six, one three"
            " eight. Thanks.",
            f"My card number is {MASK}. Thanks.",
        ),
        (  # "five" heard as "time", "two" as "to"
            "My card number is 5 0 2 0 1 4 6 2 0 1 6 8 4 9 3 9. Thanks.",
            "My contact number is time zero to zero one four six to zero one six eight four"
            " nine three nine. Thanks.",
            f"My contact number is {MASK}. Thanks.",
        ),
        (
            "My card number is 5 0 2 0, 1 4 6 2, 0 1 6 8, 4 9 3 9. Thanks.",
            "My card number is 5-0 to 0, 1-4-6 to 0, 1-6-8, 4-9-3-9. Thanks.",
            f"My card number is {MASK}. Thanks.",
        ),
        (
            "My card number is 3 6 3 6 0 6 0 7 1 0 4 3 1 9 5 8. Thanks.",
            "My card number in 3-6, 3-6, 0-6, 0-7, 1-0-4, 3-1, 9-5-8. Thanks.",
            f"My card number in {MASK}. Thanks.",
        ),
        # digits lost or changed by the model: not Luhn-valid, masked after the card word
        (
            "My card number is 4 5 2 6, 0 1 8 1, 5 9 0 8, 3 0 1 2. Thanks.",
            "My card number is 4526, 0181, 598, free 012. Thanks.",
            f"My card number is {MASK}. Thanks.",
        ),
        (
            "My card number is 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1, expiry June.",
            "My card number is 41, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.",
            f"My card number is {MASK}.",
        ),
        (
            "My card number is 4837 2616 7513 6138. Thanks.",
            "My current number is 4837-2616-7513-5138. Thanks.",
            f"My current number is {MASK}. Thanks.",
        ),
        (  # base: "five nine six" heard as "996"
            "My card number is 5 9 6 0, 3 0 8 2, 4 6 2 8, 1 9 4 7. Thank you very much.",
            "My card number is 996 0 3 0 8 2 4 6 2 8 1 9 4 7",
            f"My card number is {MASK}",
        ),
    ],
)
def test_what_the_models_wrote_for_a_spoken_card_number(said: str, heard: str, stored: str) -> None:
    assert mask_card_numbers(heard) == stored, said


@pytest.mark.parametrize(
    ("heard", "stored"),
    [
        # a misheard card number after a card word: the Luhn check alone leaves it
        ("Visa 4526 0181 598 3012, thanks", f"Visa {MASK}, thanks"),
        # a phone number said after the card's: its own digits stay (cut at the pause)
        ("card 4526 0181 598 3012, 415 555 0192 thanks", f"card {MASK}, 415 555 0192 thanks"),
        # a phone number after a card word: shorter than a card, or a phone word between
        ("my credit card ends in 4242, call me on 415 555 0192", None),
        ("my debit card, call 0044 20 7946 0958", None),
        ("the card company phoned from 0044 20 7946 0958", None),
        ("I paid by card, the order number is 12345 and the invoice 987654321", None),
        # no card word: a 15-digit run that fails Luhn is not masked
        ("tracking number 1234 5678 9012 345", None),
        # a misheard digit written as a word ("nine" as "I'm") or as base's "Nero" (zero)
        (
            "My card number is 4,525-0181. I'm 1083-112. Thanks.",
            f"My card number is {MASK}. Thanks.",
        ),
        (
            "My car number is 4,837 to 616,500, 536,138. Thanks.",
            f"My car number is {MASK}. Thanks.",
        ),
    ],
)
def test_a_run_after_a_card_word_is_masked_without_luhn(heard: str, stored: str | None) -> None:
    assert mask_card_numbers(heard) == (heard if stored is None else stored)
    if stored is not None:  # the Luhn check alone does not find it
        assert mask_card_numbers(heard, cued=False) == heard


@pytest.mark.parametrize(
    ("heard", "stored"),
    [
        ("four one one one, one one one one, one one one one, one one one one.", f"{MASK}."),
        ("4111 oh 1 1 1 1111 1111 ok", "4111 oh 1 1 1 1111 1111 ok"),  # 4111 0111…: not Luhn
        ("five thousand five hundred fifty five, 5555, 5555, 4444", f"{MASK}"),
        ("card 4111 1111 1111 1111 0625", f"card {MASK} 0625"),  # the expiry after it stays
        ("card 4111, 1111, 1111, 1111, 06, 25", f"card {MASK}, 06, 25"),
    ],
)
def test_words_digits_and_cardinals_mixed(heard: str, stored: str) -> None:
    assert mask_card_numbers(heard) == stored


PHONE_PAIRS = [
    "call 415 555 0192, 212 555 0147 thanks",
    "my number is 415 555 0192 and my wife's is 212 555 0147",
    "try 415 555 0192. Or 212 555 0147.",
    "it's 800 555 0110, 0123, extension 44",
]


@pytest.mark.parametrize("said", [u.text for u in DEV_SET] + PHONE_PAIRS)
def test_phone_numbers_amounts_and_codes_are_never_masked(said: str) -> None:
    """The dev set's voicemails (phones, amounts, dates, codes) and phone numbers back to back."""
    assert card_spans(said) == []


def test_two_phone_numbers_said_as_one_run_are_not_a_card_number() -> None:
    """A 20-digit run can hold a Luhn-valid 13–19-digit stretch by chance: never across a pause."""
    masked = 0
    for a in range(200, 260):
        for b in range(1000, 1010):
            masked += bool(card_spans(f"call {a} 555 {b}, {a + 7} 555 {b + 31} thanks"))
    assert masked == 0


def test_spoken_cardinals_are_read_as_the_groups_said() -> None:
    run = number_runs("4,1 hundred 11, 1 thousand,100 11 and twenty one, oh five, 0510")[0]
    assert [g[2] for g in cardinal_groups(run)] == ["4", "111", "1111", "21", "0", "5", "0510"]


def test_a_number_said_digit_by_digit_is_not_cut_as_a_loop() -> None:
    said = "My card number is 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1."
    assert collapse_repeats(said) == said
    assert collapse_repeats("4111111111111111") == "4111111111111111"
    assert collapse_repeats("Four-one-" + "one-" * 60) == "Four-one-"  # a real loop: cut


def test_lines_read_as_one_give_each_line_its_part_of_the_number() -> None:
    texts = ["My card number is 4111 1111", "1111 1111. Thanks.", "Call me on 415 555 0192."]
    found = chained_card_spans(texts)
    assert [[t[a:b] for a, b in spans] for t, spans in zip(texts, found, strict=True)] == [
        ["4111 1111"],
        ["1111 1111"],
        [],
    ]
    # two phone numbers on two lines are still two numbers
    assert chained_card_spans(["call 415 555 0192", "or 212 555 0147"]) == [[], []]
