"""``--recording always|never|on_demand|default`` on ``tenant edit``, ``user edit``, ``queue edit``.

The policy lives in the store (``switchboard/store/recording_policy.py``);
Kamailio sees a change once its htable is reloaded, which happens here at once.
"""

from __future__ import annotations

import argparse

from kamailio.recording_push import push_recording_policy
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


def apply_recording_flag(
    settings: Settings,
    store: ProvisioningStore,
    args: argparse.Namespace,
    tenant: str,
    scope: str,
    target: str | int | None = None,
) -> None:
    """Store ``args.recording`` (if given) for this scope and reload Kamailio's copy."""
    if getattr(args, "recording", None) is None:
        return
    mode = None if args.recording == DEFAULT else args.recording
    store.set_recording_policy(tenant, scope, mode, target)
    push_recording_policy(settings)
    print(f"recording policy of {scope} {target or tenant}: {args.recording}")
