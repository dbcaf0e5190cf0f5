"""The phone menu's view of a mailbox, read from the real store."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from media import prompts
from media.mailbox import StoreMailboxes, timestamp_announcement
from switchboard.settings import Settings
from tests.fixtures.core import Directory


@pytest.mark.parametrize(
    ("utc", "zone", "said"),
    [
        (datetime(2026, 12, 22, 15, 5), "America/New_York", "Tuesday, December 22, at 10:05 AM"),
        (datetime(2026, 7, 1, 4, 30), "America/New_York", "Wednesday, July 1, at 12:30 AM"),
        (datetime(2026, 3, 29, 1, 30), "Europe/Berlin", "Sunday, March 29, at 3:30 AM"),  # DST day
    ],
)
def test_the_time_is_said_in_the_owners_zone(utc: datetime, zone: str, said: str) -> None:
    assert timestamp_announcement(utc.replace(tzinfo=UTC).timestamp(), zone) == (
        f"Received {said}."
    )


def test_menu_settings_follow_the_portal(settings: Settings, directory: Directory) -> None:
    boxes = StoreMailboxes(directory.store, settings.data_dir, settings.spool_dir)
    box = boxes.settings("acme.example", "102")
    assert (box.announce_timestamp, box.timezone, box.pin_set) == (True, "America/New_York", False)
    directory.store.update_mailbox_settings("acme.example", "102", announce_timestamp=False)
    assert boxes.settings("acme.example", "102").announce_timestamp is False


def test_a_one_off_sentence_is_spoken_and_not_cached(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pcm = prompts.spoken_once(settings.data_dir, "Received Tuesday, December 22, at 10:05 AM.")
    assert len(pcm) > 8000 * 2  # more than a second of 8 kHz 16-bit speech
    assert not prompts.prompt_dir(settings.data_dir).exists()
    assert list(settings.data_dir.iterdir()) == []


def test_an_hd_message_plays_to_a_phone_at_its_length_and_pitch(tmp_path: Path) -> None:
    """Listening by phone (G.711, 8 kHz) to a 16 kHz G.722 message: read as 8 kHz audio of
    the same length, the tone at its pitch and level."""
    t = np.arange(16000) / 16000
    prompts.write_wav(
        tmp_path / "m.wav", (8000 * np.sin(2 * np.pi * 1000 * t)).astype("<i2").tobytes(), 16000
    )
    pcm = np.frombuffer(prompts.read_wav_pcm(tmp_path / "m.wav"), dtype="<i2").astype(float)
    assert len(pcm) == 8000
    middle = pcm[800:-800]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(8000 / np.sqrt(2), rel=0.02)
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    assert np.argmax(spectrum) * 8000 / len(middle) == pytest.approx(1000, abs=10)
