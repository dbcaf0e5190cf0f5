"""A partition's listing is reused only while its folder is unchanged and settled."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline import lake_layout
from pipeline.lake_layout import read_partition


def test_a_settled_folder_is_listed_once_and_any_change_is_seen_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "calls" / "tenant=acme.example" / "date=2026-11-30"
    folder.mkdir(parents=True)
    (folder / "acc-000000000001-000000000002.parquet").write_bytes(b"x")
    an_hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(folder, ns=(an_hour_ago, an_hour_ago))
    scans: list[Path] = []
    real = lake_layout._list_partition
    monkeypatch.setattr(lake_layout, "_list_partition", lambda f: scans.append(f) or real(f))

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
    os.utime(folder, ns=(an_hour_ago, an_hour_ago))
    assert read_partition(folder).live == {}
    assert read_partition(tmp_path / "missing").live == {}
