"""Spoken card numbers through a phone call: what each model writes, and what redaction masks.

A caller says "My card number is …" with a Luhn-valid test number, in three ways
(digit by digit; in groups of four with pauses; as four-digit numbers), in espeak-ng
voices and speeds, through the product's G.711 path (``benchmarks.transcription``'s
:func:`speak`; ``--channels g722`` for HD voice). Each model transcribes them with
the product's decoding (:class:`pipeline.transcribe.WhisperTranscriber`, as the
recordings' transcripts are made) and :mod:`pipeline.recording_redaction` masks them.
Reported per model and channel:

* **exact**: the transcript holds the number's digits (as written or as cardinals);
* **Luhn only**: masked by the Luhn check alone (``cued=False``, redaction before the
  card-word rule: the baseline, measured in the same run);
* **masked**: masked by the product's redaction (Luhn, or a run after a card word);
* **clear ≥ 6**: after the product's redaction, 6 or more of the number's digits are
  still in the clear in one stretch (what a reader of the transcript could copy).

``--channels paused``: a call's recording in which the caller reads the number group by
group with 1 s pauses (a line per group, through the recordings' path); ``asked``: the
same after the callee asks for the card, the caller never saying "card".

    .venv/bin/python -m benchmarks.redaction [--models tiny.en,base] [--channels g711,g722]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from itertools import product
from pathlib import Path
from typing import Any

from benchmarks.transcription import CHANNELS, Utterance, speak
from pipeline.recording_redaction import luhn_valid, mask_card_numbers
from pipeline.transcription_numbers import cardinal_groups, literal_groups, number_runs

# Luhn-valid test numbers (issuers' published test cards and made-up ones): 16 digits,
# and one 15-digit number said as Amex prints it (4-6-5).
CARDS: tuple[str, ...] = (
    "4111111111111111",
    "5960308246281947",
    "4837261675136138",
    "5020146201684939",
    "4526018159083012",
    "6011111111111117",
    "5555555555554444",
    "378282246310005",
)
# Never looked at while the card-word rule was tuned (--set held-out).
HELD_OUT_CARDS: tuple[str, ...] = (
    "4012888888881881",
    "5105105105105100",
    "4000056655665556",
    "5200828282828210",
    "6011000990139424",
    "4929731026546283",
    "5425233430109903",
    "371449635398431",
)
SETS = {"tuning": CARDS, "held-out": HELD_OUT_CARDS}
assert all(luhn_valid(c) for c in CARDS + HELD_OUT_CARDS)
VOICES: tuple[tuple[str, int], ...] = (
    ("en-gb", 150),
    ("en-us", 160),
    ("en-us+f3", 165),
    ("en-gb-x-rp", 155),
    ("en-us-nyc", 160),
)
CLEAR_DIGITS = 6
PAUSE_SECONDS = 1.0  # --paused: between the groups of a number read in a call


def _groups(card: str) -> list[str]:
    sizes = (4, 6, 5) if len(card) == 15 else (4, 4, 4, 4)
    out, i = [], 0
    for size in sizes:
        out.append(card[i : i + size])
        i += size
    return out


def said_ways(card: str) -> dict[str, str]:
    """How a caller says ``card``: digit by digit, in groups with pauses, as numbers."""
    groups = _groups(card)
    return {
        "digits": " ".join(card),
        "groups": ", ".join(" ".join(g) for g in groups),
        "numbers": " ".join(groups),
    }


def utterances(cards: tuple[str, ...]) -> list[tuple[str, str, Utterance]]:
    """(card, way, utterance) for every card and way, the voices taken in turn (the
    held-out set's from another start, at other speeds)."""
    out = []
    held_out = cards != CARDS
    for i, card in enumerate(cards):
        for j, (way, said) in enumerate(said_ways(card).items()):
            voice, speed = VOICES[(i * 3 + j + 2 * held_out) % len(VOICES)]
            speed += 10 * held_out
            text = f"My card number is {said}. Thanks."
            out.append((card, way, Utterance(text, voice, speed)))
    return out


def digit_readings(text: str) -> list[str]:
    """The transcript's digits as written and as cardinals, each reading in one string."""
    runs = number_runs(text, homophones=True)
    written = "".join(g[2] for run in runs for stretch in literal_groups(run) for g in stretch)
    spoken = "".join(g[2] for run in runs for g in cardinal_groups(run))
    return [written, spoken]


def longest_clear(card: str, text: str) -> int:
    """The most digits of ``card`` in one stretch of ``text``'s digits (any reading)."""
    best = 0
    for digits in digit_readings(text):
        for i in range(len(card)):
            for j in range(len(card), i + best, -1):
                if card[i:j] in digits:
                    best = j - i
                    break
    return best


def score(card: str, heard: str) -> dict[str, Any]:
    masked = mask_card_numbers(heard)
    luhn_only = mask_card_numbers(heard, cued=False)
    return {
        "heard": heard,
        "exact": any(card in d for d in digit_readings(heard)),
        "luhn_only": luhn_only != heard,
        "masked": masked != heard,
        "clear_luhn": longest_clear(card, luhn_only),
        "clear": longest_clear(card, masked),
    }


ASKING = Utterance("Can I have the long number on your card, please?", "en-us", 160)


def paused_call(card: str, utt: Utterance, folder: Path, *, asked: bool = False) -> Path:
    """A stereo call recording (G.711) in which the caller reads ``card`` in its groups with
    ``PAUSE_SECONDS`` between them; the callee's channel is line noise. ``asked``: the
    callee asks for the card first (:data:`ASKING`) and the caller never says "card"."""
    import numpy as np

    from benchmarks.transcription import read_pcm
    from pipeline.recording_audio import SAMPLE_RATE, StereoAudio, write_wav

    first = "Sure, it's" if asked else "My card number is"
    phrases = [first, *(" ".join(g) for g in _groups(card)), "Thanks."]
    gap = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype="<i2")
    question = read_pcm(speak(ASKING, folder / "q.wav")) if asked else gap[:0]
    parts = [np.zeros(len(question), dtype="<i2"), gap]
    for i, text in enumerate(phrases):
        said = read_pcm(speak(Utterance(text, utt.voice, utt.speed), folder / f"p{i}.wav"))
        parts += [said, gap]
    caller = np.concatenate(parts)
    callee = np.random.default_rng(1).normal(0, 20, len(caller)).round().astype("<i2")
    callee[: len(question)] = question
    path = folder / "call.wav"
    write_wav(path, StereoAudio(caller, callee, 0.0, "PCMU", 0, 0, 0, 0))  # as ingest writes
    return path


def measure_paused(model: str, cards: str, *, asked: bool = False) -> dict[str, Any]:
    """Each card of set ``cards`` read group by group in a call, through the recordings'
    path (a line per speech stretch): masked line by line, or across the caller's lines.
    ``asked``: the callee asks for the card and the caller reads it without a card word;
    "Luhn only" is then the caller's lines alone, across lines (the rule before a question
    counted), "masked" with the callee's question."""
    from pipeline.recording_transcripts import (
        Line,
        card_spans_by_line,
        mask_lines,
        transcribe_channels,
    )
    from pipeline.transcribe import WhisperTranscriber

    engine = WhisperTranscriber(model, threads=2)
    rows = []
    for i, (card, way, utt) in enumerate(utterances(SETS[cards])):
        if way != "groups":
            continue
        with tempfile.TemporaryDirectory() as tmp:
            call = paused_call(card, utt, Path(tmp), asked=asked)
            lines, _, _ = transcribe_channels(call, engine)
        caller: list[Line] = [x for x in lines if x.speaker == "caller"]
        heard = " / ".join(x.text for x in caller)
        chained = " / ".join(x.text for x in mask_lines(caller, card_spans_by_line(caller)))
        if asked:
            alone = chained
            masked = mask_lines(lines, card_spans_by_line(lines))
            chained = " / ".join(x.text for x in masked if x.speaker == "caller")
        else:
            alone = " / ".join(mask_card_numbers(x.text) for x in caller)
        rows.append(
            {
                "card": card,
                "way": f"{'asked' if asked else 'paused'}{i}",
                "heard": heard,
                "lines": len(caller),
                "exact": any(card in d for d in digit_readings(heard)),
                "luhn_only": alone != heard,  # see the docstring: not the Luhn check alone
                "masked": chained != heard,
                "clear_luhn": longest_clear(card, alone),
                "clear": longest_clear(card, chained),
            }
        )
    kind = "asked" if asked else "paused"
    return {"model": model, "channel": "g711", "set": f"{cards}, {kind}", "rows": rows}


def measure(model: str, channel: str, cards: str) -> dict[str, Any]:
    """Every card of set ``cards``, way and voice through ``channel``, transcribed by
    ``model``."""
    from pipeline.transcribe import WhisperTranscriber

    engine = WhisperTranscriber(model, threads=2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (card, way, utt) in enumerate(utterances(SETS[cards])):
            wav = speak(utt, Path(tmp) / f"c{i:02d}.wav", channel)
            heard = engine.transcribe(wav).text
            rows.append({"card": card, "way": way, "voice": utt.voice, **score(card, heard)})
    return {"model": model, "channel": channel, "set": cards, "rows": rows}


def summary(result: dict[str, Any]) -> str:
    rows = result["rows"]
    n = len(rows)
    exact = sum(r["exact"] for r in rows)
    luhn = sum(r["luhn_only"] for r in rows)
    masked = sum(r["masked"] for r in rows)
    clear_luhn = sum(r["clear_luhn"] >= CLEAR_DIGITS for r in rows)
    clear = sum(r["clear"] >= CLEAR_DIGITS for r in rows)
    return (
        f"{result['model']:8} {result['channel']:7} {result['set']:8} {exact:>3}/{n}"
        f" {luhn:>6}/{n} {masked:>6}/{n} {clear_luhn:>7}/{n} {clear:>7}/{n}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument(
        "--channels",
        default="g711",
        help="g711, g722 …, or paused: a call's recording, the number read in groups with"
        " 1 s pauses (one line each); 'Luhn only' then means each line masked on its own;"
        " or asked: the same after the callee asks for the card, the caller never saying"
        " 'card'; 'Luhn only' then means the caller's lines without the question",
    )
    parser.add_argument("--sets", default="tuning,held-out", help="of tuning,held-out")
    parser.add_argument("--verbose", action="store_true", help="print every transcript")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if args.one:
        model, channel, cards = args.one
        if channel in ("paused", "asked"):
            result = measure_paused(model, cards, asked=channel == "asked")
        else:
            result = measure(*args.one)
        print(json.dumps(result))
        return
    print(f"per set: {len(CARDS)} card numbers x 3 ways, {len(VOICES)} voices")
    print(
        f"{'model':8} {'channel':7} {'set':8} {'exact':>5} {'Luhn only':>9} {'masked':>8}"
        f" {'clear>=6, Luhn only':>19} {'clear>=6':>9}"
    )
    results = []
    runs = product(args.models.split(","), args.channels.split(","), args.sets.split(","))
    for model, channel, cards in runs:
        if channel not in (*CHANNELS, "paused", "asked") or cards not in SETS:
            parser.error(f"unknown channel {channel!r} or set {cards!r}")
        out = subprocess.run(  # one process per model: one model's memory at a time
            [sys.executable, "-m", "benchmarks.redaction", "--one", model, channel, cards],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        print(summary(result), flush=True)
        if args.verbose:
            for r in result["rows"]:
                flags = "".join(
                    c if r[k] else "." for c, k in (("E", "exact"), ("L", "luhn_only"))
                ) + ("M" if r["masked"] else ".")
                print(f"  {flags} clear {r['clear']:2} {r['way']:7} {r['heard']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
