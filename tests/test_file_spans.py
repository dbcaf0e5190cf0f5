"""Which lake files a cached metric's key names: those that can hold its calls' rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.file_spans import may_hold, span

T0 = datetime(2025, 6, 2, 4, tzinfo=UTC)  # a period's end (midnight in New York)
HOUR = timedelta(hours=1)


def _file(folder: Path, name: str, starts: list[datetime]) -> tuple[str, int]:
    path = folder / name
    table = pa.table({"started_at": pa.array(starts, pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, path, row_group_size=2)
    return str(path), path.stat().st_ino


def test_a_file_is_in_a_key_only_if_it_can_hold_a_call_of_its_instants(tmp_path: Path) -> None:
    before = _file(tmp_path, "a.parquet", [T0 - 2 * HOUR, T0 - HOUR, T0 - 30 * HOUR])
    after = _file(tmp_path, "b.parquet", [T0 + HOUR, T0 + 3 * HOUR, T0 + 2 * HOUR])
    empty = _file(tmp_path, "c.parquet", [])
    day = (T0 - 24 * HOUR, T0)
    assert span(*before) == (T0 - 30 * HOUR, T0 - HOUR)  # over all its row groups
    assert may_hold("calls", *before, *day) and not may_hold("calls", *after, *day)
    assert may_hold("calls", *after, T0, None)  # open-ended: everything from T0 on
    assert not may_hold("calls", *before, T0, None)
    assert not may_hold("calls", *empty, *day)
    # A leg starts during its call (at most 12 h): legs after the period can be its calls'.
    assert may_hold("legs", *after, *day) and not may_hold(
        "legs", *after, T0 - 48 * HOUR, T0 - 12 * HOUR
    )
    # Other tables, and files that cannot be read, are always in the key.
    assert may_hold("voicemails", *after, *day)
    assert may_hold("calls", str(tmp_path / "gone.parquet"), 1, *day)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    assert may_hold("calls", str(tmp_path / "bad.parquet"), 2, *day)
