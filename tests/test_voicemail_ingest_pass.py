"""What one voicemail ingest pass reads, and that a cheaper read keeps exactly-once.

"Already ingested?" asks whether ``spool/done/`` holds a message id in any tenant and
mailbox (docs/spool.md). A backlog lists each done mailbox once instead of looking its
ids up in every one (ids × mailboxes stats, seconds for a thousand items in 200
mailboxes: benchmarks/voicemail_ingest.py); a few items look up their own names only, so
a pass with one new message does not read every id ever ingested. Both ways must give
the same answer, before and after a crash at any step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from media.voicemail import MessageMeta, VoicemailSpool, new_message_id
from pipeline import voicemail_ingest
from pipeline.voicemail_ingest import LIST_DONE_FROM, ingest_voicemail
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.voicemail import silence_wav, write_spool_item

ACME = "acme.example"
GLOBEX = "globex.example"
# The seeded mailboxes (tests.fixtures.core.seed).
BOXES = [(ACME, "100"), (ACME, "101"), (ACME, "102"), (ACME, "103"), (GLOBEX, "101")]


class DoneReads:
    """Counts what a pass reads under ``spool/done/voicemail``: a stat of an item's file
    (``<tenant>/<mailbox>/<id>.json``) and a listing of a mailbox folder."""

    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(settings.spool_dir / "done" / "voicemail")
        self.item_stats = 0
        self.box_listings: list[str] = []
        stat, scandir = os.stat, os.scandir

        def counted_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
            if self._depth(path) == 3:
                self.item_stats += 1
            return stat(path, *args, **kwargs)

        def counted_scandir(path: Any = ".") -> Any:
            if self._depth(path) == 2:
                self.box_listings.append(os.fspath(path))
            return scandir(path)

        monkeypatch.setattr(os, "stat", counted_stat)
        monkeypatch.setattr(os, "scandir", counted_scandir)

    def _depth(self, path: Any) -> int:
        """Folders below done/voicemail (-1: elsewhere)."""
        if not isinstance(path, str | os.PathLike):
            return -1
        text = os.fspath(path)
        if not isinstance(text, str) or not text.startswith(self.root + os.sep):
            return -1
        return text[len(self.root) + 1 :].count(os.sep) + 1


def spool(
    settings: Settings,
    tenant: str,
    mailbox: str,
    *,
    message_id: str | None = None,
    discarded: bool = False,
) -> str:
    """One message through the media server's own writer; its id."""
    message = MessageMeta(
        message_id=message_id or new_message_id(),
        tenant=tenant,
        mailbox=mailbox,
        call_id="c-1@test",
        caller="+15551230000",
        caller_name=None,
        codec="PCMU",
        started_at=1_793_000_000.0,
        ended_at=1_793_000_001.0,
        duration=1.0,
        speech_seconds=0.0 if discarded else 1.0,
        discarded=discarded,
    )
    VoicemailSpool(settings.spool_dir).commit(message, b"\0\0" * 8000)
    return message.message_id


def lake_ids(settings: Settings) -> list[str]:
    root = settings.lake_dir / "voicemails"
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    return sorted(table.column("message_id").to_pylist())


def history(settings: Settings, directory: Directory) -> tuple[list[str], str]:
    """One message ingested in every seeded mailbox, and a discarded one (no store row:
    only done/ remembers its id)."""
    kept = [spool(settings, *box) for box in BOXES]
    discarded = spool(settings, ACME, "102", discarded=True)
    result = ingest_voicemail(settings, directory.store)
    assert (result.messages, result.discarded) == (len(BOXES), 1)
    return kept, discarded


def test_a_backlog_lists_each_done_mailbox_once_instead_of_a_lookup_per_item(
    settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, discarded = history(settings, directory)
    backlog = [spool(settings, *BOXES[i % len(BOXES)]) for i in range(LIST_DONE_FROM)]
    spool(settings, GLOBEX, "101", message_id=discarded, discarded=True)
    reads = DoneReads(settings, monkeypatch)

    result = ingest_voicemail(settings, directory.store)

    assert (result.messages, result.quarantined) == (LIST_DONE_FROM, 1)
    assert reads.item_stats == 0  # the old way: one per (item, mailbox) pair, 163 here
    assert sorted(reads.box_listings) == sorted(
        str(settings.spool_dir / "done" / "voicemail" / t / m) for t, m in BOXES
    )
    assert lake_ids(settings) == sorted([*kept, discarded, *backlog])


def test_a_few_new_items_look_up_their_own_names_not_every_ingested_id(
    settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(settings, directory)
    new = [spool(settings, ACME, "101"), spool(settings, GLOBEX, "101")]
    reads = DoneReads(settings, monkeypatch)

    result = ingest_voicemail(settings, directory.store)

    assert result.messages == len(new)
    assert reads.box_listings == []
    assert reads.item_stats == len(new) * len(BOXES)


def test_a_pass_with_nothing_new_reads_no_item_file(
    settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(settings, directory)
    reads = DoneReads(settings, monkeypatch)
    opened: list[Path] = []
    parse = voicemail_ingest.parse_item

    def counted_parse(path: Path) -> voicemail_ingest.VoicemailItem:
        opened.append(path)
        return parse(path)

    monkeypatch.setattr(voicemail_ingest, "parse_item", counted_parse)

    result = ingest_voicemail(settings, directory.store)

    assert (result.messages, result.discarded, result.quarantined) == (0, 0, 0)
    assert (reads.item_stats, reads.box_listings, opened) == (0, [], [])


@pytest.mark.parametrize("list_from", [1, 10**6], ids=["listing", "lookups"])
def test_either_way_a_resent_id_is_refused_in_any_mailbox_or_tenant(
    settings: Settings,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    list_from: int,
) -> None:
    """The d6/d7 scenarios of test_spool_poison_items, through both ways of asking."""
    monkeypatch.setattr(voicemail_ingest, "LIST_DONE_FROM", list_from)
    wav = silence_wav(tmp_path / "s.wav")
    gone = write_spool_item(settings, ACME, "102", None, discarded=True)
    kept = write_spool_item(settings, ACME, "102", wav)
    assert ingest_voicemail(settings, directory.store).messages == 1
    write_spool_item(settings, ACME, "101", None, discarded=True, message_id=gone)
    write_spool_item(settings, GLOBEX, "101", wav, message_id=kept)
    twice = write_spool_item(settings, ACME, "101", wav)
    write_spool_item(settings, ACME, "103", wav, message_id=twice)

    result = ingest_voicemail(settings, directory.store)

    assert (result.messages, result.discarded, result.quarantined) == (1, 0, 3)
    assert lake_ids(settings) == sorted([gone, kept, twice])
    reasons = sorted((settings.spool_dir / "quarantine" / "voicemail").glob("*.reason.txt"))
    assert [p.name for p in reasons] == sorted(
        f"{t}_{m}_{i}.reason.txt"
        for t, m, i in [(ACME, "101", gone), (GLOBEX, "101", kept), (ACME, "103", twice)]
    )


def test_a_message_spooled_during_a_pass_is_ingested_by_the_next(
    settings: Settings, directory: Directory
) -> None:
    first = spool(settings, ACME, "101")
    late: list[str] = []

    def hook(step: str) -> None:
        if step == "item" and not late:  # after the pass listed the spool
            late.append(spool(settings, ACME, "101"))

    one = ingest_voicemail(settings, directory.store, hook)
    two = ingest_voicemail(settings, directory.store)
    three = ingest_voicemail(settings, directory.store)

    assert (one.messages, two.messages, three.messages) == (1, 1, 0)
    assert lake_ids(settings) == sorted([first, *late])


def crash_at(settings: Settings, step: str) -> None:
    """A pass in another process, killed at ``step`` (the on_step hook)."""
    script = (
        "import os\n"
        "from pipeline.voicemail_ingest import ingest_voicemail\n"
        "from switchboard.settings import load_settings\n"
        "from switchboard.store import ProvisioningStore\n"
        "s = load_settings()\n"
        "def hook(name):\n"
        f"    if name == {step!r}: os._exit(9)\n"
        "ingest_voicemail(s, ProvisioningStore(s.provisioning_db), hook)\n"
    )
    env = {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_CONFIG": str(settings.data_dir / "none.toml"),
    }
    assert subprocess.run([sys.executable, "-c", script], env=env, check=False).returncode == 9


@pytest.mark.parametrize("step", ["pending", "file", "manifest", "item"])
def test_a_crash_in_a_backlog_pass_neither_loses_nor_doubles_a_message(
    settings: Settings, directory: Directory, step: str
) -> None:
    kept, discarded = history(settings, directory)
    backlog = [spool(settings, *BOXES[i % len(BOXES)]) for i in range(LIST_DONE_FROM + 3)]
    spool(settings, GLOBEX, "101", message_id=discarded, discarded=True)

    crash_at(settings, step)
    ingest_voicemail(settings, directory.store)
    again = ingest_voicemail(settings, directory.store)

    assert (again.messages, again.quarantined) == (0, 0)
    assert lake_ids(settings) == sorted([*kept, discarded, *backlog])
    in_boxes = [m.message_id for b in BOXES for m in directory.store.voicemail_messages(*b)]
    assert sorted(in_boxes) == sorted([*kept, *backlog])
    assert len(list((settings.spool_dir / "quarantine" / "voicemail").glob("*.reason.txt"))) == 1
    assert not (settings.lake_dir / "_voicemail_batches" / "pending.json").exists()
