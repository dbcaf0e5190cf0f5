"""How the store keeps secrets: Argon2id for portal passwords and voicemail PINs, HA1 for SIP.

One hasher for the whole store, so tests and benchmarks can swap in a cheap
one (``passwords._hasher``) in one place.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(secret: str) -> str:
    """Argon2id hash of a portal password or a voicemail PIN."""
    return _hasher.hash(secret)


def secret_matches(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches ``stored_hash``; a malformed hash matches nothing.

    ``None`` (no such login) costs one verification against a dummy hash and
    matches nothing: an unknown login takes as long as a wrong password, so
    timing does not tell which logins exist.
    """
    try:
        return bool(_hasher.verify(stored_hash or _dummy_hash(), secret)) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


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
