"""The pipeline worker: ingest accounting rows every ``settings.ingest_interval``.

``switchboard worker`` calls ``run_worker``; ``python -m pipeline.worker``
does the same with settings from the environment. A failing pass is logged
and retried on the next tick: the lake protocol makes every retry safe.
"""

from __future__ import annotations

import logging
import signal
import threading

from pipeline.ingest import ingest_once
from pipeline.lake import Lake
from switchboard.settings import Settings, load_settings

log = logging.getLogger(__name__)


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Loop until ``stop`` is set; never dies of an ingest error."""
    removed = Lake(settings.lake_dir).remove_temp_files(everywhere=True)
    if removed:
        log.info("removed %d temporary files left by a crash", removed)
    log.info("pipeline worker started (every %.1f s)", settings.ingest_interval)
    while not stop.is_set():
        try:
            result = ingest_once(settings)
            if result.calls or result.quarantined:
                log.info(
                    "ingest: %d calls, %d quarantined, watermark %d",
                    result.calls,
                    result.quarantined,
                    result.watermark,
                )
        except Exception:
            log.exception("ingest pass failed; retrying in %.1f s", settings.ingest_interval)
        stop.wait(settings.ingest_interval)
    log.info("pipeline worker stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(load_settings(), stop)


if __name__ == "__main__":
    main()
