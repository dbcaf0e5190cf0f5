"""The portal: a Dash app on Flask, guarded by :mod:`dash_app.auth`.

``create_app(settings)`` builds the app (nothing is read from the lake or the
provisioning DB until a request arrives); ``serve(settings)`` runs it on
``settings.portal_host:portal_port`` with a thread per request, which is what
``python -m dash_app`` and ``make run`` use.

Dash keeps its callbacks in a process-wide registry that the first app to
serve a request takes over, so build one app per process (tests run the
portal in a subprocess).
"""

from __future__ import annotations

import logging
from pathlib import Path

import dash

from dash_app.analytics_downloads import install_analytics_downloads
from dash_app.auth import install_auth
from dash_app.downloads import install_downloads
from dash_app.layout import shell
from dash_app.media_routes import install_media_routes
from dash_app.refusals import install_refusals, refuse_callback_error
from switchboard.settings import Settings, load_settings

_PACKAGE_DIR = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


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
    install_refusals(app.server)
    install_downloads(app.server)
    install_media_routes(app.server)
    install_analytics_downloads(app.server)
    app.layout = shell
    return app


def serve(settings: Settings) -> None:
    """Run the portal until interrupted (threaded: the grid and downloads overlap)."""
    app = create_app(settings)
    log.info("portal on http://%s:%s", settings.portal_host, settings.portal_port)
    app.run(
        host=settings.portal_host,
        port=settings.portal_port,
        debug=False,
        threaded=True,
        use_reloader=False,
    )


def main() -> None:
    """Entry point of ``python -m dash_app``: settings from file and environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(load_settings())
