"""The portal's front: nginx between the network and gunicorn, so a slow client costs a
socket, never a worker thread.

Why: gunicorn's threaded worker gives a connection a thread from its first byte to its
last. Measured on this portal (stop 29's audit): 16 connections that each sent a header
line every 45 s held every thread for 100+ s, no account needed; 48 downloads a client
never read held them as well. nginx reads a request whole (headers within
:data:`CLIENT_TIMEOUT`, a body with no pause longer than it) before it passes it on, and
reads a response whole (to memory, then to a temp file) before a slow client drains it,
so gunicorn's threads only ever see complete requests and fast readers.

The arrangement (``portal_front``, on by default):

* gunicorn listens on a Unix socket in a private directory (mode 0700) made for this run:
  nothing but the front can reach it, so nothing can write the X-Forwarded-For it trusts.
* nginx listens on ``portal_host:portal_port`` and is started by gunicorn's master once its
  socket is bound (:func:`start_front`, from the ``when_ready`` hook); it dies with that
  master (``PR_SET_PDEATHSIG``) and, if it dies first, the master stops too
  (:func:`watch_front`): a portal nobody can reach must not look alive to ``make run``.
* the client's address reaches the app as X-Forwarded-For, which the front *replaces*
  (``$remote_addr``), so a header a client wrote is never believed; behind further proxies
  (``portal_proxy_hops`` > 0) it appends, and the app trusts one hop more
  (:func:`trusted_hops`). X-Forwarded-Proto likewise: the front's scheme, or the
  operator's proxy's.
* the private directory belongs to gunicorn's master: a worker that exits (a crash, a
  reload) leaves it and the front alone.
* nginx's workers run as the user that started the portal (as root too: the socket and
  temp directory are that user's alone). Run Switchboard as an unprivileged user on a
  server.

:func:`nginx_config` is pure (settings and paths in, text out), so its tests need no nginx.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from switchboard.processes import ServerProcess, proc_stat, tcp_accepts, wait_until
from switchboard.settings import Settings

log = logging.getLogger(__name__)

# Seconds a client may take to send its request headers, or pause inside a body, before
# the front closes the connection. A browser sends headers in one packet; a phone-line
# upload of a 10 MB greeting never pauses this long between two reads.
CLIENT_TIMEOUT = 10
# Seconds the front waits on gunicorn for a response: above gunicorn's own worker
# timeout (dash_app.app.gunicorn_options, 60 s), so gunicorn decides, not the front.
UPSTREAM_TIMEOUT = 90
# Connections the one nginx worker holds at once (idle keep-alives included).
WORKER_CONNECTIONS = 4096
# Connections with a request in progress from one address (an office behind one NAT
# counts as one: browsers open ~6 each, so this is ~40 busy users; limit_conn counts
# only connections whose headers are read, so a slow client is bounded by the timeout).
CONNECTIONS_PER_ADDRESS = 256


@dataclass(frozen=True)
class FrontPaths:
    """Where one run's front keeps its files (all inside one private directory)."""

    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "portal.sock"

    @property
    def config(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def pid(self) -> Path:
        return self.root / "nginx.pid"

    @property
    def temp(self) -> Path:
        return self.root / "temp"


def private_paths() -> FrontPaths:
    """A new private directory for one run (a Unix socket's path must stay under 108
    bytes, so not under a data directory of any depth)."""
    root = Path(tempfile.mkdtemp(prefix="switchboard-portal-"))
    os.chmod(root, 0o700)
    return FrontPaths(root)


def trusted_hops(settings: Settings) -> int:
    """How many X-Forwarded-For entries the app believes: the front's own, plus the
    proxies the operator says stand before it."""
    return settings.portal_proxy_hops + (1 if settings.portal_front else 0)


def gunicorn_bind(settings: Settings, paths: FrontPaths | None) -> str:
    """gunicorn's address: the private socket behind a front, else the portal's port."""
    if paths is not None:
        return f"unix:{paths.socket}"
    return f"{settings.portal_host}:{settings.portal_port}"


def _listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _quoted(value: str | Path) -> str:
    """A path as an nginx string: our own mkdtemp paths, but never let one end a directive."""
    text = str(value)
    if any(c in text for c in '"\\;{}\n\r') or not text.isprintable():
        raise ValueError(f"unusable path for nginx: {text!r}")
    return f'"{text}"'


def nginx_config(settings: Settings, paths: FrontPaths, *, as_root: bool) -> str:
    """The front's whole nginx configuration for ``settings`` (pure)."""
    forwarded = "$remote_addr" if settings.portal_proxy_hops == 0 else "$proxy_add_x_forwarded_for"
    # ProxyFix believes one X-Forwarded-Proto too: ours, or the operator's proxy's
    scheme = "$scheme" if settings.portal_proxy_hops == 0 else "$http_x_forwarded_proto"
    user = ""
    if as_root:
        # Workers would otherwise run as nobody, who cannot open the private socket.
        user = "user root root;\n"
    temp = paths.temp
    return f"""# Rendered by dash_app/front.py for one portal run; do not edit.
{user}worker_processes 1;
daemon off;
pid {_quoted(paths.pid)};
error_log stderr warn;

events {{
    worker_connections {WORKER_CONNECTIONS};
}}

http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {_quoted(temp / "body")};
    proxy_temp_path {_quoted(temp / "proxy")};
    fastcgi_temp_path {_quoted(temp / "fastcgi")};
    uwsgi_temp_path {_quoted(temp / "uwsgi")};
    scgi_temp_path {_quoted(temp / "scgi")};

    client_header_timeout {CLIENT_TIMEOUT}s;
    client_body_timeout {CLIENT_TIMEOUT}s;
    send_timeout 60s;
    keepalive_timeout 75s;
    reset_timedout_connection on;
    client_max_body_size {settings.portal_max_request_mb}m;
    limit_conn_zone $binary_remote_addr zone=per_address:1m;

    # No kept connections to gunicorn: nginx reuses its last idle one, so one worker took
    # most requests and queued them behind its GIL (50-user load test, Analytics p95 warm
    # 1.6 s against 0.65 s without the front); a new connection per request is accepted by
    # whichever worker is free.
    upstream portal {{
        server unix:{paths.socket};
    }}

    server {{
        listen {_listen_address(settings.portal_host, settings.portal_port)};
        limit_conn per_address {CONNECTIONS_PER_ADDRESS};

        location / {{
            proxy_pass http://portal;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For {forwarded};
            proxy_set_header X-Forwarded-Proto {scheme};
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_read_timeout {UPSTREAM_TIMEOUT}s;
            proxy_send_timeout {UPSTREAM_TIMEOUT}s;
        }}
    }}
}}
"""


def start_front(settings: Settings, paths: FrontPaths) -> ServerProcess:
    """Write the config and start nginx; return once it accepts on the portal's port."""
    paths.temp.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(nginx_config(settings, paths, as_root=os.geteuid() == 0))
    front = ServerProcess(
        "portal-front",
        # -e: the startup error log too, before the config's error_log applies
        [settings.portal_front_bin, "-e", "stderr", "-p", str(paths.root), "-c", str(paths.config)],
        ready=partial(tcp_accepts, settings.portal_host, settings.portal_port),
        inherit_output=True,
        start_timeout=15.0,
        # Out of the terminal's process group: Ctrl-C stops gunicorn, which stops the
        # front after its workers, instead of both racing to exit.
        new_session=True,
    )
    front.start()
    log.info(
        "portal front (nginx, user %s) on http://%s:%s",
        pwd.getpwuid(os.geteuid()).pw_name,
        settings.portal_host,
        settings.portal_port,
    )
    return front


def watch_front(front: ServerProcess, stopping: threading.Event) -> threading.Thread:
    """Stop this process (gunicorn's master) with SIGTERM if the front exits by itself.

    It polls rather than waits: gunicorn's master reaps any child that exits (its
    SIGCHLD handler waits on every pid), so a blocking wait here could be told nothing.
    """

    def watch() -> None:
        while not stopping.wait(0.5):
            code = front.exit_code
            if code is not None:
                log.error("portal front (nginx) exited with %s: stopping the portal", code)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=watch, name="portal-front-watch", daemon=True)
    thread.start()
    return thread


def _alive(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat.alive


def stop_front(front: ServerProcess, paths: FrontPaths) -> None:
    """Stop nginx, wait until it is gone, then remove the run's private directory.

    ``stop`` alone can return early: once gunicorn's master is exiting, the exit status
    of its children is no longer reliably ours to wait for, and nginx removes its pid
    file last.
    """
    pid = front.pid
    front.stop()
    if pid is not None:
        wait_until(lambda: not _alive(pid), 5.0, interval=0.05)
    remove_front_paths(paths)


def remove_front_paths(paths: FrontPaths) -> None:
    shutil.rmtree(paths.root, ignore_errors=True)
