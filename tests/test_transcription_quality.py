"""The default model on the dev set: a WER regression gate, and what must never happen.

Audio is made here from ``tests/devset`` (espeak-ng → 8 kHz → G.711 µ-law, as a
call delivers it; sox with ``-R``, so the audio is the same in every run) and
``ctranslate2.set_random_seed`` fixes the temperature fallback's sampling: on this
machine the figure is the same in every run. Until sox's dither was seeded, every run
heard slightly different audio and the figure moved by up to 0.06.
Silence and noise must give an empty transcript (not "Thank you."), a
2-minute message must come out whole — every sentence heard in its place, no
repetition loops, no invented text — and with ``base`` a Spanish message is
transcribed in Spanish.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.transcription import (
    Utterance,
    long_message,
    speak_through_phone,
    utterance_recall,
)
from media.prompts import write_wav
from pipeline.transcribe import DEFAULT_MODEL, WhisperTranscriber
from pipeline.transcription_decoding import collapse_repeats
from tests.devset import DEV_SET, DIRECTORY

pytestmark = pytest.mark.whisper

# Measured on this dev set with each model and the product's decoding, the same in two
# runs (docs/voicemail.md; base with its encoder trimmed to the speech + 8 s, tiny.en with
# the whole 30 s window, which it keeps).
MEASURED_WER = {"base": 0.401, "tiny.en": 0.417}
# Another CPU computes with other kernels (CI's may lack AVX-512: benchmarks.transcription's
# CPU_PROFILES) and the decode can take another path there.
MARGIN = 0.04
# The 2-minute message is spoken in the dev set's voices that tiny.en follows in a short
# message (dev-set WER 0.2-0.43 each; en-us-nyc 0.49 and en-gb-scotland+f2 0.73 are left
# to the WER gate): here a missing utterance is a skip, not a voice the model cannot hear.
CLEAR = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp")
# Share of each utterance's words found in place (benchmarks.transcription.utterance_recall):
# a skipped utterance found 0-0.14, heard ones >= 0.5 on every CPU profile, compute type,
# thread count and seed tried; WER 0.36-0.42 there (docs/voicemail.md, "Long messages").
MIN_RECALL = 0.3
LONG_WER = 0.5


@pytest.fixture(scope="module")
def engine() -> WhisperTranscriber:
    return WhisperTranscriber(DEFAULT_MODEL, threads=2)


@pytest.fixture(autouse=True)
def repeatable() -> None:
    """Each test samples the fallback from the same seed, whatever ran before it."""
    import ctranslate2

    ctranslate2.set_random_seed(42)


@pytest.fixture(scope="module")
def dev_wavs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("devset")
    return [speak_through_phone(u, folder / f"d{i:02d}.wav") for i, u in enumerate(DEV_SET)]


def _write(path: Path, samples: np.ndarray) -> Path:
    write_wav(path, np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def test_the_default_models_dev_set_wer_stays_at_or_below_the_measured_figure(
    engine: WhisperTranscriber, dev_wavs: list[Path]
) -> None:
    import ctranslate2
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    ctranslate2.set_random_seed(42)
    refs = [normalise(u.text) for u in DEV_SET]
    hyps = [normalise(engine.transcribe(w, DIRECTORY).text) for w in dev_wavs]
    wer = jiwer.wer(refs, hyps)
    assert wer <= MEASURED_WER[DEFAULT_MODEL] + MARGIN, list(zip(refs, hyps, strict=True))


def test_silence_and_line_noise_give_an_empty_transcript(
    engine: WhisperTranscriber, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    silence = _write(tmp_path / "silence.wav", np.zeros(8000 * 8))
    hiss = _write(tmp_path / "hiss.wav", rng.normal(0, 300, 8000 * 8))
    t = np.arange(8000 * 8) / 8000
    hum = _write(
        tmp_path / "hum.wav", 2000 * np.sin(2 * np.pi * 60 * t) + rng.normal(0, 80, t.size)
    )
    for wav in (silence, hiss, hum):
        result = engine.transcribe(wav, DIRECTORY)
        assert result.text == "", (wav.name, result.text)


def test_a_two_minute_message_loses_no_utterance_and_invents_nothing(
    engine: WhisperTranscriber, dev_wavs: list[Path], tmp_path: Path
) -> None:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    clear = [(u.text, w) for u, w in zip(DEV_SET, dev_wavs, strict=True) if u.voice in CLEAR]
    long_wav = tmp_path / "long.wav"
    said = long_message(clear, long_wav, gap_seconds=3.0, min_seconds=120)
    result = engine.transcribe(long_wav, DIRECTORY)

    assert result.audio_seconds >= 120
    assert collapse_repeats(result.text) == result.text  # no loop survived
    # Every utterance was heard where it was said: a skipped one finds ~0 of its words.
    recall = utterance_recall(said, result.text)
    assert min(recall) >= MIN_RECALL, list(zip(said, recall, strict=True))
    normalise = EnglishTextNormalizer()
    ref, hyp = normalise(" ".join(said)), normalise(result.text)
    assert 0.8 <= len(hyp.split()) / len(ref.split()) <= 1.2, result.text
    assert jiwer.wer(ref, hyp) <= LONG_WER, result.text
    times = [t for s in result.segments for t in (s.start, s.end)]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= result.audio_seconds


def test_base_transcribes_a_spanish_message_in_spanish(tmp_path: Path) -> None:
    engine = WhisperTranscriber("base", threads=2)
    # base's language probability for a sentence through G.711 varies by sentence (0.59-0.90
    # for five Spanish ones, docs/voicemail.md); this one is far from the 0.6 threshold.
    wav = speak_through_phone(
        Utterance("Buenos días, le llamo por la factura del mes pasado. Gracias.", "es", 150),
        tmp_path / "es.wav",
    )
    result = engine.transcribe(wav, DIRECTORY)
    assert result.language == "es", result
    # Spanish words, not an English translation (espeak's Spanish through G.711 is rough).
    words = set(re.findall(r"\w+", result.text.lower()))
    spanish = {"buenos", "días", "dias", "llamo", "factura", "mes", "pasado", "gracias"}
    english = {"good", "morning", "calling", "invoice", "bill", "month", "thanks", "thank"}
    assert len(words & spanish) >= 4 and not words & english, result.text
    english = engine.transcribe(speak_through_phone(DEV_SET[0], tmp_path / "en.wav"))
    assert english.language == "en"
