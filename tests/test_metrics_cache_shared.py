"""The metric result cache shared on disk: what one process computed, the next one reads.

The portal runs several worker processes (gunicorn); each keeps an LRU in
memory and all of them share ``data_dir/cache/metrics``. Still keyed by the
exact lake files read: a new file means a new key, so a miss.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.ingest import ingest_rows
from pipeline.lake import Lake
from pipeline.metrics_cache import ResultCache, canonical_text, eviction_victims
from switchboard.settings import Settings
from tests.fixtures.analytics import DIRECTORY, HAND_DAY, REASONS, hand_acc_rows, write_lake
from tests.fixtures.portal import REPO_ROOT, portal_env

# What a portal worker does for the Analytics page's summary, in a fresh process.
_CHILD = """
import json, sys
from datetime import date
from pipeline import metrics
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect
from switchboard.settings import load_settings

settings = load_settings()
RESULTS.share_on_disk(settings.metric_cache_dir, settings.metric_cache_mb * 2**20)
day = date.fromisoformat(sys.argv[1])
conn = connect(settings, "acme.example")
summary = metrics.summary(conn, metrics.Period(day, day), tz="America/New_York")
print(json.dumps({"calls": summary["calls"], "hits": RESULTS.hits,
                  "disk_hits": RESULTS.disk_hits, "misses": RESULTS.misses}))
"""


def _in_a_new_process(settings: Settings, code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=portal_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _summary_in_a_new_process(settings: Settings) -> dict[str, Any]:
    return _in_a_new_process(settings, _CHILD, HAND_DAY)


def test_a_second_process_reads_the_first_one_s_results_until_a_new_lake_file(
    settings: Settings,
) -> None:
    rows = hand_acc_rows()
    write_lake(settings, rows)

    first = _summary_in_a_new_process(settings)
    assert first["calls"] == 7 and first["misses"] > 0 and first["hits"] == 0
    stored = list(settings.metric_cache_dir.rglob("*.arrow"))
    assert stored and not list(settings.metric_cache_dir.rglob("*.tmp"))

    second = _summary_in_a_new_process(settings)
    # Every result read from the first one's files (a cached worklist skips its parts).
    assert second["calls"] == 7 and second["misses"] == 0
    assert 0 < second["hits"] == second["disk_hits"] <= first["misses"]

    # A later batch (a new Parquet file in the day's partition): new key, a miss.
    extra = {**rows[0], "id": len(rows) + 1, "call_id": "a8", "caller": "+15550003333"}
    extra.update(answered_by=None, answer_at=None, sip_code=480, sip_reason=REASONS[480])
    ingest_rows(Lake(settings.lake_dir, durable=False), [extra], DIRECTORY, after=len(rows))
    third = _summary_in_a_new_process(settings)
    # (Only the worklist's contacts after the day are still read: the new call is not after it.)
    assert third["calls"] == 8 and third["misses"] > 0 and third["disk_hits"] <= 1


def _table(n: int) -> pa.Table:
    return pa.table({"x": pa.array(range(n), pa.int64())})


def test_the_shared_folder_stays_within_its_bound(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    cache = ResultCache()
    cache.share_on_disk(folder, 200_000)
    for i in range(100):  # ~8 kB each: 800 kB written in all
        cache.put(("metric", i), _table(1000))
    assert cache.disk is not None
    cache.disk.evict()
    assert 0 < cache.disk.size() <= 200_000
    # The newest results survive; a reader of an evicted one just misses.
    other = ResultCache()
    other.share_on_disk(folder, 200_000)
    assert other.get(("metric", 99)) is not None
    assert other.get(("metric", 0)) is None


def test_a_key_without_a_stable_spelling_stays_in_memory(tmp_path: Path) -> None:
    cache = ResultCache()
    cache.share_on_disk(tmp_path / "metrics", 2**20)
    cache.put(("metric", frozenset({"a", "b"})), _table(3))
    assert canonical_text(("metric", frozenset({"a"}))) is None
    assert not list((tmp_path / "metrics").rglob("*.arrow"))
    assert cache.get(("metric", frozenset({"a", "b"}))) is not None  # memory still serves it


# What a portal worker does for the Call History grid's row count, in a fresh process.
_CHILD_COUNT = """
import json
from pipeline.filters import CallFilter
from pipeline.history import count_matching
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import connect
from switchboard.settings import load_settings

settings = load_settings()
RESULTS.share_on_disk(settings.metric_cache_dir, settings.metric_cache_mb * 2**20)
total = count_matching(connect(settings, "acme.example"), CallFilter())
print(json.dumps({"total": total, "disk_hits": RESULTS.disk_hits, "misses": RESULTS.misses}))
"""


def test_the_call_history_count_is_counted_once_for_every_worker(settings: Settings) -> None:
    rows = hand_acc_rows()
    write_lake(settings, rows)

    def count() -> dict[str, Any]:
        return _in_a_new_process(settings, _CHILD_COUNT)

    # two UTC days (an evening in New York is the next day in UTC): the newest day and
    # the days before it are counted apart, each kept under the files it reads
    assert count() == {"total": 7, "disk_hits": 0, "misses": 2}
    assert count() == {"total": 7, "disk_hits": 2, "misses": 0}  # another worker's count
    lake = Lake(settings.lake_dir, durable=False)
    newest = max(rows, key=lambda r: r["invite_at"])
    for i, (like, total) in enumerate(((rows[0], 8), (newest, 9))):
        after = len(rows) + i
        extra = {**like, "id": after + 1, "call_id": f"a{after + 1}", "caller": "+15550003333"}
        ingest_rows(lake, [extra], DIRECTORY, after=after)
        # a new file in one of the two days: that day's part is counted again, not the other
        assert count() == {"total": total, "disk_hits": 1, "misses": 1}


def test_one_owner_s_flood_evicts_their_own_results_not_the_others(tmp_path: Path) -> None:
    """~400 Analytics requests of one user evicted everyone's results (an audit of resource
    exhaustion, 2026-12): now the owner furthest over their share loses results first, in
    this process's memory and in the folder every worker shares."""
    folder = tmp_path / "metrics"
    cache = ResultCache(max_entries=64, max_bytes=200_000)
    cache.share_on_disk(folder, 200_000)
    for i in range(5):  # ~8 kB each
        cache.put(("mia", i), _table(1000), owner="user-1")
        cache.put(("bob", i), _table(1000), owner="user-2")
    for i in range(100):  # 800 kB: four times either bound, all of one owner
        cache.put(("flood", i), _table(1000), owner="user-3")
    assert cache.disk is not None
    cache.disk.evict()
    assert 0 < cache.disk.size() <= 200_000
    kept = cache.owned_bytes()
    assert kept["user-1"] == kept["user-2"] == 5 * _table(1000).nbytes
    assert sum(kept.values()) <= 200_000
    # Another worker (a fresh process's memory) still finds the others' results on disk.
    other = ResultCache()
    other.share_on_disk(folder, 200_000)
    assert all(other.get((who, i)) is not None for who in ("mia", "bob") for i in range(5))
    assert other.get(("flood", 99)) is not None and other.get(("flood", 0)) is None


def test_results_nobody_owns_are_evicted_least_recently_used_first() -> None:
    """One owner (a CLI run, a notebook): plain LRU, the last read kept."""
    cache = ResultCache(max_entries=3)
    for i in range(3):
        cache.put(("metric", i), _table(3))
    assert cache.get(("metric", 0)) is not None  # now the most recently used
    cache.put(("metric", 3), _table(3))
    assert cache.get(("metric", 1)) is None
    assert all(cache.get(("metric", i)) is not None for i in (0, 2, 3))
    assert eviction_victims([("a", 5), ("b", 1), ("a", 5), ("b", 1)], 6) == [0, 2]
