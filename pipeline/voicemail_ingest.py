"""Voicemail ingest: media spool items → lake table ``voicemails``, exactly once.

Input contract: ``docs/spool.md``. An item is ready when its JSON exists (the
media server renames the JSON into place last). Items that cannot be read —
bad JSON, a WAV that is not 8 kHz mono 16-bit PCM, an unknown tenant or
mailbox, a message id seen before — go to ``spool/quarantine/voicemail/`` with
a ``.reason.txt`` and a logged warning; the other items of the pass go on.

Files (names and folders are :mod:`pipeline.lake_layout`'s)::

    voicemails/tenant=<domain>/date=<YYYY-MM-DD>/<batch>.parquet
    _voicemail_batches/<batch>.json      manifest: the commit point of a batch
    _voicemail_batches/pending.json      the batch being committed, if any

Protocol for one batch (``<batch>`` is a hash of its sorted message ids, so
the name is the same whichever attempt writes it):

1. write ``pending.json`` (batch name, message ids, files);
2. write the Parquet files (temp + rename);
3. write the manifest — the commit point;
4. finish each item: move its WAV to ``data/voicemail/<tenant>/<mailbox>/<id>.wav``,
   give it a mailbox row in the provisioning store, move its JSON to
   ``spool/done/voicemail/…`` (every step idempotent);
5. delete ``pending.json``.

After a crash: ``pending.json`` with its manifest → redo step 4 only; without
→ delete the batch's files (never committed) and ingest the items again, which
are all still in the spool because step 4 had not run. So a message is in the
lake once, never twice, and never lost.

A crash of the *media server* between its commit (the JSON) and deleting its
``<id>.part`` / ``<id>.part.json`` leaves both: step 4 deletes those leftovers
before the JSON leaves the spool, so the media server's start-up recovery
never finds a ``.part`` without its JSON and never makes a second message of
it. Ingest is also idempotent on the message id: an item whose id is already
in ``spool/done/`` (or in the store) is quarantined, never a second fact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import wave
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.files import exclusive_lock, write_json_atomic, write_parquet_atomic
from pipeline.lake_layout import PENDING, VOICEMAILS, partition_dir, writer_lock_path
from pipeline.schema import (
    EXTENSION_RE,
    TENANT_RE,
    VOICEMAIL_CODECS,
    VOICEMAIL_END_REASONS,
    VOICEMAILS_SCHEMA,
)
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.voicemail import MESSAGE_ID_RE, audio_relpath

log = logging.getLogger(__name__)

SPOOL_KIND = "voicemail"
MAX_BATCH = 1000
SAMPLE_RATE = 8000

StepHook = Callable[[str], None]


class SpoolItemError(ValueError):
    """A spool item the pipeline cannot ingest; the message is the quarantine reason."""


@dataclass(frozen=True)
class SpoolItem:
    """One ready voicemail item: its JSON (always) and WAV (unless discarded)."""

    json_path: Path
    meta: dict[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.meta["message_id"])

    @property
    def wav_path(self) -> Path:
        return self.json_path.with_suffix(".wav")


@dataclass
class VoicemailIngestResult:
    messages: int = 0
    discarded: int = 0
    quarantined: int = 0


# -- reading the spool (pure checks, no writes) ---------------------------------------------
def ready_json_files(spool_dir: Path) -> list[Path]:
    """Every finished item's JSON; ``.part.json`` (recording in progress) excluded."""
    root = spool_dir / SPOOL_KIND
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*/*.json") if not p.name.endswith(".part.json"))


_REQUIRED: dict[str, tuple[type, ...]] = {
    "message_id": (str,),
    "tenant": (str,),
    "mailbox": (str,),
    "call_id": (str,),
    "started_at": (int, float),
    "ended_at": (int, float),
    "duration": (int, float),
    "speech_seconds": (int, float),
    "end_reason": (str,),
    "cut_off": (bool,),
    "discarded": (bool,),
}


def parse_item(json_path: Path) -> SpoolItem:
    """Read and check one item against docs/spool.md; SpoolItemError says what is wrong."""
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpoolItemError(f"unreadable JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise SpoolItemError("the JSON is not an object")
    for key, types in _REQUIRED.items():
        value = meta.get(key)
        if not isinstance(value, types) or (bool in types) != isinstance(value, bool):
            raise SpoolItemError(f"{key!r} is missing or not a {types[0].__name__}")
    for key in ("caller", "caller_name", "codec"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise SpoolItemError(f"{key!r} must be a string or null")
    for key in ("started_at", "ended_at", "duration", "speech_seconds"):
        if not math.isfinite(meta[key]) or meta[key] < 0:
            raise SpoolItemError(f"{key!r} must be a finite, non-negative number")
    if meta["ended_at"] < meta["started_at"]:
        raise SpoolItemError("ended_at is before started_at")
    if not MESSAGE_ID_RE.match(meta["message_id"]) or meta["message_id"] != json_path.stem:
        raise SpoolItemError("message_id is not vm-<uuid hex> or does not match the file name")
    if not TENANT_RE.match(meta["tenant"]) or meta["tenant"] != json_path.parent.parent.name:
        raise SpoolItemError("tenant is not a SIP domain or does not match the folder")
    if not EXTENSION_RE.match(meta["mailbox"]) or meta["mailbox"] != json_path.parent.name:
        raise SpoolItemError("mailbox is not an extension or does not match the folder")
    if meta["end_reason"] not in VOICEMAIL_END_REASONS:
        raise SpoolItemError(f"unknown end_reason {meta['end_reason']!r}")
    if meta.get("codec") is not None and meta["codec"] not in VOICEMAIL_CODECS:
        raise SpoolItemError(f"unknown codec {meta['codec']!r}")
    item = SpoolItem(json_path, meta)
    if not meta["discarded"]:
        check_wav(item.wav_path)
    return item


def check_wav(path: Path) -> float:
    """Seconds of audio in a spool WAV; refuses anything but whole 8 kHz mono 16-bit PCM."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
                raise SpoolItemError(
                    f"WAV is {w.getnchannels()} ch, {8 * w.getsampwidth()} bit,"
                    f" {w.getframerate()} Hz; expected mono 16-bit 8000 Hz"
                )
            frames = w.getnframes()
            data = w.readframes(frames)
    except FileNotFoundError as exc:
        raise SpoolItemError("the WAV is missing") from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise SpoolItemError(f"corrupt WAV: {exc}") from exc
    if frames == 0 or len(data) != 2 * frames:
        raise SpoolItemError("corrupt WAV: the header promises more audio than the file holds")
    return frames / SAMPLE_RATE


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def voicemail_row(meta: dict[str, Any]) -> dict[str, Any]:
    """The lake row of one spool item (pure: the same JSON always gives the same row)."""
    discarded = bool(meta["discarded"])
    return {
        "message_id": meta["message_id"],
        "mailbox": meta["mailbox"],
        "call_id": meta["call_id"],
        "caller": meta.get("caller"),
        "caller_name": meta.get("caller_name"),
        "started_at": _utc(meta["started_at"]),
        "ended_at": _utc(meta["ended_at"]),
        "duration": float(meta["duration"]),
        "speech_seconds": float(meta["speech_seconds"]),
        "end_reason": meta["end_reason"],
        "cut_off": bool(meta["cut_off"]),
        "discarded": discarded,
        "codec": meta.get("codec"),
        "audio_path": None
        if discarded
        else audio_relpath(meta["tenant"], meta["mailbox"], meta["message_id"]),
    }


def partition_of(meta: dict[str, Any]) -> tuple[str, date]:
    return meta["tenant"], _utc(meta["started_at"]).date()


def batch_name(message_ids: list[str]) -> str:
    """``vmb-<hash>`` of the sorted ids: every attempt at a batch writes the same names."""
    digest = hashlib.sha256("\n".join(sorted(message_ids)).encode()).hexdigest()
    return f"vmb-{digest[:24]}"


# -- writing ------------------------------------------------------------------------------
def _move(src: Path, dst: Path) -> None:
    """Idempotent move: done when ``src`` is gone and ``dst`` exists."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


class VoicemailIngest:
    """One ingest pass over the spool; cheap to create, holds no open files."""

    def __init__(self, settings: Settings, store: ProvisioningStore) -> None:
        self.settings = settings
        self.store = store
        self.lake_dir = settings.lake_dir
        assert VOICEMAILS.batches_dir is not None
        self.batches_dir = settings.lake_dir / VOICEMAILS.batches_dir
        self.spool_dir = settings.spool_dir

    def _lock(self) -> AbstractContextManager[None]:
        # Its own lock: a long voicemail pass never holds up call ingest.
        lock = writer_lock_path(self.lake_dir, VOICEMAILS)
        assert lock is not None
        return exclusive_lock(lock)

    def quarantine(self, json_path: Path, reason: str) -> None:
        """Move an item (JSON and WAV) aside with its reason; the pass goes on."""
        target = self.spool_dir / "quarantine" / SPOOL_KIND
        target.mkdir(parents=True, exist_ok=True)
        stem = f"{json_path.parent.parent.name}_{json_path.parent.name}_{json_path.stem}"
        log.warning("voicemail %s quarantined: %s", json_path, reason)
        (target / f"{stem}.reason.txt").write_text(reason + "\n")
        _move(json_path.with_suffix(".wav"), target / f"{stem}.wav")
        _move(json_path, target / f"{stem}.json")

    def _done_json(self, item: SpoolItem) -> Path:
        """Where the item's JSON goes once committed: its presence means "ingested"."""
        folder = self.spool_dir / "done" / SPOOL_KIND / item.meta["tenant"] / item.meta["mailbox"]
        return folder / item.json_path.name

    def _finish_item(self, item: SpoolItem) -> None:
        """Step 4 for one committed item; safe to repeat after a crash at any point."""
        meta = item.meta
        done = self._done_json(item).parent
        if meta["discarded"]:
            _move(item.wav_path, done / item.wav_path.name)
        else:
            rel = audio_relpath(meta["tenant"], meta["mailbox"], item.message_id)
            _move(item.wav_path, self.settings.data_dir / rel)
            self.store.record_voicemail(
                meta["tenant"],
                meta["mailbox"],
                item.message_id,
                started_at=float(meta["started_at"]),
                duration=float(meta["duration"]),
                audio_path=rel,
            )
        # A media server that crashed after its commit left its part files: gone before the
        # JSON leaves the spool, so its recovery never re-makes this message (module docstring).
        for suffix in (".part", ".part.json"):
            item.json_path.with_name(f"{item.message_id}{suffix}").unlink(missing_ok=True)
        _move(item.json_path, done / item.json_path.name)

    def _recover(self) -> None:
        """Finish or undo the batch a crash interrupted (see the module docstring)."""
        pending_path = self.batches_dir / PENDING
        if not pending_path.is_file():
            return
        pending = json.loads(pending_path.read_text())
        if (self.batches_dir / f"{pending['name']}.json").is_file():
            log.info("finishing committed voicemail batch %s", pending["name"])
            for rel in pending["items"]:
                path = self.spool_dir / rel
                if path.is_file():
                    self._finish_item(SpoolItem(path, json.loads(path.read_text())))
        else:
            log.info("undoing uncommitted voicemail batch %s", pending["name"])
            for rel in pending["files"]:
                (self.lake_dir / rel).unlink(missing_ok=True)
        pending_path.unlink()

    def commit(self, items: list[SpoolItem], on_step: StepHook | None = None) -> None:
        """Steps 1–5 for one batch of checked items."""
        step = on_step or (lambda _name: None)
        name = batch_name([i.message_id for i in items])
        groups: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            groups[partition_of(item.meta)].append(voicemail_row(item.meta))
        files = {
            str(
                (
                    partition_dir(self.lake_dir, VOICEMAILS.name, tenant, day) / f"{name}.parquet"
                ).relative_to(self.lake_dir)
            ): rows
            for (tenant, day), rows in sorted(groups.items())
        }
        items_rel = [str(i.json_path.relative_to(self.spool_dir)) for i in items]
        write_json_atomic(
            self.batches_dir / PENDING, {"name": name, "items": items_rel, "files": sorted(files)}
        )
        step("pending")
        for rel, rows in files.items():
            table = pa.Table.from_pylist(rows, schema=VOICEMAILS_SCHEMA)
            write_parquet_atomic(self.lake_dir / rel, table)
            step("file")
        write_json_atomic(
            self.batches_dir / f"{name}.json",
            {
                "name": name,
                "message_ids": sorted(i.message_id for i in items),
                "files": sorted(files),
            },
        )
        step("manifest")
        for item in items:
            self._finish_item(item)
            step("item")
        (self.batches_dir / PENDING).unlink()
        step("done")

    def run(self, on_step: StepHook | None = None) -> VoicemailIngestResult:
        """Ingest every ready item; safe to call again after a crash at any point."""
        result = VoicemailIngestResult()
        with self._lock():
            self._recover()
            good: list[SpoolItem] = []
            for path in ready_json_files(self.spool_dir):
                try:
                    item = parse_item(path)
                    self._check_directory(item)
                except SpoolItemError as exc:
                    self.quarantine(path, str(exc))
                    result.quarantined += 1
                    continue
                good.append(item)
            known = self.store.voicemail_known([i.message_id for i in good])
            # discarded messages have no store row: done/ remembers every ingested id
            known |= {i.message_id for i in good if self._done_json(i).is_file()}
            for item in [i for i in good if i.message_id in known]:
                self.quarantine(item.json_path, "message id already ingested")
                result.quarantined += 1
            good = [i for i in good if i.message_id not in known]
            for start in range(0, len(good), MAX_BATCH):
                batch = good[start : start + MAX_BATCH]
                self.commit(batch, on_step)
                result.discarded += sum(1 for i in batch if i.meta["discarded"])
                result.messages += sum(1 for i in batch if not i.meta["discarded"])
        if result.messages or result.discarded:
            log.info(
                "voicemail ingest: %d messages, %d discarded, %d quarantined",
                result.messages,
                result.discarded,
                result.quarantined,
            )
        return result

    def _check_directory(self, item: SpoolItem) -> None:
        try:
            self.store.user(item.meta["tenant"], item.meta["mailbox"])
        except ProvisioningError as exc:
            raise SpoolItemError(f"unknown mailbox: {exc}") from exc


def ingest_voicemail(
    settings: Settings, store: ProvisioningStore, on_step: StepHook | None = None
) -> VoicemailIngestResult:
    """One pass over the voicemail spool (the worker calls this every tick)."""
    return VoicemailIngest(settings, store).run(on_step)


def remove_audio(settings: Settings, relpaths: list[str]) -> None:
    """Delete WAVs the store no longer references (after the trash is purged)."""
    root = (settings.data_dir / "voicemail").resolve()
    for rel in relpaths:
        path = (settings.data_dir / rel).resolve()
        if path.is_relative_to(root):
            path.unlink(missing_ok=True)
