"""Voicemail transcription speed and accuracy on 8 kHz speech, with the configured engine.

Twenty voicemail-like sentences (below, fixed) are spoken by espeak-ng and
converted by sox to 8 kHz mono 16-bit — the spool's format — then transcribed
one by one by :class:`pipeline.transcribe.WhisperTranscriber`, the way the
worker does it (model loaded once, then one call per message). Reported:

* real-time factor: compute seconds / audio seconds, mean over the 20 messages
  (and p50/max), after one warm-up call that is not counted;
* words per second: words transcribed / compute seconds;
* word error rate over all 20 (jiwer), reference and hypothesis both normalised
  with Whisper's English normaliser (``whisper-normalizer``), so "42" and
  "forty two" or punctuation are not counted as errors. espeak-ng is a robotic
  voice and 8 kHz halves the bandwidth Whisper was trained on: this is an honest
  number for that input, not for human speech.

    .venv/bin/python -m benchmarks.transcription [--model tiny.en] [--beam 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import tempfile
import time
import wave
from pathlib import Path

SENTENCES: tuple[str, ...] = (
    "Hi, this is Carol from accounting, please call me back about the March invoice.",
    "I have a question about your invoice.",
    "The delivery is scheduled for Tuesday morning between nine and eleven.",
    "Please send the signed contract to our office by Friday.",
    "Your prescription is ready for pickup at the pharmacy.",
    "This is a reminder about your dentist appointment tomorrow at three thirty.",
    "We received your payment, thank you for your business.",
    "The meeting has been moved to conference room B on the second floor.",
    "Can you call me back when you get this message? It is about the project budget.",
    "Hello, I am returning your call about the apartment on Maple Street.",
    "The server in the data center went down last night, please check the logs.",
    "Your order number is four five seven two, and it will ship next week.",
    "Hi Bob, the kitchen renovation quote is ready, give me a call.",
    "This message is for the billing department regarding account number eighty one.",
    "We need to reschedule the interview to Thursday afternoon.",
    "The car is ready, you can pick it up any time before six.",
    "Please confirm your reservation for two people on Saturday evening.",
    "I left my laptop charger in your office, could you keep it for me?",
    "The package could not be delivered because nobody was at home.",
    "Thanks for the presentation today, the client loved it.",
)


def speak(text: str, path: Path) -> Path:
    """``text`` as the spool has it: espeak-ng, then sox to 8 kHz mono 16-bit."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en", "-s", "160", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return path


def seconds_of(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en", help="tiny.en or a CTranslate2 model dir")
    parser.add_argument("--beam", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    from pipeline.transcribe import WhisperTranscriber

    normalise = EnglishTextNormalizer()
    with tempfile.TemporaryDirectory() as tmp:
        wavs = [speak(s, Path(tmp) / f"m{i:02d}.wav") for i, s in enumerate(SENTENCES)]
        started = time.perf_counter()
        engine = WhisperTranscriber(args.model, beam_size=args.beam)
        load_seconds = time.perf_counter() - started
        engine.transcribe(wavs[0])  # warm-up: first call allocates buffers
        rtfs: list[float] = []
        words = 0
        compute = audio = 0.0
        references: list[str] = []
        hypotheses: list[str] = []
        for sentence, wav in zip(SENTENCES, wavs, strict=True):
            result = engine.transcribe(wav)
            seconds = seconds_of(wav)
            rtfs.append(result.transcribe_seconds / seconds)
            compute += result.transcribe_seconds
            audio += seconds
            words += len(result.text.split())
            references.append(normalise(sentence))
            hypotheses.append(normalise(result.text))
    wer = jiwer.wer(references, hypotheses)
    worst = sorted(
        zip(references, hypotheses, strict=True),
        key=lambda pair: -jiwer.wer(pair[0], pair[1]),
    )[:3]
    print(f"model {args.model}, beam {args.beam}, {os.cpu_count()} cores, 8 kHz espeak-ng speech")
    print(f"model load: {load_seconds:.2f} s")
    print(f"messages: {len(SENTENCES)}, audio {audio:.1f} s, compute {compute:.1f} s")
    print(
        f"real-time factor: mean {statistics.mean(rtfs):.3f}, p50 {statistics.median(rtfs):.3f},"
        f" max {max(rtfs):.3f}"
    )
    print(f"words per second of compute: {words / compute:.1f}")
    print(f"WER (normalised): {wer:.3f}")
    for ref, hyp in worst:
        print(f"  ref: {ref}\n  hyp: {hyp}")


if __name__ == "__main__":
    main()
