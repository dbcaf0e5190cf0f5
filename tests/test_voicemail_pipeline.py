"""Voicemail pipeline: spool → lake exactly once, quarantine, state, search, email.

Spool items are written the way docs/spool.md says the media server writes them
(tests/fixtures/voicemail.py). Transcription uses a scripted engine here; the
real Whisper model is exercised in test_voicemail_whisper.py (marker ``whisper``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from media.prompts import SOX
from pipeline.notify import send_pending_emails
from pipeline.transcribe import Segment, Transcript, transcribe_pending
from pipeline.voicemail_ingest import ingest_voicemail
from pipeline.voicemail_query import mailbox_messages, open_mailbox, search_transcripts
from pipeline.warehouse import connect
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import Speech, silence_wav, write_spool_item

SENTENCE = "Please call me back about the invoice."


class ScriptedTranscriber:
    """A stand-in engine: returns the text it was given for each WAV, counts its calls."""

    model_name = "scripted"

    def __init__(self, text: str = SENTENCE) -> None:
        self.text = text
        self.calls: list[Path] = []

    def transcribe(self, wav_path: Path) -> Transcript:
        self.calls.append(wav_path)
        return Transcript(self.text, [Segment(0.0, 2.0, self.text)], "en", 2.0, 0.2)


def lake_rows(settings: Settings, table: str) -> list[dict[str, Any]]:
    root = settings.lake_dir / table
    if not root.is_dir():
        return []
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def test_ingest_commits_each_message_once_and_moves_the_audio(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    wav = speech(SENTENCE)
    ids = [write_spool_item(settings, "acme.example", "102", wav) for _ in range(3)]
    gone = write_spool_item(settings, "acme.example", "102", None, discarded=True)

    first = ingest_voicemail(settings, directory.store)
    again = ingest_voicemail(settings, directory.store)

    assert (first.messages, first.discarded, first.quarantined) == (3, 1, 0)
    assert (again.messages, again.discarded) == (0, 0)
    rows = lake_rows(settings, "voicemails")
    assert sorted(r["message_id"] for r in rows) == sorted([*ids, gone])
    assert {r["tenant"] for r in rows} == {"acme.example"}
    kept = next(r for r in rows if r["message_id"] == ids[0])
    assert kept["audio_path"] == f"voicemail/acme.example/102/{ids[0]}.wav"
    assert (settings.data_dir / kept["audio_path"]).read_bytes() == wav.read_bytes()
    assert abs(kept["duration"] - 2.4) < 1.5 and kept["caller"] == "+15551230000"
    assert next(r for r in rows if r["message_id"] == gone)["discarded"] is True
    # The spool keeps nothing to redo; the mailbox lists the three kept messages, new.
    assert not list((settings.spool_dir / "voicemail").rglob("*.json"))
    box = directory.store.voicemail_messages("acme.example", "102")
    assert sorted(m.message_id for m in box) == sorted(ids)
    assert {m.folder for m in box} == {"new"}


def test_a_corrupt_wav_and_bad_json_are_quarantined_and_the_others_processed(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    wav = speech(SENTENCE)
    good = write_spool_item(settings, "acme.example", "102", wav)
    truncated = write_spool_item(
        settings, "acme.example", "102", wav, wav_bytes=wav.read_bytes()[:3000]
    )
    not_a_wav = write_spool_item(settings, "acme.example", "101", wav, wav_bytes=b"MP3 junk" * 99)
    bad_json = write_spool_item(settings, "acme.example", "101", wav, json_text="{not json")
    stranger = write_spool_item(settings, "acme.example", "999", wav)

    result = ingest_voicemail(settings, directory.store)

    assert (result.messages, result.quarantined) == (1, 4)
    assert [r["message_id"] for r in lake_rows(settings, "voicemails")] == [good]
    quarantine = settings.spool_dir / "quarantine" / "voicemail"
    reasons = {p.name.split("_")[-1]: p.read_text() for p in quarantine.glob("*.reason.txt")}
    assert "header promises more audio" in reasons[f"{truncated}.reason.txt"]
    assert "corrupt WAV" in reasons[f"{not_a_wav}.reason.txt"]
    assert "unreadable JSON" in reasons[f"{bad_json}.reason.txt"]
    assert "unknown mailbox" in reasons[f"{stranger}.reason.txt"]
    assert (quarantine / f"acme.example_102_{truncated}.wav").is_file()
    assert not [p for p in (settings.spool_dir / "voicemail").rglob("*") if p.is_file()]


def test_who_vouched_for_the_caller_reaches_the_lake(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    """from_carrier: true from the carrier, false from a colleague, null before the key."""
    wav = speech(SENTENCE)
    outside = write_spool_item(settings, "acme.example", "102", wav, from_carrier=True)
    colleague = write_spool_item(settings, "acme.example", "102", wav, from_carrier=False)
    older = write_spool_item(settings, "acme.example", "102", wav)
    bad = write_spool_item(settings, "acme.example", "102", wav, from_carrier="yes")
    result = ingest_voicemail(settings, directory.store)
    assert (result.messages, result.quarantined) == (3, 1)
    rows = {r["message_id"]: r["from_carrier"] for r in lake_rows(settings, "voicemails")}
    assert rows == {outside: True, colleague: False, older: False}
    quarantine = settings.spool_dir / "quarantine" / "voicemail"
    [reason] = quarantine.glob(f"*{bad}.reason.txt")
    assert "'from_carrier' must be true or false" in reason.read_text()


@pytest.mark.parametrize("crash_at", ["pending", "file", "manifest", "item"])
def test_a_crash_at_any_step_neither_loses_nor_duplicates_a_message(
    settings: Settings, directory: Directory, speech: Speech, crash_at: str
) -> None:
    wav = speech(SENTENCE)
    ids = {write_spool_item(settings, t, "101", wav) for t in ("acme.example", "globex.example")}
    script = (
        "import os, sys\n"
        "from pipeline.voicemail_ingest import ingest_voicemail\n"
        "from switchboard.settings import load_settings\n"
        "from switchboard.store import ProvisioningStore\n"
        "s = load_settings()\n"
        "def hook(name):\n"
        f"    if name == {crash_at!r}: os._exit(9)\n"
        "ingest_voicemail(s, ProvisioningStore(s.provisioning_db), hook)\n"
    )
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(settings.data_dir)}
    env["SWITCHBOARD_CONFIG"] = str(settings.data_dir / "none.toml")
    crashed = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert crashed.returncode == 9

    ingest_voicemail(settings, directory.store)
    ingest_voicemail(settings, directory.store)

    rows = lake_rows(settings, "voicemails")
    assert sorted(r["message_id"] for r in rows) == sorted(ids)
    assert not (settings.lake_dir / "_voicemail_batches" / "pending.json").exists()
    for tenant in ("acme.example", "globex.example"):
        assert len(directory.store.voicemail_messages(tenant, "101")) == 1


def test_transcripts_are_keyed_by_message_and_never_redone(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    write_spool_item(settings, "acme.example", "102", speech(SENTENCE))
    ingest_voicemail(settings, directory.store)
    engine = ScriptedTranscriber()

    assert transcribe_pending(settings, directory.store, engine) == 1
    # A crash after the file but before the store heard of it: the file is the key.
    directory.store._db.execute("update voicemail_message set transcribed_at = null")
    assert transcribe_pending(settings, directory.store, engine) == 0
    assert transcribe_pending(settings, directory.store, engine) == 0

    assert len(engine.calls) == 1
    (row,) = lake_rows(settings, "transcripts")
    assert row["text"] == SENTENCE and row["model"] == "scripted"
    assert json.loads(row["segments_json"]) == [{"start": 0.0, "end": 2.0, "text": SENTENCE}]
    assert row["real_time_factor"] == pytest.approx(0.1)


def test_state_moves_restore_forward_and_a_plain_users_scope(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    store = directory.store
    mid = write_spool_item(settings, "acme.example", "102", speech(SENTENCE), caller="101")
    other = write_spool_item(settings, "acme.example", "101", speech(SENTENCE))
    ingest_voicemail(settings, store)
    transcribe_pending(settings, store, ScriptedTranscriber())

    store.mark_read("acme.example", "102", mid)
    store.set_message_folder("acme.example", "102", mid, "saved")
    store.set_message_folder("acme.example", "102", mid, "trash")
    assert store.voicemail_messages("acme.example", "102") == []
    restored = store.restore_message("acme.example", "102", mid)
    assert (restored.folder, restored.is_read, restored.deleted_at) == ("saved", True, None)
    with pytest.raises(ProvisioningError):  # 101 naming 102's message finds nothing
        store.set_message_folder("acme.example", "101", mid, "trash")

    copy = store.forward_message("acme.example", "102", mid, "103")
    assert (copy.mailbox, copy.source_id, copy.forwarded_by) == ("103", mid, "102")
    messages = store.voicemail_messages("acme.example", "103")
    conn = open_mailbox(settings, "acme.example", "103", messages)
    try:
        (listed,) = mailbox_messages(conn, messages)
        # 103 sees the forwarded original's facts, and nothing else of the tenant.
        assert listed["transcript"] == SENTENCE and listed["caller"] == "101"
        assert conn.execute("select count(*) from voicemails").fetchall() == [(1,)]
        assert search_transcripts(conn, "INVOICE please")[0]["message_id"] == mid
        assert mailbox_messages(conn, messages, search="pizza") == []
    finally:
        conn.close()
    conn = connect(settings, "acme.example", extension="101")
    try:
        found = {r["message_id"] for r in search_transcripts(conn, "invoice")}
        assert found == {other}  # 101's own message only
    finally:
        conn.close()


def test_trash_is_purged_after_30_days_and_the_audio_when_unused(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    store = directory.store
    mid = write_spool_item(settings, "acme.example", "102", speech(SENTENCE))
    ingest_voicemail(settings, store)
    long_ago = time.time() - 31 * 86_400
    store.set_message_folder("acme.example", "102", mid, "trash", now=long_ago)
    assert store.purge_voicemail_trash() == [f"voicemail/acme.example/102/{mid}.wav"]
    assert store.voicemail_messages("acme.example", "102", folders=("trash",)) == []


def test_pin_and_mailbox_settings(directory: Directory) -> None:
    store = directory.store
    assert not store.verify_voicemail_pin("acme.example", "102", "4826")  # no PIN yet
    for weak in ("1111", "1234", "12a4", "12"):
        with pytest.raises(ProvisioningError):
            store.set_voicemail_pin("acme.example", "102", weak)
    store.set_voicemail_pin("acme.example", "102", "4826")
    assert store.verify_voicemail_pin("acme.example", "102", "4826")
    assert not store.verify_voicemail_pin("acme.example", "102", "4827")
    assert not store.verify_voicemail_pin("globex.example", "102", "4826")
    box = store.update_mailbox_settings(
        "acme.example", "102", greeting="busy", message_order="oldest", email_enabled=False
    )
    assert (box.greeting, box.message_order, box.email_enabled, box.has_pin) == (
        "busy",
        "oldest",
        False,
        True,
    )
    assert box.active_greeting is None and box.email_address == "102@acme.example"


# -- voicemail to email ------------------------------------------------------------------------
def test_voicemail_email_arrives_once_with_transcript_and_audio(
    tmp_path: Path, directory: Directory, speech: Speech, smtp_server: Any
) -> None:
    from tests.fixtures.core import make_settings

    controller, inbox = smtp_server
    settings = make_settings(
        directory.store.path.parent, smtp_host="127.0.0.1", smtp_port=controller.port
    )
    store = directory.store
    wav = speech(SENTENCE)
    mid = write_spool_item(settings, "acme.example", "102", wav, caller="101", caller_name=None)
    quiet = write_spool_item(settings, "acme.example", "101", wav)
    store.update_mailbox_settings("acme.example", "101", email_enabled=False)
    ingest_voicemail(settings, store)

    # Waits for the transcript first, then sends once.
    assert send_pending_emails(settings, store, transcription_on=True) == 0
    transcribe_pending(settings, store, ScriptedTranscriber())
    assert send_pending_emails(settings, store, transcription_on=True) == 1
    assert send_pending_emails(settings, store, transcription_on=True) == 0

    (email,) = inbox.messages
    assert email["To"] == "102@acme.example"
    assert "Front Desk (101)" in email["Subject"]
    body = next(p for p in email.walk() if p.get_content_type() == "text/plain")
    text = body.get_payload(decode=True).decode()
    assert SENTENCE in text
    assert "EST" in text or "EDT" in text  # the time in 102's zone (New York)
    (attachment,) = [p for p in email.walk() if p.get_content_type() == "audio/wav"]
    assert attachment.get_payload(decode=True) == wav.read_bytes()
    assert store.voicemail_message("acme.example", "101", quiet).email_state == "skipped"
    assert store.voicemail_message("acme.example", "102", mid).email_state == "sent"


def test_an_hd_voice_message_is_kept_at_16_khz_and_a_wrong_rate_refused(
    settings: Settings, directory: Directory, speech: Speech, tmp_path: Path
) -> None:
    """A G.722 deposit is a 16 kHz WAV: ingested with its true duration; a G.722 item
    with an 8 kHz WAV (or a G.711 one at 16 kHz) is quarantined, not misread."""
    narrow = speech(SENTENCE)
    wide = tmp_path / "wide.wav"
    subprocess.run([*SOX, str(narrow), "-r", "16000", str(wide)], check=True)
    with wave.open(str(wide), "rb") as w:
        assert w.getframerate() == 16000
        seconds = w.getnframes() / 16000
    hd = write_spool_item(settings, "acme.example", "102", wide, codec="G722")
    slow = write_spool_item(settings, "acme.example", "102", narrow, codec="G722")
    fast = write_spool_item(settings, "acme.example", "102", wide, codec="PCMU")

    result = ingest_voicemail(settings, directory.store)

    assert (result.messages, result.quarantined) == (1, 2)
    [row] = lake_rows(settings, "voicemails")
    assert (row["message_id"], row["codec"]) == (hd, "G722")
    assert row["duration"] == pytest.approx(seconds, abs=0.01)
    assert (settings.data_dir / row["audio_path"]).read_bytes() == wide.read_bytes()
    quarantine = settings.spool_dir / "quarantine" / "voicemail"
    reasons = {p.name.split("_")[-1]: p.read_text() for p in quarantine.glob("*.reason.txt")}
    assert "8000 Hz; expected mono 16-bit 16000 Hz" in reasons[f"{slow}.reason.txt"]
    assert "16000 Hz; expected mono 16-bit 8000 Hz" in reasons[f"{fast}.reason.txt"]


def test_a_wav_of_silence_passes_the_spool_check(tmp_path: Path) -> None:
    from pipeline.voicemail_ingest import check_wav

    assert check_wav(silence_wav(tmp_path / "s.wav", 1.5)) == pytest.approx(1.5)


@pytest.mark.usefixtures("env")  # the command line reads this test's settings
def test_cli_searches_transcripts_of_a_tenant_or_one_mailbox(
    settings: Settings,
    directory: Directory,
    speech: Speech,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli import main as cli

    wav = speech(SENTENCE)
    in_102 = write_spool_item(settings, "acme.example", "102", wav)
    in_101 = write_spool_item(settings, "acme.example", "101", wav)
    write_spool_item(settings, "globex.example", "101", wav)
    ingest_voicemail(settings, directory.store)
    transcribe_pending(settings, directory.store, ScriptedTranscriber())

    assert cli.main(["voicemail", "search", "invoice", "--tenant", "acme.example"]) == 0
    out = capsys.readouterr()
    assert {in_101, in_102} == {line.split("\t")[3] for line in out.out.splitlines()}
    assert "2 messages match 'invoice'" in out.err
    assert (
        cli.main(["voicemail", "search", "invoice", "--tenant", "acme.example", "--ext", "102"])
        == 0
    )
    assert [line.split("\t")[3] for line in capsys.readouterr().out.splitlines()] == [in_102]
    assert cli.main(["voicemail", "search", " ", "--tenant", "acme.example"]) == 2
    assert "type a word" in capsys.readouterr().err
