"""``switchboard ingest …``: the accounting ingest, by hand.

``ingest replay`` re-ingests the quarantined accounting rows whose cause is
fixed (e.g. a tenant provisioned after its calls), exactly once
(:mod:`pipeline.replay`); the rows still quarantined are counted by reason.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli.output import row
from switchboard.settings import Settings


def cmd_ingest_replay(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.replay import replay_quarantine  # lazy: the pipeline loads pyarrow

    result = replay_quarantine(settings)
    print(f"replayed {result.replayed} quarantined rows as calls ({result.batches} batches)")
    for reason, count in sorted(result.still_quarantined.items()):
        print("still quarantined: " + row(count, reason))
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``ingest replay`` to the top-level subparsers."""
    ingest = sub.add_parser("ingest", help="accounting ingest").add_subparsers(required=True)
    ingest.add_parser(
        "replay", help="re-ingest quarantined rows whose cause is fixed (exactly once)"
    ).set_defaults(fn=cmd_ingest_replay)
