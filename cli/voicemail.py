"""``switchboard voicemail retranscribe``: run a model again over stored messages.

Exactly once per (message, model) — :mod:`pipeline.transcription_rerun`; the
earlier transcript stays until the new one is stored.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from cli.output import row
from switchboard.settings import Settings


def _since(text: str) -> float:
    """``YYYY-MM-DD`` (UTC midnight) or an ISO date-time as epoch seconds."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def cmd_voicemail_retranscribe(settings: Settings, args: argparse.Namespace) -> int:
    # Lazy: the pipeline loads pyarrow and the model.
    from pipeline.transcribe import WhisperTranscriber
    from pipeline.transcription_models import ModelNotInstalled
    from pipeline.transcription_rerun import retranscribe
    from switchboard.store import ProvisioningStore

    model = args.model or settings.transcription_model
    try:
        engine = WhisperTranscriber(model)
    except ModelNotInstalled as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = ProvisioningStore(settings.provisioning_db)
    try:
        result = retranscribe(
            settings,
            store,
            engine,
            since=args.since,
            progress=lambda msg, what: print(row(msg.message_id, msg.mailbox, what)),
        )
    finally:
        store.close()
    print(
        f"{model}: {result.transcribed} transcribed, {result.already_done} already done,"
        f" {result.failed} failed",
        file=sys.stderr,
    )
    return 1 if result.failed else 0


def add_parsers(voicemail: Any) -> None:
    """Add ``retranscribe`` to the ``voicemail`` subparsers."""
    rt = voicemail.add_parser(
        "retranscribe", help="run a model over stored messages (once per message and model)"
    )
    rt.add_argument("--model", help="tiny.en, base or a model folder (default: the setting)")
    rt.add_argument("--since", type=_since, help="only messages from this date (YYYY-MM-DD)")
    rt.set_defaults(fn=cmd_voicemail_retranscribe)
