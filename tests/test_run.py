"""`make run`'s supervisor: every part starts (media server too), demo calls fill the lake,
Ctrl-C stops all."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from relay.launcher import wait_ready
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.media import media_answers_options

pytestmark = pytest.mark.kamailio


def _children_of(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True)
    return {int(p) for p, g in (line.split() for line in out.stdout.splitlines()) if int(g) == pid}


def test_run_starts_everything_and_ctrl_c_stops_it(settings: Settings) -> None:
    env = {
        **os.environ,
        "SWITCHBOARD_CONFIG": str(settings.data_dir / "none.toml"),
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir),
        "SWITCHBOARD_SIP_PORT": str(settings.sip_port),
        "SWITCHBOARD_RPC_PORT": str(settings.rpc_port),
        "SWITCHBOARD_MEDIA_PORT": str(settings.media_port),  # never make run's 5080
        "SWITCHBOARD_PORTAL_PORT": str(settings.portal_port),
        "SWITCHBOARD_TRUNK_PORT": str(settings.trunk_port),
        "SWITCHBOARD_RTPENGINE_NG_PORT": str(settings.rtpengine_ng_port),
        "SWITCHBOARD_RTPENGINE_PORT_MIN": str(settings.rtpengine_port_min),
        "SWITCHBOARD_RTPENGINE_PORT_MAX": str(settings.rtpengine_port_max),
        "SWITCHBOARD_KAMAILIO_CHILDREN": "2",
    }
    log = settings.data_dir.parent / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "run"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Switchboard is running." not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        text = log.read_text()
        assert f"http://127.0.0.1:{settings.portal_port}/login" in text
        assert "log in as 100@acme.example (manager)" in text
        login = urllib.request.urlopen(f"http://127.0.0.1:{settings.portal_port}/login").read()
        assert b"password" in login.lower()
        assert [u.extension for u in ProvisioningStore(settings.provisioning_db).users()] == [
            "100", "101", "102", "103", "104", "105"
        ]  # fmt: skip

        # the media server (voicemail) is a part too: it answers SIP OPTIONS on its port
        while not media_answers_options(settings.media_port):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        # rtpengine (the media relay) is a part too: it answers on its ng port
        assert wait_ready(settings, timeout=10), log.read_text()

        # the demo traffic's calls reach the lake through Kamailio and the worker. The count
        # is what the SIPp callers logged a final response for: once, on a loaded box, 28 of
        # the 30 (two no-answer calls) while Kamailio accounted all 30, so it is not pinned.
        calls_dir = Path(settings.lake_dir) / "calls" / "tenant=acme.example"
        placed = re.compile(r"placed (\d+) calls")
        while len(list(calls_dir.glob("date=*/*.parquet"))) == 0 or not placed.search(
            log.read_text()
        ):
            assert time.monotonic() < deadline + 60, log.read_text()
            time.sleep(0.5)
        found = placed.search(log.read_text())
        assert found is not None and int(found.group(1)) >= 1, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()
    time.sleep(0.5)
    assert _children_of(proc.pid) == set(), "a part outlived Ctrl-C"
    assert "stopping" in log.read_text()
