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
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from relay.ng import NGClient, NGError
from switchboard.processes import die_with_parent
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


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class RelayProcess:
    """One rtpengine child process; a context manager that starts and stops it."""

    def __init__(self, settings: Settings, start_timeout: float = 10.0) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self.log_path = settings.log_dir / "rtpengine.log"
        self.ng = ng_client(settings, timeout=0.2)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, wait: bool = True) -> None:
        """Start rtpengine; with ``wait``, return once its ng port answers ``ping``.

        ``wait=False`` lets a caller start Kamailio meanwhile (rtpengine loads in
        ~0.2 s) and call :meth:`wait_ready` later.
        """
        if self.running:
            return
        if self._answers():
            raise RelayStartError(
                f"cannot start rtpengine: ng port 127.0.0.1:{self.settings.rtpengine_ng_port}"
                " already answers (another rtpengine or `make run`?)"
            )
        argv = command(self.settings)
        relay_run_dir(self.settings).mkdir(parents=True, exist_ok=True)
        self.settings.recording_spool_dir.mkdir(parents=True, exist_ok=True)
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                argv,
                cwd=relay_run_dir(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the started rtpengine answers ``ping`` (``RelayStartError`` if it dies)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None:
                raise RelayStartError("rtpengine is not running")
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise RelayStartError(f"rtpengine exited with {code}:\n{_log_tail(self.log_path)}")
            if self._answers():
                log.info("rtpengine %s ready on ng %s", self.pid, self.settings.rtpengine_ng_port)
                return
            time.sleep(0.01)
        self.stop()
        raise RelayStartError(
            f"rtpengine not ready after {self.start_timeout}s:\n{_log_tail(self.log_path)}"
        )

    def _answers(self) -> bool:
        try:
            return self.ng.ping()
        except NGError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (rtpengine closes its recordings), then SIGKILL after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("rtpengine %s ignored SIGTERM; killing", proc.pid)
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL at once (tests: rtpengine dies under live calls)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def wait(self) -> int:
        """Block until rtpengine exits; return its exit code."""
        if self._proc is None:
            raise RelayStartError("rtpengine is not running")
        return self._proc.wait()

    def __enter__(self) -> RelayProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return True
        except NGError:
            time.sleep(0.1)
    return False
