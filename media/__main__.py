"""``python -m media``: the media server alone (same as ``switchboard media``)."""

from __future__ import annotations

import logging
import sys

from media.server import run_media_server
from switchboard.settings import load_settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run_media_server(load_settings())


if __name__ == "__main__":
    sys.exit(main())
