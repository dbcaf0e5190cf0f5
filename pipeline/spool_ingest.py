"""One spool ingest: what a producer left in a spool folder → lake files, exactly once.

Four ingests read folders other processes write: call steps and queue events (JSON
batches of the media server, :mod:`pipeline.steps_ingest`, :mod:`pipeline.queue_ingest`),
voicemail (JSON + WAV, :mod:`pipeline.voicemail_ingest`) and rtpengine's captures
(metadata + pcap, :mod:`pipeline.recording_ingest`). A pass (:meth:`SpoolIngest.run`) is
the same for each, under the table's writer lock (:func:`pipeline.lake_layout.writer_lock_path`):

- recover what a crash interrupted (below);
- list the ready items (a producer renames an item into place last, so a listed item is whole);
- check each: one that cannot be ingested (bad JSON, unknown tenant, corrupt audio, an id
  already ingested, …) goes to the spool's quarantine as ``<stem>.<suffix>`` with a
  ``<stem>.reason.txt`` and a logged warning; the other items of the pass go on;
- commit the good items in chunks; each commit writes names derived from its items only,
  so every attempt at the same items writes the same names.

Protocol of a commit of a chunk of items (:class:`ManifestIngest`); the names are the
``on_step`` hook's, which crash tests kill at (as :mod:`pipeline.lake` does):

1. ``pending``: write ``<commit log>/pending.json``: the name (``<prefix>-<hash of the
   items>``), the items (spool-relative) and the lake files it will write;
2. ``file``: write each Parquet file (temp + rename);
3. ``manifest``: write ``<commit log>/<name>.json`` — the commit point;
4. ``item``: finish each item (move it to ``spool/done/…`` last, after what else the ingest
   does on commit: a voicemail's WAV and mailbox row), every step idempotent;
5. ``done``: delete ``pending.json``.

After a crash: ``pending.json`` with its manifest → redo step 4 for the items still in the
spool; without → delete the files (never committed) and ingest the items again, which are
all still in the spool because step 4 had not run. Readers skip the files ``pending.json``
names (:mod:`pipeline.lake_layout`), so a batch is seen once it commits. An item already in
``spool/done/`` is quarantined ("already ingested"): a re-sent item is never a second fact.

A one-file commit (a recording, :mod:`pipeline.recording_ingest`) needs no commit log: its
lake file is its own commit point, written last under a name hashed from the item, and the
ingest asks "is it committed?" before writing; it documents its steps itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pyarrow as pa

from pipeline.files import exclusive_lock, write_json_atomic, write_parquet_atomic
from pipeline.lake_layout import PENDING, LakeTable, writer_lock_path
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)

StepHook = Callable[[str], None]
MAX_JSON_BYTES = 8 * 2**20


class SpoolItemError(ValueError):
    """An item the pipeline cannot ingest; the message is the quarantine reason."""


class RowsError(Exception):
    """A chunk's lake rows could not be built (before anything was written): one of its
    items holds a value its checks let through and its table refuses (an int past its
    column, a lone surrogate, an instant past year 9999). The pass commits the chunk's
    items one by one, and quarantines the ones whose rows still cannot be built."""


class SpoolEntry(Protocol):
    """A checked item: it knows the file the pass listed."""

    @property
    def path(self) -> Path: ...


class Tally(Protocol):
    """A pass's result: every ingest counts its quarantined items."""

    quarantined: int


ItemT = TypeVar("ItemT", bound=SpoolEntry)
ResultT = TypeVar("ResultT", bound=Tally)


def move(src: Path, dst: Path) -> None:
    """Idempotent move: done when ``src`` is gone and ``dst`` exists."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def read_json_object(path: Path) -> dict[str, Any]:
    """An item's JSON, which must be an object; SpoolItemError says what is wrong.

    At most :data:`MAX_JSON_BYTES`: what the media server writes is a call's steps, a
    minute of queue events or one message's facts, a few KB; a 69 MB batch peaked at
    765 MB of the worker's memory, and a 100 MB caller name went into the lake.
    """
    try:
        size = path.stat().st_size
        doc = None if size > MAX_JSON_BYTES else json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: bad UTF-8, bad JSON, a 4,301-digit int
        raise SpoolItemError(f"unreadable JSON: {exc}") from exc
    if size > MAX_JSON_BYTES:
        raise SpoolItemError(f"the JSON is larger than {MAX_JSON_BYTES // 2**20} MB")
    if not isinstance(doc, dict):
        raise SpoolItemError("the JSON is not an object")
    return doc


def batch_name(keys: Iterable[str], prefix: str) -> str:
    """``<prefix>-<hash>`` of the sorted keys: every attempt at a chunk writes the same names."""
    digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
    return f"{prefix}-{digest[:24]}"


def provisioned_tenants(settings: Settings) -> Callable[[], frozenset[str]]:
    """The tenants of the provisioning store, read when called (a pass with items only)."""

    def tenants() -> frozenset[str]:
        store = ProvisioningStore(settings.provisioning_db)
        try:
            return frozenset(t.domain for t in store.tenants())
        finally:
            store.close()

    return tenants


class SpoolIngest(Generic[ItemT, ResultT]):
    """One pass over a spool folder (the module docstring); cheap to create, holds no files.

    A subclass sets ``table`` (whose writer lock a pass holds), ``what`` (for the log),
    ``spool_root`` (the folder its items sit under) and ``quarantine_dir``, and says how an
    item is listed, checked and committed.
    """

    table: ClassVar[LakeTable]
    what: ClassVar[str]
    max_commit: ClassVar[int] = 1000  # items per commit
    # What check() or commit() raise to refuse an item; the message is the reason.
    refusals: ClassVar[tuple[type[Exception], ...]] = (SpoolItemError,)
    already_reason: ClassVar[str] = "item"  # what names an item: "batch id", "message id"
    spool_root: Path
    quarantine_dir: Path

    def __init__(
        self, settings: Settings, tenants: Callable[[], frozenset[str]] | None = None
    ) -> None:
        self.settings = settings
        self.lake_dir = settings.lake_dir
        # The provisioned tenants, read once a pass and only when it finds items.
        self.tenants = tenants or (lambda: frozenset())
        self._known: frozenset[str] | None = None

    def known_tenants(self) -> frozenset[str]:
        """The tenants a check may accept in this pass."""
        if self._known is None:
            self._known = self.tenants()
        return self._known

    # -- what a subclass says -------------------------------------------------------------
    def ready(self) -> list[Path]:
        """The items a producer has finished, in the order they are committed."""
        raise NotImplementedError

    def check(self, path: Path) -> ItemT:
        """One checked item, or one of ``refusals`` saying what is wrong (no writes)."""
        raise NotImplementedError

    def already_ingested(self, items: list[ItemT]) -> list[ItemT]:
        """Checked items that are facts already (quarantined, never a second fact)."""
        return []

    def recover(self) -> None:
        """Finish or undo the commit a crash interrupted."""

    def commit(self, items: list[ItemT], step: StepHook) -> bool:
        """Commit a chunk; False when it was committed before. May refuse before writing."""
        raise NotImplementedError

    def new_result(self) -> ResultT:
        raise NotImplementedError

    def tally(self, result: ResultT, items: list[ItemT]) -> None:
        """Count a committed chunk into the pass's result."""
        raise NotImplementedError

    def companions(self, path: Path, stem: str) -> list[tuple[Path, str]]:
        """Files that go to quarantine with the item (named ``stem``), and their names there."""
        return []

    # -- the pass -------------------------------------------------------------------------
    def quarantine(self, path: Path, reason: str) -> None:
        """Move an item (and its companions) aside with its reason; the pass goes on."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        stem = "_".join(path.relative_to(self.spool_root).with_suffix("").parts)
        log.warning("%s %s quarantined: %s", self.what, path, reason)
        (self.quarantine_dir / f"{stem}.reason.txt").write_text(reason + "\n")
        for companion, name in self.companions(path, stem):
            move(companion, self.quarantine_dir / name)
        move(path, self.quarantine_dir / f"{stem}{path.suffix}")

    def run(self, on_step: StepHook | None = None) -> ResultT:
        """Ingest every ready item; safe to call again after a crash at any point."""
        step = on_step or (lambda _name: None)
        result = self.new_result()
        lock = writer_lock_path(self.lake_dir, self.table)
        assert lock is not None
        with exclusive_lock(lock):
            self._known = None
            self.recover()
            good: list[ItemT] = []
            for path in self.ready():
                try:
                    good.append(self.check(path))
                except self.refusals as exc:
                    self.quarantine(path, str(exc))
                    result.quarantined += 1
                except Exception as exc:  # check() writes nothing: one item, never the spool
                    log.error("%s %s: check failed", self.what, path, exc_info=exc)
                    self.quarantine(path, f"could not be checked: {type(exc).__name__}: {exc}")
                    result.quarantined += 1
            twice = {id(i) for i in self.already_ingested(good)}
            for item in (i for i in good if id(i) in twice):
                self.quarantine(item.path, f"{self.already_reason} already ingested")
                result.quarantined += 1
            good = [i for i in good if id(i) not in twice]
            for start in range(0, len(good), self.max_commit):
                self._commit_chunk(good[start : start + self.max_commit], step, result)
        if result != self.new_result():
            log.info("%s ingest: %s", self.what, result)
        return result

    def _commit_chunk(self, chunk: list[ItemT], step: StepHook, result: ResultT) -> None:
        """Commit ``chunk``; a refusal quarantines it, a :class:`RowsError` splits it."""
        try:
            if self.commit(chunk, step):
                self.tally(result, chunk)
        except self.refusals as exc:  # refused before it wrote anything
            for item in chunk:
                self.quarantine(item.path, str(exc))
                result.quarantined += 1
        except RowsError as exc:
            if len(chunk) == 1:
                self.quarantine(chunk[0].path, str(exc))
                result.quarantined += 1
                return
            log.warning("%s: %s; committing its %d items one by one", self.what, exc, len(chunk))
            for item in chunk:
                self._commit_chunk([item], step, result)


class ManifestIngest(SpoolIngest[ItemT, ResultT]):
    """Chunks committed by the pending → files → manifest → finish protocol (module docstring).

    A subclass names its spool folder (``spool_kind``), commit log (``table``) and file
    prefix, the keys a chunk's name hashes, its lake files and manifest facts, and how a
    committed item is finished.
    """

    spool_kind: ClassVar[str]
    prefix: ClassVar[str]
    already_reason = "batch id"

    def __init__(
        self, settings: Settings, tenants: Callable[[], frozenset[str]] | None = None
    ) -> None:
        super().__init__(settings, tenants)
        self.spool_dir = settings.spool_dir
        self.spool_root = self.spool_dir / self.spool_kind
        self.quarantine_dir = self.spool_dir / "quarantine" / self.spool_kind
        assert self.table.batches_dir is not None
        self.batches_dir = settings.lake_dir / self.table.batches_dir

    # -- what a subclass says -------------------------------------------------------------
    def name_keys(self, items: list[ItemT]) -> list[str]:
        """What a chunk's name hashes: its spool paths unless the items carry their own ids."""
        return [self.spool_rel(i.path) for i in items]

    def lake_files(self, items: list[ItemT], name: str) -> dict[str, pa.Table]:
        """Lake-relative path → the rows of that file, for a chunk named ``name``."""
        raise NotImplementedError

    def manifest_facts(self, items: list[ItemT]) -> dict[str, Any]:
        """What the manifest records besides its name and files (ids, counts)."""
        raise NotImplementedError

    def finish(self, path: Path) -> None:
        """Step 4 for one committed item still in the spool; idempotent."""
        move(path, self.done_path(path))

    # -- the protocol ---------------------------------------------------------------------
    def spool_rel(self, path: Path) -> str:
        return str(path.relative_to(self.spool_dir))

    def done_path(self, path: Path) -> Path:
        """Where an item goes once committed: its presence means "ingested"."""
        return self.spool_dir / "done" / path.relative_to(self.spool_dir)

    def already_ingested(self, items: list[ItemT]) -> list[ItemT]:
        return [i for i in items if self.done_path(i.path).exists()]

    def recover(self) -> None:
        pending_path = self.batches_dir / PENDING
        if not pending_path.is_file():
            return
        pending = json.loads(pending_path.read_text())
        if (self.batches_dir / f"{pending['name']}.json").is_file():
            log.info("finishing committed %s batch %s", self.what, pending["name"])
            for rel in pending["items"]:
                if (self.spool_dir / rel).is_file():
                    self.finish(self.spool_dir / rel)
        else:
            log.info("undoing uncommitted %s batch %s", self.what, pending["name"])
            for rel in pending["files"]:
                (self.lake_dir / rel).unlink(missing_ok=True)
        pending_path.unlink()

    def commit(self, items: list[ItemT], step: StepHook) -> bool:
        """Steps 1–5 for a chunk of checked items."""
        name = batch_name(self.name_keys(items), self.prefix)
        try:  # pure: nothing is written yet
            files = self.lake_files(items, name)
        except self.refusals:
            raise
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            raise RowsError(f"its rows could not be built: {type(exc).__name__}: {exc}") from exc
        spool_items = [self.spool_rel(i.path) for i in items]
        write_json_atomic(
            self.batches_dir / PENDING, {"name": name, "items": spool_items, "files": sorted(files)}
        )
        step("pending")
        for rel, table in files.items():
            write_parquet_atomic(self.lake_dir / rel, table)
            step("file")
        write_json_atomic(
            self.batches_dir / f"{name}.json",
            {"name": name, **self.manifest_facts(items), "files": sorted(files)},
        )
        step("manifest")
        for item in items:
            self.finish(item.path)
            step("item")
        (self.batches_dir / PENDING).unlink()
        step("done")
        return True
