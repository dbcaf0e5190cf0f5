"""A recording the policy asked for but rtpengine could not make is a fact, not a log line.

Through the real parts: policy ``always``, one SIPp call through Kamailio and rtpengine
(``started``), then rtpengine killed and a second call connects all the same; Kamailio's
CDR row says ``recording_outcome = 'missing'``, the
pipeline's ingest warns once and counts it, the lake's calls row says so, and
``switchboard recordings list --missing`` shows the call. A leg the media server bridged
whose own recording went missing is listed once, under its call, naming whom it rang.
Beside it, the edges that make the column safe to add: an older spool gains it, an older
calls file reads NULL, a value outside the vocabulary is quarantined.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from benchmarks.relay_phones import PcapCallee, pcap_call
from cli import main as cli
from dash_app.recordings_view import MISSING_MARK, missing_row
from kamailio.launcher import KamailioProcess, ensure_acc_db
from kamailio.recording_push import push_recording_policy
from pipeline.calls import Directory as CallDirectory
from pipeline.calls import build_calls
from pipeline.files import write_parquet_atomic
from pipeline.ingest import ingest_once
from pipeline.lake_layout import CALLS, partition_dir
from pipeline.recording_query import (
    RecordingFilter,
    RecordingQueryError,
    list_missing_recordings,
    list_recordings,
)
from pipeline.schema import CALLS_SCHEMA
from pipeline.viewer import open_for_viewer
from relay.launcher import RelayProcess
from switchboard.acc_spool import ACC_COLUMNS, ACC_TABLE
from switchboard.settings import Settings
from tests.fixtures.core import Directory, insert_acc_rows
from tests.fixtures.sip import account, register_at

TENANT = "acme.example"


def test_rtpengine_down_the_call_connects_and_its_recording_is_marked_missing(
    kamailio: KamailioProcess,
    directory: Directory,
    relay: RelayProcess,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = kamailio.settings
    directory.store.set_recording_policy(TENANT, "tenant", "always")
    assert push_recording_policy(settings)
    call_ids = []
    with PcapCallee(packets=10) as callee:
        assert register_at(settings, "102@acme.example", callee).returncode == 0  # type: ignore[arg-type]
        for rtpengine_up in (True, False):
            if not rtpengine_up:
                relay.kill()
            result, _ = pcap_call(
                settings, account("101@acme.example"), account("102@acme.example"), packets=10
            )
            assert result.returncode == 0, result.errors  # never a failed call
            [answered] = [x for x in result.log_lines if x.startswith("answered ")]
            call_ids.append(answered.split()[1])
    started_id, call_id = call_ids

    deadline = time.monotonic() + 10  # Kamailio's CDR writer drains every 100 ms
    rows: list[tuple[str, str | None]] = []
    while time.monotonic() < deadline and len(rows) < 2:
        if settings.acc_db.is_file():
            db = sqlite3.connect(settings.acc_db)
            rows = db.execute("select call_id, recording_outcome from cdr order by id").fetchall()
            db.close()
        time.sleep(0.05)
    assert rows == [(started_id, "started"), (call_id, "missing")]

    with caplog.at_level(logging.WARNING, logger="pipeline.ingest"):
        result_ingest = ingest_once(settings)
    assert (result_ingest.calls, result_ingest.missing_recordings) == (2, 1)
    warnings = [r.getMessage() for r in caplog.records if "recording missing" in r.getMessage()]
    assert len(warnings) == 1 and call_id in warnings[0]

    with open_for_viewer(settings, TENANT) as viewer:
        outcomes = viewer.conn.sql(
            "select recording_outcome from calls where call_id = $c", params={"c": call_id}
        ).fetchall()
        [missing] = list_missing_recordings(viewer.conn)
        with pytest.raises(RecordingQueryError):
            list_missing_recordings(viewer.conn, RecordingFilter(words="refund"))
    assert outcomes == [("missing",)]
    assert (missing["call_id"], missing["caller"], missing["callee"]) == (call_id, "101", "102")

    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    assert cli.main(["recordings", "list", "--missing", "--tenant", TENANT]) == 0
    out = capsys.readouterr()
    assert f"\t101\t102\tanswered\tmissing\t{call_id}" in out.out
    assert "1 calls with a recording missing" in out.err


def test_an_older_spool_gains_the_column_and_its_rows_read_null(settings: Settings) -> None:
    settings.acc_db.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(settings.acc_db, isolation_level=None)
    older = ", ".join(f"{c} text" for c in ACC_COLUMNS[1:-1])  # a spool from before the column
    db.execute(f"create table cdr (id integer primary key autoincrement, {older})")
    db.execute("insert into cdr (call_id, invite_at, end_at, sip_code) values ('old', 1, 2, 200)")
    assert "recording_outcome" not in {r[1] for r in db.execute("pragma table_info(cdr)")}
    db.close()
    ensure_acc_db(settings)
    db = sqlite3.connect(settings.acc_db)
    columns = tuple(r[1] for r in db.execute(f"pragma table_info({ACC_TABLE})"))
    assert columns == ACC_COLUMNS
    assert db.execute("select recording_outcome from cdr").fetchall() == [(None,)]
    db.close()


def acc_row(acc_id: int, outcome: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(ACC_COLUMNS)
    row.update(
        id=acc_id,
        call_id=f"c{acc_id}",
        tenant=TENANT,
        direction="internal",
        caller="101",
        callee="102",
        invite_at=1_700_000_000.0,
        end_at=1_700_000_010.0,
        sip_code=487,
        recording_outcome=outcome,
    )
    return row


def test_a_bridged_legs_missing_recording_is_listed_once_under_its_call(
    settings: Settings,
    directory: Directory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """101's call to the menu 103 (not recorded) is transferred to 102, whose policy said
    to record: the leg's row (as Kamailio's route BRIDGE_RECORDING leaves it) says missing."""
    call = {**acc_row(1, None), "callee": "103", "answered_by": "aa-1", "sip_code": 200}
    leg = {**acc_row(2, "missing"), "origin_call_id": "c1", "answered_by": "102"}
    leg.update(callee="102", sip_code=200, answer_at=1_700_000_002.0)
    recorded = {**acc_row(3, "started"), "origin_call_id": "c1"}  # a second try, recorded
    insert_acc_rows(settings, [leg, call, recorded])
    assert ingest_once(settings).missing_recordings == 1  # the worker's cue to alert

    with open_for_viewer(settings, TENANT) as viewer:
        [row] = list_missing_recordings(viewer.conn)
        assert list_missing_recordings(viewer.conn, RecordingFilter(extension="102")) == [row]
        assert list_recordings(viewer.conn) == []
    assert (row["call_id"], row["captured_call_id"]) == ("c1", "c2")
    assert (row["caller"], row["callee"], row["disposition"]) == ("101", "102", "answered")
    shown = missing_row(row, "UTC")
    assert shown["callee"].endswith("(102)") and shown["recording"] == MISSING_MARK

    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    assert cli.main(["recordings", "list", "--missing", "--tenant", TENANT]) == 0
    out = capsys.readouterr()
    assert "\t101\t102\tanswered\tmissing\tc1" in out.out
    assert "1 calls with a recording missing" in out.err


def test_the_outcome_is_carried_and_a_value_outside_the_vocabulary_quarantined() -> None:
    rows = [acc_row(1, "missing"), acc_row(2, "started"), acc_row(3, None), acc_row(4, "lost")]
    del rows[2]["recording_outcome"]  # a row read before the column existed
    batch = build_calls(rows, CallDirectory(frozenset({TENANT})))
    assert [c["recording_outcome"] for c in batch.calls] == ["missing", "started", None]
    [bad] = batch.quarantined
    assert (bad.acc_id, bad.reason) == (
        4,
        "recording_outcome 'lost' is not one of started, missing",
    )


def test_calls_files_written_before_the_column_read_null(
    settings: Settings, directory: Directory
) -> None:
    """A lake of older calls files only, then one new file beside them: the view holds."""
    old_schema = pa.schema([f for f in CALLS_SCHEMA if f.name != "recording_outcome"])
    started = datetime(2026, 1, 5, 9, tzinfo=UTC)

    def call(acc_id: int) -> dict[str, object]:
        return {
            "call_id": f"c{acc_id}",
            "acc_id": acc_id,
            "direction": "internal",
            "caller": "101",
            "callee": "102",
            "started_at": started,
            "ended_at": started,
            "ring_seconds": 0.0,
            "talk_seconds": 0.0,
            "disposition": "missed",
            "sip_code": 480,
            "recording_outcome": "missing",
        }

    folder = partition_dir(settings.lake_dir, CALLS.name, TENANT, started.date())
    old = pa.Table.from_pylist([call(1)], schema=old_schema)
    write_parquet_atomic(folder / "acc-000000000000-000000000001.parquet", old, durable=False)
    with open_for_viewer(settings, TENANT) as viewer:
        assert viewer.conn.sql("select recording_outcome from calls").fetchall() == [(None,)]
        assert list_missing_recordings(viewer.conn) == []
    new = pa.Table.from_pylist([call(2)], schema=CALLS_SCHEMA)
    write_parquet_atomic(folder / "acc-000000000001-000000000002.parquet", new, durable=False)
    with open_for_viewer(settings, TENANT) as viewer:
        got = viewer.conn.sql("select acc_id, recording_outcome from calls order by 1").fetchall()
        assert got == [(1, None), (2, "missing")]
        assert [r["call_id"] for r in list_missing_recordings(viewer.conn)] == ["c2"]
