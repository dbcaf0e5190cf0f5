"""Child processes that never outlive the Python process that started them.

``ManagedProcess`` is the one shape every launcher shares (Kamailio,
rtpengine, SIPp phones, the benchmarks' servers): spawn with
:func:`die_with_parent`, wait until a readiness check passes, stop with
SIGTERM then SIGKILL, and a context manager around start and stop. A
subclass writes only its ``start`` (what to run, how to tell it is ready)
and names its error class: a child that dies or never becomes ready raises
that error with the tail of the child's log. ``wait_until`` is the poll loop
for everything else that waits on a condition.
"""

from __future__ import annotations

import ctypes
import logging
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar, Self

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: Linux sends the child SIGTERM when its parent dies.

    A killed launcher would otherwise leave Kamailio holding the SIP port, or a
    SIPp phone answering calls. libc is looked up here, in the parent: the hook
    itself makes a single call between fork and exec.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` every ``interval`` s: True once it holds, False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def address_in_use(kind: int, host: str, port: int) -> bool:
    """Whether something already holds ``host:port`` (``kind``: SOCK_STREAM or SOCK_DGRAM).

    TCP probes bind as servers do (SO_REUSEADDR): a port in TIME_WAIT is free,
    a listener is not. UDP probes do not, or they could share the holder's port.
    """
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


# The ports tests and benchmarks give the servers they start: above Linux's ephemeral range
# (32768-60999: the kernel gives those to every socket bound to port 0, a client's too) and
# above the RTP windows (benchmarks.testbed.RTP_WINDOWS). Drawn from the ephemeral range,
# a port chosen for rtpengine's control socket was once taken by another test's client
# socket before rtpengine bound it (three xdist workers on one box).
SERVER_PORTS = range(61000, 65536)

# A port is free when drawn and taken only when its server binds it, a second or more later
# (Kamailio, rtpengine). Two processes drawing from one range can draw the same port in
# that gap: Kamailio then failed with "Address already in use" (CI, three xdist workers).
# So each process that draws at once with others takes its own share (share_server_ports),
# and no process draws a port twice while another is left (its last server may still hold it).
# A test worker draws more ports than its share holds (7 per test's settings), so once the
# share is used up the oldest half of the draws are freed, never the latest: forgetting
# every draw let the ports of the settings being made be drawn again before their servers
# bound them (Kamailio: "Address already in use" on its own SIP port's twin).
# A process a test worker starts (``switchboard run``, whose demo traffic draws SIPp's
# ports) draws beside its parent and the other workers: drawing from the whole range, it
# once took a port another worker had drawn for a SIPp client ("Unable to bind main
# socket"). So a worker sets aside a second share for its children, named in the
# environment they inherit (:data:`PORT_SHARE_ENV`, "<index>/<count>"). Not a setting:
# only tests start processes side by side.
PORT_SHARE_ENV = "SWITCHBOARD_PORT_SHARE"
_share: range = SERVER_PORTS
_drawn: dict[int, None] = {}  # in the order drawn
_drawing = threading.Lock()  # demo traffic draws from several threads at once


def share_server_ports(index: int, count: int) -> None:
    """Draw only from share ``index`` of ``count`` disjoint shares of :data:`SERVER_PORTS`,
    for one of ``count`` processes (test workers) starting servers side by side."""
    global _share
    if not 0 <= index < count:
        raise ValueError(f"share {index} of {count} does not exist")
    _share = SERVER_PORTS[index::count]
    _drawn.clear()


def _inherit_share(environ: Mapping[str, str]) -> None:
    index, _, count = environ.get(PORT_SHARE_ENV, "").partition("/")
    if index.isdigit() and count.isdigit():
        share_server_ports(int(index), int(count))


_inherit_share(os.environ)


def free_server_port() -> int:
    """A port of this process's share of :data:`SERVER_PORTS`, free on loopback for both
    UDP and TCP right now, and not among this process's latest half of its share's draws."""
    pick = random.SystemRandom()
    while True:
        with _drawing:  # two threads must not pick one port from the same list
            fresh = [p for p in _share if p not in _drawn]
            if not fresh:
                for old in list(_drawn)[: len(_drawn) // 2]:
                    del _drawn[old]
                continue
            port = pick.choice(fresh)
            _drawn[port] = None
        if not any(address_in_use(k, "127.0.0.1", port) for k in _KINDS):
            return port


_KINDS = (socket.SOCK_DGRAM, socket.SOCK_STREAM)


def udp_bound(host: str, port: int) -> bool:
    """Whether a socket holds UDP ``host:port`` (a SIP server is listening), read from the
    kernel's table: a probe that binds could take the port from the very server it waits
    for, which then fails to start."""
    (address,) = struct.unpack("<I", socket.inet_aton(host))
    wanted = {f"{address:08X}:{port:04X}", f"00000000:{port:04X}"}
    try:
        with open("/proc/net/udp") as table:
            return any(line.split()[1] in wanted for line in list(table)[1:])
    except OSError:  # no procfs: the probe that binds, as before
        return address_in_use(socket.SOCK_DGRAM, host, port)


def tcp_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port`` now (a server is up).

    Connects rather than binds: a probe that binds could take the port from the
    server it waits for.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class ProcStat:
    """What we read of a process's ``/proc/<pid>/stat`` line."""

    pid: int
    state: str  # "Z": exited, waiting to be reaped
    ppid: int
    session: int
    cpu_seconds: float  # utime + stime

    @property
    def alive(self) -> bool:
        return self.state != "Z"


def proc_stat(pid: int | str) -> ProcStat | None:
    """``/proc/<pid>/stat`` of ``pid``; None when there is no such process.

    The fields are counted after the last ")": the command name in "(comm)" may hold
    spaces and parentheses of its own.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    cpu_seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return ProcStat(int(pid), fields[0], int(fields[1]), int(fields[3]), cpu_seconds)


def proc_stats() -> Iterator[ProcStat]:
    """Every process's :func:`proc_stat` (those that exit meanwhile are left out)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(entry)) is not None:
            yield stat


def log_tail(path: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a child's log, for an error message."""
    if path is None:
        return "(no log)"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ManagedProcess:
    """One child process: spawn, wait until ready, stop; a context manager around start/stop.

    ``name`` heads every message ("kamailio exited with 255: ..."); ``error_log``
    is the file whose tail explains a failure. Subclasses set ``start_error``,
    write ``ready`` and write ``start`` from :meth:`spawn` and :meth:`wait_ready`.
    """

    start_error: ClassVar[type[Exception]] = RuntimeError
    tail_lines: ClassVar[int] = 40
    ready_interval: ClassVar[float] = 0.1  # seconds between readiness checks

    def __init__(
        self, name: str, error_log: Path | None = None, start_timeout: float = 10.0
    ) -> None:
        self.name = name
        self.error_log = error_log
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The child's exit code once it has exited by itself; None while it runs
        (or after :meth:`stop`)."""
        return None if self._proc is None else self._proc.poll()

    def start(self) -> object:
        """Start the child and return once it is ready (each subclass says how)."""
        raise NotImplementedError

    def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        output: Path | None = None,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
        inherit_output: bool = False,
    ) -> None:
        """Run ``argv``; stdout and stderr append to ``output`` (else are discarded, or
        with ``inherit_output`` go to this process's own: ``make run``'s terminal).

        ``new_session`` puts the child and its own children in a session of
        their own: a terminal's Ctrl-C reaches only the launcher, which stops
        them in order, and the benchmarks sum CPU over the session.
        """
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
        sink: AbstractContextManager[IO[bytes] | int | None]
        if output is not None:
            sink = output.open("ab")
        else:
            sink = nullcontext(None if inherit_output else subprocess.DEVNULL)
        with sink as out:
            self._proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if output is not None else out,
                start_new_session=new_session,
                preexec_fn=die_with_parent(),
            )

    def ready(self) -> bool:
        """Whether the started child serves yet (a subclass asks its port)."""
        return True

    def wait_ready(self) -> None:
        """Return once :meth:`ready` holds; ``start_error`` (with the log tail) if the child
        exits first or ``start_timeout`` s pass (then it is stopped)."""

        def alive_and_ready() -> bool:
            if self._proc is None:
                raise self.start_error(f"{self.name} is not running")
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise self.start_error(f"{self.name} exited with {code}:\n{self._tail()}")
            return self.ready()

        if wait_until(alive_and_ready, self.start_timeout, self.ready_interval):
            log.info("%s %s ready", self.name, self.pid)
            return
        self.stop()
        raise self.start_error(
            f"{self.name} not ready after {self.start_timeout}s:\n{self._tail()}"
        )

    def _tail(self) -> str:
        return log_tail(self.error_log, self.tail_lines)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (the child closes its files), then SIGKILL if still alive after ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s %s ignored SIGTERM; killing", self.name, proc.pid)
            proc.kill()
            proc.wait(timeout)

    def terminate(self) -> None:
        """SIGTERM without waiting: a supervisor signals every child first, then
        :meth:`stop` waits on each, so they shut down side by side."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL at once (tests: a part dies under live calls)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the child itself has used so far (benchmarks)."""
        if self._proc is None:
            raise self.start_error(f"{self.name} is not running")
        stat = proc_stat(self._proc.pid)
        if stat is None:
            raise self.start_error(f"{self.name} is not running")
        return stat.cpu_seconds

    def wait(self) -> int:
        """Block until the child exits; return its exit code."""
        if self._proc is None:
            raise self.start_error(f"{self.name} is not running")
        return self._proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServerProcess(ManagedProcess):
    """A command run as a managed child, ready once ``ready()`` holds.

    For servers with no launcher of their own (the parts ``switchboard run``
    supervises, the benchmarks' media servers, the portal under load):
    ``ServerProcess("media", argv, ready=...)``.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready: Callable[[], bool],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        output: Path | None = None,
        inherit_output: bool = False,
        start_timeout: float = 60.0,
        new_session: bool = False,
    ) -> None:
        super().__init__(name, output, start_timeout)
        self.argv = list(argv)
        self.cwd = cwd or Path.cwd()
        self.env = env
        self.inherit_output = inherit_output
        self.new_session = new_session
        self._ready = ready

    def start(self, wait: bool = True) -> Self:
        """Spawn; with ``wait``, return once ready (``wait=False``: start several, then
        :meth:`wait_ready` on each)."""
        if not self.running:
            self.spawn(
                self.argv,
                cwd=self.cwd,
                output=self.error_log,
                env=self.env,
                inherit_output=self.inherit_output,
                new_session=self.new_session,
            )
            if wait:
                self.wait_ready()
        return self

    def ready(self) -> bool:
        return self._ready()
