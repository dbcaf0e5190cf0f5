"""A media-server crash between writing a message and deleting its ``.part`` files.

The crash is simulated on disk (docs/spool.md): the finished item (WAV +
JSON) sits next to the ``<id>.part`` audio and ``<id>.part.json`` the
recording left. Whichever runs first after the crash — the pipeline's ingest
or the media server's start-up recovery — and however often, the lake holds
exactly one fact for the message.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from media.voicemail import VoicemailSpool
from pipeline.voicemail_ingest import ingest_voicemail
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import Speech, write_spool_item

SENTENCE = "Please call me back about the invoice."
BOX = ("acme.example", "102")


def _facts(settings: Settings) -> list[dict[str, Any]]:
    root = settings.lake_dir / "voicemails"
    if not root.is_dir():
        return []
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def _crashed_after_commit(settings: Settings, wav: Path | None, *, discarded: bool) -> str:
    """The finished item plus the part files a crash before the clean-up leaves behind."""
    message_id = write_spool_item(settings, *BOX, wav, discarded=discarded)
    folder = settings.spool_dir / "voicemail" / BOX[0] / BOX[1]
    meta = json.loads((folder / f"{message_id}.json").read_text())
    start = {**meta, "duration": 0.0, "speech_seconds": 0.0, "ended_at": meta["started_at"]}
    (folder / f"{message_id}.part.json").write_text(json.dumps(start))
    pcm = b"\0\0" * 8000
    if wav is not None:
        with wave.open(str(wav), "rb") as w:
            pcm = w.readframes(w.getnframes())
    (folder / f"{message_id}.part").write_bytes(pcm)
    return message_id


def _spool_left(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.spool_dir / "voicemail").rglob("*") if p.is_file())


@pytest.mark.parametrize("discarded", [False, True], ids=["kept", "discarded"])
@pytest.mark.parametrize("first", ["ingest", "media_restart"])
def test_part_files_left_by_a_crash_after_the_commit_never_make_a_second_fact(
    settings: Settings, directory: Directory, speech: Speech, first: str, discarded: bool
) -> None:
    message_id = _crashed_after_commit(
        settings, None if discarded else speech(SENTENCE), discarded=discarded
    )
    spool = VoicemailSpool(settings.spool_dir)
    if first == "ingest":
        ingest_voicemail(settings, directory.store)
        assert _spool_left(settings) == []  # the part files went with the message
        assert spool.recover_parts() == []  # so the restarted media server finds nothing
    else:
        assert spool.recover_parts() == []  # committed: parts deleted, no new message
        assert _spool_left(settings) == sorted(
            [f"{message_id}.json"] + ([] if discarded else [f"{message_id}.wav"])
        )
    ingest_voicemail(settings, directory.store)
    ingest_voicemail(settings, directory.store)  # a second pass changes nothing

    facts = _facts(settings)
    assert [(f["message_id"], f["cut_off"], f["discarded"]) for f in facts] == [
        (message_id, False, discarded)
    ]
    kept = directory.store.voicemail_messages(*BOX, ("new", "saved", "trash"))
    assert [m.message_id for m in kept] == ([] if discarded else [message_id])
    assert not (settings.spool_dir / "quarantine").exists()


@pytest.mark.parametrize("discarded", [False, True], ids=["kept", "discarded"])
def test_a_message_id_seen_again_after_ingest_is_quarantined_not_a_second_fact(
    settings: Settings, directory: Directory, speech: Speech, discarded: bool
) -> None:
    """What an older media server's recovery made of the parts after ingest moved the JSON:
    the same message id again, cut off. Ingest is idempotent on the id."""
    wav = None if discarded else speech(SENTENCE)
    message_id = write_spool_item(settings, *BOX, wav, discarded=discarded)
    ingest_voicemail(settings, directory.store)
    write_spool_item(
        settings, *BOX, wav, discarded=discarded, message_id=message_id, cut_off=True,
        end_reason="crash",
    )  # fmt: skip
    result = ingest_voicemail(settings, directory.store)
    ingest_voicemail(settings, directory.store)

    assert (result.messages, result.discarded, result.quarantined) == (0, 0, 1)
    assert [(f["message_id"], f["cut_off"]) for f in _facts(settings)] == [(message_id, False)]
    reason = next((settings.spool_dir / "quarantine" / "voicemail").glob("*.reason.txt"))
    assert "already ingested" in reason.read_text()


def test_a_g722_deposit_cut_off_by_a_crash_is_recovered_at_16_khz(
    settings: Settings, directory: Directory, speech: Speech
) -> None:
    """The part of an HD-voice deposit holds 16 kHz samples (its ``.part.json`` says G722):
    recovery keeps them at 16 kHz, with the duration they last, and the pipeline takes it."""
    with wave.open(str(speech(SENTENCE)), "rb") as w:
        narrow = w.readframes(w.getnframes())
    wide = bytes(b for i in range(0, len(narrow), 2) for b in narrow[i : i + 2] * 2)  # 2x
    folder = settings.spool_dir / "voicemail" / BOX[0] / BOX[1]
    folder.mkdir(parents=True)
    message_id = "vm-" + "7" * 32
    meta = {"message_id": message_id, "tenant": BOX[0], "mailbox": BOX[1], "call_id": "c@x",
            "caller": "101", "caller_name": None, "codec": "G722", "started_at": 1.0e9}  # fmt: skip
    (folder / f"{message_id}.part.json").write_text(json.dumps(meta))
    (folder / f"{message_id}.part").write_bytes(wide)

    [recovered] = VoicemailSpool(settings.spool_dir).recover_parts()
    done = json.loads(recovered.read_text())
    assert (done["codec"], done["end_reason"], done["cut_off"]) == ("G722", "crash", True)
    assert done["duration"] == pytest.approx(len(narrow) / 16000)  # its 8 kHz seconds
    with wave.open(str(folder / f"{message_id}.wav"), "rb") as w:
        assert (w.getframerate(), w.getnframes()) == (16000, len(wide) // 2)
    assert ingest_voicemail(settings, directory.store).messages == 1
    [fact] = _facts(settings)
    assert (fact["message_id"], fact["codec"]) == (message_id, "G722")
