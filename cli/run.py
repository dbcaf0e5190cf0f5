"""`switchboard run` (what `make run` starts): every part as its own process.

Each part runs as ``python -m cli <part>`` so that it can be
started alone too. If one part dies the others are stopped: a half-running
phone system is worse than a stopped one. Ctrl-C stops everything. Each part
is a :class:`~switchboard.processes.ServerProcess`: it dies with this
supervisor even when the supervisor itself is killed, and writes to its terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from relay.launcher import wait_ready
from switchboard.demo import seed_demo
from switchboard.processes import ServerProcess, tcp_accepts
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)

# rtpengine first: Kamailio's rtpengine module skips a relay that did not answer for 5 s
PARTS: tuple[str, ...] = ("relay", "kamailio", "media", "worker", "portal")


def _start(
    name: str,
    settings: Settings,
    *command: str,
    ready: Callable[[], bool] = lambda: True,
    start_timeout: float = 60.0,
    **env: str,
) -> ServerProcess:
    """``python -m cli <command>`` started (not yet waited for) as the part ``name``."""
    return ServerProcess(
        name,
        [sys.executable, "-m", "cli", *command],
        ready=ready,
        env={**os.environ, "SWITCHBOARD_DATA_DIR": str(settings.data_dir), **env},
        inherit_output=True,
        start_timeout=start_timeout,
    ).start(wait=False)


def start_parts(settings: Settings) -> dict[str, ServerProcess]:
    """Every part; ``media_workers`` media servers, worker i on ``media_port + i``.

    rtpengine (when ``relay_enabled``) starts first and is waited for. Kamailio
    is ready once its JSON-RPC port accepts, the portal once its HTTP port does.

    Kamailio's dispatcher list names the same ports (kamailio/launcher.py).
    """
    procs: dict[str, ServerProcess] = {}
    for part in PARTS:
        if part == "relay":
            if settings.relay_enabled:
                procs[part] = _start(part, settings, part)
                if not wait_ready(settings):
                    log.error("rtpengine did not answer; calls go without it (no recordings)")
        elif part == "kamailio":
            rpc_up = partial(tcp_accepts, "127.0.0.1", settings.rpc_port)
            procs[part] = _start(part, settings, part, ready=rpc_up, start_timeout=30)
        elif part == "portal":
            http_up = partial(tcp_accepts, settings.portal_host, settings.portal_port)
            procs[part] = _start(part, settings, part, ready=http_up)
        elif part == "media":
            workers = max(1, settings.media_workers)
            for worker in range(workers):
                port = str(settings.media_port + worker)
                name = "media" if workers == 1 else f"media-{worker}"
                procs[name] = _start(name, settings, part, SWITCHBOARD_MEDIA_PORT=port)
        else:
            procs[part] = _start(part, settings, part)
    return procs


def _lake_has_calls(settings: Settings) -> bool:
    return any((settings.lake_dir / "calls").glob("tenant=*/date=*/*.parquet"))


def _first_exit(procs: dict[str, ServerProcess]) -> tuple[str, int] | None:
    """A part that has exited (name, exit code), if any; the demo traffic may end."""
    for name, proc in procs.items():
        code = proc.exit_code
        if code is not None and name != "demo-traffic":
            return name, code
    return None


def stop_all(procs: dict[str, ServerProcess], grace: float = 10.0) -> None:
    """SIGTERM every part at once, then wait ``grace`` s in all before killing the rest."""
    for proc in procs.values():
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs.values():
        proc.stop(timeout=max(1.0, deadline - time.monotonic()))


def run_all(settings: Settings) -> int:
    """Seed the demo tenant, start every part, wait for Ctrl-C or a failure."""
    for d in (settings.data_dir, settings.log_dir):
        Path(d).mkdir(parents=True, exist_ok=True)
    store = ProvisioningStore(settings.provisioning_db)
    lines = seed_demo(store, settings.demo_tenant)
    store.close()

    procs: dict[str, ServerProcess] = {}
    try:
        procs.update(start_parts(settings))
        portal = f"http://{settings.portal_host}:{settings.portal_port}/login"
        try:
            for part in ("kamailio", "portal"):
                procs[part].wait_ready()
        except RuntimeError as failed:
            log.error("a part failed to start (%s); see %s", failed, settings.log_dir)
            return 1
        if (exited := _first_exit(procs)) is not None:
            log.error("%s exited with code %s while starting; see %s", *exited, settings.log_dir)
            return 1
        print("\nSwitchboard is running.", flush=True)
        print(f"  Portal:   {portal}", flush=True)
        print(f"  SIP:      {settings.sip_host}:{settings.sip_port} (UDP/TCP)", flush=True)
        for line in lines:
            print(f"  {line}", flush=True)
        print("  Ctrl-C stops everything.\n", flush=True)
        if not _lake_has_calls(settings):
            procs["demo-traffic"] = _start(
                "demo-traffic", settings, "demo", "traffic", "--calls", "30"
            )
        while (exited := _first_exit(procs)) is None:
            time.sleep(0.5)
        log.error("%s exited with code %s; stopping the rest", *exited)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stop_all(procs)
