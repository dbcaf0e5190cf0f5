"""Voicemail ingest passes on a spool of many mailboxes: what "already ingested?" costs.

Every pass with new items asks which of their message ids ``spool/done/`` holds already,
in any tenant and mailbox (:meth:`pipeline.voicemail_ingest.VoicemailIngest.already_ingested`).
The old way looked up ``<id>.json`` in every done mailbox for every item (items ×
mailboxes stats); the new one does that below ``LIST_DONE_FROM`` ids and lists each done
mailbox once above. The old way is measured in the same run, on the same spool, as a
subclass that keeps its code.

The spool is written by the media server's own writer (``media.voicemail.VoicemailSpool``:
WAV, then JSON, temp + rename each) and ingested by the real pass, so ``done/`` holds
``--history`` items per mailbox before anything is timed (one of them discarded: no store
row, only ``done/`` remembers it). Then, per backlog size, that many new items are spooled
plus one re-sending the discarded id into another mailbox, which both ways must refuse,
and timed: the lookup alone, both ways on the same items, then whole passes, each way
``--rounds`` times on a fresh backlog of the same size (the best is printed; the host's
other load shows in the passes, which read every WAV and write the store and the lake).

    .venv/bin/python -m benchmarks.voicemail_ingest [--tenants 4] [--mailboxes 50]
        [--history 50] [--backlogs 1,5,30,31,50,1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from benchmarks.testbed import make_settings
from media.voicemail import MessageMeta, VoicemailSpool, new_message_id
from pipeline.voicemail_ingest import SPOOL_KIND, VoicemailIngest, VoicemailItem
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, passwords

T0 = 1_790_000_000.0
PCM = b"\x10\x00\xf0\xff" * 4000  # 1 s at 8 kHz: a real, readable message


class OldWayIngest(VoicemailIngest):
    """The lookup as it was: ``<id>.json`` stat-ed in every done mailbox, item by item."""

    def already_ingested(self, items: list[VoicemailItem]) -> list[VoicemailItem]:
        if not items:
            return []
        known = self.store.voicemail_known([i.message_id for i in items])
        done_root = self.spool_dir / "done" / SPOOL_KIND

        def subdirs(folder: Path) -> list[Path]:
            return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

        boxes = [b for t in subdirs(done_root) for b in subdirs(t)]
        seen: set[str] = set()
        twice: list[VoicemailItem] = []
        for item in items:
            name = f"{item.message_id}.json"
            if (
                item.message_id in seen
                or item.message_id in known
                or any((box / name).is_file() for box in boxes)
            ):
                twice.append(item)
            seen.add(item.message_id)
        return twice


@contextmanager
def counting_io(counts: dict[str, int]) -> Any:
    """Count ``os.stat`` and ``os.scandir`` calls (what both ways' lookups come down to)."""
    stat, scandir = os.stat, os.scandir

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] = counts.get(name, 0) + 1
            return fn(*args, **kwargs)

        return call

    os.stat, os.scandir = counted("stat", stat), counted("scandir", scandir)  # type: ignore[assignment]
    try:
        yield
    finally:
        os.stat, os.scandir = stat, scandir  # type: ignore[assignment]


def provision(store: ProvisioningStore, tenants: list[str], mailboxes: list[str]) -> None:
    """The tenants and their users, with a cheap hasher (Argon2 at ~0.1 s a user otherwise)."""
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    for tenant in tenants:
        store.add_tenant(tenant, "UTC")
        for ext in mailboxes:
            store.add_user(
                tenant=tenant, extension=ext, name=f"Box {ext}", email=f"{ext}@{tenant}",
                password="bench-password-1", sip_password="bench-sip-1",
            )  # fmt: skip


def spool_message(
    spool: VoicemailSpool,
    tenant: str,
    mailbox: str,
    at: float,
    message_id: str | None = None,
    *,
    discarded: bool = False,
) -> str:
    """One message through the media server's writer; its id."""
    meta = MessageMeta(
        message_id=message_id or new_message_id(), tenant=tenant, mailbox=mailbox,
        call_id=f"bench-{at}@example", caller="+15551230000", caller_name="Bench Caller",
        codec="PCMU", started_at=at, ended_at=at + 1.0, duration=1.0,
        speech_seconds=0.0 if discarded else 1.0, discarded=discarded,
    )  # fmt: skip
    spool.commit(meta, None if discarded else PCM)
    return meta.message_id


def timed_pass(ingest: VoicemailIngest) -> tuple[float, Any]:
    start = time.perf_counter()
    result = ingest.run()
    return time.perf_counter() - start, result


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def backlog(
    settings: Settings,
    store: ProvisioningStore,
    boxes: list[tuple[str, str]],
    size: int,
    resent: str,
    at: float,
) -> None:
    """``size`` new messages round the mailboxes, and ``resent`` again in the last one."""
    spool = VoicemailSpool(settings.spool_dir)
    for i in range(size):
        spool_message(spool, *boxes[i % len(boxes)], at + i)
    spool_message(spool, *boxes[-1], at + size, message_id=resent, discarded=True)


def measure_backlog(
    settings: Settings,
    store: ProvisioningStore,
    boxes: list[tuple[str, str]],
    size: int,
    resent: str,
    at: float,
    rounds: int,
) -> str:
    """One row of the table: ``size`` new items and the re-sent one, looked up and ingested
    both ways (``ids asked``: all of them; ``LIST_DONE_FROM`` and up, the new way lists)."""
    backlog(settings, store, boxes, size, resent, at)
    new, old = VoicemailIngest(settings, store), OldWayIngest(settings, store)
    items = [new.check(p) for p in new.ready()]
    assert [i.message_id for i in new.already_ingested(items)] == [resent]
    assert [i.message_id for i in old.already_ingested(items)] == [resent]
    runs = 3 if size < 500 else 1
    look_new = best_of(runs, lambda: new.already_ingested(items))
    look_old = best_of(runs, lambda: old.already_ingested(items))
    io_new: dict[str, int] = {}
    io_old: dict[str, int] = {}
    with counting_io(io_new):
        new.already_ingested(items)
    with counting_io(io_old):
        old.already_ingested(items)
    passes_old = [timed_pass(old)[0]]  # ingests the backlog looked up above
    passes_new: list[float] = []
    for r in range(rounds):
        at += size + 10
        backlog(settings, store, boxes, size, resent, at)
        took, result = timed_pass(VoicemailIngest(settings, store))
        assert (result.messages, result.quarantined) == (size, 1), result
        passes_new.append(took)
        if r + 1 < rounds:
            at += size + 10
            backlog(settings, store, boxes, size, resent, at)
            passes_old.append(timed_pass(OldWayIngest(settings, store))[0])
    pass_old, pass_new = min(passes_old), min(passes_new)
    return (
        f"{size + 1:>9} | {1000 * look_old:8.1f}ms {1000 * look_new:6.1f}ms"
        f" {look_old / look_new:5.1f}x | {io_old.get('stat', 0):>9}"
        f" {io_new.get('stat', 0):>6} {io_new.get('scandir', 0):>8} |"
        f" {1000 * pass_old:7.1f}ms {1000 * pass_new:6.1f}ms {pass_old / pass_new:5.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--mailboxes", type=int, default=50, help="per tenant")
    parser.add_argument("--history", type=int, default=50, help="ingested items per mailbox")
    parser.add_argument("--backlogs", default="1,5,30,31,50,1000", help="new items per pass")
    parser.add_argument("--rounds", type=int, default=3, help="whole passes each way")
    args = parser.parse_args()
    logging.getLogger("pipeline").setLevel(logging.ERROR)  # the re-sent id's quarantine
    tenants = [f"t{i}.example" for i in range(args.tenants)]
    mailboxes = [str(200 + i) for i in range(args.mailboxes)]
    boxes = [(t, m) for t in tenants for m in mailboxes]
    with tempfile.TemporaryDirectory(prefix="bench-vm-ingest-") as tmp:
        settings = make_settings(Path(tmp) / "data")
        store = ProvisioningStore(settings.provisioning_db)
        start = time.perf_counter()
        provision(store, tenants, mailboxes)
        spool = VoicemailSpool(settings.spool_dir)
        resent = spool_message(spool, *boxes[0], T0 - 1, discarded=True)
        for k in range(args.history):
            for tenant, mailbox in boxes:
                spool_message(spool, tenant, mailbox, T0 + k)
        took, result = timed_pass(VoicemailIngest(settings, store))
        print(
            f"{len(boxes)} mailboxes, {result.messages:,} messages ingested as history"
            f" ({took:.1f} s; set-up {time.perf_counter() - start:.0f} s)"
        )
        idle = [timed_pass(VoicemailIngest(settings, store))[0] for _ in range(20)]
        idle_old = [timed_pass(OldWayIngest(settings, store))[0] for _ in range(20)]
        counts: dict[str, int] = {}
        with counting_io(counts):
            VoicemailIngest(settings, store).run()
        print(
            f"nothing new: median pass {1000 * statistics.median(idle):.1f} ms"
            f" (old way {1000 * statistics.median(idle_old):.1f} ms),"
            f" {counts.get('stat', 0)} stat, {counts.get('scandir', 0)} scandir"
        )

        print(
            f"{'ids asked':>9} | {'lookup old':>10} {'new':>8} {'ratio':>6} | "
            f"{'stats old':>9} {'new':>6} {'listings':>8} | {'pass old':>9} {'new':>8} {'ratio':>6}"
        )
        at = T0 + 10 * args.history + 1000
        for size in (int(s) for s in args.backlogs.split(",")):
            print(measure_backlog(settings, store, boxes, size, resent, at, args.rounds))
            at += 2 * (args.rounds + 1) * (size + 10)
        store.close()


if __name__ == "__main__":
    main()
