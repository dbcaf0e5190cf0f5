"""``python -m dash_app``: run the portal with the configured settings."""

from dash_app.app import main

main()
