"""The portal's front (dash_app/front.py): nginx between the network and gunicorn.

What a user would see: a client that sends its request a byte at a time cannot keep
anyone else from the portal; an address a client writes in X-Forwarded-For is not the
address the login limits count; if the front dies, the portal stops (``make run`` then
stops everything) instead of running unreachable. The same slow clients against gunicorn
alone (``portal_front = false``) do hold every thread: the reason the front exists.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import pytest

from dash_app.front import FrontPaths, nginx_config
from switchboard.processes import proc_stats
from switchboard.settings import Settings
from tests.fixtures.core import Directory, seeded_settings
from tests.fixtures.portal import PortalServer, start_portal, stop_portal

NGINX = "/usr/sbin/nginx"
SLOW_CLIENTS = 6  # three times the portal's threads below


def _portal(tmp_path: Path, **overrides: object) -> Iterator[PortalServer]:
    # one worker of two threads: two stuck requests would be all of it
    settings = seeded_settings(tmp_path / "data", portal_workers=1, portal_threads=2, **overrides)
    server = start_portal(settings)
    yield server
    stop_portal(server)


@pytest.fixture
def fronted(tmp_path: Path) -> Iterator[PortalServer]:
    yield from _portal(tmp_path, login_max_attempts=3)


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[PortalServer]:
    yield from _portal(tmp_path, portal_front=False)


def _slow_clients(settings: Settings, count: int, stack: ExitStack) -> list[socket.socket]:
    """``count`` connections that have sent a request line and one header, and go on
    sending a header line now and then (never the blank line that ends them)."""
    sockets = []
    for _ in range(count):
        s = stack.enter_context(
            socket.create_connection((settings.portal_host, settings.portal_port))
        )
        s.sendall(b"GET /login HTTP/1.1\r\nHost: portal\r\n")
        sockets.append(s)
    return sockets


def _trickle(sockets: list[socket.socket], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for s in sockets:
            # the front hangs up on it after its timeout: what it should do
            with suppress(OSError):
                s.sendall(b"X-Slow: 1\r\n")
        time.sleep(1.0)


def _login_page_seconds(url: str) -> float:
    started = time.monotonic()
    response = httpx.get(f"{url}/login", timeout=30.0)
    assert response.status_code == 200
    return time.monotonic() - started


def test_slow_clients_do_not_keep_others_out(fronted: PortalServer) -> None:
    with ExitStack() as stack:
        slow = _slow_clients(fronted.settings, SLOW_CLIENTS, stack)
        _trickle(slow, 2.0)  # gunicorn alone has handed them its threads by now
        seconds = _login_page_seconds(fronted.url)
    assert seconds < 3.0, f"the login page took {seconds:.1f} s behind {SLOW_CLIENTS} slow clients"


def test_without_the_front_slow_clients_hold_every_thread(bare: PortalServer) -> None:
    """Why the front is on by default: the same clients against gunicorn alone."""
    with ExitStack() as stack:
        slow = _slow_clients(bare.settings, SLOW_CLIENTS, stack)
        _trickle(slow, 2.0)
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{bare.url}/login", timeout=4.0)


def _login(client: httpx.Client, url: str, password: str, forwarded_for: str) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for}
    form = client.get(f"{url}/login", headers=headers).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, form
    data = {"login": "101@acme.example", "password": password, "csrf_token": token.group(1)}
    return client.post(f"{url}/login", data=data, headers=headers)


def test_an_address_the_client_writes_is_not_the_address_counted(fronted: PortalServer) -> None:
    with httpx.Client(timeout=30.0) as client:
        for i in range(3):  # each "from" a new address: all from this one all the same
            assert _login(client, fronted.url, "guess", f"198.51.100.{i}").status_code == 401
        refused = _login(client, fronted.url, Directory.PASSWORD, "198.51.100.99")
    assert refused.status_code == 401
    assert "Too many failed attempts" in refused.text


def _front_of(portal: PortalServer) -> tuple[int, Path]:
    """(pid, private directory) of the nginx master the portal's gunicorn started."""
    for stat in proc_stats():
        if stat.ppid != portal.process.pid:
            continue
        # nginx rewrites its title: "nginx: master process /usr/sbin/nginx -e ..."
        title = _title(stat.pid).replace(b"\0", b" ").decode()
        prefix = re.search(r" -p (\S+)", title)
        if title.startswith("nginx") and prefix:
            return stat.pid, Path(prefix[1])
    raise AssertionError(f"no nginx under the portal:\n{portal.log()}")


def test_a_dead_front_stops_the_portal(fronted: PortalServer) -> None:
    pid, root = _front_of(fronted)
    assert (root / "portal.sock").is_socket()
    os.kill(pid, signal.SIGKILL)
    assert fronted.process.wait(timeout=20) is not None
    assert not root.exists(), "the run's private directory (socket, config) was left behind"


@pytest.mark.parametrize("hops", [0, 2])
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_nginx_accepts_the_rendered_config(tmp_path: Path, hops: int, host: str) -> None:
    settings = seeded_settings(tmp_path / "data", portal_proxy_hops=hops, portal_host=host)
    paths = FrontPaths(tmp_path / "front")
    (paths.temp).mkdir(parents=True)
    paths.config.write_text(nginx_config(settings, paths, as_root=False))
    checked = subprocess.run(
        [NGINX, "-t", "-e", "stderr", "-p", str(paths.root), "-c", str(paths.config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    expected = "$remote_addr" if hops == 0 else "$proxy_add_x_forwarded_for"
    assert f"X-Forwarded-For {expected};" in paths.config.read_text()
    scheme = "$scheme" if hops == 0 else "$http_x_forwarded_proto"
    assert f"X-Forwarded-Proto {scheme};" in paths.config.read_text()


def test_a_path_that_would_end_a_directive_is_refused(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path / "data")
    with pytest.raises(ValueError, match="unusable path"):
        nginx_config(settings, FrontPaths(tmp_path / 'x"; include /etc/passwd;'), as_root=False)


@pytest.mark.parametrize("how", ["reload", "worker-exit"])
def test_a_worker_that_exits_leaves_the_front_connected(fronted: PortalServer, how: str) -> None:
    """A reload (SIGHUP) replaces every worker, a crash one: each exiting worker once ran
    the master's clean-up and removed the socket, and nginx answered 502 from then on."""
    _, root = _front_of(fronted)
    workers = [
        stat.pid
        for stat in proc_stats()
        if stat.ppid == fronted.process.pid and b"nginx" not in _title(stat.pid)
    ]
    assert workers, fronted.log()
    if how == "reload":
        os.kill(fronted.process.pid, signal.SIGHUP)
    else:
        os.kill(workers[0], signal.SIGTERM)
    # An exiting worker's clean-up waited 5 s on nginx (not its child) after its own
    # graceful stop, then removed the directory: nginx's kept connections hid it a while.
    deadline = time.monotonic() + 12.0
    while time.monotonic() < deadline:
        assert (root / "portal.sock").is_socket(), "the socket was removed"
        time.sleep(0.5)
    assert httpx.get(f"{fronted.url}/login", timeout=30.0).status_code == 200


def _title(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
