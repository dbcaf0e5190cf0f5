"""The managed-process base every launcher shares: what its user sees when a child
dies at start, never becomes ready, ignores SIGTERM, or finds its port taken."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from kamailio.traffic import SippError, SippUAS, configured_ports, free_udp_port, scenario
from switchboard import processes
from switchboard.processes import ServerProcess
from switchboard.settings import load_settings


def test_a_child_that_dies_at_start_says_its_exit_code_and_log_tail(tmp_path: Path) -> None:
    child = ServerProcess(
        "demo",
        ["sh", "-c", "echo 'bind: Address already in use' >&2; exit 3"],
        ready=lambda: False,
        output=tmp_path / "demo.log",
    )
    with pytest.raises(RuntimeError, match="demo exited with 3:\nbind: Address already in use"):
        child.start()
    assert not child.running


def test_a_child_never_ready_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    child = ServerProcess("demo", ["sleep", "30"], ready=lambda: False, start_timeout=0.3)
    with pytest.raises(RuntimeError, match=r"demo not ready after 0\.3s"):
        child.start()
    assert child.pid is None and not child.running


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    trapped = tmp_path / "trapped"
    # SIG_IGN survives exec: the sleep itself ignores SIGTERM
    argv = ["sh", "-c", f"trap '' TERM; touch {trapped}; exec sleep 30"]
    child = ServerProcess("stubborn", argv, ready=trapped.exists).start()
    pid = child.pid
    assert pid is not None
    child.stop(timeout=0.3)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_sipp_phone_names_the_port_that_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        phone = SippUAS(scenario("uas_answer.xml"), port=port)
        with pytest.raises(SippError, match=f"UDP 127.0.0.1:{port} already in use"):
            phone.start()


def test_workers_draw_server_ports_from_disjoint_shares_and_never_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processes, "_share", processes.SERVER_PORTS)
    monkeypatch.setattr(processes, "_drawn", {})
    drawn = []
    for worker in range(3):
        processes.share_server_ports(worker, 3)
        drawn.append({processes.free_server_port() for _ in range(200)})
    assert all(len(ports) == 200 for ports in drawn)  # no port drawn twice by one worker
    assert not (drawn[0] & drawn[1] or drawn[0] & drawn[2] or drawn[1] & drawn[2])
    assert all(p in processes.SERVER_PORTS for ports in drawn for p in ports)
    with pytest.raises(ValueError, match="share 3 of 3"):
        processes.share_server_ports(3, 3)


def test_a_used_up_share_never_draws_its_latest_ports_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker draws more ports than its share holds; the ports of the settings being
    made (drawn last, not bound yet) must not come round again."""
    monkeypatch.setattr(processes, "_share", processes.SERVER_PORTS)
    monkeypatch.setattr(processes, "_drawn", {})
    # every port free: servers of tests running beside this one must not use the share up
    monkeypatch.setattr(processes, "address_in_use", lambda *_: False)
    processes.share_server_ports(0, 40)  # ~114 ports
    size = len(processes._share)
    drawn = [processes.free_server_port() for _ in range(size)]
    assert len(set(drawn)) == size  # every port once, then the share is used up
    latest = set(drawn[-(size // 2) :])
    again = [processes.free_server_port() for _ in range(size // 2)]
    assert not latest & set(again)


def test_a_sipp_client_never_draws_a_port_the_settings_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing binds the carrier's port in a demo: a SIPp client that drew it spoke "as
    the carrier", and Kamailio answered its REGISTER 405 (test_run, once in CI)."""
    monkeypatch.setattr(processes, "_share", processes.SERVER_PORTS)
    monkeypatch.setattr(processes, "_drawn", {})
    monkeypatch.setattr(processes, "address_in_use", lambda *_: False)
    processes.share_server_ports(0, 400)  # 12 ports
    share = list(processes._share)
    settings = load_settings(
        {"SWITCHBOARD_TRUNK_PORT": str(share[0]), "SWITCHBOARD_SIP_PORT": str(share[1])}
    )
    named = configured_ports(settings)
    assert {share[0], share[1]} <= named
    drawn = {free_udp_port(named) for _ in range(len(share) - 2)}
    assert drawn == set(share) - {share[0], share[1]}


def test_a_process_a_worker_starts_draws_from_the_share_set_aside_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``switchboard run`` under a test worker once drew, from the whole range, a port
    another worker had drawn for a SIPp client: children inherit a share of their own."""
    monkeypatch.setattr(processes, "_share", processes.SERVER_PORTS)
    monkeypatch.setattr(processes, "_drawn", {})
    processes._inherit_share({processes.PORT_SHARE_ENV: "3/4"})
    assert processes._share == processes.SERVER_PORTS[3::4]
    processes._inherit_share({processes.PORT_SHARE_ENV: "junk"})  # ignored
    assert processes._share == processes.SERVER_PORTS[3::4]
    # this test process set one aside for its own children: in the upper half, beyond
    # every worker's own share
    index, count = (int(n) for n in os.environ[processes.PORT_SHARE_ENV].split("/"))
    assert count // 2 <= index < count
