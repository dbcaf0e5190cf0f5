"""A page served from the listing it was last computed over while a thread computes it over
newer files (pipeline.served_pages, the portal's portal_page_seconds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipeline.lake_deletion import DoomedRecording, delete_recordings
from pipeline.listings import ListingError
from pipeline.served_pages import served, set_page_reuse
from switchboard.settings import Settings
from tests.fixtures.recorded_calls import add_recording
from tests.test_listings import FIRST, SECOND, TENANT, recordings

AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
THIRD = "rec-" + "0" * 23 + "3"


@pytest.fixture
def page_seconds() -> Iterator[None]:
    set_page_reuse(30, grace=600)
    yield
    set_page_reuse(0, grace=600)


def refreshed() -> None:
    """Wait for the page refresh threads of this process to finish."""
    for thread in threading.enumerate():
        if thread.name == "page-refresh":
            thread.join(timeout=30)


def test_new_files_show_once_the_background_refresh_computed_them(
    settings: Settings, page_seconds: None
) -> None:
    computed: list[list[str]] = []

    def page() -> list[str]:
        rows = recordings(settings)
        computed.append(rows)
        return rows

    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    before = time.time()
    rows, as_of = served("p", page)
    assert rows == [FIRST] and before <= as_of <= time.time()
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    # answered from the files the page was computed over, exact for them...
    rows, again = served("p", page)
    assert (rows, again) == ([FIRST], as_of)
    refreshed()
    # ...while a thread computed the page over the new files, which the next request reads
    assert computed[-1] == [FIRST, SECOND]
    rows, newer = served("p", page)
    assert rows == [FIRST, SECOND] and newer > as_of
    # a page whose files did not change starts no refresh
    count = len(computed)
    assert served("p", page)[0] == [FIRST, SECOND]
    refreshed()
    assert len(computed) == count + 1
    # another page (another user or view) is computed on its own request
    assert served("q", page)[0] == [FIRST, SECOND]


def test_data_older_than_the_setting_is_computed_on_the_request(settings: Settings) -> None:
    set_page_reuse(0.5, grace=600)
    try:
        add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
        assert served("p", lambda: recordings(settings))[0] == [FIRST]
        time.sleep(0.6)
        add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
        assert served("p", lambda: recordings(settings))[0] == [FIRST, SECOND]
    finally:
        set_page_reuse(0, grace=600)


def test_a_deleted_recording_is_gone_at_once_from_a_served_page(
    settings: Settings, page_seconds: None
) -> None:
    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    assert served("p", lambda: recordings(settings))[0] == [FIRST, SECOND]
    delete_recordings(settings, TENANT, [DoomedRecording(SECOND, AT.date(), "")])
    # the files the page was computed over name an unlinked file: not read again
    assert served("p", lambda: recordings(settings))[0] == [FIRST]


def test_without_the_setting_every_request_reads_the_lake_now(settings: Settings) -> None:
    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    assert served("p", lambda: recordings(settings))[0] == [FIRST]
    add_recording(settings, THIRD, TENANT, "c-3", "101", "104", AT)
    assert served("p", lambda: recordings(settings))[0] == [FIRST, THIRD]


def test_a_failed_refresh_leaves_the_next_request_to_try_again(
    settings: Settings, page_seconds: None
) -> None:
    fail = threading.Event()

    def page() -> list[str]:
        if fail.is_set() and threading.current_thread().name == "page-refresh":
            raise RuntimeError("the refresh broke")
        return recordings(settings)

    add_recording(settings, FIRST, TENANT, "c-1", "101", "102", AT)
    assert served("p", page)[0] == [FIRST]
    add_recording(settings, SECOND, TENANT, "c-2", "101", "103", AT)
    fail.set()
    assert served("p", page)[0] == [FIRST]
    refreshed()
    fail.clear()
    assert served("p", page)[0] == [FIRST]  # still the old files; a new refresh starts
    refreshed()
    assert served("p", page)[0] == [FIRST, SECOND]


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), 301.0])
def test_refused_ages(seconds: float) -> None:
    with pytest.raises(ListingError, match="half of compaction_grace"):
        set_page_reuse(seconds, grace=600)
