"""The recordings read API: list with filters, one recording, one search box, scoped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from pipeline.files import write_parquet_atomic
from pipeline.lake_layout import CALLS, LEGS, RECORDING_TRANSCRIPTS, RECORDINGS, partition_dir
from pipeline.recording_query import (
    RecordingFilter,
    RecordingQueryError,
    agent_figures,
    get_recording,
    list_recordings,
    search_everything,
)
from pipeline.recordings_schema import RECORDING_TRANSCRIPTS_SCHEMA, RECORDINGS_SCHEMA
from pipeline.schema import CALLS_SCHEMA, LEGS_SCHEMA
from pipeline.viewer import open_for_viewer
from switchboard.settings import Settings
from tests.fixtures.core import Directory

T0 = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


def call_row(call_id: str, caller: str, callee: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "acc_id": abs(hash(call_id)) % 10**9,
        "direction": "internal",
        "caller": caller,
        "callee": callee,
        "answered_by": callee,
        "started_at": at,
        "answered_at": at + timedelta(seconds=2),
        "ended_at": at + timedelta(seconds=60),
        "ring_seconds": 2.0,
        "talk_seconds": 58.0,
        "disposition": "answered",
        "sip_code": 200,
        **extra,
    }


def recording_row(n: int, call_id: str, at: datetime) -> dict[str, Any]:
    return {
        "recording_id": f"rec-{n:024x}",
        "call_id": call_id,
        "started_at": at,
        "ended_at": at + timedelta(seconds=58),
        "duration": 58.0,
        "codec": "PCMU",
        "audio_path": f"recordings/acme.example/{at.date()}/rec-{n:024x}.wav",
        "caller_packets": 2900,
        "callee_packets": 2900,
        "lost_packets": 0,
        "caller_speech_seconds": 20.0,
        "callee_speech_seconds": 25.0,
        "longest_silence_seconds": 3.5,
        "overtalk_seconds": 1.0,
        "ingested_at": at,
    }


def put(settings: Settings, table: str, schema: pa.Schema, name: str, rows: list[dict]) -> None:
    day = rows[0].get("started_at", rows[0].get("transcribed_at")).date()
    folder = partition_dir(settings.lake_dir, table, "acme.example", day)
    write_parquet_atomic(folder / name, pa.Table.from_pylist(rows, schema=schema), durable=False)


@pytest.fixture
def lake(settings: Settings, directory: Directory) -> Settings:
    """Three recorded calls of acme: 101→102 (transcribed), 102→103, and a queue leg to 101."""
    put(
        settings,
        CALLS.name,
        CALLS_SCHEMA,
        "acc-000000000001-000000000003.parquet",
        [
            call_row("c1", "101", "102", T0),
            call_row("c2", "102", "103", T0 + timedelta(hours=1)),
            call_row("c3", "+15550100", "200", T0 + timedelta(days=1), direction="inbound"),
        ],
    )
    leg = call_row("c3-leg", "200", "101", T0 + timedelta(days=1), origin_call_id="c3")
    put(settings, LEGS.name, LEGS_SCHEMA, "acc-000000000001-000000000003.parquet", [leg])
    for n, (call_id, at) in enumerate(
        [("c1", T0), ("c2", T0 + timedelta(hours=1)), ("c3-leg", T0 + timedelta(days=1))], 1
    ):
        rec = recording_row(n, call_id, at)
        put(settings, RECORDINGS.name, RECORDINGS_SCHEMA, f"{rec['recording_id']}.parquet", [rec])
    segments = [
        {"start": 0.5, "end": 2.0, "speaker": "caller", "text": "I want a refund"},
        {"start": 2.5, "end": 4.0, "speaker": "callee", "text": "Sure, one moment"},
    ]
    transcript = {
        "recording_id": f"rec-{1:024x}",
        "text": "caller: I want a refund\ncallee: Sure, one moment",
        "segments_json": json.dumps(segments),
        "language": "en",
        "model": "tiny.en",
        "audio_seconds": 116.0,
        "transcribe_seconds": 3.0,
        "transcribed_at": T0 + timedelta(minutes=5),
    }
    name = f"rec-{1:024x}.tiny-en.parquet"
    put(settings, RECORDING_TRANSCRIPTS.name, RECORDING_TRANSCRIPTS_SCHEMA, name, [transcript])
    return settings


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["recording_id"][-1] for r in rows]


def test_a_manager_lists_every_recording_with_its_call_newest_first(
    lake: Settings, directory: Directory
) -> None:
    with open_for_viewer(lake, directory.users["100@acme.example"]) as viewer:
        rows = list_recordings(viewer.conn)
    assert ids(rows) == ["3", "2", "1"]
    # the queue leg's recording is shown under the caller's call
    assert (rows[0]["call_id"], rows[0]["captured_call_id"], rows[0]["caller"]) == (
        "c3",
        "c3-leg",
        "+15550100",
    )
    assert rows[2]["has_transcript"] and not rows[1]["has_transcript"]


FILTER_CASES = [
    ({"extension": "103"}, ["2"]),
    ({"from": "2026-11-04", "to": "2026-11-04"}, ["3"]),
    ({"direction": "inbound"}, ["3"]),
    ({"number": "555-0100"}, ["3"]),
    ({"has_transcript": "yes"}, ["1"]),
    ({"has_transcript": "no"}, ["3", "2"]),
    ({"words": "REFUND moment"}, ["1"]),
    ({"words": "refund nothing"}, []),
]


def test_filters(lake: Settings) -> None:
    """One lake, every filter (the cases share the fixture: it is the slow part)."""
    with open_for_viewer(lake, "acme.example") as viewer:
        for query, expected in FILTER_CASES:
            flt = RecordingFilter.from_query(query, viewer.timezone)
            assert ids(list_recordings(viewer.conn, flt)) == expected, query


@pytest.mark.parametrize(
    "query",
    [{"from": "yesterday"}, {"direction": "sideways"}, {"extension": "1 or 1=1"}, {"queue": "x"}],
)
def test_bad_filters_say_what_is_wrong(query: dict[str, str]) -> None:
    with pytest.raises(RecordingQueryError):
        RecordingFilter.from_query(query)


def test_a_plain_user_sees_only_recordings_of_their_own_calls(
    lake: Settings, directory: Directory
) -> None:
    with open_for_viewer(lake, directory.users["103@acme.example"]) as viewer:
        pass  # a supervisor: the tenant
    with open_for_viewer(lake, directory.users["101@acme.example"]) as viewer:
        # their call c1, and the queue call whose bridged leg rang them
        assert ids(list_recordings(viewer.conn)) == ["3", "1"]
        assert get_recording(viewer.conn, f"rec-{2:024x}") is None
    with open_for_viewer(lake, directory.users["101@globex.example"]) as viewer:
        assert list_recordings(viewer.conn) == []


def test_one_recording_has_its_transcript_lines_by_speaker(lake: Settings) -> None:
    with open_for_viewer(lake, "acme.example") as viewer:
        rec = get_recording(viewer.conn, f"rec-{1:024x}")
        assert rec is not None
        assert rec.audio_path.endswith(f"rec-{1:024x}.wav")
        assert [(line.speaker, line.text) for line in rec.lines] == [
            ("caller", "I want a refund"),
            ("callee", "Sure, one moment"),
        ]
        with pytest.raises(RecordingQueryError):
            get_recording(viewer.conn, "../../etc/passwd")


def test_one_search_box_finds_recordings_and_voicemails(lake: Settings) -> None:
    with open_for_viewer(lake, "acme.example") as viewer:
        hits = search_everything(viewer.conn, "refund")
        assert [(h["kind"], h["call_id"]) for h in hits] == [("recording", "c1")]
        with pytest.raises(RecordingQueryError):
            search_everything(viewer.conn, "   ")


def test_per_agent_figures(lake: Settings) -> None:
    with open_for_viewer(lake, "acme.example") as viewer:
        figures = {r["agent"]: r for r in agent_figures(viewer.conn)}
    # 102 and 103 answered c1 and c2; 101 took the queue call through its bridged leg
    assert sorted(figures) == ["101", "102", "103"]
    assert figures["102"]["recorded_calls"] == 1
    assert figures["102"]["talk_share"] == pytest.approx(25 / 45, abs=0.001)
    assert figures["101"]["longest_silence_seconds"] == 3.5


def test_a_bridged_call_recorded_on_both_legs_is_listed_once(lake: Settings) -> None:
    own = recording_row(4, "c3", T0 + timedelta(days=1, seconds=1))
    put(lake, RECORDINGS.name, RECORDINGS_SCHEMA, f"{own['recording_id']}.parquet", [own])
    with open_for_viewer(lake, "acme.example") as viewer:
        rows = list_recordings(viewer.conn, RecordingFilter(number="5550100"))
    assert [(r["recording_id"][-1], r["call_id"]) for r in rows] == [("4", "c3")]
