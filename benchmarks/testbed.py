"""Settings for a run of the real parts on a given data dir and free loopback ports,
and the counter sampler the load benchmarks measure their steady window with.

Owned by the benchmarks, which measure the parts through their public API;
the tests' fixtures import these too, so both start the parts the same way
and neither reaches into the other.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from switchboard.processes import free_server_port
from switchboard.settings import Settings, load_settings


def free_port() -> int:
    """A port free for both UDP and TCP on loopback (SIP listens on both), outside the
    ranges the kernel and rtpengine hand out (:data:`switchboard.processes.SERVER_PORTS`)."""
    return free_server_port()


# Below Linux's ephemeral range (32768 and up): ``free_port`` binds port 0, so the ports
# chosen for SIP, the media server and the portal come from that range, and an rtpengine
# window drawn from it once took the media server's port before it could bind it.
RTP_WINDOWS = (10000, 32768)


def rtp_port_window(size: int = 4000) -> dict[str, str]:
    """A random window of RTP ports for one rtpengine (it skips ports already bound).

    4 ports a call: 1,000 calls at once. A 200 calls/s load test holds ~100 calls on a
    quiet box, but ran out of a 1,000-port window when a slow box held each call longer.
    """
    base = random.SystemRandom().randrange(RTP_WINDOWS[0], RTP_WINDOWS[1] - size, 2)
    return {
        "SWITCHBOARD_RTPENGINE_PORT_MIN": str(base),
        "SWITCHBOARD_RTPENGINE_PORT_MAX": str(base + size - 1),
    }


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings on ``data_dir`` (no config file) with every listening port free.

    ``overrides`` are setting names, e.g. ``kamailio_children=4``; they go
    through the environment, as an operator's would.
    """
    env = {
        "SWITCHBOARD_CONFIG": str(data_dir / "none.toml"),
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "SWITCHBOARD_SIP_PORT": str(free_port()),
        "SWITCHBOARD_SIP_TLS_PORT": str(free_port()),
        "SWITCHBOARD_RPC_PORT": str(free_port()),
        "SWITCHBOARD_MEDIA_PORT": str(free_port()),
        "SWITCHBOARD_PORTAL_PORT": str(free_port()),
        "SWITCHBOARD_TRUNK_PORT": str(free_port()),
        "SWITCHBOARD_RTPENGINE_NG_PORT": str(free_port()),
        **rtp_port_window(),
        "SWITCHBOARD_KAMAILIO_CHILDREN": "2",
        "SWITCHBOARD_INGEST_INTERVAL": "0.2",
        # a test looks at a call in the portal as soon as it is ingested
        "SWITCHBOARD_PORTAL_LISTING_SECONDS": "0",
    }
    env.update({f"SWITCHBOARD_{k.upper()}": str(v) for k, v in overrides.items()})
    return load_settings(env)


class CounterSampler:
    """Reads counters (CPU seconds, clock slips) every ``interval`` s on a thread while
    the ``with`` block runs, so a step can measure the window it cares about (the
    steady part after the ramp) rather than the whole run."""

    def __init__(self, read: Callable[[], tuple[float, ...]], interval: float = 0.25) -> None:
        self.read = read
        self.interval = interval
        self.samples: list[tuple[float, tuple[float, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.read()))
            self._stop.wait(self.interval)

    def __enter__(self) -> CounterSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def change(self, start: float, end: float) -> tuple[float, tuple[float, ...]] | None:
        """Seconds between the first and last sample in [start, end] (monotonic) and how
        much each counter grew; None with fewer than two samples there."""
        window = [s for s in self.samples if start <= s[0] <= end]
        if len(window) < 2:
            return None
        (ta, first), (tb, last) = window[0], window[-1]
        return tb - ta, tuple(b - a for a, b in zip(first, last, strict=True))
