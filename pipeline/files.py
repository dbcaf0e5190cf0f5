"""Writing lake files so that a reader or a crash sees all of a file or none of it.

Every writer of the lake (calls, voicemail, transcripts) goes through here:
write to ``<name>.<pid>.tmp``, fsync, rename, fsync the folder. Readers glob
``*.parquet`` only, so a temp file is never read; start-up removes leftovers.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TEMP_SUFFIX = ".tmp"


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_target(name: str) -> str | None:
    """The name a temp file of :func:`write_atomic` (``<name>.<pid>.tmp``) was being
    written as; None for any other name."""
    if not name.endswith(TEMP_SUFFIX):
        return None
    target, _, pid = name.removesuffix(TEMP_SUFFIX).rpartition(".")
    return target if target and pid.isdigit() else None


def write_atomic(path: Path, write: Callable[[Path], object], *, durable: bool = True) -> None:
    """``write(tmp)`` then rename onto ``path``; ``durable`` adds the fsyncs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    write(tmp)
    if durable:
        fsync_path(tmp)
    os.rename(tmp, path)
    if durable:
        fsync_path(path.parent)


def write_json_atomic(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)), durable=durable)


def write_parquet_atomic(path: Path, table: pa.Table, *, durable: bool = True) -> None:
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), durable=durable)


@contextmanager
def exclusive_lock(lock_file: Path) -> Iterator[None]:
    """One holder across processes; the kernel releases it if the holder dies."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
