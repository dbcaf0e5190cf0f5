"""A recording deleted while its transcription runs never gets its transcript afterwards.

The deletion (the portal's delete, retention) runs at each step of the transcription
pass through the pass's own step hook: while the engine has finished but before the
write, and right after the write. Either way the lake ends with neither the recording
nor a transcript of it, and the work list is empty. Untouched, the transcript lands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from pipeline.files import write_json_atomic
from pipeline.lake_deletion import DoomedRecording, delete_recordings
from pipeline.lake_layout import RECORDING_TRANSCRIPTS, RECORDINGS, partition_dir, read_partition
from pipeline.recording_transcripts import pending, transcribe_pending_recordings
from pipeline.transcribe import Segment, Transcript
from switchboard.settings import Settings
from tests.fixtures.recorded_calls import add_recording

TENANT = "acme.example"
REC = "rec-" + "0" * 20 + "dead"
AT = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class SaysHello:
    """A stand-in engine: every stretch it is handed says hello."""

    model_name = "hello"

    def transcribe(self, wav_path: Path) -> Transcript:
        return Transcript("hello", [Segment(0.0, 0.3, "hello")], "en")


def rows(settings: Settings, table: str) -> list[str]:
    folder = partition_dir(settings.lake_dir, table, TENANT, AT.date())
    files = [str(folder / n) for n in read_partition(folder).live]
    if not files:
        return []
    return ds.dataset(files, format="parquet").to_table().column("recording_id").to_pylist()


@pytest.fixture
def waiting(settings: Settings) -> Settings:
    """One committed recording whose transcription is on the work list."""
    add_recording(settings, REC, TENANT, "c-dead", "101", "102", AT)
    write_json_atomic(
        settings.recording_spool_dir / "transcribe" / f"{REC}.json",
        {
            "recording_id": REC,
            "tenant": TENANT,
            "day": AT.date().isoformat(),
            "audio_path": f"recordings/{REC}.wav",
        },
    )
    return settings


@pytest.mark.parametrize("deleted_at", ["transcribed", "transcript"])
def test_a_deleted_recording_keeps_no_transcript(waiting: Settings, deleted_at: str) -> None:
    doomed = DoomedRecording(REC, AT.date(), f"recordings/{REC}.wav")
    steps: list[str] = []

    def delete_now(step: str) -> None:
        steps.append(step)
        if step == deleted_at:
            delete_recordings(waiting, TENANT, [doomed])

    written = transcribe_pending_recordings(waiting, SaysHello(), on_step=delete_now)

    assert rows(waiting, RECORDINGS.name) == []
    assert rows(waiting, RECORDING_TRANSCRIPTS.name) == []
    folder = partition_dir(waiting.lake_dir, RECORDING_TRANSCRIPTS.name, TENANT, AT.date())
    assert not list(folder.glob(f"{REC}.*.parquet"))
    assert pending(waiting) == []
    if deleted_at == "transcribed":  # the deletion came first: nothing was written
        assert (written, steps[-1]) == (0, "dropped")


def test_an_untouched_recording_gets_its_transcript(waiting: Settings) -> None:
    assert transcribe_pending_recordings(waiting, SaysHello()) == 1
    assert rows(waiting, RECORDING_TRANSCRIPTS.name) == [REC]
    assert pending(waiting) == []
