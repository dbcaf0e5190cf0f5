"""``--recording always|never|on_demand|default`` on ``tenant edit``, ``user edit``, ``queue edit``,
and ``--announce-recording/--no-announce-recording`` on ``tenant edit``.

The policy and the notice live in the store (``switchboard/store/recording_policy.py``);
Kamailio sees a change once its htable is reloaded, which happens here at once.
"""

from __future__ import annotations

import argparse

from kamailio.recording_push import push_recording_policy
from media.prompts import recording_notice_file
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from switchboard.store.recording_policy import RECORDING_MODES

DEFAULT = "default"  # back to the tenant's default (a tenant: back to "never")


def add_recording_argument(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--recording",
        choices=[*RECORDING_MODES, DEFAULT],
        help=f"call recording policy of this {whose} ('{DEFAULT}': inherit)",
    )
    # the notice is a tenant's choice: only ``tenant edit`` (whose "tenant ...") offers it
    if whose.startswith("tenant"):
        parser.add_argument(
            "--announce-recording",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="inbound carrier callers whose call may be recorded hear"
            " 'This call may be recorded.' once answered",
        )


def apply_recording_flag(
    settings: Settings,
    store: ProvisioningStore,
    args: argparse.Namespace,
    tenant: str,
    scope: str,
    target: str | int | None = None,
) -> None:
    """Store ``args.recording`` / ``args.announce_recording`` (if given), reload Kamailio's copy."""
    mode_given = getattr(args, "recording", None) is not None
    announce = getattr(args, "announce_recording", None) if scope == "tenant" else None
    if not mode_given and announce is None:
        return
    if mode_given:
        mode = None if args.recording == DEFAULT else args.recording
        store.set_recording_policy(tenant, scope, mode, target)
    if announce is not None:
        if announce:  # rtpengine plays it from a file: make sure it is there
            recording_notice_file(settings.data_dir)
        store.set_recording_announcement(tenant, announce)
    push_recording_policy(settings)
    if mode_given:
        print(f"recording policy of {scope} {target or tenant}: {args.recording}")
    if announce is not None:
        print(f"recording notice of tenant {tenant}: {'on' if announce else 'off'}")
