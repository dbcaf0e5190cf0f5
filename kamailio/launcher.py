"""Start Kamailio in the foreground with a config rendered from settings.

Kamailio runs as a child process (``-DD -E``: no daemon, log to stderr,
which goes to ``<log_dir>/kamailio.log``), never under systemd, with its own
run dir ``<run_dir>/kamailio`` holding the rendered ``kamailio-local.cfg``,
the pid file and the control socket. It is ready when both JSON-RPC answers
``core.version`` and the SIP port accepts TCP connections.

Errors: ``KamailioStartError`` (the process died or never became ready; the
message carries the tail of its log).
"""

from __future__ import annotations

import logging
import re
import socket
import sqlite3
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from string import Template

from kamailio.rpc import KamailioRPC, RPCError, RPCFault
from kamailio.rules_push import RulesScheduler
from kamailio.tls_cert import ensure_certificate, tls_paths
from switchboard.acc_spool import ACC_COLUMNS, ACC_TABLE, WRITTEN_COLUMNS
from switchboard.processes import ManagedProcess, address_in_use, tcp_accepts
from switchboard.settings import Settings
from switchboard.sip_trust import media_secret

log = logging.getLogger(__name__)

LOCAL_CFG = "kamailio-local.cfg"
DISPATCHER_LIST = "dispatcher.list"


class KamailioStartError(RuntimeError):
    """Kamailio exited or did not become ready; the message holds its log tail."""


def config_path() -> Path:
    """The routing config shipped in this package (it includes its parts beside it)."""
    return Path(str(resources.files("kamailio").joinpath("kamailio.cfg")))


INCLUDE = re.compile(r'^include_file "([^"/]+)"$', re.MULTILINE)


def config_text() -> str:
    """The routing config with each part in place of its ``include_file``, as Kamailio reads it.

    Routes live in parts by concern (kamailio-*.cfg); checks of a route's text read it here,
    wherever its part is.
    """
    package = resources.files("kamailio")
    return INCLUDE.sub(
        lambda include: package.joinpath(include[1]).read_text(),
        config_path().read_text(),
    )


def sqlite_url(path: Path) -> str:
    """db_sqlite URL of an absolute path: four slashes (``sqlite:////abs``)."""
    return "sqlite:///" + str(path.resolve())


def uri_hostport(uri: str) -> str:
    """``host:port;params`` of a SIP URI (Kamailio puts the target's user in front)."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    return rest.rsplit("@", 1)[-1]


def cfg_string(value: str) -> str:
    """``value`` inside a double-quoted Kamailio cfg string (a regex keeps its meaning)."""
    if "\n" in value or '"' in value:
        raise ValueError(f"not allowed in a Kamailio cfg string: {value!r}")
    return value


def kamailio_run_dir(settings: Settings) -> Path:
    return settings.run_dir / "kamailio"


def render_local_cfg(settings: Settings) -> str:
    """The site include (listen sockets, DB URLs, timers) for these settings."""
    template = Template(resources.files("kamailio").joinpath("local.cfg.tmpl").read_text())
    return template.substitute(
        sip_host=settings.sip_host,
        sip_port=settings.sip_port,
        rpc_port=settings.rpc_port,
        provisioning_url=sqlite_url(settings.provisioning_db),
        acc_url=sqlite_url(settings.acc_db),
        ring_timeout_ms=int(settings.ring_timeout * 1000),
        children=settings.kamailio_children,
        trunk_host=settings.trunk_host,
        trunk_port=settings.trunk_port,
        voicemail_hostport=uri_hostport(settings.effective_voicemail_uri),
        media_hostport=f"{settings.media_host}:{settings.media_port}",
        media_host=settings.media_host,
        media_port=settings.media_port,
        media_workers=max(1, settings.media_workers),
        dispatcher_list=str((kamailio_run_dir(settings) / DISPATCHER_LIST).resolve()),
        media_secret=media_secret(settings),
        sip_tls_port=settings.sip_tls_port,
        tls_cert=tls_paths(settings)[0],
        tls_key=tls_paths(settings)[1],
        flood_window=int(settings.sip_flood_window_seconds),
        flood_max=int(settings.sip_flood_max_requests),
        auth_failures_max=int(settings.sip_auth_failures_max),
        auth_failure_window=int(settings.sip_auth_failure_window_seconds),
        ban_seconds=int(settings.sip_ban_seconds),
        max_forwards=int(settings.sip_max_forwards),
        max_calls_per_user=max(1, int(settings.sip_max_calls_per_user)),
        nat_ping_interval=max(0, int(settings.sip_nat_ping_interval)),
        scanner_user_agents=cfg_string(settings.sip_scanner_user_agents),
        acc_columns=", ".join(WRITTEN_COLUMNS),
        rtpengine_ng_port=settings.rtpengine_ng_port,
        relay_define=(
            "#!define WITH_RELAY" if settings.relay_enabled else "# (relay_enabled is off)"
        ),
    )


def render_dispatcher_list(settings: Settings) -> str:
    """Dispatcher set 1: one line per media worker (``media_workers`` from ``media_port``)."""
    lines = ["# setid destination (from settings media_host, media_port, media_workers)"]
    for worker in range(max(1, settings.media_workers)):
        lines.append(f"1 sip:{settings.media_host}:{settings.media_port + worker}")
    return "\n".join(lines) + "\n"


def ensure_acc_db(settings: Settings) -> None:
    """Create the accounting spool (WAL) if missing, add columns an older one lacks."""
    settings.acc_db.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(settings.acc_db, isolation_level=None)
    try:
        # WAL lets the pipeline read while Kamailio's single writer inserts.
        db.execute("pragma journal_mode=wal")
        db.executescript(resources.files("kamailio").joinpath("acc_schema.sql").read_text())
        have = {row[1] for row in db.execute(f"pragma table_info({ACC_TABLE})")}
        for column in ACC_COLUMNS:
            if column not in have:  # later columns are nullable text (acc_schema.sql)
                db.execute(f"alter table {ACC_TABLE} add column {column} text")
    finally:
        db.close()


def prepare(settings: Settings) -> Path:
    """Create the run and log dirs, the acc DB and the local include; return the run dir."""
    run_dir = kamailio_run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    if not settings.provisioning_db.exists():
        raise KamailioStartError(
            f"provisioning DB {settings.provisioning_db} missing: create tenants first"
        )
    ensure_acc_db(settings)
    ensure_certificate(settings)
    local_cfg = run_dir / LOCAL_CFG
    local_cfg.write_text(render_local_cfg(settings))
    local_cfg.chmod(0o600)  # it holds the media secret
    (run_dir / DISPATCHER_LIST).write_text(render_dispatcher_list(settings))
    return run_dir


def command(settings: Settings, defines: Sequence[str] = ()) -> list[str]:
    """The kamailio command line (foreground, log to stderr); ``defines`` are ``-A`` recipes."""
    run_dir = kamailio_run_dir(settings).resolve()
    return [
        settings.kamailio_bin,
        "-f",
        str(config_path()),
        "-DD",
        "-E",
        "-P",
        str(run_dir / "kamailio.pid"),
        "-Y",
        str(run_dir),
        "-w",
        str(run_dir),
        "-L",
        settings.kamailio_modules,
        "-m",
        str(settings.kamailio_shm_mb),
        "-M",
        str(settings.kamailio_pkg_mb),
        *(arg for name in defines for arg in ("-A", name)),
    ]


def _ports_in_use(settings: Settings) -> list[str]:
    """The SIP and RPC addresses something else already listens on."""
    checks = (
        (socket.SOCK_DGRAM, settings.sip_host, settings.sip_port, "SIP UDP"),
        (socket.SOCK_STREAM, settings.sip_host, settings.sip_port, "SIP TCP"),
        (socket.SOCK_STREAM, settings.sip_host, settings.sip_tls_port, "SIP TLS"),
        (socket.SOCK_STREAM, "127.0.0.1", settings.rpc_port, "JSON-RPC"),
    )
    return [
        f"{what} {host}:{port}"
        for kind, host, port, what in checks
        if address_in_use(kind, host, port)
    ]


class KamailioProcess(ManagedProcess):
    """One Kamailio child process; a context manager that starts and stops it."""

    start_error = KamailioStartError

    def __init__(
        self, settings: Settings, start_timeout: float = 15.0, defines: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.defines = tuple(defines)
        self.log_path = settings.log_dir / "kamailio.log"
        self.rpc = KamailioRPC(settings.rpc_url)
        super().__init__("kamailio", self.log_path, start_timeout)

    def start(self) -> None:
        """Start Kamailio and wait until RPC answers and the SIP port is open."""
        if self.running:
            return
        busy = _ports_in_use(self.settings)
        if busy:
            raise KamailioStartError(
                f"cannot start Kamailio: {', '.join(busy)} already in use"
                " (another Kamailio or `make run`?)"
            )
        run_dir = prepare(self.settings)
        self.spawn(
            command(self.settings, self.defines),
            cwd=run_dir,
            output=self.log_path,
            new_session=True,
        )
        self.wait_ready()

    def ready(self) -> bool:
        """RPC answers ``core.version`` and the SIP port accepts TCP connections."""
        try:
            self.rpc.call("core.version")
        except RPCError:
            return False
        return tcp_accepts(self.settings.sip_host, self.settings.sip_port)


def enable_relay(rpc: KamailioRPC, timeout: float = 30.0) -> None:
    """Have the rtpengine module use rtpengine from now on.

    A Kamailio that started before rtpengine listened has it disabled for 5 s
    (``rtpengine_disable_tout``); right after start-up the module answers
    "Initializing - try later" (for seconds on a busy box), so this retries until
    ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            rpc.call("rtpengine.enable", "all", 1)
            return
        except RPCFault as fault:
            if "try later" not in fault.message or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def run_foreground(settings: Settings) -> int:
    """Run Kamailio until it exits or we are interrupted; return its exit code.

    Once Kamailio answers RPC, the rules scheduler pushes every decision and
    keeps them current at each time-frame transition.
    """
    kamailio = KamailioProcess(settings)
    kamailio.start()
    scheduler = RulesScheduler(settings)
    scheduler.start()
    try:
        return kamailio.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        scheduler.stop()
        kamailio.stop()
