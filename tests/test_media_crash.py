"""kill -9 of the media server mid-recording: what was recorded is kept, flagged as cut off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from media import prompts
from switchboard.settings import Settings
from tests.fixtures.media import (
    SENTENCE,
    Caller,
    RtpPlan,
    g711,
    media_answers_options,
    speech_wav,
    wait_spool_messages,
)
from tests.fixtures.media import wav_pcm as read_pcm

pytestmark = pytest.mark.media


def start_media_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """``python -m media`` on the test's settings, returned once it answers OPTIONS."""
    env = {
        **os.environ,
        "SWITCHBOARD_CONFIG": str(settings.data_dir / "none.toml"),
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_MEDIA_PORT": str(settings.media_port),
        # the media server answers only Kamailio's address, where the test's caller sends from
        "SWITCHBOARD_SIP_PORT": str(settings.sip_port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "media"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while not media_answers_options(settings.media_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"media server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


def test_kill_9_mid_recording_keeps_a_cut_off_message(
    settings: Settings, media_audio_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "media.log"
    proc = start_media_process(settings, log)
    try:
        source = read_pcm(speech_wav(media_audio_dir, SENTENCE))
        greeting = prompts.prompt_pcm(settings.data_dir, "greeting_unavailable")
        caller = Caller(
            settings, "vm-acme.example-102", tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
            wait_ms=int(len(greeting) / 16 + 400 + 300), timeout=20,
        )  # fmt: skip
        call = threading.Thread(target=caller.run, daemon=True)
        call.start()
        box = settings.spool_dir / "voicemail/acme.example/102"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = list(box.glob("*.part"))
            if parts and parts[0].stat().st_size >= 2 * 8000 * 2:  # 2 s recorded
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"no recording in progress: {log.read_text()[-2000:]}")
        recorded_before_kill = parts[0].stat().st_size / 16000
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert list(box.glob("*.part")) and not list(box.glob("vm-*[0-9a-f].json"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    restarted = start_media_process(settings, log)
    try:
        [meta] = wait_spool_messages(settings, 1, timeout=5)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(15)
    assert (meta["cut_off"], meta["end_reason"], meta["discarded"]) == (True, "crash", False)
    assert (meta["caller"], meta["codec"], meta["call_id"]) == ("101", "PCMU", meta["call_id"])
    assert meta["duration"] >= recorded_before_kill
    assert meta["duration"] < len(source) / 8000
    wav = read_pcm(box / f"{meta['message_id']}.wav")
    assert len(wav) / 8000 == pytest.approx(meta["duration"], abs=0.001)
    assert not list(box.glob("*.part*"))
