"""How the store keeps secrets: Argon2id for portal passwords and voicemail PINs, HA1 for SIP.

One hasher for the whole store, so tests and benchmarks can swap in a cheap
one (``passwords._hasher``) in one place.
"""

from __future__ import annotations

import hashlib
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from switchboard.store.connection import ProvisioningError

_hasher = PasswordHasher()

# Argon2 checks at once in this process: each takes 64 MiB and ~0.3 s of a core, and 32
# sign-ins in flight (no account needed) took a portal worker from 0.7 to 1.3 GB. The rest
# wait their turn, up to CHECK_WAIT_SECONDS, then are told the server is busy.
CONCURRENT_CHECKS = 2
CHECK_WAIT_SECONDS = 5.0
_checks = threading.BoundedSemaphore(CONCURRENT_CHECKS)


class SecretCheckBusy(ProvisioningError):
    """Too many secrets are being checked at once; nothing was checked (a message for people,
    as every refusal of the store)."""


def hash_secret(secret: str) -> str:
    """Argon2id hash of a portal password or a voicemail PIN."""
    return _hasher.hash(secret)


def secret_matches(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches ``stored_hash``; a malformed hash matches nothing.

    ``None`` (no such login) costs one verification against a dummy hash and
    matches nothing: an unknown login takes as long as a wrong password, so
    timing does not tell which logins exist.
    """
    if not _checks.acquire(timeout=CHECK_WAIT_SECONDS):
        raise SecretCheckBusy("too many sign-ins at once; try again in a moment")
    try:
        return bool(_hasher.verify(stored_hash or _dummy_hash(), secret)) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False
    finally:
        _checks.release()


_dummy: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made by the current hasher (tests swap it)."""
    key = id(_hasher)
    if key not in _dummy:
        _dummy[key] = _hasher.hash(secrets.token_hex(16))
    return _dummy[key]


def sip_ha1(username: str, domain: str, password: str) -> tuple[str, str]:
    """HA1 and HA1B as Kamailio's auth_db expects them (RFC 2617 MD5)."""
    ha1 = hashlib.md5(f"{username}:{domain}:{password}".encode()).hexdigest()
    ha1b = hashlib.md5(f"{username}@{domain}:{domain}:{password}".encode()).hexdigest()
    return ha1, ha1b
