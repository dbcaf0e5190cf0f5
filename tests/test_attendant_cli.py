"""Auto attendants, announcements and hold music from the command line (parity with the page).

A manager builds the day menu and a holiday announcement, routes the demo
main number to the menu, and asks where a caller pressing keys goes — at a
given time, through the main number's route. Refusals come back as the
store's sentences with exit code 2.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from cli import main as cli
from switchboard.demo import DEMO_MAIN_NUMBER
from switchboard.settings import Settings

SB = ["--tenant", "acme.example"]


def test_a_manager_builds_a_menu_and_simulates_it(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["demo", "seed"]) == 0
    add = ["attendant", "add", *SB]
    day = ["Day", "--greeting-text", "Press 1 for Bob.", "--key", "1=extension:102"]
    assert cli.main([*add, *day, "--repeats", "1", "--invalid", "voicemail:100"]) == 0
    assert "auto attendant 1 'Day' added" in capsys.readouterr().out
    assert cli.main(["announcement", "add", *SB, "Closed", "--text", "We are closed.",
                     "--then", "attendant:1"]) == 0  # fmt: skip
    assert cli.main(["attendant", "edit", "1", *SB, "--key", "0=announcement:1"]) == 2
    assert "menu loop: " in capsys.readouterr().err
    assert cli.main(["attendant", "edit", "1", *SB, "--key", "9=dial_by_extension"]) == 0
    assert cli.main([*add, "Bad", "--greeting-text", "x", "--key", "1=extension:999"]) == 2
    assert "key 1: extension 999 does not exist" in capsys.readouterr().err
    assert cli.main([*add, "Q", "--greeting-text", "x", "--key", "1=queue:1"]) == 2
    assert "key 1: queue 1 does not exist" in capsys.readouterr().err
    assert cli.main(["attendant", "show", "1", *SB]) == 0
    shown = capsys.readouterr().out
    assert "1: extension 102" in shown and "9: dial by extension" in shown

    sim = ["attendant", "simulate", *SB]
    assert cli.main([*sim, "1", "--keys", "1"]) == 0
    assert capsys.readouterr().out.strip() == "Day → 1 → extension 102"
    assert cli.main([*sim, "1", "--keys", "7,7"]) == 0
    assert capsys.readouterr().out.strip().endswith("→ voicemail of 100")
    assert cli.main([*sim, "1", "--keys", "9,103"]) == 0
    assert capsys.readouterr().out.strip().endswith("dials 103 → extension 103")

    # the main number's open-hours route goes to the menu: simulate from the number at a time
    number = DEMO_MAIN_NUMBER
    assert cli.main(["did", "route", number, "Open menu", "--priority", "0",
                     "--frame", "Open Hours", "--to", "auto_attendant:1"]) == 0  # fmt: skip
    capsys.readouterr()
    at_ten = ["--did", number, "--at", "2026-12-22T10:00", "--keys", "1"]
    assert cli.main([*sim, *at_ten]) == 0
    out = capsys.readouterr().out
    assert "'Open menu'" in out and "Day → 1 → extension 102" in out
    assert cli.main([*sim, "--did", number, "--at", "2026-12-24T20:00", "--keys", "1"]) == 0
    out = capsys.readouterr().out
    assert "'Holidays'" in out and "Day" not in out

    assert cli.main(["attendant", "remove", "1", *SB]) == 2
    err = capsys.readouterr().err
    assert 'announcement "Closed"' in err and f"main number {number} route" in err


def test_hold_music_library(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["demo", "seed"]) == 0
    track = tmp_path / "jazz.wav"
    with wave.open(str(track), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(32000))
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("hello")
    hold = ["holdmusic"]
    assert cli.main([*hold, "add", "Jazz", *SB, "--file", str(track)]) == 0
    assert cli.main([*hold, "add", "Notes", *SB, "--file", str(not_audio)]) == 2
    assert (
        "Hold music must be an MP3 or WAV audio file; notes.wav is not" in capsys.readouterr().err
    )
    assert cli.main([*hold, "add", "Calm", *SB, "--file", str(track), "--default"]) == 0
    capsys.readouterr()
    assert cli.main([*hold, "list", *SB]) == 0
    assert capsys.readouterr().out.splitlines() == ["2\tCalm\tdefault", "1\tJazz"]
    assert cli.main([*hold, "default", "1", *SB]) == 0
    assert cli.main([*hold, "remove", "2", *SB]) == 0
    assert cli.main([*hold, "default", "2", *SB]) == 2
