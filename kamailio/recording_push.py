"""Make Kamailio see a changed recording policy: reload its htable ``recpol``.

The store (``switchboard/store/recording_policy.py``) writes the rows; Kamailio
reads them through the view ``recording_policy_htable`` at start and on
``htable.reload``. Call :func:`push_recording_policy` after every change (CLI,
portal); a Kamailio that is not running reads them at its next start.
"""

from __future__ import annotations

import logging

from kamailio.rpc import KamailioRPC, RPCUnavailable
from switchboard.settings import Settings

log = logging.getLogger(__name__)

RECORDING_HTABLE = "recpol"


def push_recording_policy(settings: Settings) -> bool:
    """Reload ``recpol`` in the running Kamailio; False when Kamailio is not running."""
    try:
        with KamailioRPC(settings.rpc_url) as rpc:
            rpc.call("htable.reload", RECORDING_HTABLE)
    except RPCUnavailable:
        log.info("Kamailio not running: the recording policy applies at its next start")
        return False
    return True
