"""Voicemail ingest: media spool items → lake table ``voicemails``, exactly once.

Input contract: ``docs/spool.md``. An item is ready when its JSON exists (the
media server renames the JSON into place last). Items that cannot be read —
bad JSON, a WAV that is not 8 kHz mono 16-bit PCM, an unknown tenant or
mailbox, a message id seen before — go to ``spool/quarantine/voicemail/`` with
a ``.reason.txt`` and a logged warning; the other items of the pass go on.

Files (names and folders are :mod:`pipeline.lake_layout`'s)::

    voicemails/tenant=<domain>/date=<YYYY-MM-DD>/vmb-<hash>.parquet
    _voicemail_batches/vmb-<hash>.json      manifest: the commit point of a batch
    _voicemail_batches/pending.json         the batch being committed, if any

Exactly once by :mod:`pipeline.spool_ingest`'s protocol (``vmb-<hash>`` hashes the
batch's sorted message ids, which is safe because an id is ingested once per installation,
whatever its tenant and mailbox: :meth:`VoicemailIngest.already_ingested`). Finishing a
committed item (step 4): move its WAV to ``data/voicemail/<tenant>/<mailbox>/<id>.wav``,
give it a mailbox row in the provisioning store, move its JSON to ``spool/done/voicemail/…``.
So a message is in the lake once, never twice, and never lost.

A crash of the *media server* between its commit (the JSON) and deleting its
``<id>.part`` / ``<id>.part.json`` leaves both: step 4 deletes those leftovers
before the JSON leaves the spool, so the media server's start-up recovery
never finds a ``.part`` without its JSON and never makes a second message of
it. Ingest is also idempotent on the message id: an item whose id is already
in ``spool/done/`` under any tenant and mailbox (or in the store), or twice in one pass,
is quarantined ("message id already ingested"), never a second fact, and a committed
row is never replaced.
"""

from __future__ import annotations

import json
import math
import os
import wave
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.lake_layout import VOICEMAILS, partition_dir
from pipeline.schema import (
    EXTENSION_RE,
    TENANT_RE,
    VOICEMAIL_CODECS,
    VOICEMAIL_END_REASONS,
    VOICEMAILS_SCHEMA,
)
from pipeline.spool_ingest import (
    ManifestIngest,
    SpoolItemError,
    StepHook,
    move,
    read_json_object,
)
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.voicemail import MESSAGE_AUDIO_RATES, MESSAGE_ID_RE, audio_relpath

SPOOL_KIND = "voicemail"


@dataclass(frozen=True)
class VoicemailItem:
    """One ready voicemail item: its JSON (always) and WAV (unless discarded)."""

    path: Path
    meta: dict[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.meta["message_id"])

    @property
    def wav_path(self) -> Path:
        return self.path.with_suffix(".wav")


@dataclass
class VoicemailIngestResult:
    messages: int = 0
    discarded: int = 0
    quarantined: int = 0


# -- reading the spool (pure checks, no writes) ---------------------------------------------
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


def parse_item(json_path: Path) -> VoicemailItem:
    """Read and check one item against docs/spool.md; SpoolItemError says what is wrong."""
    meta = read_json_object(json_path)
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
    if not isinstance(meta.get("from_carrier", False), bool):
        raise SpoolItemError("'from_carrier' must be true or false")
    if meta.get("codec") is not None and meta["codec"] not in VOICEMAIL_CODECS:
        raise SpoolItemError(f"unknown codec {meta['codec']!r}")
    item = VoicemailItem(json_path, meta)
    if not meta["discarded"]:
        check_wav(item.wav_path, MESSAGE_AUDIO_RATES[meta.get("codec") or "PCMU"])
    return item


def check_wav(path: Path, rate: int = 8000) -> float:
    """Seconds of audio in a spool WAV; refuses anything but whole mono 16-bit PCM at
    ``rate`` (the message's codec's: :data:`MESSAGE_AUDIO_RATES`)."""
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, rate):
                raise SpoolItemError(
                    f"WAV is {w.getnchannels()} ch, {8 * w.getsampwidth()} bit,"
                    f" {w.getframerate()} Hz; expected mono 16-bit {rate} Hz"
                )
            frames = w.getnframes()
            data = w.readframes(frames)
    except FileNotFoundError as exc:
        raise SpoolItemError("the WAV is missing") from exc
    except (wave.Error, EOFError, OSError) as exc:
        raise SpoolItemError(f"corrupt WAV: {exc}") from exc
    if frames == 0 or len(data) != 2 * frames:
        raise SpoolItemError("corrupt WAV: the header promises more audio than the file holds")
    return frames / rate


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
        "from_carrier": meta.get("from_carrier", False),
        "audio_path": None
        if discarded
        else audio_relpath(meta["tenant"], meta["mailbox"], meta["message_id"]),
    }


def partition_of(meta: dict[str, Any]) -> tuple[str, date]:
    return meta["tenant"], _utc(meta["started_at"]).date()


# -- which message ids spool/done/ holds -----------------------------------------------------
# From this many ids a pass lists each done/ mailbox once instead of looking up
# ``<id>.json`` in each. Lookups cost ids × mailboxes stats (~4 µs each), a listing every
# id ever ingested (~0.7 µs each; done/ is never pruned). Measured with 200 mailboxes
# (benchmarks/voicemail_ingest.py): 1 id, 0.8 ms of lookups; 32 ids, 33 ms of lookups or
# 8 ms of listing when done/ holds 10,000 ids, 36 ms when it holds 50,000; 1,000 ids (a
# backlog after the worker was down) took 1.1-1.6 s of lookups, 10-36 ms of listing.
# Both ways give the same answer; only this ingest writes done/, under its writer lock.
LIST_DONE_FROM = 32


def _done_boxes(done_root: Path) -> list[str]:
    """Every ``<tenant>/<mailbox>`` folder of ``done_root`` (the entry's type: no stat each)."""
    if not done_root.is_dir():
        return []
    with os.scandir(done_root) as tenants:
        tenant_dirs = [t.path for t in tenants if t.is_dir()]
    boxes: list[str] = []
    for tenant in tenant_dirs:
        with os.scandir(tenant) as found:
            boxes += [b.path for b in found if b.is_dir()]
    return boxes


def done_message_ids(done_root: Path, message_ids: set[str]) -> set[str]:
    """Which of ``message_ids`` have their ``<id>.json`` in any mailbox of ``done_root``."""
    if not message_ids:
        return set()
    boxes = _done_boxes(done_root)
    if len(message_ids) < LIST_DONE_FROM:
        return {
            m
            for m in message_ids
            if any(os.path.isfile(os.path.join(box, f"{m}.json")) for box in boxes)
        }
    listed: set[str] = set()
    for box in boxes:
        with os.scandir(box) as entries:  # is_file() as above: follows a symlink
            listed.update(e.name for e in entries if e.is_file())
    return {m for m in message_ids if f"{m}.json" in listed}


# -- the ingest ---------------------------------------------------------------------------
class VoicemailIngest(ManifestIngest[VoicemailItem, VoicemailIngestResult]):
    """One ingest pass over the spool; cheap to create, holds no open files."""

    spool_kind = SPOOL_KIND
    table = VOICEMAILS  # its own lock: a long voicemail pass never holds up call ingest
    prefix = "vmb"
    what = "voicemail"
    already_reason = "message id"

    def __init__(self, settings: Settings, store: ProvisioningStore) -> None:
        super().__init__(settings)
        self.store = store

    def ready(self) -> list[Path]:
        """Every finished item's JSON; ``.part.json`` (recording in progress) excluded."""
        if not self.spool_root.is_dir():
            return []
        found = self.spool_root.glob("*/*/*.json")
        return sorted(p for p in found if not p.name.endswith(".part.json"))

    def check(self, path: Path) -> VoicemailItem:
        item = parse_item(path)
        try:
            self.store.user(item.meta["tenant"], item.meta["mailbox"])
        except ProvisioningError as exc:
            raise SpoolItemError(f"unknown mailbox: {exc}") from exc
        return item

    def already_ingested(self, items: list[VoicemailItem]) -> list[VoicemailItem]:
        """Items whose message id is a fact already, in any tenant or mailbox, or earlier in
        this pass (the first in path order goes on).

        A message id is ``vm-<uuid4>``, unique across the installation, and everything keyed
        on it is too: the store's primary key, the lake's facts (``message_facts`` reads by
        id alone), the batch name. So a second item with an id — re-sent into another
        mailbox or tenant — would be a second lake row with one store row, or, when its
        batch hashes to a committed one's name, replace that committed row.
        """
        if not items:  # every worker tick asks: no store query, no listing of done/
            return []
        known = self.store.voicemail_known([i.message_id for i in items])
        # Discarded (and purged) messages have no store row: done/ remembers every ingested
        # id. recover() has run, so every committed item is there, under its own tenant and
        # mailbox; only this ingest, under the writer lock it holds, moves items into done/.
        done = done_message_ids(
            self.spool_dir / "done" / SPOOL_KIND,
            {i.message_id for i in items} - known,
        )
        seen: set[str] = set()
        twice: list[VoicemailItem] = []
        for item in items:
            if item.message_id in seen or item.message_id in known or item.message_id in done:
                twice.append(item)
            seen.add(item.message_id)
        return twice

    def companions(self, path: Path, stem: str) -> list[tuple[Path, str]]:
        return [(path.with_suffix(".wav"), f"{stem}.wav")]

    def name_keys(self, items: list[VoicemailItem]) -> list[str]:
        return [i.message_id for i in items]

    def lake_files(self, items: list[VoicemailItem], name: str) -> dict[str, pa.Table]:
        groups: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            groups[partition_of(item.meta)].append(voicemail_row(item.meta))
        return {
            str(
                (
                    partition_dir(self.lake_dir, VOICEMAILS.name, tenant, day) / f"{name}.parquet"
                ).relative_to(self.lake_dir)
            ): pa.Table.from_pylist(rows, schema=VOICEMAILS_SCHEMA)
            for (tenant, day), rows in sorted(groups.items())
        }

    def manifest_facts(self, items: list[VoicemailItem]) -> dict[str, Any]:
        return {"message_ids": sorted(i.message_id for i in items)}

    def finish(self, path: Path) -> None:
        """Step 4 for one committed item; safe to repeat after a crash at any point."""
        item = VoicemailItem(path, json.loads(path.read_text()))
        meta = item.meta
        done = self.done_path(path).parent
        if meta["discarded"]:
            move(item.wav_path, done / item.wav_path.name)
        else:
            rel = audio_relpath(meta["tenant"], meta["mailbox"], item.message_id)
            move(item.wav_path, self.settings.data_dir / rel)
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
            path.with_name(f"{item.message_id}{suffix}").unlink(missing_ok=True)
        move(path, done / path.name)

    def new_result(self) -> VoicemailIngestResult:
        return VoicemailIngestResult()

    def tally(self, result: VoicemailIngestResult, items: list[VoicemailItem]) -> None:
        result.discarded += sum(1 for i in items if i.meta["discarded"])
        result.messages += sum(1 for i in items if not i.meta["discarded"])


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
