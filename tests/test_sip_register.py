"""REGISTER through a real Kamailio: digest auth against the provisioning DB."""

from __future__ import annotations

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.traffic import SippUAS, scenario
from switchboard.processes import proc_stat
from switchboard.settings import Settings
from tests.fixtures.sip import register_at

pytestmark = pytest.mark.kamailio


def test_register_with_the_sip_password_shows_the_contact(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone:
        result = register_at(s, "102@acme.example", phone)
    assert result.returncode == 0, result.errors
    assert result.log_lines and "registered 102@acme.example" in result.log_lines[-1]

    [registration] = kamailio.rpc.registrations("102", "acme.example")
    assert registration.contact == f"sip:102@127.0.0.1:{phone.port}"
    assert registration.user_agent == "SIPp switchboard"
    assert 500 < registration.expires_in <= 600
    # tenants are separate: the same extension elsewhere is not registered
    assert kamailio.rpc.registrations("102", "globex.example") == []


def test_wrong_password_is_refused(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_answer.xml")) as phone:
        result = register_at(s, "102@acme.example", phone, password="not-the-password")
    assert result.returncode != 0
    assert "403" in result.errors
    assert kamailio.rpc.registrations("102", "acme.example") == []


def test_a_second_kamailio_on_the_same_ports_is_refused_clearly(kamailio: KamailioProcess) -> None:
    from kamailio.launcher import KamailioStartError

    with pytest.raises(KamailioStartError, match=r"SIP UDP 127\.0\.0\.1:\d+, .* already in use"):
        KamailioProcess(kamailio.settings).start()
    assert kamailio.rpc.call("core.version")  # the first one is untouched


def test_kamailio_dies_with_a_killed_launcher(settings: Settings, directory: object) -> None:
    """A launcher killed with SIGKILL cannot stop Kamailio itself: the kernel does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\n"
        "from kamailio.launcher import KamailioProcess\n"
        "from tests.fixtures.core import make_settings\n"
        "from pathlib import Path\n"
        f"k = KamailioProcess(make_settings(Path({str(settings.data_dir)!r})))\n"
        "k.start(); print(k.pid, k.settings.sip_port, flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pid = int(child.stdout.readline().split()[0])
    os.kill(pid, 0)  # Kamailio runs
    child.send_signal(signal.SIGKILL)
    child.wait()
    # SIGTERM from the kernel; Kamailio then stops its children before it exits, which
    # took over 10 s once on a busy box (the suite's other worker at full load).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stat = proc_stat(pid)
        if stat is None or not stat.alive:  # gone, or exited and waiting for init to reap it
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("Kamailio outlived its launcher")
