"""Word times snapped onto the speech: the pause Whisper gave a neighbour is taken back.

The times below are the shape measured on tiny.en (docs/recordings.md, "Redaction"):
"is" stretched over the pause before the number, the last digit over the pause after it.
"""

from __future__ import annotations

import numpy as np

from pipeline.transcription_decoding import Word
from pipeline.transcription_words import pauses, snap_to_pauses

RATE = 16000


def signal(*speech: tuple[float, float], seconds: float = 4.0) -> np.ndarray:
    """Noise bursts at ``speech`` (seconds) over a quiet line."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.001, int(seconds * RATE))
    for a, b in speech:
        x[int(a * RATE) : int(b * RATE)] = rng.normal(0, 0.1, int(b * RATE) - int(a * RATE))
    return x.astype(np.float32)


def test_pauses_are_runs_of_quiet_frames() -> None:
    audio = signal((0.5, 1.0), (1.3, 2.0), (2.05, 3.0))  # 50 ms between the last two: no pause
    assert pauses(audio, RATE, offset=10.0) == [(10.0, 10.5), (11.0, 11.3), (13.0, 14.0)]


def test_late_start_and_late_end_move_onto_the_speech() -> None:
    # "is" 0.5–1.0, pause, "five" 1.3–2.0, pause, "thanks" 2.4–3.0
    quiet = pauses(signal((0.5, 1.0), (1.3, 2.0), (2.4, 3.0)), RATE)
    heard = [Word(0.5, 1.45, " is"), Word(1.45, 2.3, " five"), Word(2.3, 3.0, " thanks")]
    snapped = snap_to_pauses(heard, quiet)
    assert [(w.start, w.end) for w in snapped] == [(0.5, 1.0), (1.3, 2.0), (2.4, 3.0)]
    assert [w.text for w in snapped] == [" is", " five", " thanks"]


def test_words_without_a_pause_near_keep_whispers_times() -> None:
    quiet = pauses(signal((0.5, 3.0)), RATE)
    heard = [Word(1.0, 1.6, " one"), Word(1.6, 2.2, " two")]  # pauses over 0.4 s away
    assert snap_to_pauses(heard, quiet) == tuple(heard)


def test_a_word_never_takes_its_neighbours_speech() -> None:
    # "one" and "two" run together (1.0–2.0), then a pause: "one" must not reach past "two".
    quiet = pauses(signal((1.0, 2.0), (2.5, 3.0)), RATE)
    heard = [Word(1.0, 1.5, " one"), Word(1.5, 2.0, " two"), Word(2.5, 3.0, " three")]
    assert snap_to_pauses(heard, quiet) == tuple(heard)
