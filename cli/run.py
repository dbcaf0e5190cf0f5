"""`switchboard run` (what `make run` starts): every part as its own process.

Each part runs as ``python -m cli <part>`` so that it can be
started alone too. If one part dies the others are stopped: a half-running
phone system is worse than a stopped one. Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from relay.launcher import wait_ready
from switchboard.demo import seed_demo
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)

# rtpengine first: Kamailio's rtpengine module skips a relay that did not answer for 5 s
PARTS: tuple[str, ...] = ("relay", "kamailio", "media", "worker", "portal")


def _start(part: str, settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", part],
        env={**os.environ, "SWITCHBOARD_DATA_DIR": str(settings.data_dir), **env},
    )


def start_parts(settings: Settings) -> dict[str, subprocess.Popen[bytes]]:
    """Every part; ``media_workers`` media servers, worker i on ``media_port + i``.

    rtpengine (when ``relay_enabled``) starts first and is waited for.

    Kamailio's dispatcher list names the same ports (kamailio/launcher.py).
    """
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for part in PARTS:
        if part == "relay":
            if settings.relay_enabled:
                procs[part] = _start(part, settings)
                if not wait_ready(settings):
                    log.error("rtpengine did not answer; calls go without it (no recordings)")
            continue
        if part != "media":
            procs[part] = _start(part, settings)
            continue
        workers = max(1, settings.media_workers)
        for worker in range(workers):
            port = str(settings.media_port + worker)
            name = "media" if workers == 1 else f"media-{worker}"
            procs[name] = _start(part, settings, SWITCHBOARD_MEDIA_PORT=port)
    return procs


def _wait_listening(
    host: str, port: int, timeout: float, procs: dict[str, subprocess.Popen[bytes]]
) -> bool:
    """Wait until something accepts TCP connections there (or a part dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
            return False
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def _lake_has_calls(settings: Settings) -> bool:
    return any((settings.lake_dir / "calls").glob("tenant=*/date=*/*.parquet"))


def stop_all(procs: dict[str, subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", name, grace)
            proc.kill()
            proc.wait()


def run_all(settings: Settings) -> int:
    """Seed the demo tenant, start every part, wait for Ctrl-C or a failure."""
    for d in (settings.data_dir, settings.log_dir):
        Path(d).mkdir(parents=True, exist_ok=True)
    store = ProvisioningStore(settings.provisioning_db)
    lines = seed_demo(store, settings.demo_tenant)
    store.close()

    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs.update(start_parts(settings))
        portal = f"http://{settings.portal_host}:{settings.portal_port}/login"
        ready = _wait_listening("127.0.0.1", settings.rpc_port, 30, procs) and _wait_listening(
            settings.portal_host, settings.portal_port, 60, procs
        )
        if not ready:
            log.error("a part failed to start; see %s", settings.log_dir)
            return 1
        print("\nSwitchboard is running.", flush=True)
        print(f"  Portal:   {portal}", flush=True)
        print(f"  SIP:      {settings.sip_host}:{settings.sip_port} (UDP/TCP)", flush=True)
        for line in lines:
            print(f"  {line}", flush=True)
        print("  Ctrl-C stops everything.\n", flush=True)
        if not _lake_has_calls(settings):
            procs["demo-traffic"] = subprocess.Popen(
                [sys.executable, "-m", "cli", "demo", "traffic", "--calls", "30"],
                env={**os.environ, "SWITCHBOARD_DATA_DIR": str(settings.data_dir)},
            )
        while True:
            for name, proc in procs.items():
                code = proc.poll()
                if code is not None and name != "demo-traffic":
                    log.error("%s exited with code %s; stopping the rest", name, code)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        stop_all(procs)
