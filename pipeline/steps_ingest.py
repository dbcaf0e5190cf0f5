"""Call-step ingest: media spool batches → lake table ``call_steps``, exactly once.

Input contract: ``switchboard.call_steps`` and ``docs/spool.md``. The media
server writes ``spool/steps/<tenant>/<batch_id>.json`` (temp + rename) when
its part of a call ends. A batch that cannot be read — bad JSON, an unknown
step kind, a tenant that is not provisioned or does not match its folder, a
batch id seen before — goes to ``spool/quarantine/steps/`` with a
``.reason.txt`` and a logged warning; the other batches of the pass go on.

Files (names and folders are :mod:`pipeline.lake_layout`'s)::

    call_steps/tenant=<domain>/date=<YYYY-MM-DD>/stb-<hash>.parquet
    _steps_batches/stb-<hash>.json      manifest: the commit point of a pass's batches
    _steps_batches/pending.json         the batches being committed, if any

Protocol for one pass (``stb-<hash>`` hashes the sorted spool paths, so every
attempt at the same batches writes the same names) — the voicemail ingest's:

1. write ``pending.json`` (name, spool items, files);
2. write the Parquet files (temp + rename);
3. write the manifest — the commit point;
4. move each batch's JSON to ``spool/done/steps/<tenant>/`` (idempotent);
5. delete ``pending.json``.

After a crash: ``pending.json`` with its manifest → redo step 4 only; without
→ delete the files (never committed) and ingest the batches again, which are
all still in the spool. A batch id already in ``spool/done/`` is quarantined
("already ingested"), so a re-sent batch is never a second set of facts.

The same protocol ingests the queue spool (:mod:`pipeline.queue_ingest`): a
subclass names its spool folder, commit log and prefix, how a batch is read
and which lake files its rows go to — one ingest for JSON spool batches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.files import exclusive_lock, write_json_atomic, write_parquet_atomic
from pipeline.lake_layout import CALL_STEPS, PENDING, partition_dir, writer_lock_path
from pipeline.schema import CALL_STEPS_SCHEMA, TENANT_RE
from switchboard.call_steps import STEP_KINDS
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)

SPOOL_KIND = "steps"
MAX_BATCHES = 1000
# A batch id names a file: letters, digits, dot, dash, underscore; not a path trick.
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TEXT_FIELDS = ("key", "target", "outcome", "leg_call_id")

StepHook = Callable[[str], None]


class StepsBatchError(ValueError):
    """A batch the pipeline cannot ingest; the message is the quarantine reason."""


@dataclass(frozen=True)
class StepsBatch:
    """One checked spool batch."""

    json_path: Path
    tenant: str
    batch_id: str
    call_id: str
    steps: tuple[dict[str, Any], ...]


@dataclass
class StepsIngestResult:
    batches: int = 0
    steps: int = 0
    quarantined: int = 0


# -- reading the spool (pure checks, no writes) ---------------------------------------------
def ready_batches(spool_dir: Path, kind: str = SPOOL_KIND) -> list[Path]:
    """Every finished batch's JSON (a temp file is never ``*.json``)."""
    root = spool_dir / kind
    if not root.is_dir():
        return []
    return sorted(root.glob("*/*.json"))


def _check_step(index: int, raw: Any) -> dict[str, Any]:
    where = f"step {index}"
    if not isinstance(raw, dict):
        raise StepsBatchError(f"{where} is not an object")
    at = raw.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise StepsBatchError(f"{where}: 'at' must be a finite, non-negative number")
    if raw.get("kind") not in STEP_KINDS:
        raise StepsBatchError(f"{where}: unknown step kind {raw.get('kind')!r}")
    attendant = raw.get("attendant_id")
    if attendant is not None and (isinstance(attendant, bool) or not isinstance(attendant, int)):
        raise StepsBatchError(f"{where}: 'attendant_id' must be an integer or null")
    for key in _TEXT_FIELDS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise StepsBatchError(f"{where}: {key!r} must be a string or null")
    return {
        "at": float(at),
        "kind": raw["kind"],
        "attendant_id": attendant,
        **{key: raw.get(key) for key in _TEXT_FIELDS},
    }


def parse_batch(json_path: Path) -> StepsBatch:
    """Read and check one batch against the contract; StepsBatchError says what is wrong."""
    try:
        doc = json.loads(json_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StepsBatchError(f"unreadable JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise StepsBatchError("the JSON is not an object")
    for key in ("batch_id", "tenant", "call_id"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise StepsBatchError(f"{key!r} is missing or not a string")
    if not BATCH_ID_RE.match(doc["batch_id"]) or doc["batch_id"] != json_path.stem:
        raise StepsBatchError("batch_id is not a plain name or does not match the file name")
    if not TENANT_RE.match(doc["tenant"]) or doc["tenant"] != json_path.parent.name:
        raise StepsBatchError("tenant is not a SIP domain or does not match the folder")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise StepsBatchError("'steps' is missing or empty")
    steps = tuple(_check_step(i, raw) for i, raw in enumerate(raw_steps))
    return StepsBatch(json_path, doc["tenant"], doc["batch_id"], doc["call_id"], steps)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def step_rows(batch: StepsBatch) -> list[dict[str, Any]]:
    """The lake rows of one batch (pure: the same batch always gives the same rows)."""
    return [
        {
            "batch_id": batch.batch_id,
            "seq": seq,
            "call_id": batch.call_id,
            **step,
            "at": _utc(step["at"]),
        }
        for seq, step in enumerate(batch.steps)
    ]


def partition_of(batch: StepsBatch) -> tuple[str, date]:
    """(tenant, UTC date of the first step): a call's steps stay together."""
    return batch.tenant, _utc(batch.steps[0]["at"]).date()


def batch_name(spool_items: Iterable[str], prefix: str = "stb") -> str:
    """``stb-<hash>`` of the sorted spool paths: every attempt writes the same names."""
    digest = hashlib.sha256("\n".join(sorted(spool_items)).encode()).hexdigest()
    return f"{prefix}-{digest[:24]}"


# -- writing ------------------------------------------------------------------------------
def _move(src: Path, dst: Path) -> None:
    """Idempotent move: done when ``src`` is gone and ``dst`` exists."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


class StepsIngest:
    """One ingest pass over ``spool/steps``; cheap to create, holds no open files."""

    # What a subclass for another JSON spool changes (pipeline.queue_ingest).
    spool_kind = SPOOL_KIND
    commit_table = CALL_STEPS  # its commit log (lock, pending.json, manifests)
    prefix = "stb"
    what = "call steps"

    def __init__(self, settings: Settings, tenants: Callable[[], frozenset[str]]) -> None:
        self.lake_dir = settings.lake_dir
        self.spool_dir = settings.spool_dir
        assert self.commit_table.batches_dir is not None
        self.batches_dir = settings.lake_dir / self.commit_table.batches_dir
        # Read from the provisioning store only when a pass finds batches.
        self.tenants = tenants

    def quarantine(self, json_path: Path, reason: str) -> None:
        """Move a batch aside with its reason; the pass goes on."""
        target = self.spool_dir / "quarantine" / self.spool_kind
        target.mkdir(parents=True, exist_ok=True)
        stem = f"{json_path.parent.name}_{json_path.stem}"
        log.warning("%s %s quarantined: %s", self.what, json_path, reason)
        (target / f"{stem}.reason.txt").write_text(reason + "\n")
        _move(json_path, target / f"{stem}.json")

    def done_path(self, json_path: Path) -> Path:
        """Where a batch's JSON goes once committed: its presence means "ingested"."""
        return self.spool_dir / "done" / self.spool_kind / json_path.parent.name / json_path.name

    def _recover(self) -> None:
        """Finish or undo the pass a crash interrupted (see the module docstring)."""
        pending_path = self.batches_dir / PENDING
        if not pending_path.is_file():
            return
        pending = json.loads(pending_path.read_text())
        if (self.batches_dir / f"{pending['name']}.json").is_file():
            log.info("finishing committed %s batch %s", self.what, pending["name"])
            for rel in pending["items"]:
                path = self.spool_dir / rel
                _move(path, self.done_path(path))
        else:
            log.info("undoing uncommitted %s batch %s", self.what, pending["name"])
            for rel in pending["files"]:
                (self.lake_dir / rel).unlink(missing_ok=True)
        pending_path.unlink()

    # -- what a subclass changes -------------------------------------------------------------
    def parse(self, json_path: Path) -> Any:
        """One checked batch (with ``json_path``, ``tenant``, ``batch_id``) or StepsBatchError."""
        return parse_batch(json_path)

    def count(self, batches: list[Any]) -> int:
        """What the manifest and the result count: steps here."""
        return sum(len(b.steps) for b in batches)

    def lake_files(self, batches: list[Any], name: str) -> dict[str, pa.Table]:
        """Lake-relative path → the rows of that file, for one pass named ``name``."""
        groups: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
        for batch in batches:
            groups[partition_of(batch)].extend(step_rows(batch))
        files = {}
        for (tenant, day), rows in sorted(groups.items()):
            folder = partition_dir(self.lake_dir, CALL_STEPS.name, tenant, day)
            rows.sort(key=lambda r: (r["at"], r["batch_id"], r["seq"]))
            files[str((folder / f"{name}.parquet").relative_to(self.lake_dir))] = (
                pa.Table.from_pylist(rows, schema=CALL_STEPS_SCHEMA)
            )
        return files

    def commit(self, batches: list[Any], on_step: StepHook | None = None) -> None:
        """Steps 1–5 for checked batches."""
        step = on_step or (lambda _name: None)
        items = [str(b.json_path.relative_to(self.spool_dir)) for b in batches]
        name = batch_name(items, self.prefix)
        files = self.lake_files(batches, name)
        write_json_atomic(
            self.batches_dir / PENDING, {"name": name, "items": items, "files": sorted(files)}
        )
        step("pending")
        for rel, table in files.items():
            write_parquet_atomic(self.lake_dir / rel, table)
            step("file")
        write_json_atomic(
            self.batches_dir / f"{name}.json",
            {
                "name": name,
                "batch_ids": sorted(f"{b.tenant}/{b.batch_id}" for b in batches),
                "steps": self.count(batches),
                "files": sorted(files),
            },
        )
        step("manifest")
        for batch in batches:
            _move(batch.json_path, self.done_path(batch.json_path))
            step("item")
        (self.batches_dir / PENDING).unlink()
        step("done")

    def run(self, on_step: StepHook | None = None) -> StepsIngestResult:
        """Ingest every ready batch; safe to call again after a crash at any point."""
        result = StepsIngestResult()
        lock = writer_lock_path(self.lake_dir, self.commit_table)
        assert lock is not None
        with exclusive_lock(lock):
            self._recover()
            paths = ready_batches(self.spool_dir, self.spool_kind)
            if not paths:
                return result
            known_tenants = self.tenants()
            good: list[Any] = []
            for path in paths:
                try:
                    batch = self.parse(path)
                    if batch.tenant not in known_tenants:
                        raise StepsBatchError(f"tenant {batch.tenant!r} is unknown")
                    if self.done_path(path).exists():
                        raise StepsBatchError("batch id already ingested")
                except StepsBatchError as exc:
                    self.quarantine(path, str(exc))
                    result.quarantined += 1
                    continue
                good.append(batch)
            for start in range(0, len(good), MAX_BATCHES):
                chunk = good[start : start + MAX_BATCHES]
                self.commit(chunk, on_step)
                result.batches += len(chunk)
                result.steps += self.count(chunk)
        if result.batches or result.quarantined:
            log.info(
                "%s: %d batches, %d rows, %d quarantined",
                self.what,
                result.batches,
                result.steps,
                result.quarantined,
            )
        return result


def ingest_steps(settings: Settings, on_step: StepHook | None = None) -> StepsIngestResult:
    """One pass over ``spool/steps`` (the worker calls this every tick)."""

    def tenants() -> frozenset[str]:
        store = ProvisioningStore(settings.provisioning_db)
        try:
            return frozenset(t.domain for t in store.tenants())
        finally:
            store.close()

    return StepsIngest(settings, tenants).run(on_step)
