"""Voicemail transcription per model and setting: WER, real-time factor, peak memory, load time.

The held-out set below (16 voicemail-style sentences with names, numbers,
dates and call-backs, never looked at while tuning — the tuning set is
``tests/devset``) is spoken by espeak-ng in several voices and speeds,
resampled to 8 kHz (sox ``-R``: its dither seeded, so a run's audio is the same every
time) and passed through our own G.711 µ-law codec
(:func:`speak_through_phone`, the product's real path), then transcribed one
by one by :class:`pipeline.transcribe.WhisperTranscriber` the way the worker
does it (model loaded once; the tenant's names in the prompt).

Each (model, setting) runs in its own process so peak memory (``ru_maxrss``)
is that model's. Reported:

* WER over the whole set (jiwer), reference and hypothesis both normalised
  with Whisper's English normaliser (``whisper-normalizer``);
* RTF as **CPU seconds of the transcribing process per second of audio**
  (``time.process_time``, CTranslate2 on 2 threads). On a quiet 2-core machine
  the wall-clock RTF lies between half of this and this, so "CPU RTF <= 0.3"
  means the goal is met even when the machine is shared; wall RTF is printed
  too but depends on the load of the machine;
* model load time (wall) and peak resident memory.

    .venv/bin/python -m benchmarks.transcription [--models tiny.en,base] [--settings tuned,plain]

``--channels`` says what the speech passes through (:data:`CHANNELS`): the product's
G.711 call by default, an HD-voice (G.722) call, or a control — 8 kHz linear PCM, G.722's
7 kHz band uncoded, espeak-ng's own wideband audio — that shows what the phone costs;
``g711call`` and ``g722call`` leave each sentence as a real message through a media
server (``benchmarks.deposits``: SIPp's RTP, the recorder, the spool's WAV)
(``python -m tests.devset`` takes the same options over the dev set):

    .venv/bin/python -m benchmarks.transcription --settings tuned --channels g711,g722,pcm8k,wide

``--long`` measures what short sentences cannot show: a 2-minute message (the
held-out sentences with 3 s pauses, cycled) under every CPU profile of
:data:`CPU_PROFILES` (CTranslate2's kernels as on other x86 CPUs), compute type
(int8, float32) and thread count (1, 2), with a seed each: word-count ratio,
WER, and the worst utterance's share of words found in place (a skipped
utterance finds none):

    .venv/bin/python -m benchmarks.transcription --long --models tiny.en --settings tuned,one-pass
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.deposits import PHONES, Deposits
from media.prompts import to_mono16, write_wav
from switchboard.resample import frame_bytes

GOAL_WER = 0.15
GOAL_RTF = 0.3


@dataclass(frozen=True)
class Utterance:
    """One message of a set: what is said, by which espeak-ng voice, at which words/minute."""

    text: str
    voice: str = "en-us"
    speed: int = 160


# The tenant's users for the held-out set (a different company from the dev set's).
HELD_OUT_NAMES: tuple[str, ...] = ("Daniel Moreau", "Aisha Khan", "Greta Novak", "Luis Ortega")

HELD_OUT: tuple[Utterance, ...] = (
    Utterance("Hi Daniel, this is Aisha, please call me back at 555 0139.", "en-gb", 150),
    Utterance("Greta, the plumber is coming on Saturday at 8 in the morning.", "en-us+f3", 165),
    Utterance("Hello, this is Luis Ortega, my order number is 6204.", "en-gb-x-rp", 155),
    Utterance("Daniel, the board meeting is on the 12th of May at 3 pm.", "en-us", 170),
    Utterance("Hi, this is the garage, your tyres are in, call us on 555 0188.", "en-us-nyc", 160),
    Utterance("Aisha, I sent the invoice for 640 dollars this morning.", "en-gb-scotland+f2", 150),
    Utterance("This is a message for Greta Novak from the library.", "en-us", 140),
    Utterance("Luis, can you bring the projector to room 204 tomorrow?", "en-gb", 175),
    Utterance("Hi Daniel, dinner is booked for 7 on Friday, see you there.", "en-us+f3", 150),
    Utterance(
        "Hello, I am calling about the job posting, please call 555 0121.", "en-gb-x-rp", 165
    ),
    Utterance("Aisha, the test results are back, nothing to worry about.", "en-us-nyc", 155),
    Utterance("Greta, the movers will arrive between 1 and 3 on Thursday.", "en-us", 160),
    Utterance("This is Luis again, the gate code is 5 8 2 7.", "en-gb", 145),
    Utterance("Daniel, please renew the domain before the 28th, it expires soon.", "en-us", 175),
    Utterance("Hi, it's your dentist, we have a cancellation on Monday at 11.", "en-us+f3", 160),
    Utterance("Aisha, the client approved the budget of 18,000 dollars.", "en-gb-x-rp", 150),
)


def speak_through_phone(utt: Utterance, path: Path) -> Path:
    """``utt`` as the spool has it after a call: espeak-ng → 8 kHz → G.711 µ-law → 16-bit WAV."""
    from media.workarounds import codec_for

    raw = path.with_suffix(".espeak.wav")
    narrow = path.with_suffix(".8k.wav")
    subprocess.run(
        ["espeak-ng", "-v", utt.voice, "-s", str(utt.speed), "-w", str(raw), utt.text], check=True
    )
    to_mono16(raw, narrow, 8000)
    with wave.open(str(narrow), "rb") as w:
        pcm = w.readframes(w.getnframes())
    codec = codec_for(0)  # PCMU, packet by packet as the media server receives it
    pcm = pcm[: len(pcm) // 2 * 2]
    decoded = b"".join(
        codec.decode(codec.encode(pcm[i : i + frame_bytes(8000)]))
        for i in range(0, len(pcm), frame_bytes(8000))
    )
    write_wav(path, decoded)
    raw.unlink()
    narrow.unlink()
    return path


# What a message passes through before Whisper hears it (``--channels``): the product's
# path (a G.711 call), an HD-voice call (G.722: 16 kHz, coded frame by frame by aiortp's
# codec), and controls that show what each part costs: 8 kHz linear PCM (the band
# without µ-law), G.722's 7 kHz band without its coding, espeak-ng's own audio at 16 kHz.
# Each: sox's arguments from espeak-ng's WAV to the channel's PCM.
CHANNELS: dict[str, tuple[str, ...]] = {
    "g711": (),
    "g722": ("-r", "16000"),
    "pcm8k": ("-r", "8000"),
    "band7k": ("-r", "16000", "sinc", "-7000"),
    "wide": ("-r", "16000"),
    # real messages, left by a phone through the media server (benchmarks.deposits)
    "g711call": ("-r", "8000"),
    "g722call": ("-r", "16000"),
}


def speak(
    utt: Utterance, path: Path, channel: str = "g711", deposits: Deposits | None = None
) -> Path:
    """``utt`` as Whisper gets it through ``channel`` (:data:`CHANNELS`; a call channel
    leaves it through ``deposits``)."""
    if channel == "g711":
        return speak_through_phone(utt, path)
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(
        ["espeak-ng", "-v", utt.voice, "-s", str(utt.speed), "-w", str(raw), utt.text], check=True
    )
    (_, rate), effects = CHANNELS[channel][:2], CHANNELS[channel][2:]
    to_mono16(raw, path, int(rate), *effects)
    raw.unlink()
    if deposits is None and channel != "g722":
        return path
    with wave.open(str(path), "rb") as w:
        pcm = w.readframes(w.getnframes())
    if deposits is not None:
        return deposits.leave(pcm, channel, path)
    from aiortp.codecs.g722 import G722Codec

    codec = G722Codec()  # one encoder and decoder per call, as a call's RTP session has
    size = frame_bytes(16000)
    frames = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    frames[-1] += bytes(size - len(frames[-1]))
    write_wav(path, b"".join(codec.decode(codec.encode(f)) for f in frames), rate=16000)
    return path


def read_pcm(path: Path) -> Any:
    """A 16-bit mono WAV's samples as a numpy array."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def long_message(
    spoken: list[tuple[str, Path]], path: Path, *, gap_seconds: float, min_seconds: float
) -> list[str]:
    """One long message of ``spoken`` (text, 8 kHz WAV) with pauses, cycled to ``min_seconds``.

    Written to ``path``; returns what was said, in order.
    """
    import numpy as np

    gap = np.zeros(int(8000 * gap_seconds), dtype="<i2")
    parts: list[Any] = []
    said: list[str] = []
    while sum(len(p) for p in parts) < 8000 * min_seconds:
        text, wav = spoken[len(said) % len(spoken)]
        parts += [read_pcm(wav), gap]
        said.append(text)
    write_wav(path, np.concatenate(parts).tobytes())
    return said


def utterance_recall(said: list[str], heard: str) -> list[float]:
    """Per utterance of ``said``: the share of its words found, in order, in ``heard``.

    Both are normalised (Whisper's English normaliser) and aligned as one text, so a word
    counts only where the alignment puts it: an utterance that was skipped scores ~0
    even if its words occur elsewhere.
    """
    import jiwer
    import numpy as np
    from whisper_normalizer.english import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    words = [normalise(t).split() for t in said]
    ref = " ".join(w for u in words for w in u)
    hyp = normalise(heard)
    found = np.zeros(len(ref.split()), dtype=bool)
    if hyp.strip():
        for chunk in jiwer.process_words(ref, hyp).alignments[0]:
            if chunk.type == "equal":
                found[chunk.ref_start_idx : chunk.ref_end_idx] = True
    recall: list[float] = []
    at = 0
    for u in words:
        recall.append(float(found[at : at + len(u)].mean()) if u else 1.0)
        at += len(u)
    return recall


def seconds_of(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def decoding_setting(name: str) -> Any:
    """The named setting: ``tuned`` (the product's defaults) or a variant measured against it."""
    from pipeline.transcription_decoding import DecodingOptions

    tuned = DecodingOptions()
    variants = {
        "tuned": tuned,
        # faster-whisper's defaults, as wave 1 ran them (beam 5, fallback, timestamps).
        "plain": DecodingOptions(
            use_prompt=False, vad_filter=False, without_timestamps=False, normalise_level=False
        ),
        "no-prompt": replace(tuned, use_prompt=False),
        "hotwords": replace(tuned, names_as_hotwords=True),
        "beam1": replace(tuned, beam_size=1),
        "no-fallback": replace(tuned, temperature=(0.0,)),
        "no-level": replace(tuned, normalise_level=False),
        # Long messages: one pass through faster-whisper's 30 s windows, as before the pieces.
        "one-pass": replace(tuned, max_piece_seconds=0),
        # Word times, as audio redaction asks for them (recording_redact_audio).
        "word-times": replace(tuned, word_timestamps=True),
        # The encoder over the whole 30 s window, as faster-whisper pads it, and other margins.
        "full-context": replace(tuned, context_margin_frames=None),
        "margin100": replace(tuned, context_margin_frames=100),
        "margin200": replace(tuned, context_margin_frames=200),
        "margin400": replace(tuned, context_margin_frames=400),
    }
    return variants[name]


def measure(
    model: str,
    setting: str,
    utterances: tuple[Utterance, ...],
    names: tuple[str, ...],
    channel: str = "g711",
) -> dict[str, Any]:
    """WER, RTF, load time and peak memory of one model and setting (in this process)."""
    import ctranslate2
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    from pipeline.transcribe import WhisperTranscriber

    ctranslate2.set_random_seed(42)
    normalise = EnglishTextNormalizer()
    calls = Deposits() if channel in PHONES else contextlib.nullcontext(None)
    with tempfile.TemporaryDirectory() as tmp, calls as deposits:
        wavs = [
            speak(u, Path(tmp) / f"m{i:02d}.wav", channel, deposits)
            for i, u in enumerate(utterances)
        ]
        started = time.perf_counter()
        engine = WhisperTranscriber(model, options=decoding_setting(setting), threads=2)
        load_seconds = time.perf_counter() - started
        engine.transcribe(wavs[0], names)  # warm-up: the first call allocates buffers
        audio = wall = cpu = 0.0
        refs: list[str] = []
        hyps: list[str] = []
        for utt, wav in zip(utterances, wavs, strict=True):
            result = engine.transcribe(wav, names)
            audio += seconds_of(wav)
            wall += result.transcribe_seconds
            cpu += result.cpu_seconds
            refs.append(normalise(utt.text))
            hyps.append(normalise(result.text))
    worst = sorted(zip(refs, hyps, strict=True), key=lambda p: -jiwer.wer(p[0], p[1]))[:3]
    return {
        "model": model,
        "setting": setting,
        "channel": channel,
        "wer": jiwer.wer(refs, hyps),
        "cpu_rtf": cpu / audio,
        "wall_rtf": wall / audio,
        "load_seconds": load_seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "audio_seconds": audio,
        "worst": worst,
    }


# How CTranslate2 computes on other x86 CPUs, forced on this one through its environment
# (and oneDNN's / MKL's): CI's CPU may lack AVX-512 or VNNI, so its int8 kernels round
# differently and Whisper's decode can take another path.
CPU_PROFILES: dict[str, dict[str, str]] = {
    "native": {},
    "mkl-avx512": {"CT2_USE_MKL": "1", "CT2_FORCE_CPU_ISA": "AVX512"},
    "mkl-avx2": {"CT2_USE_MKL": "1", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "dnnl-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "CT2_FORCE_CPU_ISA": "AVX2"},
}
LONG_SECONDS = 120
LONG_GAP_SECONDS = 3.0


def measure_long(
    model: str, setting: str, threads: int, seed: int, compute_type: str
) -> dict[str, Any]:
    """A 2-minute held-out message: word-count ratio, WER, worst utterance recall, RTF."""
    import ctranslate2
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    from pipeline.transcribe import WhisperTranscriber

    engine = WhisperTranscriber(
        model, options=decoding_setting(setting), threads=threads, compute_type=compute_type
    )
    normalise = EnglishTextNormalizer()
    with tempfile.TemporaryDirectory() as tmp:
        spoken = [
            (u.text, speak_through_phone(u, Path(tmp) / f"m{i:02d}.wav"))
            for i, u in enumerate(HELD_OUT)
        ]
        wav = Path(tmp) / "long.wav"
        said = long_message(spoken, wav, gap_seconds=LONG_GAP_SECONDS, min_seconds=LONG_SECONDS)
        ctranslate2.set_random_seed(seed)
        result = engine.transcribe(wav, HELD_OUT_NAMES)
    ref, hyp = normalise(" ".join(said)), normalise(result.text)
    recall = utterance_recall(said, result.text)
    return {
        "ratio": len(hyp.split()) / len(ref.split()),
        "wer": jiwer.wer(ref, hyp),
        "worst_recall": min(recall),
        "skipped": sum(r < 0.2 for r in recall),
        "utterances": len(said),
        "cpu_rtf": result.cpu_seconds / result.audio_seconds,
        "wall_rtf": result.real_time_factor,
    }


def run_long(models: list[str], settings: list[str], seeds: list[int]) -> None:
    """Every (CPU profile, compute type, threads) with a seed each, per model and setting."""
    print(
        f"2-minute held-out message ({LONG_GAP_SECONDS:.0f} s pauses); skipped: utterances"
        " with under 20 % of their words found"
    )
    print(
        f"{'model':8} {'setting':9} {'cpu':10} {'type':7} {'thr':>3} {'seed':>5}"
        f" {'ratio':>6} {'WER':>6} {'worst':>6} {'skipped':>7} {'CPU RTF':>8}"
    )
    combos = [
        (profile, ctype, threads)
        for profile in CPU_PROFILES
        for ctype in ("int8", "float32")
        for threads in (1, 2)
    ]
    for model in models:
        for setting in settings:
            for n, (profile, ctype, threads) in enumerate(combos):
                seed = seeds[n % len(seeds)]
                args = ["--one-long", model, setting, str(threads), str(seed), ctype]
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.transcription", *args],
                    capture_output=True,
                    text=True,
                    env={**os.environ, **CPU_PROFILES[profile]},
                )
                head = f"{model:8} {setting:9} {profile:10} {ctype:7} {threads:3} {seed:5}"
                if done.returncode:
                    print(f"{head}  failed: {done.stderr.strip().splitlines()[-1:]}")
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                print(
                    f"{head} {row['ratio']:6.3f} {row['wer']:6.3f} {row['worst_recall']:6.2f}"
                    f" {row['skipped']:4}/{row['utterances']:<2} {row['cpu_rtf']:8.3f}"
                )


def _verdict(row: dict[str, Any]) -> str:
    wer_ok = row["wer"] <= GOAL_WER
    rtf_ok = row["cpu_rtf"] <= GOAL_RTF
    wer = "meets" if wer_ok else f"misses by {row['wer'] - GOAL_WER:.3f}"
    rtf = "meets" if rtf_ok else f"misses by {row['cpu_rtf'] - GOAL_RTF:.3f}"
    return f"WER goal {wer}; RTF goal {rtf}"


def main(
    utterances: tuple[Utterance, ...] = HELD_OUT,
    names: tuple[str, ...] = HELD_OUT_NAMES,
    label: str = "held-out set",
    module: str = "benchmarks.transcription",
) -> None:
    """The benchmark over ``utterances`` (``module``: the ``-m`` that runs it again for one
    model, setting and channel; ``python -m tests.devset`` runs it over the dev set)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--settings", default="tuned,plain")
    parser.add_argument(
        "--long",
        action="store_true",
        help="a 2-minute message under every CPU profile, compute type and thread count",
    )
    parser.add_argument("--seeds", default="1,7,42,1234", help="with --long: seeds, in turn")
    parser.add_argument(
        "--channels",
        default="g711",
        help=f"what the speech passes through, of {','.join(CHANNELS)} (g711: the product's)",
    )
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--one-long", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if args.one_long:
        model, setting, threads, seed, ctype = args.one_long
        print(json.dumps(measure_long(model, setting, int(threads), int(seed), ctype)))
        return
    if args.long:
        seeds = [int(s) for s in args.seeds.split(",")]
        run_long(args.models.split(","), args.settings.split(","), seeds)
        return
    if args.one:
        model, setting, channel = args.one[:3]
        print(json.dumps(measure(model, setting, utterances, names, channel=channel)))
        return
    print(f"{label}: {len(utterances)} messages of espeak-ng speech, channels {args.channels}")
    print(
        f"{os.cpu_count()} cores, CTranslate2 on 2 threads;"
        f" goal WER <= {GOAL_WER}, RTF <= {GOAL_RTF}"
    )
    print(
        f"{'model':8} {'setting':11} {'channel':7} {'WER':>6} {'CPU RTF':>8} {'wall RTF':>8}"
        f" {'load s':>7} {'peak MB':>8}"
    )
    runs = [
        (model, setting, channel)
        for model in args.models.split(",")
        for setting in args.settings.split(",")
        for channel in args.channels.split(",")
    ]
    for model, setting, channel in runs:
        if channel not in CHANNELS:
            parser.error(f"unknown channel {channel!r}")
        out = subprocess.run(
            [sys.executable, "-m", module, "--one", model, setting, channel],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(
            f"{model:8} {setting:11} {channel:7} {row['wer']:6.3f} {row['cpu_rtf']:8.3f}"
            f" {row['wall_rtf']:8.3f} {row['load_seconds']:7.2f} {row['peak_mb']:8.0f}"
            f"   {_verdict(row)}"
        )
        for ref, hyp in row["worst"]:
            print(f"      ref: {ref}\n      hyp: {hyp}")


if __name__ == "__main__":
    main()
