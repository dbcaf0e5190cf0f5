"""Leaving a message, straight to the media server: SIPp callers play espeak-ng speech as RTP.

Each scenario places one real SIP call (SIPp, ``play_pcap_audio``) to
``vm-acme.example-102`` on the media port and checks the spool item it
leaves (docs/spool.md): duration against the audio sent, polarity against
the source, how the message ended, discarded ones counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import socket
import sqlite3
import struct
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from G722 import G722  # type: ignore[import-untyped]

from media.mailbox import StoreMailboxes
from pipeline.worker import VoicemailSteps
from switchboard.resample import up2
from switchboard.settings import Settings
from switchboard.store import PinLockPolicy
from switchboard.voicemail import audio_relpath, caller_label
from tests.fixtures.core import Directory
from tests.fixtures.media import (
    GREETING,
    PIN,
    SHORT_SENTENCE,
    Caller,
    MediaServerThread,
    RtpPlan,
    band_share,
    g711,
    g722,
    greeting_ms,
    media_settings,
    provision_mailbox,
    speech_wav,
    wav_pcm,
)
from tests.fixtures.voicemail import write_spool_item

pytestmark = pytest.mark.media

MAILBOX = "vm-acme.example-102"
# The caller starts talking this long after the greeting and beep's nominal length: on a
# loaded box the media clock slips (it never bursts to catch up), so the beep ends late,
# and what is said before the beep is rightly not recorded (300 ms once lost 60 ms).
AFTER_BEEP_MS = 800


def _sentence(audio_dir: Path) -> np.ndarray:
    return wav_pcm(speech_wav(audio_dir, SHORT_SENTENCE))


def _message_wav(server: MediaServerThread, meta: dict[str, object]) -> np.ndarray:
    path = server.settings.spool_dir / "voicemail/acme.example/102" / f"{meta['message_id']}.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
    return wav_pcm(path)


def _best_correlation(recorded: np.ndarray, source: np.ndarray) -> float:
    """Signed correlation at the lag (±20 ms) where it is strongest."""
    n = min(len(recorded), len(source)) - 200
    best = 0.0
    for lag in range(-160, 161, 1):
        a = recorded[max(lag, 0) : max(lag, 0) + n].astype(float)
        b = source[max(-lag, 0) : max(-lag, 0) + n].astype(float)
        c = float(np.corrcoef(a, b)[0, 1])
        if abs(c) > abs(best):
            best = c
    return best


@pytest.mark.parametrize("payload_type", [0, 8], ids=["PCMU", "PCMA"])
def test_message_duration_and_polarity(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path, payload_type: int
) -> None:
    source = _sentence(media_audio_dir)
    plan = RtpPlan(payload_type, g711(source.tobytes(), payload_type))
    caller = Caller(
        media_server.settings, MAILBOX, tmp_path, payload_type=payload_type, audio=plan,
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS,
    )  # fmt: skip
    result = caller.run()
    assert result.returncode == 0, result.errors
    [meta] = media_server.wait_messages(1)
    assert meta["codec"] == ("PCMU", "PCMA")[payload_type == 8]
    assert (meta["end_reason"], meta["discarded"], meta["cut_off"]) == ("hangup", False, False)
    assert (meta["caller"], meta["caller_name"], meta["from_carrier"]) == (
        "101",
        "Front Desk",
        False,
    )
    assert meta["call_id"] == result.log_lines[0].split()[-1]
    assert abs(meta["duration"] - len(source) / 8000) <= 0.150
    recorded = _message_wav(media_server, meta)
    assert abs(len(recorded) / 8000 - meta["duration"]) < 0.001
    assert _best_correlation(recorded, source) > 0.9  # positive: not inverted
    assert 1.0 <= meta["speech_seconds"] <= meta["duration"]


@pytest.mark.parametrize(
    ("payload_type", "dtmf_pt"), [(0, 96), (0, 101), (9, 101)], ids=["96", "101", "G722-101"]
)
def test_pound_ends_the_message(
    media_server: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
    payload_type: int,
    dtmf_pt: int,
) -> None:
    """An HD-voice phone's # too (RFC 4733 events at 8,000 Hz beside G.722's 16 kHz)."""
    source = _sentence(media_audio_dir)
    audio = g722(up2(source.tobytes())) if payload_type == 9 else g711(source.tobytes(), 0)
    plan = RtpPlan(payload_type, audio, digits="#", dtmf_payload_type=dtmf_pt)
    caller = Caller(
        media_server.settings, MAILBOX, tmp_path, payload_type=payload_type,
        dtmf_payload_type=dtmf_pt, audio=plan,
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS, ending="wait_bye", timeout=15,
    )  # fmt: skip
    started = time.monotonic()
    result = caller.run()
    assert result.returncode == 0, result.errors
    assert any(line.startswith("server_bye") for line in result.log_lines)
    assert time.monotonic() - started < 10  # not a silence or RTP timeout
    [meta] = media_server.wait_messages(1)
    assert (meta["end_reason"], meta["discarded"]) == ("dtmf", False)
    assert meta["codec"] == ("G722" if payload_type == 9 else "PCMU")
    # the digits are not audio: the message is the speech, not speech + noise
    assert abs(meta["duration"] - len(source) / 8000) <= 0.150


def test_hangup_during_greeting_is_counted_not_kept(
    media_server: MediaServerThread, tmp_path: Path
) -> None:
    result = Caller(media_server.settings, MAILBOX, tmp_path, wait_ms=300).run()
    assert result.returncode == 0, result.errors
    [meta] = media_server.wait_messages(1)
    assert (meta["discarded"], meta["end_reason"], meta["duration"]) == (True, "hangup", 0.0)
    box = media_server.settings.spool_dir / "voicemail/acme.example/102"
    assert not list(box.glob("*.wav")) and not list(box.glob("*.part*"))


def test_silence_only_is_discarded(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path
) -> None:
    plan = RtpPlan(0, g711(bytes(2 * 8000 * 2), 0))  # 2 s of digital silence
    caller = Caller(
        media_server.settings, MAILBOX, tmp_path, audio=plan,
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS,
    )  # fmt: skip
    assert caller.run().returncode == 0
    [meta] = media_server.wait_messages(1)
    assert (meta["discarded"], meta["speech_seconds"]) == (True, 0.0)
    assert meta["duration"] == pytest.approx(2.0, abs=0.05)


def test_rtp_that_stops_without_bye_times_out_and_keeps_the_message(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path
) -> None:
    source = _sentence(media_audio_dir)
    plan = RtpPlan(0, g711(source.tobytes(), 0))
    caller = Caller(
        media_server.settings, MAILBOX, tmp_path, audio=plan,
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS, ending="wait_bye", timeout=15,
    )  # fmt: skip
    result = caller.run()  # the server's BYE comes ~2 s (its RTP timeout) after the audio
    assert result.returncode == 0, result.errors
    [meta] = media_server.wait_messages(1)
    assert (meta["end_reason"], meta["discarded"]) == ("rtp_timeout", False)
    assert abs(meta["duration"] - len(source) / 8000) <= 0.150


def test_malformed_sip_leaves_the_server_serving(
    media_server: MediaServerThread, tmp_path: Path
) -> None:
    port = media_server.settings.media_port
    junk = [
        b"\x00\xff garbage",
        b"INVITE sip:vm-acme.example-102@127.0.0.1 SIP/2.0\r\n\r\n",  # no headers at all
        b"INVITE sip:vm-acme.example-102@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: j1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Type: application/sdp\r\nContent-Length: 11\r\n\r\nv=0\r\nbogus",
        b"INVITE sip:vm-../../etc-102@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: j2\r\nCSeq: 1 INVITE\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        "BYE sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\nCall-ID: ☃\r\n\r\n".encode(),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for datagram in junk:
            s.sendto(datagram, ("127.0.0.1", port))
    time.sleep(0.3)
    result = Caller(media_server.settings, MAILBOX, tmp_path, wait_ms=300).run()
    assert result.returncode == 0, result.errors
    assert not list(media_server.settings.spool_dir.glob("voicemail/*/*etc*"))


def test_unknown_application_is_refused(media_server: MediaServerThread, tmp_path: Path) -> None:
    # (q- is the queues' since issue 12; conferences do not exist yet)
    result = Caller(media_server.settings, "conf-acme.example-1", tmp_path, timeout=10).run()
    assert result.returncode != 0  # SIPp expected a 200
    assert "404" in result.errors or "Not Found" in result.errors


def _worker_tick(settings: Settings) -> None:
    """One voicemail pass of the pipeline worker (no model, no SMTP: ingest is what matters)."""
    steps = VoicemailSteps(dataclasses.replace(settings, transcription_model="none"))
    try:
        steps.run()
    finally:
        steps.close()


def test_an_ingested_message_is_heard_by_phone_and_saved_where_the_portal_sees_it(
    media_server: MediaServerThread,
    media_audio_dir: Path,
    directory: Directory,
    tmp_path: Path,
) -> None:
    """*97: PIN, 1 = hear messages; the pipeline moved the WAV, the phone still finds it;
    2 = save: the store (what the portal lists) has it in ``saved``."""
    settings = media_server.settings
    source = _sentence(media_audio_dir)
    leave = Caller(
        settings, MAILBOX, tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS,
    )  # fmt: skip
    assert leave.run().returncode == 0
    [meta] = media_server.wait_messages(1)
    mid = meta["message_id"]
    _worker_tick(settings)
    [ingested] = directory.store.voicemail_messages("acme.example", "102", ("new",))
    assert ingested.message_id == mid
    assert not (settings.spool_dir / "voicemail/acme.example/102" / f"{mid}.wav").exists()
    assert (settings.data_dir / ingested.audio_path).is_file()

    # PIN + "#", "1" (hear messages); ~9 s later (prompt, message, menu) "2" saves it
    access = Caller(
        settings, "*97", tmp_path, caller="102", wait_ms=500, timeout=40,
        audio=RtpPlan(0, g711(bytes(3200), 0), digits=[*PIN, "#", "1"]),
        then=[(9000, RtpPlan(0, g711(bytes(1600), 0), digits=["2"]))], after_ms=2500,
    )  # fmt: skip
    result = access.run()
    assert result.returncode == 0, result.errors
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and directory.store.voicemail_messages(
        "acme.example", "102", ("new",)
    ):
        time.sleep(0.1)
    [saved] = directory.store.voicemail_messages("acme.example", "102", ("new", "saved", "trash"))
    assert (saved.message_id, saved.folder, saved.is_read) == (mid, "saved", True)


def test_new_messages_are_the_stores_new_folder_plus_the_spool_not_ingested_yet(
    settings: Settings, directory: Directory, media_audio_dir: Path
) -> None:
    """No SIP: what the phone menu would play, in the mailbox's order (newest first)."""
    wav = speech_wav(media_audio_dir, SHORT_SENTENCE)
    ingested = write_spool_item(settings, "acme.example", "102", wav, started_at=1_000.0)
    saved = write_spool_item(settings, "acme.example", "102", wav, started_at=2_000.0)
    _worker_tick(settings)
    directory.store.set_message_folder("acme.example", "102", saved, "saved")
    waiting = write_spool_item(settings, "acme.example", "102", wav, started_at=3_000.0)
    write_spool_item(settings, "acme.example", "102", None, discarded=True)
    write_spool_item(settings, "acme.example", "101", wav)  # another mailbox

    mailboxes = StoreMailboxes(directory.store, settings.data_dir, settings.spool_dir)
    heard = mailboxes.new_messages("acme.example", "102")
    assert [m.message_id for m in heard] == [waiting, ingested]
    assert heard[0].wav.parent == settings.spool_dir / "voicemail/acme.example/102"
    assert heard[1].wav == settings.data_dir / audio_relpath("acme.example", "102", ingested)
    directory.store.update_mailbox_settings("acme.example", "102", message_order="oldest")
    assert [m.message_id for m in mailboxes.new_messages("acme.example", "102")] == [
        ingested, waiting
    ]  # fmt: skip


def test_mailbox_by_phone_refused_without_pin(
    settings: Settings, directory: Directory, tmp_path: Path
) -> None:
    mailboxes = StoreMailboxes(directory.store, settings.data_dir, settings.spool_dir)
    server = MediaServerThread(media_settings(settings), mailboxes=mailboxes).start()
    try:
        plan = RtpPlan(0, g711(bytes(1600), 0), digits=["0", "#"])
        caller = Caller(
            server.settings, "*97", tmp_path, audio=plan, caller="102", ending="wait_bye",
            timeout=15,
        )  # fmt: skip
        result = caller.run()
        assert result.returncode == 0, result.errors  # "not set up", then the server hangs up
    finally:
        server.stop()
    assert not directory.store.verify_voicemail_pin("acme.example", "102", "0")


def test_spool_json_matches_the_contract(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path
) -> None:
    source = _sentence(media_audio_dir)
    Caller(
        media_server.settings, MAILBOX, tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS,
    ).run()  # fmt: skip
    [meta] = media_server.wait_messages(1)
    keys = {
        "message_id", "tenant", "mailbox", "call_id", "caller", "caller_name", "started_at",
        "ended_at", "duration", "speech_seconds", "end_reason", "cut_off", "discarded", "codec",
        "from_carrier",
    }  # fmt: skip
    assert set(meta) == keys
    assert meta["message_id"].startswith("vm-") and len(meta["message_id"]) == 35
    assert meta["ended_at"] >= meta["started_at"] + meta["duration"] - 0.3
    box = media_server.settings.spool_dir / "voicemail/acme.example/102"
    names = sorted(p.name for p in box.iterdir())
    assert names == [f"{meta['message_id']}.json", f"{meta['message_id']}.wav"]
    assert json.loads((box / names[0]).read_text()) == meta


@dataclasses.dataclass
class WatchedMailboxes(StoreMailboxes):
    """The store's mailboxes, noting every PIN the media server checks and the answer."""

    checks: list[tuple[str, bool]] = dataclasses.field(default_factory=list)

    def verify_pin(self, tenant: str, ext: str, pin: str) -> bool:
        ok = super().verify_pin(tenant, ext, pin)
        self.checks.append((pin, ok))
        return ok


def test_wrong_pins_over_several_calls_lock_phone_access_until_the_lock_expires(
    settings: Settings, directory: Directory, media_audio_dir: Path, tmp_path: Path
) -> None:
    """*97 by SIPp with RTP digits: 3 wrong PINs (the per-call limit), hang up, call again:
    the 4th wrong PIN locks the box; the right PIN then gets "locked" and a BYE, and only
    after the lock expires opens the menu again."""
    store = directory.store
    provision_mailbox(store, settings.data_dir, "acme.example", "102", pin=PIN)
    policy = PinLockPolicy(max_failures=4, window_seconds=600, lock_seconds=600)
    mailboxes = WatchedMailboxes(store, settings.data_dir, settings.spool_dir, policy)
    server = MediaServerThread(media_settings(settings), mailboxes=mailboxes).start()

    def call(*digits: str) -> None:
        """Dial ``digits`` into *97 as mailbox 102; the server must hang up."""
        caller = Caller(
            server.settings, "*97", tmp_path, caller="102", wait_ms=500, ending="wait_bye",
            audio=RtpPlan(0, g711(bytes(1600), 0), digits=list(digits)), timeout=40,
        )  # fmt: skip
        result = caller.run()
        assert result.returncode == 0, result.errors

    try:
        call(*"1357#2468#1470#")  # three wrong: "goodbye" (the per-call limit)
        assert store.pin_lock("acme.example", "102") is None
        call(*"9630#")  # the 4th wrong PIN, in another call: locked
        lock = store.pin_lock("acme.example", "102")
        assert lock is not None and lock.failures == 4
        call(*PIN, "#", "*")  # the right PIN: "locked", goodbye; not even compared
        assert mailboxes.checks == [(p, False) for p in ("1357", "2468", "1470", "9630")]
        assert store.pin_lock("acme.example", "102") is not None

        # Ten minutes pass: the lock's deadline moves into the past, as waiting would do
        # (the expiry itself is the store's comparison, unit-tested with its ``now``).
        with sqlite3.connect(settings.provisioning_db) as db:
            db.execute("update voicemail_pin_lock set locked_until = ?", (time.time() - 1,))
        db.close()
        assert store.pin_lock("acme.example", "102") is None
        call(*PIN, "#", "*")  # expired: the menu opens, "*" leaves it
        assert mailboxes.checks[4:] == [(PIN, True)]
    finally:
        server.stop()


def test_an_hd_voice_caller_hears_the_greeting_and_beep_in_g722(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path
) -> None:
    """A phone offering only G.722 gets the greeting and the beep as G.722 at RFC 3551's
    clock (160 per 20 ms): decoded at 16 kHz they last as long as they should and sound
    as they should (the greeting's words, the beep's 1 kHz)."""
    ear = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ear.bind(("127.0.0.1", 0))
    ear.settimeout(0.3)
    heard: list[bytes] = []
    listening = threading.Event()
    listening.set()

    def listen() -> None:
        while listening.is_set():
            with contextlib.suppress(TimeoutError):
                heard.append(ear.recv(2048))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    caller = Caller(
        media_server.settings, MAILBOX, tmp_path, payload_type=9,
        offer_port=ear.getsockname()[1], wait_ms=greeting_ms(media_audio_dir) + 1500,
    )  # fmt: skip
    try:
        result = caller.run()
    finally:
        listening.clear()
        thread.join()
        ear.close()
    assert result.returncode == 0, result.errors
    packets = [p for p in heard if p[1] & 0x7F == 9]
    stamps = [struct.unpack("!I", p[4:8])[0] for p in packets]
    steps = {b - a for a, b in itertools.pairwise(stamps)}
    assert steps == {160}  # 20 ms of G.722 per packet, RFC 3551's 8,000 Hz clock
    audio = np.frombuffer(G722(16000, 64000).decode(b"".join(p[12:] for p in packets)), dtype="<i2")
    greeting = wav_pcm(speech_wav(media_audio_dir, GREETING))
    played = len(greeting) / 8000 + 0.4  # the greeting, then the beep
    assert len(audio) / 16000 == pytest.approx(played, abs=0.1)  # nothing after: no echo
    # the greeting: the same words at the same speed (the 16 kHz audio taken down to 8 kHz;
    # the media server upsampled it, so there is nothing above 4 kHz to fold back)
    said = audio[::2][: len(greeting)].astype(float)
    n = len(said) - 400
    best = max(float(np.corrcoef(said[lag : lag + n], greeting[:n])[0, 1]) for lag in range(400))
    assert best > 0.9
    # the beep: 1 kHz, right after the greeting
    beep_at = 2 * len(greeting) + 800
    assert band_share(audio[beep_at : beep_at + 4000], 950, 1050) > 0.8


def test_a_caller_the_carrier_delivered_is_marked_so(
    media_server: MediaServerThread, media_audio_dir: Path, tmp_path: Path
) -> None:
    """An outside From presenting "100" is not Mia Manager: the message says who vouched."""
    source = _sentence(media_audio_dir)
    Caller(
        media_server.settings, MAILBOX, tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
        wait_ms=greeting_ms(media_audio_dir) + AFTER_BEEP_MS, caller="100", name="Mia Manager",
        identity="trunk",
    ).run()  # fmt: skip
    [meta] = media_server.wait_messages(1)
    assert (meta["caller"], meta["caller_name"], meta["from_carrier"]) == (
        "100", "Mia Manager", True,
    )  # fmt: skip
    names = {"100": "Mia Manager"}
    assert caller_label("100", "Mia Manager", names, meta["from_carrier"]) == (
        "Mia Manager (100), outside caller"
    )
    assert caller_label("100", "Someone", names, False) == "Mia Manager (100)"
