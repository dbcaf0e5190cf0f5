"""A folder's listing is reused only while the folder is unchanged and settled: a table's
partition (read by every connection) and a rollup's (compaction's pass each minute)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline import lake_layout
from pipeline.compaction import CompactionPolicy, sweep_partition
from pipeline.lake_layout import folder_names, read_partition

AN_HOUR_AGO = time.time_ns() - 3600 * 10**9


def settled_folder(tmp_path: Path, table: str, name: str) -> Path:
    """A tenant-day folder of ``table`` holding ``name``, unchanged for an hour."""
    folder = tmp_path / table / "tenant=acme.example" / "date=2026-11-30"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"x")
    os.utime(folder, ns=(AN_HOUR_AGO, AN_HOUR_AGO))
    return folder


def counted(monkeypatch: pytest.MonkeyPatch, lister: str) -> list[str]:
    """The folders ``lake_layout.<lister>`` really lists from now on."""
    scans: list[str] = []
    real = getattr(lake_layout, lister)
    monkeypatch.setattr(lake_layout, lister, lambda f: scans.append(f) or real(f))
    return scans


def test_a_settled_folder_is_listed_once_and_any_change_is_seen_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = settled_folder(tmp_path, "calls", "acc-000000000001-000000000002.parquet")
    scans = counted(monkeypatch, "_list_partition")

    first = read_partition(folder)
    assert read_partition(folder) is first  # unchanged and settled: no second scandir
    assert len(scans) == 1 and list(first.live) == ["acc-000000000001-000000000002.parquet"]

    (folder / "acc-000000000003-000000000003.parquet").write_bytes(b"y")  # a new batch
    assert len(read_partition(folder).live) == 2  # its mtime moved: listed again
    # A folder changed just now is not kept: a second change in the same clock tick
    # could leave the same mtime.
    (folder / "acc-000000000001-000000000002.parquet").unlink()
    assert list(read_partition(folder).live) == ["acc-000000000003-000000000003.parquet"]
    read_partition(folder)
    assert len(scans) == 4

    # Another folder at the same path with the first listing's mtime: its inode differs.
    os.rename(folder, tmp_path / "moved")
    folder.mkdir()
    os.utime(folder, ns=(AN_HOUR_AGO, AN_HOUR_AGO))
    assert read_partition(folder).live == {}
    assert read_partition(tmp_path / "missing").live == {}


def test_a_compaction_temp_file_in_a_settled_partition_is_seen_and_swept(tmp_path: Path) -> None:
    folder = settled_folder(tmp_path, "calls", "acc-000000000001-000000000002.parquet")
    assert read_partition(folder).temporary == ()  # kept
    # a merge killed half-way (its temp file is not in the listing kept above)
    (folder / "c-000001.parquet.4242.tmp").write_bytes(b"half")
    (folder / "acc-000000000003-000000000003.parquet.77.tmp").write_bytes(b"ingest's own")
    assert read_partition(folder).temporary == ("c-000001.parquet.4242.tmp",)
    assert sweep_partition(folder, CompactionPolicy(), now=time.time()) == 1
    assert sorted(p.name for p in folder.iterdir()) == [
        "acc-000000000001-000000000002.parquet",
        "acc-000000000003-000000000003.parquet.77.tmp",
    ]


def test_a_rollup_folder_is_listed_once_while_settled_and_a_new_name_is_seen_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = settled_folder(tmp_path, "call_cells", "cells5s-aaaa.parquet")
    scans = counted(monkeypatch, "_names")

    assert folder_names(str(folder)) == {"cells5s-aaaa.parquet"}
    assert folder_names(str(folder)) == {"cells5s-aaaa.parquet"}
    assert len(scans) == 1
    (folder / "cells5s-bbbb.parquet.1.tmp").write_bytes(b"")  # a pass killed mid-write
    assert folder_names(str(folder)) == {"cells5s-aaaa.parquet", "cells5s-bbbb.parquet.1.tmp"}
    assert folder_names(str(tmp_path / "missing")) == frozenset()
