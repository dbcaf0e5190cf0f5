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

Exactly once by :mod:`pipeline.spool_ingest`'s protocol (``stb-<hash>`` hashes the sorted
spool paths); a committed batch's JSON moves to ``spool/done/steps/<tenant>/``, and a batch
id already there is quarantined ("already ingested"). :class:`JsonBatchIngest` is the
ingest of any such JSON batch spool: the queue spool (:mod:`pipeline.queue_ingest`) names
its folder, commit log, prefix, how a batch is read and which lake files its rows go to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa

from pipeline.lake_layout import CALL_STEPS, TABLES, partition_dir
from pipeline.schema import TENANT_RE
from pipeline.spool_ingest import (
    ManifestIngest,
    SpoolEntry,
    SpoolItemError,
    StepHook,
    provisioned_tenants,
    read_json_object,
)
from switchboard.call_steps import STEP_KINDS
from switchboard.days import LAST_DAY, LATEST_EPOCH
from switchboard.settings import Settings

SPOOL_KIND = "steps"
# A batch id names a file: letters, digits, dot, dash, underscore; not a path trick.
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TEXT_FIELDS = ("key", "target", "outcome", "leg_call_id")


@dataclass(frozen=True)
class StepsBatch:
    """One checked spool batch."""

    path: Path
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
def instant(where: str, raw: dict[str, Any]) -> float:
    """An event's ``at``: epoch seconds from 1970 to :data:`LATEST_EPOCH` (compared, never
    passed to ``math.isfinite``, which raises OverflowError on an int of 400 digits)."""
    at = raw.get("at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at <= LATEST_EPOCH:
        raise SpoolItemError(f"{where}: 'at' must be epoch seconds from 1970 to {LAST_DAY}")
    return float(at)


def _check_step(index: int, raw: Any) -> dict[str, Any]:
    where = f"step {index}"
    if not isinstance(raw, dict):
        raise SpoolItemError(f"{where} is not an object")
    at = instant(where, raw)
    if raw.get("kind") not in STEP_KINDS:
        raise SpoolItemError(f"{where}: unknown step kind {raw.get('kind')!r}")
    attendant = raw.get("attendant_id")
    if attendant is not None and not is_row_id(attendant):
        raise SpoolItemError(f"{where}: 'attendant_id' must be an id (a positive integer) or null")
    for key in _TEXT_FIELDS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SpoolItemError(f"{where}: {key!r} must be a string or null")
    return {
        "at": at,
        "kind": raw["kind"],
        "attendant_id": attendant,
        **{key: raw.get(key) for key in _TEXT_FIELDS},
    }


def is_row_id(value: Any, lowest: int = 1) -> bool:
    """Whether ``value`` is an id the store could have made (an int of ``lowest`` to
    2**31 - 1, what an int32 column holds)."""
    return isinstance(value, int) and not isinstance(value, bool) and lowest <= value < 2**31


def read_batch(json_path: Path, *keys: str) -> dict[str, Any]:
    """A JSON spool batch with its header checked; SpoolItemError says what is wrong.

    ``batch_id`` must be the file's stem, ``tenant`` its folder, and they and ``keys``
    non-empty strings.
    """
    doc = read_json_object(json_path)
    for key in ("batch_id", "tenant", *keys):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise SpoolItemError(f"{key!r} is missing or not a string")
    if not BATCH_ID_RE.match(doc["batch_id"]) or doc["batch_id"] != json_path.stem:
        raise SpoolItemError("batch_id is not a plain name or does not match the file name")
    if not TENANT_RE.match(doc["tenant"]) or doc["tenant"] != json_path.parent.name:
        raise SpoolItemError("tenant is not a SIP domain or does not match the folder")
    return doc


def parse_batch(json_path: Path) -> StepsBatch:
    """Read and check one batch against the contract; SpoolItemError says what is wrong."""
    doc = read_batch(json_path, "call_id")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SpoolItemError("'steps' is missing or empty")
    steps = tuple(_check_step(i, raw) for i, raw in enumerate(raw_steps))
    return StepsBatch(json_path, doc["tenant"], doc["batch_id"], doc["call_id"], steps)


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def step_rows(batch: StepsBatch) -> list[dict[str, Any]]:
    """The lake rows of one batch (pure: the same batch always gives the same rows)."""
    return [
        {
            "batch_id": batch.batch_id,
            "seq": seq,
            "call_id": batch.call_id,
            **step,
            "at": utc(step["at"]),
        }
        for seq, step in enumerate(batch.steps)
    ]


def partition_of(batch: StepsBatch) -> tuple[str, date]:
    """(tenant, UTC date of the first step): a call's steps stay together."""
    return batch.tenant, utc(batch.steps[0]["at"]).date()


def event_files(
    lake_dir: Path, groups: dict[tuple[str, str, date], list[dict[str, Any]]], name: str
) -> dict[str, pa.Table]:
    """One file per (table, tenant, day) of a chunk named ``name``, rows in event order."""
    files = {}
    for (table, tenant, day), rows in sorted(groups.items()):
        rows.sort(key=lambda r: (r["at"], r["batch_id"], r["seq"]))
        folder = partition_dir(lake_dir, table, tenant, day)
        files[str((folder / f"{name}.parquet").relative_to(lake_dir))] = pa.Table.from_pylist(
            rows, schema=TABLES[table].schema
        )
    return files


# -- the ingest ---------------------------------------------------------------------------
class JsonBatch(SpoolEntry, Protocol):
    """What the ingest of a JSON batch spool needs of a checked batch."""

    @property
    def tenant(self) -> str: ...

    @property
    def batch_id(self) -> str: ...


BatchT = TypeVar("BatchT", bound=JsonBatch)


class JsonBatchIngest(ManifestIngest[BatchT, StepsIngestResult]):
    """One pass over a spool of JSON batches ``<spool_kind>/<tenant>/<batch_id>.json``.

    A subclass names its spool folder, commit log (``table``) and prefix, and says how a
    batch is read, counted and turned into lake files.
    """

    def __init__(self, settings: Settings, tenants: Callable[[], frozenset[str]]) -> None:
        super().__init__(settings, tenants)

    def parse(self, json_path: Path) -> BatchT:
        """One checked batch, or SpoolItemError."""
        raise NotImplementedError

    def count(self, batches: list[BatchT]) -> int:
        """What the manifest and the result count (steps, events)."""
        raise NotImplementedError

    def ready(self) -> list[Path]:
        """Every finished batch's JSON (a temp file is never ``*.json``)."""
        return sorted(self.spool_root.glob("*/*.json")) if self.spool_root.is_dir() else []

    def check(self, path: Path) -> BatchT:
        batch = self.parse(path)
        if batch.tenant not in self.known_tenants():
            raise SpoolItemError(f"tenant {batch.tenant!r} is unknown")
        return batch

    def manifest_facts(self, items: list[BatchT]) -> dict[str, Any]:
        return {
            "batch_ids": sorted(f"{b.tenant}/{b.batch_id}" for b in items),
            "steps": self.count(items),
        }

    def new_result(self) -> StepsIngestResult:
        return StepsIngestResult()

    def tally(self, result: StepsIngestResult, items: list[BatchT]) -> None:
        result.batches += len(items)
        result.steps += self.count(items)


class StepsIngest(JsonBatchIngest[StepsBatch]):
    """One ingest pass over ``spool/steps``; cheap to create, holds no open files."""

    spool_kind = SPOOL_KIND
    table = CALL_STEPS
    prefix = "stb"
    what = "call steps"

    def parse(self, json_path: Path) -> StepsBatch:
        return parse_batch(json_path)

    def count(self, batches: list[StepsBatch]) -> int:
        return sum(len(b.steps) for b in batches)

    def lake_files(self, items: list[StepsBatch], name: str) -> dict[str, pa.Table]:
        groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
        for batch in items:
            groups[(CALL_STEPS.name, *partition_of(batch))].extend(step_rows(batch))
        return event_files(self.lake_dir, groups, name)


def ingest_steps(settings: Settings, on_step: StepHook | None = None) -> StepsIngestResult:
    """One pass over ``spool/steps`` (the worker calls this every tick)."""
    return StepsIngest(settings, provisioned_tenants(settings)).run(on_step)
