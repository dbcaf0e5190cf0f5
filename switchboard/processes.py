"""Child processes that never outlive the Python process that started them."""

from __future__ import annotations

import ctypes
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: Linux sends the child SIGTERM when its parent dies.

    A killed launcher would otherwise leave Kamailio holding the SIP port, or a
    SIPp phone answering calls. libc is looked up here, in the parent: the hook
    itself makes a single call between fork and exec.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook
