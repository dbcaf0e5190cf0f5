"""The portal: a Dash app on Flask, guarded by :mod:`dash_app.auth`.

``create_app(settings)`` builds the app (nothing is read from the lake or the
provisioning DB until a request arrives); ``serve(settings)`` runs it on
``settings.portal_host:portal_port`` under gunicorn — ``portal_workers``
processes of ``portal_threads`` threads (``gthread``) — which is what
``python -m dash_app``, ``make run`` and the browser tests use. What the
workers must share lives outside them: the session key (a setting or a file
under data_dir), login failures (the provisioning DB) and metric results
(:mod:`pipeline.metrics_cache` on disk).

Dash keeps its callbacks in a process-wide registry that the first app to
serve a request takes over, so build one app per process (tests run the
portal in a subprocess).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from pathlib import Path
from typing import Any

import dash

from dash_app.analytics_downloads import install_analytics_downloads
from dash_app.audit_downloads import install_audit_downloads
from dash_app.auth import install_auth
from dash_app.downloads import install_downloads
from dash_app.first_password import install_first_password
from dash_app.front import (
    FrontPaths,
    gunicorn_bind,
    private_paths,
    remove_front_paths,
    start_front,
    stop_front,
    watch_front,
)
from dash_app.layout import shell
from dash_app.media_routes import install_media_routes
from dash_app.query_slots import install_query_slots
from dash_app.recordings_routes import install_recording_routes
from dash_app.refusals import install_refusals, refuse_callback_error
from dash_app.users_downloads import install_users_downloads
from pipeline.listings import set_listing_reuse
from pipeline.metrics_cache import RESULTS
from pipeline.warehouse import set_query_threads
from switchboard.processes import ServerProcess
from switchboard.settings import Settings, load_settings

_PACKAGE_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)

# What the first callbacks of a worker import lazily (pages stay cheap to import in
# tests). Imported once in the gunicorn master before it forks, every worker starts
# with them in memory: the first page after a (re)start no longer pays ~3 s of
# imports (several times that on a busy 2-core machine) inside a request. None of
# them opens a file, socket or thread at import, so they are safe across fork.
WARM_IMPORTS: tuple[str, ...] = (
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "plotly.graph_objects",
    "pipeline.export",
    "pipeline.filters",
    "pipeline.history",
    "pipeline.metrics",
    "pipeline.queue_metrics",
    "pipeline.viewer",
    "pipeline.warehouse",
)


def create_app(settings: Settings) -> dash.Dash:
    """A portal app for ``settings``; every page, callback and download needs a session."""
    app = dash.Dash(
        "dash_app",  # a package name: page modules import as dash_app.pages.<name>
        use_pages=True,
        pages_folder=str(_PACKAGE_DIR / "pages"),
        assets_folder=str(_PACKAGE_DIR / "assets"),
        title="Switchboard",
        update_title="",
        # Layouts depend on the signed-in user; Dash must not call them to validate ids.
        suppress_callback_exceptions=True,
        serve_locally=True,  # offline: Dash serves its own JavaScript, no CDN
        compress=False,
        # A crafted callback input gets a 400/403 with a message, never a 500.
        on_error=refuse_callback_error,
    )
    install_auth(app.server, settings)
    install_first_password(app.server)  # after the sign-in guard: a one-time password
    install_refusals(app.server)
    install_downloads(app.server)
    install_media_routes(app.server)
    install_analytics_downloads(app.server)
    install_users_downloads(app.server)
    install_audit_downloads(app.server)
    install_recording_routes(app.server)
    # Metric results: one page computed by any worker serves them all (keyed by lake files).
    RESULTS.share_on_disk(settings.metric_cache_dir, settings.metric_cache_mb * 2**20)
    set_query_threads(settings.portal_query_threads)
    install_query_slots(app.server, settings.portal_query_slots)  # one user's share
    set_listing_reuse(settings.portal_listing_seconds, grace=settings.compaction_grace)
    app.layout = shell
    return app


def gunicorn_options(settings: Settings, front: FrontPaths | None = None) -> dict[str, Any]:
    """The production server's configuration, from the settings (behind ``front``: on its
    private socket, :mod:`dash_app.front`)."""
    return {
        "bind": gunicorn_bind(settings, front),
        "workers": max(1, settings.portal_workers),
        "worker_class": "gthread",  # threads: the grid, downloads and callbacks overlap
        "threads": max(1, settings.portal_threads),
        # Each worker builds its own app after the fork: Dash's callback registry is
        # per process, and a SQLite connection must never cross a fork.
        "preload_app": False,
        # make run gives every part 10 s to stop; a download in flight gets 5.
        "graceful_timeout": 5,
        # Browsers keep idle connections open for minutes: gunicorn's 2 s default closes
        # them under a user reading a page, and a request sent as it closes is reset.
        "keepalive": 75,
        "timeout": 60,
        # gunicorn 25+ opens a control socket in ~/.gunicorn by default: one path for
        # every portal on the machine (tests run several at once). Not needed here.
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "switchboard-portal",
    }


def serve(settings: Settings) -> None:
    """Run the portal under gunicorn until SIGINT/SIGTERM (then exits the process); with
    ``portal_front``, behind nginx, which gunicorn's master starts once its socket is
    bound and stops as it exits."""
    from gunicorn.app.base import BaseApplication  # lazy: only the server needs it

    paths = private_paths() if settings.portal_front else None
    fronts: list[ServerProcess] = []
    stopping = threading.Event()
    # gunicorn forks its workers inside run(), and a worker leaves it by SystemExit: the
    # front and its directory (the socket) are the master's to stop, or one worker's
    # exit (a restart, a crash, a reload) cut nginx off from all the others.
    master = os.getpid()

    def when_ready(_arbiter: Any) -> None:
        if paths is not None:
            fronts.append(start_front(settings, paths))
            watch_front(fronts[0], stopping)

    def on_exit(_arbiter: Any) -> None:
        if os.getpid() != master:
            return
        stopping.set()
        while fronts and paths is not None:
            stop_front(fronts.pop(), paths)

    class PortalServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in gunicorn_options(settings, paths).items():
                self.cfg.set(name, value)
            self.cfg.set("when_ready", when_ready)
            self.cfg.set("on_exit", on_exit)

        def load(self) -> Any:
            server = create_app(settings).server
            # Dash finishes its set-up on a worker's first request; do it before this
            # worker accepts one, so no user's first page waits for it.
            server.test_client().get("/login")
            return server

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    log.info("portal on http://%s:%s", settings.portal_host, settings.portal_port)
    try:
        PortalServer().run()
    finally:
        on_exit(None)
        if paths is not None and os.getpid() == master:
            remove_front_paths(paths)


def main() -> None:
    """Entry point of ``python -m dash_app``: settings from file and environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(load_settings())
