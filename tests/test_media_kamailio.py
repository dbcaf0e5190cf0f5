"""A real caller through Kamailio: 102 does not take calls, the media server takes the message.

101 calls 102 with SIPp (digest auth, RTP from a pcap of an espeak-ng
sentence); 102's active rule (do not disturb, then voicemail) makes Kamailio
relay the call, record-routed, to ``vm-acme.example-102`` on the media
server, which plays the default spoken greeting (102 has none) and records.
The caller's BYE passes through Kamailio (Record-Route in our 200 OK), so the
accounting row closes with the voicemail as the answering party.
"""

from __future__ import annotations

import dataclasses
import subprocess
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_user
from media import prompts
from media.mailbox import StoreMailboxes
from pipeline.transcribe import WhisperTranscriber
from switchboard.rules import AnsweringRule
from tests.fixtures.core import Directory
from tests.fixtures.media import (
    PIN,
    SENTENCE,
    SHORT_SENTENCE,
    Caller,
    MediaServerThread,
    RtpPlan,
    band_share,
    g711,
    g722,
    speech_wav,
)
from tests.fixtures.media import wav_pcm as read_pcm
from tests.fixtures.sip import account, cdr_rows, lake_calls

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)


@pytest.fixture
def media_behind_kamailio(
    kamailio: KamailioProcess, directory: Directory
) -> Iterator[MediaServerThread]:
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=5.0)
    mailboxes = StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    server = MediaServerThread(s, mailboxes=mailboxes).start()
    try:
        yield server
    finally:
        server.stop()


def test_message_left_through_kamailio(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    media_behind_kamailio: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
) -> None:
    s = kamailio.settings
    bob = directory.users["102@acme.example"]
    directory.store.save_rule(bob, AnsweringRule("Away", 1, None, dnd=True))
    rules_clock.pin(NOW)
    push_user(s, directory.store, bob, now=NOW)

    source = read_pcm(speech_wav(media_audio_dir, SENTENCE))
    greeting = prompts.prompt_pcm(s.data_dir, "greeting_unavailable")
    wait_ms = int(len(greeting) / 16 + 400 + 400)  # default greeting + beep + margin
    caller = Caller(
        s, "102", tmp_path, audio=RtpPlan(8, g711(source.tobytes(), 8)), payload_type=8,
        wait_ms=wait_ms, auth=account("101@acme.example", name="Front Desk"),
    )  # fmt: skip
    result = caller.run()
    assert result.returncode == 0, result.errors
    assert any(line.startswith("bye_ok") for line in result.log_lines)

    [meta] = media_behind_kamailio.wait_messages(1)
    assert (meta["tenant"], meta["mailbox"], meta["caller"]) == ("acme.example", "102", "101")
    assert (meta["end_reason"], meta["discarded"], meta["codec"]) == ("hangup", False, "PCMA")
    assert abs(meta["duration"] - len(source) / 8000) <= 0.150

    [row] = cdr_rows(s)
    assert row["call_id"] == meta["call_id"]
    assert (row["answered_by"], row["disposition_hint"]) == ("vm-acme.example-102", "voicemail")
    assert row["end_at"] is not None and row["end_at"] >= row["answer_at"]
    # talk time ~ greeting + message: the BYE went through Kamailio, not around it
    assert row["end_at"] - row["answer_at"] == pytest.approx(
        wait_ms / 1000 + len(source) / 8000 + 0.3, abs=1.0
    )


def test_star_97_through_kamailio_opens_the_own_mailbox_and_records_a_greeting(
    kamailio: KamailioProcess,
    directory: Directory,
    media_behind_kamailio: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
) -> None:
    """102 dials *97 (digest auth as 102): PIN, menu "2", speaks, "#": a new active greeting.

    The greeting becoming 102's active one proves Kamailio relayed the call to
    ``vmaccess-acme.example`` as 102 and the PIN prompt and the menu were reached.
    """
    s = kamailio.settings
    directory.store.set_voicemail_pin("acme.example", "102", PIN)
    greeting = read_pcm(speech_wav(media_audio_dir, SHORT_SENTENCE))
    prompt_ms = len(prompts.prompt_pcm(s.data_dir, "record_greeting")) // 16 + 400  # + beep
    access = Caller(
        s, "*97", tmp_path, caller="102", name="Bob Builder", wait_ms=500, timeout=40,
        auth=account("102@acme.example", name="Bob Builder"),
        audio=RtpPlan(0, g711(bytes(3200), 0), digits=[*PIN, "#", "2"]),
        # a new SSRC: a second pcap restarts sequence numbers and timestamps
        then=[(prompt_ms + 800, RtpPlan(0, g711(greeting.tobytes(), 0), ["#"], ssrc=0x5EED0097))],
        after_ms=2000,
    )  # fmt: skip
    result = access.run()
    assert result.returncode == 0, result.errors

    box = directory.store.mailbox_settings("acme.example", "102")
    assert box.greeting == "custom" and box.active_greeting is not None
    recorded = read_pcm(Path(box.active_greeting))
    assert len(greeting) / 8000 - 0.2 <= len(recorded) / 8000 <= len(greeting) / 8000 + 0.6

    [row] = cdr_rows(s)
    assert (row["caller"], row["callee"], row["direction"]) == ("102", "*97", "internal")
    assert (row["answered_by"], row["disposition_hint"]) == ("vmaccess-acme.example", "answered")
    [call] = lake_calls(s, "acme.example")
    assert call["disposition"] == "answered"


def _wideband_speech(directory: Path, text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng at 16 kHz (an HD-voice phone's microphone)."""
    raw, out = directory / "espeak.wav", directory / "wide.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
    prompts.to_mono16(raw, out, 16000)
    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


@pytest.mark.whisper
def test_an_hd_voice_phone_leaves_a_16_khz_message_through_kamailio(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    media_behind_kamailio: MediaServerThread,
    tmp_path: Path,
) -> None:
    """A phone offering G.722 (and G.711) deposits in G.722: the message keeps the band
    above 4 kHz that G.711 cannot carry (a 5 kHz tone after the words), at 16 kHz."""
    s = kamailio.settings
    bob = directory.users["102@acme.example"]
    directory.store.save_rule(bob, AnsweringRule("Away", 1, None, dnd=True))
    rules_clock.pin(NOW)
    push_user(s, directory.store, bob, now=NOW)

    words = _wideband_speech(tmp_path, SHORT_SENTENCE)
    t = np.arange(16000) / 16000
    tone = (8000 * np.sin(2 * np.pi * 5000 * t)).astype("<i2")
    source = np.concatenate([words, tone])
    greeting = prompts.prompt_pcm(s.data_dir, "greeting_unavailable")
    wait_ms = int(len(greeting) / 16 + 400 + 800)  # default greeting + beep + margin
    caller = Caller(
        s, "102", tmp_path, audio=RtpPlan(9, g722(source.tobytes())), payload_type=9,
        wait_ms=wait_ms, auth=account("101@acme.example", name="Front Desk"),
    )  # fmt: skip
    result = caller.run()
    assert result.returncode == 0, result.errors

    [meta] = media_behind_kamailio.wait_messages(1)
    assert (meta["codec"], meta["end_reason"], meta["discarded"]) == ("G722", "hangup", False)
    assert abs(meta["duration"] - len(source) / 16000) <= 0.150
    path = s.spool_dir / "voicemail/acme.example/102" / f"{meta['message_id']}.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        recorded = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert abs(len(recorded) / 16000 - meta["duration"]) < 0.001
    # the tone, in the last second: nearly all of its energy at 5 kHz (G.711 would keep none)
    assert band_share(recorded[-16000 + 800 : -800], 4900, 5100) > 0.9
    # the words: the same waveform (G.722 keeps it; a lag of a few samples is the codec's)
    n = len(words) - 1600
    best = max(
        float(np.corrcoef(recorded[800 + lag : 800 + lag + n], words[800 : 800 + n])[0, 1])
        for lag in range(-400, 401)
    )
    assert best > 0.9
    # and the words' own band above 4 kHz is there too, as the phone sent it
    high = band_share(words, 4200, 7000)
    assert high > 0.001  # espeak-ng's fricatives
    assert band_share(recorded[: len(words)], 4200, 7000) == pytest.approx(high, rel=0.5)
    # what the mailbox owner reads: the bundled model's transcript of the 16 kHz message
    text = WhisperTranscriber().transcribe(path).text.lower()
    assert all(word in text for word in ("call me back", "invoice")), text
