"""One list of time zones for every check: places DuckDB converts in, nothing else."""

from __future__ import annotations

import duckdb
import pytest

from dash_app.analytics_tables import AnalyticsQuery
from pipeline.filters import CallFilter, FilterError
from pipeline.recording_query import RecordingFilter, RecordingQueryError
from switchboard.report_schedules import ScheduleError, cron_trigger
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.timeframes import TimeFrame, TimeFrameError, validate
from switchboard.zones import known_zone, known_zones, picked_zones

NOT_ZONES = ["localtime", "Factory", "posixrules", "right/UTC", "posix/Europe/Paris",
             "America", "zone.tab", "../etc/passwd", "", "x" * 300]  # fmt: skip


def test_every_known_zone_converts_in_duckdb() -> None:
    conn = duckdb.connect()
    for zone in sorted(known_zones()):
        conn.execute("select timezone(?, timestamptz '2025-03-30 01:30:00+00')", [zone])
    assert "Europe/Berlin" in known_zones() and "UTC" in known_zones()
    assert picked_zones()[0] == "UTC" and "America/New_York" in picked_zones()
    assert not any(z.startswith(("Etc/", "SystemV/")) for z in picked_zones()[1:])


@pytest.mark.parametrize("name", NOT_ZONES)
def test_a_name_that_is_no_place_is_refused_everywhere(name: str, store: ProvisioningStore) -> None:
    assert known_zone(name) is None
    with pytest.raises(ProvisioningError, match="unknown time zone"):
        store.add_tenant("zones.example", name)
    with pytest.raises(TimeFrameError, match="unknown time zone"):
        validate(TimeFrame(name="Hours", timezone=name))
    with pytest.raises(ScheduleError, match="unknown time zone"):
        cron_trigger("0 7 * * 1", name)
    with pytest.raises(FilterError, match="unknown time zone"):
        CallFilter(timezone=name).where_named()
    with pytest.raises(RecordingQueryError, match="unknown time zone"):
        RecordingFilter(timezone=name)
    _, error = AnalyticsQuery.from_url({"tz": name}, "UTC")
    assert error.startswith("unknown time zone") or name == ""  # none given: the user's
