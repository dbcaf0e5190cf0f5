"""Start rtpengine (userspace) in the foreground with options from settings.

rtpengine runs as a child process, never under systemd and never with the
Debian config file (``--config-file=none``): ``--table=-1`` (no kernel module,
which this machine cannot load), ``--recording-method=pcap`` into
``settings.recording_spool_dir`` (rtpengine makes ``pcaps/``, ``metadata/`` and
``tmp/`` there), ng control on ``127.0.0.1:<rtpengine_ng_port>`` (no
authentication, so loopback only), RTP on ``rtpengine_host`` between
``rtpengine_port_min`` and ``rtpengine_port_max``. Its log goes to
``<log_dir>/rtpengine.log``. It is ready when the ng port answers ``ping``.

Errors: ``RelayStartError`` (the process died or never became ready; the
message carries the tail of its log).
"""

from __future__ import annotations

import logging
from pathlib import Path

from relay.ng import NGClient, NGError
from switchboard.processes import ManagedProcess, wait_until
from switchboard.settings import Settings

log = logging.getLogger(__name__)


class RelayStartError(RuntimeError):
    """rtpengine exited or did not become ready; the message holds its log tail."""


def ng_client(settings: Settings, timeout: float = 1.0) -> NGClient:
    """A client for this instance's rtpengine control port."""
    return NGClient("127.0.0.1", settings.rtpengine_ng_port, timeout=timeout)


def relay_run_dir(settings: Settings) -> Path:
    return settings.run_dir / "rtpengine"


def command(settings: Settings) -> list[str]:
    """The rtpengine command line (foreground, userspace, pcap recording, log to stderr)."""
    if settings.rtpengine_port_max <= settings.rtpengine_port_min:
        raise RelayStartError(
            f"rtpengine_port_max {settings.rtpengine_port_max} must be above"
            f" rtpengine_port_min {settings.rtpengine_port_min}"
        )
    return [
        settings.rtpengine_bin,
        "--config-file=none",
        "--foreground",
        "--log-stderr",
        "--no-log-timestamps",
        "--log-level=5",
        "--table=-1",
        f"--interface={settings.rtpengine_host}",
        f"--listen-ng=127.0.0.1:{settings.rtpengine_ng_port}",
        f"--port-min={settings.rtpengine_port_min}",
        f"--port-max={settings.rtpengine_port_max}",
        f"--num-threads={max(1, settings.rtpengine_threads)}",
        f"--recording-dir={settings.recording_spool_dir.resolve()}",
        "--recording-method=pcap",
        # a call's files are closed (and its metadata written) as soon as it is deleted
        "--delete-delay=0",
        # a side that stops sending for this long ends its call (phones that vanished)
        "--timeout=60",
        f"--pidfile={(relay_run_dir(settings) / 'rtpengine.pid').resolve()}",
    ]


class RelayProcess(ManagedProcess):
    """One rtpengine child process; a context manager that starts and stops it."""

    start_error = RelayStartError
    tail_lines = 30
    ready_interval = 0.01  # rtpengine loads in ~0.2 s

    def __init__(self, settings: Settings, start_timeout: float = 10.0) -> None:
        self.settings = settings
        self.log_path = settings.log_dir / "rtpengine.log"
        self.ng = ng_client(settings, timeout=0.2)
        super().__init__("rtpengine", self.log_path, start_timeout)

    def start(self, wait: bool = True) -> None:
        """Start rtpengine; with ``wait``, return once its ng port answers ``ping``.

        ``wait=False`` lets a caller start Kamailio meanwhile (rtpengine loads in
        ~0.2 s) and call :meth:`wait_ready` later.
        """
        if self.running:
            return
        if _answers(self.ng):
            raise RelayStartError(
                f"cannot start rtpengine: ng port 127.0.0.1:{self.settings.rtpengine_ng_port}"
                " already answers (another rtpengine or `make run`?)"
            )
        argv = command(self.settings)
        relay_run_dir(self.settings).mkdir(parents=True, exist_ok=True)
        self.settings.recording_spool_dir.mkdir(parents=True, exist_ok=True)
        self.spawn(argv, cwd=relay_run_dir(self.settings), output=self.log_path, new_session=True)
        if wait:
            self.wait_ready()

    def ready(self) -> bool:
        """The ng port answers ``ping``."""
        return _answers(self.ng)


def _answers(client: NGClient) -> bool:
    try:
        return client.ping()
    except NGError:
        return False


def run_foreground(settings: Settings) -> int:
    """Run rtpengine until it exits or we are interrupted; return its exit code."""
    relay = RelayProcess(settings)
    relay.start()
    try:
        return relay.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        relay.stop()


def wait_ready(settings: Settings, timeout: float = 10.0) -> bool:
    """True once rtpengine answers ``ping`` on its ng port (within ``timeout`` s)."""
    client = ng_client(settings, timeout=0.2)
    return wait_until(lambda: _answers(client), timeout)
